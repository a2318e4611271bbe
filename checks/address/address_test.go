package address_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/address"
	"github.com/mxguard/mxguard/internal/dnstest"
	"github.com/mxguard/mxguard/resolver"
)

// The ;! lines are dnstest fault directives.
const zone = `
$ORIGIN example.
mx          MX   10 mail.nowhere.example.
a-only      A    192.0.2.1
aaaa-only   AAAA 2001:db8::1
nodata      TXT  "v=spf1 -all"
nullmx      MX   0 .
nullmx      A    192.0.2.2
mixed       MX   0 .
mixed       MX   10 mail.mixed.example.
mxnumeric   MX   10 192.0.2.3.
sfmx-a      A    192.0.2.4
;!servfail  sfmx-a MX
;!servfail  sfmx MX
;!servfail  sf
;!servfail  sfa A
;!timeout   slow
prefetch    MX   10 mail.prefetch.example.
utf8        MX   10 mail.utf8.example.
xn--exmple-cua MX 10 mail.example.
`

// newResolver returns a real resolver asking srv; cacheSize -1 disables
// its cache, so that the fixture sees every lookup.
func newResolver(t testing.TB, srv *dnstest.Server, cacheSize int) *resolver.Client {
	t.Helper()
	r, err := resolver.New(resolver.Config{Servers: []string{srv.Addr()}, Timeout: 300 * time.Millisecond, Attempts: 1, CacheSize: cacheSize})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newEnv returns a transaction with MAIL FROM:<from> (no MAIL when from is
// "-") and the recipient rcpt being evaluated.
func newEnv(r resolver.Resolver, from, rcpt string) *checks.Env {
	env := checks.NewEnv(r, nil)
	if from != "-" {
		env.Mail, env.MailSeen = from, true
	}
	env.Rcpt = rcpt
	return env
}

func run(t *testing.T, c checks.Check, env *checks.Env) (checks.Status, string) {
	t.Helper()
	res := c.Check(context.Background(), env)
	if res.Check != c.Name() || res.Stage != c.Stage() || res.Decision != checks.Dunno || res.Reason == "" && res.Status != checks.StatusPass {
		t.Errorf("%s: result %+v", c.Name(), res)
	}
	if res.Reply.IsZero() {
		return res.Status, ""
	}
	return res.Status, res.Reply.String()
}

func TestNonFQDN(t *testing.T) {
	test := func(role address.Role, code int, addr string, reply string) {
		t.Helper()
		c := address.NonFQDN{Role: role, Code: code}
		env := newEnv(nil, "-", "")
		if role == address.Sender {
			env = newEnv(nil, addr, "")
		} else {
			env.Rcpt = addr
		}
		want := checks.StatusPass
		switch {
		case addr == "-" || addr == "" || addr == "<>":
			want = checks.StatusNone
		case reply != "":
			want = checks.StatusFail
		}
		st, got := run(t, c, env)
		if st != want || got != reply {
			t.Errorf("%s %q: %s %q; want %s %q", c.Name(), addr, st, got, want, reply)
		}
	}
	snd := func(shown string) string {
		return "504 5.5.2 <" + shown + ">: Sender address rejected: need fully-qualified address"
	}
	S, R := address.Sender, address.Recipient
	test(S, 504, "user@example.com", "")
	test(S, 504, "user@example.com.", "")                   // one trailing dot is fine
	test(S, 504, "user@[192.0.2.1]", "")                    // address literals are not checked
	test(S, 504, "user@[IPv6:2001:db8::1]", "")             // ditto
	test(S, 504, `"a b"@example.com`, "")                   // quoted local part, FQDN domain
	test(S, 504, "@a.example,@b.example:u@example.com", "") // source route, FQDN
	test(S, 504, "user", snd("user"))                       // no domain
	test(S, 504, "user@localhost", snd("user@localhost"))   // no dot
	test(S, 504, "user@com.", snd("user@com."))             // only the root dot
	test(S, 504, "user@", snd("user@"))
	test(S, 504, "user@exa_mple", snd("user@exa_mple"))
	test(S, 504, `"a b"@localhost`, snd("a b@localhost"))                 // shown unquoted
	test(S, 504, "@a.example,@b.example:u@localhost", snd("u@localhost")) // shown without route
	test(S, 504, "<u@localhost>", snd("u@localhost"))                     // brackets are tolerated
	test(S, 504, "a b@c", snd("a b@c"))                                   // unparsable: shown raw
	test(S, 504, "", "")                                                  // null sender
	test(S, 504, "<>", "")                                                // ditto
	test(S, 504, "-", "")                                                 // no MAIL yet
	// non_fqdn_reject_code; the class digit follows it.
	test(S, 550, "user@localhost", "550 5.5.2 <user@localhost>: Sender address rejected: need fully-qualified address")
	test(S, 450, "user@localhost", "450 4.5.2 <user@localhost>: Sender address rejected: need fully-qualified address")
	test(S, 0, "user@localhost", "504 5.5.2 <user@localhost>: Sender address rejected: need fully-qualified address")
	// Recipients.
	test(R, 504, "user@example.com", "")
	test(R, 504, "user@localhost", "504 5.5.2 <user@localhost>: Recipient address rejected: need fully-qualified address")
	test(R, 504, "postmaster", "504 5.5.2 <postmaster>: Recipient address rejected: need fully-qualified address") // the bypass is the pipeline's
	test(R, 504, "", "")
}

func TestUnknownDomain(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t, dnstest.WithZone(zone))
	r := newResolver(t, srv, -1)
	// test runs the restriction for addr and says whether DNS was asked.
	test := func(role address.Role, code int, addr string, st checks.Status, reply string, asked bool) {
		t.Helper()
		c := address.UnknownDomain{Role: role, Code: code}
		env := newEnv(r, addr, "")
		if role == address.Recipient {
			env = newEnv(r, "-", addr)
		}
		before := srv.QueryCount()
		gotSt, got := run(t, c, env)
		if gotSt != st || got != reply {
			t.Errorf("%s %q: %s %q; want %s %q", c.Name(), addr, gotSt, got, st, reply)
		}
		if n := srv.QueryCount() - before; (n > 0) != asked {
			t.Errorf("%s %q: %d queries, want asked=%v", c.Name(), addr, n, asked)
		}
	}
	const (
		pass = checks.StatusPass
		fail = checks.StatusFail
		temp = checks.StatusTemperror
		none = checks.StatusNone
	)
	S, R := address.Sender, address.Recipient
	snd := func(code int, dsn, addr string) string {
		return strconv.Itoa(code) + " " + dsn + " <" + addr + ">: Sender address rejected: Domain not found"
	}
	rcp := func(code int, dsn, addr string) string {
		return strconv.Itoa(code) + " " + dsn + " <" + addr + ">: Recipient address rejected: Domain not found"
	}
	test(S, 450, "u@mx.example", pass, "", true)
	test(S, 450, "u@a-only.example", pass, "", true)
	test(S, 450, "u@aaaa-only.example", pass, "", true)
	test(S, 450, "u@mxnumeric.example", pass, "", true) // MX hosts are not resolved; a numeric one is fine
	test(S, 450, "u@MX.Example.", pass, "", true)       // lowercased, trailing dot removed
	test(S, 450, `"a b"@mx.example`, pass, "", true)
	test(S, 450, "u@exämple.example", pass, "", true) // UTF-8 domain: looked up as xn--exmple-cua.example
	test(S, 450, "u@sfmx-a.example", pass, "", true)  // MX SERVFAIL, but an A record
	// Not found: unknown_address_reject_code with 4.1.8 / 4.1.2.
	test(S, 450, "u@nx.example", fail, snd(450, "4.1.8", "u@nx.example"), true)
	test(S, 450, "u@nodata.example", fail, snd(450, "4.1.8", "u@nodata.example"), true)
	test(S, 550, "u@nx.example", fail, snd(550, "5.1.8", "u@nx.example"), true)
	test(S, 0, "u@nx.example", fail, snd(450, "4.1.8", "u@nx.example"), true) // zero: Postfix's default 450
	test(R, 450, "u@nx.example", fail, rcp(450, "4.1.2", "u@nx.example"), true)
	test(R, 550, "u@nx.example", fail, rcp(550, "5.1.2", "u@nx.example"), true)
	test(S, 450, `"a b"@nx.example`, fail, snd(450, "4.1.8", "a b@nx.example"), true)        // internal form
	test(S, 450, "@r.example:u@NX.example.", fail, snd(450, "4.1.8", "u@NX.example."), true) // no route; domain as sent
	// Null MX (RFC 7505): fixed codes, even with an A record or a real MX beside it.
	nullSnd := "550 5.7.27 <u@nullmx.example>: Sender address rejected: Domain nullmx.example does not accept mail (nullMX)"
	nullRcp := "556 5.1.10 <u@nullmx.example>: Recipient address rejected: Domain nullmx.example does not accept mail (nullMX)"
	test(S, 450, "u@nullmx.example", fail, nullSnd, true)
	test(S, 0, "u@nullmx.example", fail, nullSnd, true)
	test(R, 450, "u@nullmx.example", fail, nullRcp, true)
	test(R, 550, "u@NullMX.Example.", fail,
		"556 5.1.10 <u@NullMX.Example.>: Recipient address rejected: Domain nullmx.example does not accept mail (nullMX)", true)
	test(S, 450, "u@mixed.example", fail,
		"550 5.7.27 <u@mixed.example>: Sender address rejected: Domain mixed.example does not accept mail (nullMX)", true)
	// Temporary failures: 450, whatever the code.
	test(S, 550, "u@sfmx.example", temp, snd(450, "4.1.8", "u@sfmx.example"), true) // MX SERVFAIL, no address
	test(S, 550, "u@sf.example", temp, snd(450, "4.1.8", "u@sf.example"), true)
	test(R, 550, "u@sf.example", temp, rcp(450, "4.1.2", "u@sf.example"), true)
	test(R, 550, "u@sfa.example", temp, rcp(450, "4.1.2", "u@sfa.example"), true)   // MX NXDOMAIN, A SERVFAIL
	test(S, 550, "u@slow.example", temp, snd(450, "4.1.8", "u@slow.example"), true) // timeout
	// Nothing to look up.
	test(S, 450, "", none, "", false)              // null sender
	test(S, 450, "<>", none, "", false)            // ditto
	test(S, 450, "-", none, "", false)             // no MAIL yet
	test(R, 450, "", none, "", false)              // no recipient
	test(S, 450, "user", none, "", false)          // no domain: Postfix appends $myorigin, a local domain
	test(S, 450, "u@[192.0.2.1]", none, "", false) // address literal
	test(S, 450, "u@[IPv6:2001:db8::1]", none, "", false)
	test(S, 450, "a b@c", none, "", false) // unparsable (Postfix rejected it with 501 already)
	// Numeric or malformed domains: "Domain not found" without a query.
	test(S, 450, "u@192.0.2.1", fail, snd(450, "4.1.8", "u@192.0.2.1"), false)
	test(R, 550, "u@192.0.2.1", fail, rcp(550, "5.1.2", "u@192.0.2.1"), false)
	test(S, 450, "u@-bad.example", fail, snd(450, "4.1.8", "u@-bad.example"), false)
}

func TestDomainStatus(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t, dnstest.WithZone(zone))
	r := newResolver(t, srv, -1)
	test := func(d string, st checks.Status, nullMX bool, errKind func(error) bool) {
		t.Helper()
		gotSt, gotNull, err := address.DomainStatus(context.Background(), r, d)
		if gotSt != st || gotNull != nullMX {
			t.Errorf("DomainStatus(%q) = %s, %v, %v; want %s, %v", d, gotSt, gotNull, err, st, nullMX)
		}
		if errKind == nil && err != nil || errKind != nil && !errKind(err) {
			t.Errorf("DomainStatus(%q): unexpected error %v", d, err)
		}
	}
	test("mx.example", checks.StatusPass, false, nil)
	test("a-only.example", checks.StatusPass, false, nil)
	test("aaaa-only.example", checks.StatusPass, false, nil)
	test("sfmx-a.example", checks.StatusPass, false, nil)
	test("nullmx.example", checks.StatusFail, true, nil)
	test("mixed.example", checks.StatusFail, true, nil)
	test("nx.example", checks.StatusFail, false, resolver.IsNXDOMAIN)
	test("nodata.example", checks.StatusFail, false, resolver.IsNoData)
	test("sfmx.example", checks.StatusTemperror, false, resolver.IsTemporary)
	test("sf.example", checks.StatusTemperror, false, resolver.IsTemporary)
	test("sfa.example", checks.StatusTemperror, false, resolver.IsTemporary) // MX NXDOMAIN, A SERVFAIL

	// MX, A and AAAA are each asked once; the MX hosts are not resolved.
	srv.ResetQueries()
	test("mx.example", checks.StatusPass, false, nil)
	for _, qt := range []uint16{dns.TypeMX, dns.TypeA, dns.TypeAAAA} {
		if n := srv.Count("mx.example.", qt); n != 1 {
			t.Errorf("%s mx.example asked %d times", dns.TypeToString[qt], n)
		}
	}
	if n := srv.Count("mail.nowhere.example.", 0); n != 0 {
		t.Errorf("the MX host was looked up %d times", n)
	}
}

func TestPrefetch(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t, dnstest.WithZone(zone))
	r := newResolver(t, srv, 0)
	c := address.UnknownDomain{Role: address.Sender, Code: 450}
	// Nothing to prefetch: the null sender, no MAIL, a literal, a number.
	for _, from := range []string{"", "-", "u@[192.0.2.1]", "u@192.0.2.1"} {
		c.Prefetch(newEnv(r, from, ""))
	}
	env := newEnv(r, "u@prefetch.example", "")
	c.Prefetch(env)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.WaitQueries(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if st, got := run(t, c, env); st != checks.StatusPass || got != "" {
		t.Errorf("after prefetch: %s %q", st, got)
	}
	if n := srv.QueryCount(); n != 3 {
		t.Errorf("%d queries, want 3 (MX, A, AAAA of prefetch.example): %v", n, srv.Queries())
	}
	// A recipient prefetch reads the recipient.
	address.UnknownDomain{Role: address.Recipient}.Prefetch(newEnv(r, "-", "u@mx.example"))
	if err := srv.WaitQueries(ctx, 6); err != nil {
		t.Fatal(err)
	}
}

func TestNamesAndStages(t *testing.T) {
	test := func(c checks.Check, name string, stage checks.Stage) {
		t.Helper()
		if c.Name() != name || c.Stage() != stage {
			t.Errorf("%T: %q %v", c, c.Name(), c.Stage())
		}
	}
	test(address.NonFQDN{Role: address.Sender}, "non_fqdn_sender", checks.StageMail)
	test(address.NonFQDN{Role: address.Recipient}, "non_fqdn_recipient", checks.StageRcpt)
	test(address.UnknownDomain{Role: address.Sender}, "unknown_sender_domain", checks.StageMail)
	test(address.UnknownDomain{Role: address.Recipient}, "unknown_recipient_domain", checks.StageRcpt)
}
