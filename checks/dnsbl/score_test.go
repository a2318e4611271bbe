package dnsbl_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/dnsbl"
	"github.com/mxguard/mxguard/internal/dnstest"
)

func scorer(t *testing.T, reject, allow int, lists ...string) *dnsbl.Scorer {
	t.Helper()
	s := &dnsbl.Scorer{RejectThreshold: reject, AllowThreshold: allow}
	for _, l := range lists {
		s.Lists = append(s.Lists, mustSpec(t, l))
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestScorer: weights by return code (several entries for one zone),
// thresholds, allowlists, and the reply naming the lists that hit.
func TestScorer(t *testing.T) {
	srv := startServer(t)
	r := newResolver(t, srv, 0)
	lists := []string{
		"s1.test=127.0.0.2*3", "s1.test=127.0.0.4*1", // 192.0.2.1 answers 127.0.0.2: 3
		"s2.test*1",                // 127.0.0.3: 1
		"s3.test=127.0.0.[2..9]*5", // 127.0.0.10: outside the filter, 0
		"s4.test*-2",               // an allowlist: -2
	}
	test := func(s *dnsbl.Scorer, addr string, status checks.Status, d checks.Decision, reply, reason string) {
		t.Helper()
		res := run(t, s, newEnv(r, addr))
		if res.Status != status || res.Decision != d || res.Reply.String() != reply && reply != "" || !strings.Contains(res.Reason, reason) {
			t.Errorf("%s: %v %v %q (%s); want %v %v %q (%s)", addr, res.Status, res.Decision, res.Reply.String(), res.Reason, status, d, reply, reason)
		}
	}
	test(scorer(t, 3, 0, lists...), "192.0.2.1", checks.StatusPass, checks.Dunno, "",
		"score 2 for 192.0.2.1 (s1.test=127.0.0.2*3 s2.test=127.0.0.3*1 s4.test=127.0.0.2*-2)")
	test(scorer(t, 2, 0, lists...), "192.0.2.1", checks.StatusFail, checks.Dunno,
		"550 5.7.1 Service unavailable; client [192.0.2.1] blocked using s1.test, s2.test", "score 2 for 192.0.2.1")
	// The code-dependent weight: 127.0.0.4 is worth 1 in s1.test.
	test(scorer(t, 2, 0, lists...), "192.0.2.50", checks.StatusPass, checks.Dunno, "", "score 1 for 192.0.2.50 (s1.test=127.0.0.4*1)")
	test(scorer(t, 1, 0, lists...), "192.0.2.50", checks.StatusFail, checks.Dunno,
		"550 5.7.1 Service unavailable; client [192.0.2.50] blocked using s1.test", "")
	test(scorer(t, 0, 0, lists...), "192.0.2.9", checks.StatusPass, checks.Dunno, "", "score 0")
	// Allowlisting: postscreen only with a negative threshold.
	test(scorer(t, 1, 0, "s4.test*-2"), "192.0.2.20", checks.StatusPass, checks.Dunno, "", "score -2")
	test(scorer(t, 1, -1, "s4.test*-2", "wl.test*-5"), "192.0.2.20", checks.StatusOK, checks.Permit, "", "score -7")
	// An allowlist lookup error that could have saved the client turns
	// the reject into a 4xx; one that could not does not.
	test(scorer(t, 3, 0, "s2.test*3", "wl.test*-5"), "192.0.2.5", checks.StatusTemperror, checks.Reject,
		"450 4.7.1 Service unavailable; client [192.0.2.5] blocked using s2.test", "allowlist lookup failed")
	test(scorer(t, 3, 0, "s2.test*9", "wl.test*-5"), "192.0.2.5", checks.StatusFail, checks.Dunno,
		"550 5.7.1 Service unavailable; client [192.0.2.5] blocked using s2.test", "")
	// Blocklist errors and refusals count 0.
	test(scorer(t, 1, 0, "bl.test", "pub.test*5"), "192.0.2.5", checks.StatusPass, checks.Dunno, "",
		"pub.test refused the query for 192.0.2.5 (answer 127.255.255.254: query via a public or open resolver): use a local recursive resolver")
	test(scorer(t, 1, 0, "bl.test"), "", checks.StatusNone, checks.Dunno, "", "no IP address")
	// Through the policy: a fail rejects.
	if p := (checks.Policy{TempAction: "accept"}).Apply(run(t, scorer(t, 2, 0, lists...), newEnv(r, "192.0.2.1"))); p.Decision != checks.Reject {
		t.Errorf("policy: %+v", p)
	}
}

func TestScorerValidate(t *testing.T) {
	a, b := mustSpec(t, "z.test=127.0.0.2"), mustSpec(t, "z.test=127.0.0.3")
	b.Name = "other"
	for _, tc := range []struct {
		s   *dnsbl.Scorer
		err string
	}{
		{&dnsbl.Scorer{}, "no lists"},
		{&dnsbl.Scorer{Lists: []dnsbl.Spec{a}, RejectThreshold: -1}, "negative"},
		{&dnsbl.Scorer{Lists: []dnsbl.Spec{a}, RejectThreshold: 1, AllowThreshold: -1, Code: 299}, "not a 4xx or 5xx"},
		{&dnsbl.Scorer{Lists: []dnsbl.Spec{a, b}}, "different public names"},
		{&dnsbl.Scorer{Lists: []dnsbl.Spec{{}}}, "without zone"},
	} {
		if err := tc.s.Validate(); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.s, err, tc.err)
		}
	}
}

// TestScorerConcurrent: four lists cost one round trip. Every answer is
// delayed by 20ms; the fixture saw the four queries in flight at once.
func TestScorerConcurrent(t *testing.T) {
	srv := startServer(t, dnstest.WithLatency(20*time.Millisecond))
	r := newResolver(t, srv, -1)
	s := scorer(t, 100, 0, "s1.test", "s2.test", "s3.test", "s4.test")
	res := run(t, s, newEnv(r, "192.0.2.1"))
	if res.Status != checks.StatusPass || !strings.Contains(res.Reason, "score 4") {
		t.Fatalf("%+v", res)
	}
	if got := srv.MaxConcurrent(); got < 4 {
		t.Errorf("MaxConcurrent = %d, want >= 4: the lookups did not overlap (%v)", got, srv.Queries())
	}
	if got := srv.QueryCount(); got != 4 {
		t.Errorf("%d queries, want 4 (A only): %v", got, srv.Queries())
	}
}

// TestPrefetchConcurrent: the prefetch of several restrictions at
// connect also overlaps.
func TestPrefetchConcurrent(t *testing.T) {
	srv := startServer(t, dnstest.WithLatency(20*time.Millisecond))
	r := newResolver(t, srv, -1)
	env := newEnv(r, "192.0.2.1")
	var cs []checks.Check
	for _, z := range []string{"s1.test", "s2.test", "s3.test", "s4.test"} {
		c, err := dnsbl.NewRBL(mustSpec(t, z), false, dnsbl.Options{Template: "$rbl_code listed in $rbl_domain"})
		if err != nil {
			t.Fatal(err)
		}
		c.Prefetch(env)
		cs = append(cs, c)
	}
	if err := srv.WaitQueries(ctxT(t), 4); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if res := run(t, c, env); res.Status != checks.StatusFail {
			t.Errorf("%+v", res)
		}
	}
	if got := srv.MaxConcurrent(); got < 4 {
		t.Errorf("MaxConcurrent = %d, want >= 4", got)
	}
	if got := srv.QueryCount(); got != 4 {
		t.Errorf("%d queries, want 4 (no TXT: the template does not use it): %v", got, srv.Queries())
	}
}
