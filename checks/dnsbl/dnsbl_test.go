package dnsbl_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/dnsbl"
	"github.com/mxguard/mxguard/internal/dnstest"
	"github.com/mxguard/mxguard/resolver"
)

const zoneFile = "testdata/lists.zone"

// dqsKey is the secret first label of the DQS-like zone.
const dqsKey = "abcdefghijklmnopqrstuvwx12"

func startServer(t *testing.T, opts ...dnstest.Option) *dnstest.Server {
	t.Helper()
	return dnstest.Start(t, append([]dnstest.Option{dnstest.WithZoneFile(zoneFile)}, opts...)...)
}

// newResolver returns a real resolver asking srv; cacheSize -1 disables
// its cache, so that the fixture sees every lookup.
func newResolver(t *testing.T, srv *dnstest.Server, cacheSize int) *resolver.Client {
	t.Helper()
	r, err := resolver.New(resolver.Config{Servers: []string{srv.Addr()}, Timeout: 300 * time.Millisecond, Attempts: 1, CacheSize: cacheSize})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// syncBuffer is a log sink safe for the goroutines of a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// newEnv returns a connection from addr ("" for none).
func newEnv(r resolver.Resolver, addr string) *checks.Env {
	log, _ := newLogger()
	env := checks.NewEnv(r, log)
	if addr != "" {
		env.Addr = netip.MustParseAddr(addr)
	}
	return env
}

func mustSpec(t *testing.T, s string) dnsbl.Spec {
	t.Helper()
	spec, err := dnsbl.ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestLookup covers each answer class of RFC 5782 §2.3 plus the safety
// rules, one line per case, the temporary failures included.
func TestLookup(t *testing.T) {
	srv := startServer(t)
	r := newResolver(t, srv, 0)
	ctx := ctxT(t)
	test := func(list, target string, status checks.Status, codes, txt string, wantErr error) {
		t.Helper()
		var tg dnsbl.Target
		if a, err := netip.ParseAddr(target); err == nil {
			tg = dnsbl.AddrTarget(a)
		} else {
			tg = dnsbl.DomainTarget(target)
		}
		res := dnsbl.Lookup(ctx, r, mustSpec(t, list), tg)
		var got []string
		for _, c := range res.Codes {
			got = append(got, c.String())
		}
		if res.Status != status || strings.Join(got, ",") != codes || res.TXT != txt || res.Listed != (status == checks.StatusFail) ||
			!errors.Is(res.Err, wantErr) || (wantErr == nil && res.Err != nil) || res.Reason == "" {
			t.Errorf("Lookup(%s, %s) = %+v; want %s codes %q txt %q err %v", list, target, res, status, codes, txt, wantErr)
		}
	}
	test("bl.test", "192.0.2.1", checks.StatusFail, "127.0.0.2", "Listed: see https://bl.test/query/192.0.2.1", nil)
	test("bl.test", "192.0.2.2", checks.StatusFail, "127.0.0.2,127.0.0.4,127.0.0.10", "first reason / second reason", nil)
	test("bl.test=127.0.0.4", "192.0.2.2", checks.StatusFail, "127.0.0.4", "first reason / second reason", nil)
	test("bl.test=127.0.0.0/24", "192.0.2.2", checks.StatusFail, "127.0.0.2,127.0.0.4,127.0.0.10", "first reason / second reason", nil)
	test("bl.test=127.0.0.[2..10]", "192.0.2.11", checks.StatusPass, "", "", nil) // answer outside the filter: ignored
	test("bl.test", "192.0.2.7", checks.StatusFail, "127.0.0.3", "", nil)         // no TXT
	test("bl.test", "192.0.2.9", checks.StatusPass, "", "", nil)                  // NXDOMAIN
	test("bl.test", "192.0.2.8", checks.StatusPass, "", "", nil)                  // NODATA
	test("bl.test", "192.0.2.3", checks.StatusPermerror, "", "", dnsbl.ErrRefused)
	test("bl.test=127.0.0.0/8", "192.0.2.3", checks.StatusPermerror, "", "", dnsbl.ErrRefused) // whatever the filter
	test("bl.test", "192.0.2.4", checks.StatusPermerror, "", "", dnsbl.ErrRefused)             // outside 127/8
	test("bl.test", "192.0.2.13", checks.StatusPermerror, "", "", dnsbl.ErrRefused)            // a refusal spoils the listing
	test("bl.test", "192.0.2.5", checks.StatusTemperror, "", "", dnsbl.ErrDNS)                 // SERVFAIL
	test("bl.test", "192.0.2.6", checks.StatusTemperror, "", "", dnsbl.ErrDNS)                 // timeout
	test("bl.test", "2001:db8::1", checks.StatusFail, "127.0.0.2", "IPv6 listed", nil)
	test("bl.test", "2001:db8::2", checks.StatusPass, "", "", nil)
	test("dbl.test", "Bad.Example.", checks.StatusFail, "127.0.1.2", "bad.example is a spam domain", nil)
	test("dbl.test", "good.example", checks.StatusPass, "", "", nil)
	test("dbl.test", "sf.example", checks.StatusTemperror, "", "", dnsbl.ErrDNS)
	test("dbl.test", "1.2.3.4.example.99", checks.StatusNone, "", "", dnsbl.ErrQueryName)
	test("dbl.test", strings.Repeat("a.", 122)+"example", checks.StatusNone, "", "", dnsbl.ErrQueryName)

	// The refusal's reason carries the hint.
	res := dnsbl.Lookup(ctx, r, mustSpec(t, "bl.test"), dnsbl.AddrTarget(netip.MustParseAddr("192.0.2.3")))
	if !strings.Contains(res.Reason, "use a local recursive resolver, not a public one") || !strings.Contains(res.Reason, "public or open resolver") ||
		!strings.Contains(res.Err.Error(), "the list refused the query") {
		t.Errorf("refusal: reason %q, err %v", res.Reason, res.Err)
	}
}

// TestLookupTXTOnlyWhenListed: no TXT query for a target that is not
// listed.
func TestLookupTXTOnlyWhenListed(t *testing.T) {
	srv := startServer(t)
	r := newResolver(t, srv, -1)
	ctx := ctxT(t)
	for _, a := range []string{"192.0.2.9", "192.0.2.11", "192.0.2.3", "192.0.2.5"} {
		dnsbl.Lookup(ctx, r, mustSpec(t, "bl.test=127.0.0.[2..10]"), dnsbl.AddrTarget(netip.MustParseAddr(a)))
	}
	for _, q := range srv.Queries() {
		if strings.HasPrefix(q.String(), "udp TXT") {
			t.Errorf("unexpected query %v", q)
		}
	}
	dnsbl.Lookup(ctx, r, mustSpec(t, "bl.test"), dnsbl.AddrTarget(netip.MustParseAddr("192.0.2.1")))
	if n := srv.Count("1.2.0.192.bl.test.", 16); n != 1 { // dns.TypeTXT
		t.Errorf("TXT queries for a listing: %d, want 1", n)
	}
}

// check runs c and returns the result.
func run(t *testing.T, c checks.Check, env *checks.Env) checks.Result {
	t.Helper()
	return c.Check(ctxT(t), env)
}

// TestRBLReplies checks reject_rbl_client's reply, byte for byte, with
// Postfix's default_rbl_reply and maps_rbl_reject_code 554.
func TestRBLReplies(t *testing.T) {
	srv := startServer(t)
	r := newResolver(t, srv, 0)
	rbl, err := dnsbl.NewRBL(mustSpec(t, "bl.test"), false, dnsbl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	test := func(addr string, status checks.Status, reply string) {
		t.Helper()
		res := run(t, rbl, newEnv(r, addr))
		if res.Status != status || res.Reply.String() != reply && reply != "" || res.Decision != checks.Dunno ||
			res.Check != "rbl" || res.Stage != checks.StageConnect {
			t.Errorf("rbl %s = %v %q (%s); want %v %q", addr, res.Status, res.Reply.String(), res.Reason, status, reply)
		}
	}
	test("192.0.2.1", checks.StatusFail, "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using bl.test; Listed: see https://bl.test/query/192.0.2.1")
	test("192.0.2.7", checks.StatusFail, "554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using bl.test")
	test("192.0.2.2", checks.StatusFail, "554 5.7.1 Service unavailable; Client host [192.0.2.2] blocked using bl.test; first reason / second reason")
	// UTF-8 in a TXT record becomes "_" (smtpd_expansion_filter); the
	// filter lets a tab through, and the reply's printable() makes it a
	// space.
	test("192.0.2.12", checks.StatusFail, "554 5.7.1 Service unavailable; Client host [192.0.2.12] blocked using bl.test; caf__ spam")
	test("2001:db8::1", checks.StatusFail, "554 5.7.1 Service unavailable; Client host [2001:db8::1] blocked using bl.test; IPv6 listed")
	test("::ffff:192.0.2.7", checks.StatusFail, "554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using bl.test")
	test("192.0.2.9", checks.StatusPass, "")
	// A refusal is never a listing, and not a permerror for the policy.
	test("192.0.2.3", checks.StatusNone, "")
	// A lookup error: temperror, with a 4xx for a policy that tempfails.
	test("192.0.2.5", checks.StatusTemperror, "450 4.7.1 <192.0.2.5>: Client host rejected: Service unavailable")
	test("", checks.StatusNone, "")
}

// TestRHSBLReplies checks the class and name of each reject_rhsbl_*
// variant (smtpd_check.c: state->name, state->reverse_name, the HELO
// name, state->sender, state->recipient).
func TestRHSBLReplies(t *testing.T) {
	srv := startServer(t)
	r := newResolver(t, srv, 0)
	spec := mustSpec(t, "dbl.test")
	test := func(kind dnsbl.Kind, setup func(*checks.Env), status checks.Status, reply string) {
		t.Helper()
		c, err := dnsbl.New(kind, spec, dnsbl.Options{})
		if err != nil {
			t.Fatal(err)
		}
		env := newEnv(r, "192.0.2.200")
		setup(env)
		res := run(t, c, env)
		if res.Status != status || res.Reply.String() != reply && reply != "" || res.Check != string(kind) || res.Stage != c.Stage() {
			t.Errorf("%s = %v %q (%s); want %v %q", kind, res.Status, res.Reply.String(), res.Reason, status, reply)
		}
	}
	client := func(a string) func(*checks.Env) { return func(e *checks.Env) { e.Addr = netip.MustParseAddr(a) } }
	helo := func(h string) func(*checks.Env) { return func(e *checks.Env) { e.Helo, e.HeloSeen = h, true } }
	mail := func(m string) func(*checks.Env) { return func(e *checks.Env) { e.Mail, e.MailSeen = m, true } }
	rcpt := func(m string) func(*checks.Env) { return func(e *checks.Env) { e.Rcpt = m } }

	test(dnsbl.KindRHSBLClient, client("192.0.2.30"), checks.StatusFail,
		"554 5.7.1 Service unavailable; Client host [mail.bad.example] blocked using dbl.test")
	// forged.bad.example does not resolve back: the verified name is
	// "unknown", not looked up; the unverified PTR name is.
	test(dnsbl.KindRHSBLClient, client("192.0.2.31"), checks.StatusNone, "")
	test(dnsbl.KindRHSBLReverseClient, client("192.0.2.31"), checks.StatusFail,
		"554 5.7.1 Service unavailable; Unverified Client host [forged.bad.example] blocked using dbl.test")
	test(dnsbl.KindRHSBLReverseClient, client("192.0.2.9"), checks.StatusNone, "") // no PTR
	test(dnsbl.KindRHSBLHelo, helo("helo.bad.example"), checks.StatusFail,
		"554 5.7.1 Service unavailable; Helo command [helo.bad.example] blocked using dbl.test")
	test(dnsbl.KindRHSBLHelo, helo("HELO.Bad.Example."), checks.StatusFail,
		"554 5.7.1 Service unavailable; Helo command [HELO.Bad.Example.] blocked using dbl.test")
	test(dnsbl.KindRHSBLHelo, helo("[192.0.2.200]"), checks.StatusNone, "")
	test(dnsbl.KindRHSBLHelo, func(*checks.Env) {}, checks.StatusNone, "")
	test(dnsbl.KindRHSBLSender, mail("user@bad.example"), checks.StatusFail,
		"554 5.7.1 Service unavailable; Sender address [user@bad.example] blocked using dbl.test; bad.example is a spam domain")
	test(dnsbl.KindRHSBLSender, mail(`<"a b"@Bad.Example>`), checks.StatusFail,
		"554 5.7.1 Service unavailable; Sender address [a b@Bad.Example] blocked using dbl.test; bad.example is a spam domain")
	test(dnsbl.KindRHSBLSender, mail(""), checks.StatusNone, "") // null sender: not looked up
	test(dnsbl.KindRHSBLSender, mail("user@good.example"), checks.StatusPass, "")
	test(dnsbl.KindRHSBLSender, mail("user@[192.0.2.1]"), checks.StatusNone, "")
	test(dnsbl.KindRHSBLSender, mail("user@sf.example"), checks.StatusTemperror,
		"450 4.7.1 <user@sf.example>: Sender address rejected: Service unavailable")
	test(dnsbl.KindRHSBLRecipient, rcpt("user@bad.example"), checks.StatusFail,
		"554 5.7.1 Service unavailable; Recipient address [user@bad.example] blocked using dbl.test; bad.example is a spam domain")
	test(dnsbl.KindRHSBLRecipient, rcpt("postmaster"), checks.StatusNone, "")
}

// TestAllowlists: permit_dnswl_client and permit_rhswl_client permit on
// a hit and turn a lookup error into defer_if_reject with Postfix's text.
func TestAllowlists(t *testing.T) {
	srv := startServer(t)
	r := newResolver(t, srv, 0)
	test := func(kind dnsbl.Kind, list, addr string, status checks.Status, d checks.Decision, reply string) {
		t.Helper()
		c, err := dnsbl.New(kind, mustSpec(t, list), dnsbl.Options{})
		if err != nil {
			t.Fatal(err)
		}
		res := run(t, c, newEnv(r, addr))
		if res.Status != status || res.Decision != d || res.Reply.String() != reply && reply != "" || reply == "" && !res.Reply.IsZero() {
			t.Errorf("%s %s = %v %v %q (%s); want %v %v %q", kind, addr, res.Status, res.Decision, res.Reply.String(), res.Reason, status, d, reply)
		}
		// The policy keeps what the check decided.
		if p := (checks.Policy{TempAction: "accept"}).Apply(res); p.Decision != d {
			t.Errorf("%s %s: policy made %v of %v", kind, addr, p.Decision, d)
		}
	}
	test(dnsbl.KindDNSWL, "wl.test", "192.0.2.20", checks.StatusOK, checks.Permit, "")
	test(dnsbl.KindDNSWL, "wl.test=127.0.[0..255].[1..3]", "192.0.2.20", checks.StatusOK, checks.Permit, "")
	test(dnsbl.KindDNSWL, "wl.test=127.0.[0..255].0", "192.0.2.20", checks.StatusPass, checks.Dunno, "")
	test(dnsbl.KindDNSWL, "wl.test", "192.0.2.9", checks.StatusPass, checks.Dunno, "")
	test(dnsbl.KindDNSWL, "wl.test", "192.0.2.5", checks.StatusTemperror, checks.DeferIfReject,
		"450 4.7.1 <192.0.2.5>: Client host rejected: Service unavailable")
	test(dnsbl.KindRHSWL, "swl.test", "192.0.2.40", checks.StatusOK, checks.Permit, "")
	test(dnsbl.KindRHSWL, "swl.test", "192.0.2.30", checks.StatusPass, checks.Dunno, "")
	test(dnsbl.KindRHSWL, "swl.test", "192.0.2.41", checks.StatusTemperror, checks.DeferIfReject,
		"450 4.7.1 <mail.sf.example>: Client host rejected: Service unavailable")
	if _, err := dnsbl.NewRHSBL(mustSpec(t, "swl.test"), dnsbl.SourceSender, true, dnsbl.Options{}); err == nil {
		t.Error("an RHSWL on the sender was accepted")
	}
}

// TestPolicy: what the engine's Policy makes of the results, with the
// temp_action the pipeline should give DNS lists ("accept": Postfix
// counts a lookup error as not listed) and with "tempfail".
func TestPolicy(t *testing.T) {
	srv := startServer(t)
	r := newResolver(t, srv, 0)
	rbl, err := dnsbl.NewRBL(mustSpec(t, "bl.test"), false, dnsbl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	test := func(p checks.Policy, addr string, d checks.Decision, action, reply string) {
		t.Helper()
		res := p.Apply(run(t, rbl, newEnv(r, addr)))
		if res.Decision != d || res.Action != action || res.Reply.String() != reply && reply != "" {
			t.Errorf("%+v %s: %v %s %q", p, addr, res.Decision, res.Action, res.Reply.String())
		}
	}
	accept := checks.Policy{TempAction: "accept"}
	test(accept, "192.0.2.7", checks.Reject, "reject", "554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using bl.test")
	test(accept, "192.0.2.5", checks.Dunno, "accept", "")
	test(accept, "192.0.2.3", checks.Dunno, "continue", "")
	test(accept, "192.0.2.9", checks.Dunno, "continue", "")
	test(checks.Policy{TempAction: "tempfail"}, "192.0.2.5", checks.Reject, "tempfail", "450 4.7.1 <192.0.2.5>: Client host rejected: Service unavailable")
	test(checks.Policy{Action: "warn"}, "192.0.2.7", checks.Warn, "warn", "")
	test(checks.Policy{Code: 550}, "192.0.2.7", checks.Reject, "reject", "550 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using bl.test")
}

// TestReplyOptions: the code, the per-list template with its variables
// and conditionals, and the enhanced code mapped per class as
// smtpd_dsn_fix does.
func TestReplyOptions(t *testing.T) {
	srv := startServer(t)
	r := newResolver(t, srv, 0)
	env := func(addr string) *checks.Env {
		e := newEnv(r, addr)
		e.Port = 4242
		e.Helo, e.HeloSeen = "client.example", true
		e.Mail, e.MailSeen = "user@bad.example", true
		e.Rcpt = "rcpt@ours.example"
		return e
	}
	test := func(kind dnsbl.Kind, opts dnsbl.Options, addr, reply string) {
		t.Helper()
		c, err := dnsbl.New(kind, mustSpec(t, map[bool]string{true: "bl.test", false: "dbl.test"}[kind == dnsbl.KindRBL]), opts)
		if err != nil {
			t.Fatal(err)
		}
		res := run(t, c, env(addr))
		if res.Reply.String() != reply {
			t.Errorf("%s %+v: %q\nwant %q", kind, opts, res.Reply.String(), reply)
		}
	}
	test(dnsbl.KindRBL, dnsbl.Options{Template: "$(rbl_code) ${rbl_reason?{5.7.2 $rbl_reason}:{4.7.1 see $rbl_domain}}"}, "192.0.2.7",
		"554 5.7.1 see bl.test")
	test(dnsbl.KindRBL, dnsbl.Options{Code: 550}, "192.0.2.7", "550 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using bl.test")
	test(dnsbl.KindRBL, dnsbl.Options{Code: 450}, "192.0.2.7", "450 4.7.1 Service unavailable; Client host [192.0.2.7] blocked using bl.test")
	test(dnsbl.KindRBL, dnsbl.Options{Template: "$rbl_code 5.7.2 $client_address listed by $rbl_domain${rbl_reason?{ ($rbl_reason)}:{ (no reason)}}"},
		"192.0.2.7", "554 5.7.2 192.0.2.7 listed by bl.test (no reason)")
	test(dnsbl.KindRBL, dnsbl.Options{Template: "$rbl_code 5.7.2 $client_address listed by $rbl_domain${rbl_reason?{ ($rbl_reason)}:{ (no reason)}}"},
		"192.0.2.1", "554 5.7.2 192.0.2.1 listed by bl.test (Listed: see https://bl.test/query/192.0.2.1)")
	test(dnsbl.KindRHSBLClient, dnsbl.Options{Template: "550 $client [$client_port] helo=$helo_name from=$sender ($sender_name at $sender_domain) to=$recipient_domain txt=$rbl_txt"},
		"192.0.2.30", "550 5.7.1 mail.bad.example[192.0.2.30] [4242] helo=client.example from=user@bad.example (user at bad.example) to=ours.example txt=")
	test(dnsbl.KindRHSBLReverseClient, dnsbl.Options{Template: "451 $rbl_class [$rbl_what] name=$client_name ptr=$reverse_client_name"},
		"192.0.2.31", "451 4.7.1 Unverified Client host [forged.bad.example] name=unknown ptr=forged.bad.example")
	// An address status X.1.Y is mapped for the class: X.0.0 for a client,
	// the sender form for a sender (Postfix's smtpd_dsn_fix).
	test(dnsbl.KindRBL, dnsbl.Options{Template: "$rbl_code 4.1.1 No"}, "192.0.2.7", "554 5.0.0 No")
	test(dnsbl.KindRHSBLSender, dnsbl.Options{Template: "$rbl_code 4.1.1 No"}, "192.0.2.7", "554 5.1.7 No")
	test(dnsbl.KindRHSBLSender, dnsbl.Options{Template: "$rbl_code 4.7.1"}, "192.0.2.7", "554 5.7.1 Service unavailable")
}

func TestNewErrors(t *testing.T) {
	spec := mustSpec(t, "bl.test")
	for _, tc := range []struct {
		kind dnsbl.Kind
		spec dnsbl.Spec
		opts dnsbl.Options
		err  string
	}{
		{dnsbl.KindRBL, spec, dnsbl.Options{Template: "$rbl_code"}, "must start with $rbl_code or a 4xx/5xx code"},
		{dnsbl.KindRBL, spec, dnsbl.Options{Template: "blocked: $rbl_domain"}, "must start with"},
		{dnsbl.KindRBL, spec, dnsbl.Options{Template: "${rbl_reason?550 }blocked"}, "must start with"},
		{dnsbl.KindRBL, spec, dnsbl.Options{Template: "$rbl_code$rbl_domain"}, "must start with"},
		{dnsbl.KindRBL, spec, dnsbl.Options{Template: "$rbl_code $bogus"}, "unknown variable $bogus"},
		{dnsbl.KindRBL, spec, dnsbl.Options{Code: 250}, "not a 4xx or 5xx"},
		{dnsbl.KindRBL, dnsbl.Spec{}, dnsbl.Options{}, "no list zone"},
		{"rbl_client", spec, dnsbl.Options{}, "unknown list restriction"},
	} {
		if _, err := dnsbl.New(tc.kind, tc.spec, tc.opts); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("New(%s, %+v) = %v, want error containing %q", tc.kind, tc.opts, err, tc.err)
		}
	}
}

// TestPublicNameNeverLeaks: a DQS zone with a public name; the key is in
// no reply, reason, error or log line, whatever happens.
func TestPublicNameNeverLeaks(t *testing.T) {
	srv := startServer(t)
	r := newResolver(t, srv, 0)
	spec := mustSpec(t, dqsKey+".zen.dq.test")
	spec.Name = "zen.spamhaus.test"
	log, buf := newLogger()
	health := &dnsbl.Health{Resolver: r, Lists: []dnsbl.Spec{spec}, Log: log}
	rbl, err := dnsbl.NewRBL(spec, false, dnsbl.Options{Health: health})
	if err != nil {
		t.Fatal(err)
	}
	sc := &dnsbl.Scorer{Lists: []dnsbl.Spec{spec}}
	var texts []string
	for _, addr := range []string{"192.0.2.1", "192.0.2.3", "192.0.2.5", "192.0.2.9"} {
		env := newEnv(r, addr)
		env.Log = log
		res := run(t, rbl, env)
		texts = append(texts, res.Reply.String(), res.Reason, errString(res.Err))
		res = run(t, sc, env)
		texts = append(texts, res.Reply.String(), res.Reason, errString(res.Err))
		lr := dnsbl.Lookup(ctxT(t), r, spec, dnsbl.AddrTarget(netip.MustParseAddr(addr)))
		texts = append(texts, lr.TXT, lr.Reason, errString(lr.Err))
	}
	texts = append(texts, errString(health.CheckAll(ctxT(t))))
	bad := spec
	bad.Zone = dqsKey + ".nolist.test"
	bad.Name = "nolist.public"
	texts = append(texts, errString(health.Check(ctxT(t), r, bad)), spec.String(), buf.String())
	all := strings.Join(texts, "\n")
	if strings.Contains(strings.ToLower(all), dqsKey) {
		t.Errorf("the key leaked:\n%s", all)
	}
	// What is shown instead.
	for _, want := range []string{
		"554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.test; https://check.test/ip/192.0.2.1 key [redacted]",
		"550 5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.test",
		"zen.spamhaus.test refused the query for 192.0.2.3",
		"lookup of 192.0.2.5 in zen.spamhaus.test failed",
		"list=zen.spamhaus.test",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestRefusalLogged: a refusal is logged once a minute per list, with
// the hint.
func TestRefusalLogged(t *testing.T) {
	srv := startServer(t)
	r := newResolver(t, srv, 0)
	log, buf := newLogger()
	rbl, err := dnsbl.NewRBL(mustSpec(t, "bl.test"), false, dnsbl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		env := newEnv(r, "192.0.2.3")
		env.Log, env.Now = log, func() time.Time { return now.Add(time.Duration(i) * 40 * time.Second) }
		run(t, rbl, env)
	}
	// At 0s and 80s, not at 40s.
	if n := strings.Count(buf.String(), `msg="dnsbl list refused the query"`); n != 2 {
		t.Errorf("%d warnings, want 2:\n%s", n, buf)
	}
	if !strings.Contains(buf.String(), `hint="use a local recursive resolver, not a public one"`) {
		t.Errorf("no hint in:\n%s", buf)
	}
}

// TestPrefetch: the lookup starts when the input exists; the verdict
// then asks nothing more.
func TestPrefetch(t *testing.T) {
	srv := startServer(t)
	r := newResolver(t, srv, 0)
	ctx := ctxT(t)
	rbl, _ := dnsbl.NewRBL(mustSpec(t, "bl.test"), false, dnsbl.Options{})
	snd, _ := dnsbl.NewRHSBL(mustSpec(t, "dbl.test"), dnsbl.SourceSender, false, dnsbl.Options{})
	cli, _ := dnsbl.NewRHSBL(mustSpec(t, "dbl.test"), dnsbl.SourceClient, false, dnsbl.Options{})
	env := newEnv(r, "192.0.2.30")

	rbl.Prefetch(env)
	cli.Prefetch(env)
	snd.Prefetch(env) // no sender yet: nothing
	// A of 30.2.0.192.bl.test, PTR, A of mail.bad.example, then its
	// dbl.test lookup.
	if err := srv.WaitQueries(ctx, 4); err != nil {
		t.Fatal(err, srv.Queries())
	}
	if srv.Count("30.2.0.192.bl.test.", 1) != 1 || srv.Count("mail.bad.example.dbl.test.", 1) != 1 {
		t.Errorf("queries: %v", srv.Queries())
	}
	env.Mail, env.MailSeen = "u@bad.example", true
	snd.Prefetch(env)
	if err := srv.WaitQueries(ctx, 5); err != nil {
		t.Fatal(err, srv.Queries())
	}
	n := srv.QueryCount()
	if res := run(t, rbl, env); res.Status != checks.StatusPass {
		t.Errorf("rbl: %+v", res)
	}
	if res := run(t, snd, env); res.Status != checks.StatusFail {
		t.Errorf("sender: %+v", res)
	}
	if res := run(t, cli, env); res.Status != checks.StatusFail {
		t.Errorf("client: %+v", res)
	}
	// Only the TXT records of the two listings were asked at the verdict.
	if got := srv.QueryCount() - n; got != 2 {
		t.Errorf("%d queries at the verdict, want 2 (TXT): %v", got, srv.Queries()[n:])
	}
}

// TestHealthGate: an unhealthy list is skipped without a query.
func TestHealthGate(t *testing.T) {
	srv := startServer(t)
	r := newResolver(t, srv, -1)
	spec := mustSpec(t, "nolist.test")
	h := &dnsbl.Health{Resolver: r, Lists: []dnsbl.Spec{spec}}
	rbl, _ := dnsbl.NewRBL(spec, false, dnsbl.Options{Health: h})
	env := newEnv(r, "192.0.2.9")
	if res := run(t, rbl, env); res.Status != checks.StatusFail {
		t.Fatalf("before the health check: %+v", res)
	}
	if err := h.CheckAll(ctxT(t)); !errors.Is(err, dnsbl.ErrUnhealthy) {
		t.Fatalf("CheckAll: %v", err)
	}
	n := srv.QueryCount()
	env = newEnv(r, "192.0.2.9")
	rbl.Prefetch(env)
	if res := run(t, rbl, env); res.Status != checks.StatusNone || !strings.Contains(res.Reason, "list unhealthy") {
		t.Errorf("unhealthy: %+v", res)
	}
	if srv.QueryCount() != n {
		t.Errorf("queries to an unhealthy list: %v", srv.Queries()[n:])
	}
}
