package policy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mxguard/mxguard/internal/dnstest"
	"github.com/mxguard/mxguard/resolver"
)

// walkZone is the DMARCbis fixture: one root zone, so every name not
// listed is NXDOMAIN, with the fault directives of internal/dnstest.
const walkZone = `
$ORIGIN .
; The policy at the From domain.
_dmarc.self.example.            TXT "v=DMARC1; p=quarantine; sp=none"
_dmarc.self.example.            TXT "v=spf1 -all"
self.example.                   A 192.0.2.1

; At the organizational domain, with a non-DMARC TXT record beside it.
_dmarc.org.example.             TXT "v=DMARC1; p=reject; sp=quarantine"
_dmarc.org.example.             TXT "google-site-verification=x"
a.b.org.example.                A 192.0.2.1
mail.org.example.               A 192.0.2.1

; At an intermediate label only: it is the organizational domain.
_dmarc.dept.inter.example.      TXT "v=DMARC1; p=reject"
host.dept.inter.example.        A 192.0.2.1
; At an intermediate label and above: the one with fewest labels wins.
_dmarc.mid.both.example.        TXT "v=DMARC1; p=none"
_dmarc.both.example.            TXT "v=DMARC1; p=reject"
x.mid.both.example.             A 192.0.2.1
; psd=n at an intermediate label: the walk stops there.
_dmarc.unit.split.example.      TXT "v=DMARC1; p=quarantine; psd=n"
_dmarc.split.example.           TXT "v=DMARC1; p=reject"
h.unit.split.example.           A 192.0.2.1

; A public suffix domain (RFC 9989 Appendix B.4.3).
_dmarc.bank.example.            TXT "v=DMARC1; p=none; sp=quarantine; np=reject; psd=y"
_dmarc.giant.bank.example.      TXT "v=DMARC1; p=none"
giant.bank.example.             A 192.0.2.1
mega.bank.example.              A 192.0.2.1

; np= for non-existent subdomains.
_dmarc.np.example.              TXT "v=DMARC1; p=none; sp=quarantine; np=reject"
www.np.example.                 A 192.0.2.1
c.b.np.example.                 A 192.0.2.1
mx.np.example.                  A 192.0.2.25
weird.np.example.               MX 10 mx.np.example.
;!rcode NXDOMAIN weird.np.example. A
;!servfail nxfail.np.example. A

; t=y.
_dmarc.testing.example.         TXT "v=DMARC1; p=reject; sp=quarantine; t=y"
_dmarc.qtest.example.           TXT "v=DMARC1; p=quarantine; t=y"
sub.testing.example.            A 192.0.2.1

; Long names.
_dmarc.long.example.            TXT "v=DMARC1; p=reject"
_dmarc.b.c.d.e.f.g.deep.example. TXT "v=DMARC1; p=none; psd=n"
_dmarc.deep.example.            TXT "v=DMARC1; p=reject"
_dmarc.3.4.5.6.7.eight.example. TXT "v=DMARC1; p=quarantine; psd=n"
_dmarc.eight.example.           TXT "v=DMARC1; p=reject"

; Several records at the From domain: discarded, the walk goes on.
_dmarc.multi.org2.example.      TXT "v=DMARC1; p=none"
_dmarc.multi.org2.example.      TXT "v=DMARC1; p=quarantine"
_dmarc.org2.example.            TXT "v=DMARC1; p=reject"
multi.org2.example.             A 192.0.2.1

; Record syntax (RFC 9989 §4.8, §4.10.1).
_dmarc.norua.example.           TXT "v=DMARC1; sp=reject"
_dmarc.rua.example.             TXT "v=DMARC1; p=bogus; rua=mailto:d@rua.example"
_dmarc.lenient.example.         TXT "v=DMARC1; p=reject; adkim=x; bogus; aspf=s"
_dmarc.strict.example.          TXT "v=DMARC1; p=reject; adkim=s; aspf=s"

; RFC 9989 Appendix B.4.1 and B.4.2.
_dmarc.example.com.             TXT "v=DMARC1; p=reject; aspf=r; rua=mailto:dmarc-feedback@example.com"
_dmarc.signing.example.com.     TXT "v=DMARC1; p=none"
`

// newWalkEnv starts the fixture and returns a resolver without a cache,
// so the server sees every query a call makes.
func newWalkEnv(t *testing.T) (*dnstest.Server, resolver.Resolver) {
	t.Helper()
	srv := dnstest.Start(t, dnstest.WithZone(walkZone))
	r, err := resolver.New(resolver.Config{Servers: []string{srv.Addr()}, Timeout: 300 * time.Millisecond, Attempts: 1, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	return srv, r
}

// txtQueries returns the TXT names the server saw, without the _dmarc.
// prefix and the trailing dot.
func txtQueries(srv *dnstest.Server) []string {
	var names []string
	for _, q := range srv.Queries() {
		if q.Type == dns.TypeTXT {
			names = append(names, strings.TrimSuffix(strings.TrimPrefix(strings.ToLower(q.Name), "_dmarc."), "."))
		}
	}
	return names
}

func TestWalkNames(t *testing.T) {
	n := 0
	test := func(d string, want ...string) {
		t.Helper()
		n++
		got := walkNames(d)
		if !slices.Equal(got, want) {
			t.Errorf("walkNames(%s):\n got %q\nwant %q", d, got, want)
		}
		if len(got) > maxWalkQueries {
			t.Errorf("walkNames(%s): %d names", d, len(got))
		}
	}
	test("com", "com")
	test("example.com", "example.com", "com")
	test("a.mail.example.com", "a.mail.example.com", "mail.example.com", "example.com", "com")
	// 8 labels: the parent has 7, no skipping needed.
	test("1.2.3.4.5.6.7.8", "1.2.3.4.5.6.7.8", "2.3.4.5.6.7.8", "3.4.5.6.7.8", "4.5.6.7.8", "5.6.7.8", "6.7.8", "7.8", "8")
	// 9 labels: the 8-label name is skipped.
	test("0.1.2.3.4.5.6.7.8", "0.1.2.3.4.5.6.7.8", "2.3.4.5.6.7.8", "3.4.5.6.7.8", "4.5.6.7.8", "5.6.7.8", "6.7.8", "7.8", "8")
	// RFC 9989 §4.10's example.
	test("a.b.c.d.e.f.g.h.i.j.mail.example.com", "a.b.c.d.e.f.g.h.i.j.mail.example.com",
		"g.h.i.j.mail.example.com", "h.i.j.mail.example.com", "i.j.mail.example.com", "j.mail.example.com",
		"mail.example.com", "example.com", "com")
	t.Logf("%d walkNames cases", n)
}

func TestDiscoverRFC9989(t *testing.T) {
	srv, r := newWalkEnv(t)
	n := 0
	test := func(from, status, pd, org, p string, queries ...string) {
		t.Helper()
		n++
		srv.ResetQueries()
		lk := Discover(context.Background(), r, from, ModeRFC9989)
		got := []string{lk.Status, lk.PolicyDomain, lk.OrgDomain, ""}
		if lk.Record != nil {
			got[3] = lk.Record.Policy
		}
		if want := []string{status, pd, org, p}; !slices.Equal(got, want) {
			t.Errorf("Discover(%s) = %q (err %v), want %q", from, got, lk.Err, want)
		}
		if queries != nil {
			if q := txtQueries(srv); !slices.Equal(q, queries) {
				t.Errorf("Discover(%s) queried\n %q\nwant %q", from, q, queries)
			}
		}
	}
	// The policy at the From domain; the walk goes on for the org domain.
	test("self.example", "found", "self.example", "self.example", "quarantine", "self.example", "example")
	test("SELF.Example.", "found", "self.example", "self.example", "quarantine")
	// At the organizational domain.
	test("a.b.org.example", "found", "org.example", "org.example", "reject", "a.b.org.example", "b.org.example", "org.example", "example")
	// At an intermediate label only.
	test("host.dept.inter.example", "found", "dept.inter.example", "dept.inter.example", "reject")
	// An intermediate record is not the policy when an upper one exists
	// (§4.10.1 applies the org domain's record; Appendix B.4.2).
	test("x.mid.both.example", "found", "both.example", "both.example", "reject")
	test("mid.both.example", "found", "mid.both.example", "both.example", "none")
	// psd=n ends the walk.
	test("h.unit.split.example", "found", "unit.split.example", "unit.split.example", "quarantine",
		"h.unit.split.example", "unit.split.example")
	// psd=y: the org domain is one label below the PSD.
	test("giant.bank.example", "found", "giant.bank.example", "giant.bank.example", "none")
	test("mail.giant.bank.example", "found", "giant.bank.example", "giant.bank.example", "none")
	test("mega.bank.example", "found", "bank.example", "mega.bank.example", "none")
	test("x.mega.bank.example", "found", "bank.example", "mega.bank.example", "none")
	test("bank.example", "found", "bank.example", "bank.example", "none")
	// Nothing anywhere.
	test("absent.example", "norecord", "absent.example", "absent.example", "", "absent.example", "example")
	test("example", "norecord", "example", "example", "", "example")
	// Several records at the From domain are discarded, not fatal.
	test("multi.org2.example", "found", "org2.example", "org2.example", "reject")
	// No valid p: with rua p=none, without it no DMARC processing.
	test("norua.example", "permerror", "norua.example", "norua.example", "")
	test("rua.example", "found", "rua.example", "rua.example", "none")
	test("lenient.example", "found", "lenient.example", "lenient.example", "reject")
	test("bad..example", "permerror", "bad..example", "", "")
	t.Logf("%d discovery cases", n)
}

func TestLenientRecord(t *testing.T) {
	_, r := newWalkEnv(t)
	lk := Discover(context.Background(), r, "lenient.example", ModeRFC9989)
	if lk.Record == nil || lk.Record.ADKIM != "r" || lk.Record.ASPF != "s" || len(lk.Record.Ignored) != 2 {
		t.Fatalf("lenient record: %+v", lk.Record)
	}
	t.Logf("ignored: %q", lk.Record.Ignored)
	// The same record is a permerror in RFC 7489 mode.
	if lk := Discover(context.Background(), r, "lenient.example", ModeRFC7489); lk.Status != LookupPermerror {
		t.Errorf("RFC 7489 mode: %s", lk.Status)
	}
}

func TestLongNames(t *testing.T) {
	srv, r := newWalkEnv(t)
	n := 0
	test := func(from, pd, org string, want ...string) {
		t.Helper()
		n++
		srv.ResetQueries()
		lk := Discover(context.Background(), r, from, ModeRFC9989)
		if lk.Status != LookupFound || lk.PolicyDomain != pd || lk.OrgDomain != org {
			t.Errorf("Discover(%s) = %s %s %s (%v), want found %s %s", from, lk.Status, lk.PolicyDomain, lk.OrgDomain, lk.Err, pd, org)
		}
		q := txtQueries(srv)
		if !slices.Equal(q, want) {
			t.Errorf("Discover(%s) queried\n %q\nwant %q", from, q, want)
		}
		if len(q) > maxWalkQueries {
			t.Errorf("Discover(%s): %d queries", from, len(q))
		}
	}
	// RFC 9989 §4.10's example: 13 labels, 8 queries.
	test("a.b.c.d.e.f.g.h.i.j.mail.long.example", "long.example", "long.example",
		"a.b.c.d.e.f.g.h.i.j.mail.long.example", "g.h.i.j.mail.long.example", "h.i.j.mail.long.example",
		"i.j.mail.long.example", "j.mail.long.example", "mail.long.example", "long.example", "example")
	// §5.1.8: the psd=n record at b.c.d.e.f.g.deep.example is never
	// discovered for a 10-label From domain: it is skipped.
	test("mail.a.b.c.d.e.f.g.deep.example", "deep.example", "deep.example",
		"mail.a.b.c.d.e.f.g.deep.example", "c.d.e.f.g.deep.example", "d.e.f.g.deep.example",
		"e.f.g.deep.example", "f.g.deep.example", "g.deep.example", "deep.example", "example")
	// 9 labels: the 8-label parent b.c.d.e.f.g.deep.example is skipped too.
	test("a.b.c.d.e.f.g.deep.example", "deep.example", "deep.example",
		"a.b.c.d.e.f.g.deep.example", "c.d.e.f.g.deep.example", "d.e.f.g.deep.example",
		"e.f.g.deep.example", "f.g.deep.example", "g.deep.example", "deep.example", "example")
	// 8 labels: the parent (7 labels) is next, its psd=n stops the walk;
	// 9 labels: the same 7-label name comes right after the From domain.
	test("2.3.4.5.6.7.eight.example", "3.4.5.6.7.eight.example", "3.4.5.6.7.eight.example",
		"2.3.4.5.6.7.eight.example", "3.4.5.6.7.eight.example")
	test("1.2.3.4.5.6.7.eight.example", "3.4.5.6.7.eight.example", "3.4.5.6.7.eight.example",
		"1.2.3.4.5.6.7.eight.example", "3.4.5.6.7.eight.example")
	t.Logf("%d long-name cases", n)
}

// TestTemperrorEveryStep makes each query of a walk fail in turn, by
// SERVFAIL and by timeout: discovery is temperror, never norecord, and
// names the domain whose lookup failed.
func TestTemperrorEveryStep(t *testing.T) {
	srv, r := newWalkEnv(t)
	from := "a.b.org.example"
	n := 0
	for _, name := range walkNames(from) {
		for _, how := range []string{"servfail", "timeout"} {
			n++
			srv.ClearFaults()
			if how == "servfail" {
				srv.Fail("_dmarc."+name+".", dns.TypeTXT, dns.RcodeServerFailure)
			} else {
				srv.Drop("_dmarc."+name+".", dns.TypeTXT)
			}
			lk := Discover(context.Background(), r, from, ModeRFC9989)
			if lk.Status != LookupTemperror || lk.PolicyDomain != name {
				t.Errorf("%s at %s: %s %s (%v)", how, name, lk.Status, lk.PolicyDomain, lk.Err)
			}
			res := Evaluate(context.Background(), r, Input{FromDomain: from}, Options{})
			if res.Status != StatusTemperror || res.Disposition != PolicyNone || res.Err == nil {
				t.Errorf("%s at %s: Evaluate %s %s (%v)", how, name, res.Status, res.Disposition, res.Err)
			}
		}
	}
	t.Logf("%d temperror cases", n)
}

func TestEvaluateRFC9989(t *testing.T) {
	srv, r := newWalkEnv(t)
	spf := func(res, d string) AuthResult { return AuthResult{res, d} }
	dkim := func(res, d string) []AuthResult { return []AuthResult{{res, d}} }
	n := 0
	type want struct {
		status, pd, policy, disposition string
		spf, dkim, testing              bool
	}
	test := func(name string, in Input, w want) {
		t.Helper()
		n++
		res := Evaluate(context.Background(), r, in, Options{})
		got := want{res.Status, res.PolicyDomain, res.Policy, res.Disposition, res.SPFAligned, res.DKIMAligned, res.Testing}
		if got != w {
			t.Errorf("%s:\n got %+v (reason %q, err %v)\nwant %+v", name, got, res.Reason, res.Err, w)
		}
	}
	// Alignment.
	test("spf strict equal", Input{FromDomain: "org.example", SPF: spf("pass", "org.example")},
		want{"pass", "org.example", "reject", "none", true, false, false})
	test("spf relaxed subdomain", Input{FromDomain: "org.example", SPF: spf("pass", "bounce.mail.org.example")},
		want{"pass", "org.example", "reject", "none", true, false, false})
	test("spf case and trailing dot", Input{FromDomain: "Org.Example.", SPF: spf("PASS", "ORG.example.")},
		want{"pass", "org.example", "reject", "none", true, false, false})
	test("spf aligned only on pass", Input{FromDomain: "org.example", SPF: spf("softfail", "org.example")},
		want{"fail", "org.example", "reject", "reject", false, false, false})
	test("spf foreign", Input{FromDomain: "org.example", SPF: spf("pass", "bounces.esp.example")},
		want{"fail", "org.example", "reject", "reject", false, false, false})
	test("dkim relaxed parent", Input{FromDomain: "mail.org.example", DKIM: dkim("pass", "org.example")},
		want{"pass", "org.example", "quarantine", "none", false, true, false})
	test("dkim aligned only on pass", Input{FromDomain: "org.example", DKIM: dkim("fail", "org.example")},
		want{"fail", "org.example", "reject", "reject", false, false, false})
	test("strict alignment rejects subdomains", Input{FromDomain: "strict.example",
		SPF: spf("pass", "mail.strict.example"), DKIM: dkim("pass", "mail.strict.example")},
		want{"fail", "strict.example", "reject", "reject", false, false, false})
	test("strict alignment equal", Input{FromDomain: "strict.example", DKIM: dkim("pass", "Strict.Example")},
		want{"pass", "strict.example", "reject", "none", false, true, false})
	// psd=n splits an organization: split.example is not aligned with
	// unit.split.example.
	test("psd=n boundary", Input{FromDomain: "h.unit.split.example", DKIM: dkim("pass", "split.example")},
		want{"fail", "unit.split.example", "quarantine", "quarantine", false, false, false})
	test("psd=n same org", Input{FromDomain: "h.unit.split.example", DKIM: dkim("pass", "x.unit.split.example")},
		want{"pass", "unit.split.example", "quarantine", "none", false, true, false})
	// Appendix B.4.3: under a PSD, giant and mega are different orgs.
	test("B.4.3", Input{FromDomain: "giant.bank.example", SPF: spf("pass", "mail.giant.bank.example"),
		DKIM: dkim("pass", "mail.mega.bank.example")},
		want{"pass", "giant.bank.example", "none", "none", true, false, false})
	test("PSD signature does not align", Input{FromDomain: "mega.bank.example", DKIM: dkim("pass", "bank.example")},
		want{"fail", "bank.example", "quarantine", "quarantine", false, false, false})

	// sp= and np=.
	test("sp for an existing subdomain", Input{FromDomain: "www.np.example"},
		want{"fail", "np.example", "quarantine", "quarantine", false, false, false})
	test("np for a non-existent subdomain", Input{FromDomain: "nx.np.example"},
		want{"fail", "np.example", "reject", "reject", false, false, false})
	test("np not for the org domain itself", Input{FromDomain: "np.example"},
		want{"fail", "np.example", "none", "none", false, false, false})
	test("empty non-terminal exists", Input{FromDomain: "b.np.example"},
		want{"fail", "np.example", "quarantine", "quarantine", false, false, false})
	test("NXDOMAIN for A only: exists", Input{FromDomain: "weird.np.example"},
		want{"fail", "np.example", "quarantine", "quarantine", false, false, false})
	test("existence unknown on fail", Input{FromDomain: "nxfail.np.example"},
		want{"temperror", "np.example", "quarantine", "none", false, false, false})
	test("existence unknown on pass", Input{FromDomain: "nxfail.np.example", SPF: spf("pass", "np.example")},
		want{"pass", "np.example", "quarantine", "none", true, false, false})
	test("PSD np for a non-existent org", Input{FromDomain: "ghost.bank.example"},
		want{"fail", "bank.example", "reject", "reject", false, false, false})
	test("PSD sp for an existing org", Input{FromDomain: "mega.bank.example"},
		want{"fail", "bank.example", "quarantine", "quarantine", false, false, false})
	test("own record: p", Input{FromDomain: "self.example"},
		want{"fail", "self.example", "quarantine", "quarantine", false, false, false})

	// t=y.
	test("t=y reject as quarantine", Input{FromDomain: "testing.example"},
		want{"fail", "testing.example", "reject", "quarantine", false, false, true})
	test("t=y sp quarantine as none", Input{FromDomain: "sub.testing.example"},
		want{"fail", "testing.example", "quarantine", "none", false, false, true})
	test("t=y quarantine as none", Input{FromDomain: "qtest.example"},
		want{"fail", "qtest.example", "quarantine", "none", false, false, true})
	test("t=y pass", Input{FromDomain: "testing.example", SPF: spf("pass", "testing.example")},
		want{"pass", "testing.example", "reject", "none", true, false, true})

	// No record, broken record, temperror from SPF/DKIM.
	test("no record", Input{FromDomain: "absent.example", SPF: spf("pass", "absent.example")},
		want{"none", "absent.example", "", "none", false, false, false})
	test("no valid p, no rua", Input{FromDomain: "norua.example"},
		want{"permerror", "norua.example", "", "none", false, false, false})
	test("spf temperror, no pass", Input{FromDomain: "org.example", SPF: spf("temperror", "org.example")},
		want{"temperror", "org.example", "reject", "none", false, false, false})
	test("dkim temperror, spf pass", Input{FromDomain: "org.example", SPF: spf("pass", "org.example"),
		DKIM: dkim("temperror", "org.example")},
		want{"pass", "org.example", "reject", "none", true, false, false})
	test("invalid from", Input{FromDomain: "exa mple.org"},
		want{"permerror", "exa mple.org", "", "none", false, false, false})

	// Temperror in an identifier's walk: open unless something else aligns.
	srv.Fail("_dmarc.sig.org.example.", dns.TypeTXT, dns.RcodeServerFailure)
	test("dkim walk temperror", Input{FromDomain: "org.example", DKIM: dkim("pass", "sel.sig.org.example")},
		want{"temperror", "org.example", "reject", "none", false, false, false})
	test("dkim walk temperror, spf aligned", Input{FromDomain: "org.example", SPF: spf("pass", "org.example"),
		DKIM: dkim("pass", "sel.sig.org.example")},
		want{"pass", "org.example", "reject", "none", true, false, false})
	t.Logf("%d evaluation cases", n)
}

// TestAlignmentQueries checks the §4.10.2 shortcuts: no walk for an
// identifier equal to the From domain, for strict alignment, or for an
// identifier outside the From domain's organizational domain.
func TestAlignmentQueries(t *testing.T) {
	srv, r := newWalkEnv(t)
	n := 0
	test := func(in Input, want ...string) {
		t.Helper()
		n++
		srv.ResetQueries()
		Evaluate(context.Background(), r, in, Options{})
		if q := txtQueries(srv); !slices.Equal(q, want) {
			t.Errorf("%+v queried\n %q\nwant %q", in, q, want)
		}
	}
	test(Input{FromDomain: "org.example", SPF: AuthResult{"pass", "org.example"}, DKIM: []AuthResult{{"pass", "esp.example"}}},
		"org.example", "example")
	test(Input{FromDomain: "strict.example", DKIM: []AuthResult{{"pass", "a.strict.example"}}},
		"strict.example", "example")
	test(Input{FromDomain: "org.example", DKIM: []AuthResult{{"pass", "s.org.example"}}},
		"org.example", "example", "s.org.example")
	// A failed signature is not walked.
	test(Input{FromDomain: "org.example", DKIM: []AuthResult{{"fail", "s.org.example"}}},
		"org.example", "example")
	t.Logf("%d query-count cases", n)
}

// TestRFC9989Examples follows Appendix B.4.1 and B.4.2.
func TestRFC9989Examples(t *testing.T) {
	_, r := newWalkEnv(t)
	for _, from := range []string{"example.com", "a.b.c.d.e.f.g.h.i.j.k.example.com"} {
		res := Evaluate(context.Background(), r, Input{FromDomain: from,
			SPF: AuthResult{"pass", "example.com"}, DKIM: []AuthResult{{"pass", "signing.example.com"}}}, Options{})
		if res.Status != StatusPass || !res.SPFAligned || !res.DKIMAligned || res.PolicyDomain != "example.com" || res.OrgDomain != "example.com" {
			t.Errorf("%s: %+v", from, res)
		}
	}
	for d, want := range map[string]string{"signing.example.com": "example.com", "example.com": "example.com",
		"a.b.c.d.e.f.g.h.i.j.k.example.com": "example.com"} {
		if got, err := OrgDomain(context.Background(), r, d, ModeRFC9989); got != want || err != nil {
			t.Errorf("OrgDomain(%s) = %s, %v; want %s", d, got, err, want)
		}
	}
}
