package helo_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/helo"
	"github.com/mxguard/mxguard/internal/dnstest"
	"github.com/mxguard/mxguard/resolver"
)

// The ;! lines are dnstest fault directives.
const zone = `
$ORIGIN example.
a-only          A    192.0.2.1
aaaa-only       AAAA 2001:db8::1
mx-only         MX   10 mail.nowhere.example.
nullmx          MX   0 .
sf-nullmx       MX   0 .
;!servfail      sf-nullmx A
txt-only        TXT  "exists without A, AAAA or MX"
;!servfail      sf-all
;!timeout       slow
sf-a            AAAA 2001:db8::2
;!servfail      sf-a A
mx              A    192.0.2.25
prefetch        A    192.0.2.26
`

// Postfix's default reply codes.
var postfixCodes = helo.Options{InvalidCode: 501, NonFQDNCode: 504, UnknownCode: 450}

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

// newEnv returns a connection that sent HELO name; "-" means no HELO.
func newEnv(r resolver.Resolver, name string) *checks.Env {
	env := checks.NewEnv(r, nil)
	if name != "-" {
		env.Helo, env.HeloSeen = name, true
	}
	return env
}

// replyOf runs c and returns its status and reply line ("" for none).
func replyOf(t *testing.T, c checks.Check, env *checks.Env) (checks.Status, string) {
	t.Helper()
	res := c.Check(context.Background(), env)
	if res.Check != c.Name() || res.Stage != checks.StageHelo || res.Decision != checks.Dunno {
		t.Errorf("%s %q: result %+v", c.Name(), env.Helo, res)
	}
	if res.Reply.IsZero() {
		return res.Status, ""
	}
	return res.Status, res.Reply.String()
}

// TestSyntaxRestrictions replays the HELO rows of POSTFIX-NOTES.md §2 and
// the lab cases of checks/syntax through reject_invalid_helo_hostname and
// reject_non_fqdn_helo_hostname.
func TestSyntaxRestrictions(t *testing.T) {
	test := func(opts helo.Options, name, invalid, nonFQDN string) {
		t.Helper()
		env := newEnv(nil, name)
		for _, c := range []struct {
			chk  checks.Check
			want string
		}{{helo.Invalid{Opts: opts}, invalid}, {helo.NonFQDN{Opts: opts}, nonFQDN}} {
			st, got := replyOf(t, c.chk, env)
			wantSt := checks.StatusPass
			if c.want != "" {
				wantSt = checks.StatusFail
			}
			if name == "-" {
				wantSt = checks.StatusNone
			}
			if st != wantSt || got != c.want {
				t.Errorf("%s %q: %s %q; want %s %q", c.chk.Name(), name, st, got, wantSt, c.want)
			}
		}
	}
	const (
		invName = "501 5.5.2 <%s>: Helo command rejected: Invalid name"
		invAddr = "501 5.5.2 <%s>: Helo command rejected: invalid ip address"
		notFQDN = "504 5.5.2 <%s>: Helo command rejected: need fully-qualified hostname"
	)
	row := func(name, invalid, nonFQDN string) {
		t.Helper()
		f := func(s string) string {
			if s == "" {
				return ""
			}
			return fmt.Sprintf(s, name)
		}
		test(postfixCodes, name, f(invalid), f(nonFQDN))
	}
	row("mx.example.com", "", "")
	row("mx.example.com.", "", "") // one trailing dot is removed
	row("MX.Example.COM", "", "")  // case does not matter
	row("a", "", notFQDN)          // the notes' <a> row
	row("localhost", "", notFQDN)  // valid, not fully qualified
	row("[192.0.2.1]", "", "")     // valid address literal
	row("[IPv6:2001:db8::1]", "", "")
	row("[ipv6:2001:db8::1]", "", "")
	row("[::1]", invAddr, invAddr) // the notes' <[::1]> row: IPv6 needs the tag
	row("[192.0.2.1", invAddr, invAddr)
	row("[]", invAddr, invAddr)
	row("[IPv6:192.0.2.1]", invAddr, invAddr)
	row("192.0.2.1", "", notFQDN)   // bare IP: valid, not a FQDN
	row("2001:db8::1", "", notFQDN) // bare IPv6 too
	row("example.com..", invName, notFQDN)
	row(".", invName, notFQDN)
	row("exämple.test", invName, notFQDN) // non-ASCII (no SMTPUTF8 for HELO)
	row("foo bar", invName, notFQDN)      // shown as sent, not neutered
	row("a<b", invName, notFQDN)
	row("-a.example", invName, notFQDN)
	row("0.1.2.3", invName, notFQDN)
	row("123", invName, notFQDN)
	row("a_b.example", "", "")

	// Configured codes; the class digit follows the code.
	test(helo.Options{InvalidCode: 550, NonFQDNCode: 450}, "foo bar",
		"550 5.5.2 <foo bar>: Helo command rejected: Invalid name",
		"450 4.5.2 <foo bar>: Helo command rejected: need fully-qualified hostname")
	// reject_non_fqdn_helo_hostname answers a bad literal with the invalid
	// hostname code, as Postfix does.
	test(helo.Options{InvalidCode: 550, NonFQDNCode: 450}, "[::1]",
		"550 5.5.2 <[::1]>: Helo command rejected: invalid ip address",
		"550 5.5.2 <[::1]>: Helo command rejected: invalid ip address")
	// Zero codes are Postfix's defaults.
	test(helo.Options{}, "a", "", "504 5.5.2 <a>: Helo command rejected: need fully-qualified hostname")
	test(helo.Options{}, "[::1]", "501 5.5.2 <[::1]>: Helo command rejected: invalid ip address",
		"501 5.5.2 <[::1]>: Helo command rejected: invalid ip address")
	// No HELO: nothing to check.
	test(postfixCodes, "-", "", "")
}

func TestUnknown(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t, dnstest.WithZone(zone))
	r := newResolver(t, srv, -1)
	// test runs reject_unknown_helo_hostname for name and says whether DNS
	// was asked at all.
	test := func(opts helo.Options, name string, st checks.Status, reply string, asked bool) {
		t.Helper()
		before := srv.QueryCount()
		gotSt, got := replyOf(t, helo.Unknown{Opts: opts}, newEnv(r, name))
		if gotSt != st || got != reply {
			t.Errorf("%q: %s %q; want %s %q", name, gotSt, got, st, reply)
		}
		if n := srv.QueryCount() - before; (n > 0) != asked {
			t.Errorf("%q: %d queries, want asked=%v", name, n, asked)
		}
	}
	const (
		pass = checks.StatusPass
		fail = checks.StatusFail
		temp = checks.StatusTemperror
		none = checks.StatusNone
	)
	notFound := func(code int, enh, name string) string {
		return fmt.Sprintf("%d %s <%s>: Helo command rejected: Host not found", code, enh, name)
	}
	test(postfixCodes, "a-only.example", pass, "", true)
	test(postfixCodes, "aaaa-only.example", pass, "", true)
	test(postfixCodes, "mx-only.example", pass, "", true) // the MX target need not resolve
	test(postfixCodes, "nullmx.example", pass, "", true)  // a null MX is accepted for HELO
	test(postfixCodes, "A-Only.EXAMPLE", pass, "", true)  // case-insensitive
	test(postfixCodes, "sf-a.example", pass, "", true)    // A SERVFAIL, but AAAA found
	test(postfixCodes, "nx.example", fail, notFound(450, "4.7.1", "nx.example"), true)
	test(postfixCodes, "txt-only.example", fail, notFound(450, "4.7.1", "txt-only.example"), true) // NODATA x3
	// Temporary failures: always 450 4.7.1.
	test(postfixCodes, "sf-nullmx.example", temp, notFound(450, "4.7.1", "sf-nullmx.example"), true) // RETRY beats NULLMX
	test(postfixCodes, "sf-all.example", temp, notFound(450, "4.7.1", "sf-all.example"), true)
	test(postfixCodes, "slow.example", temp, notFound(450, "4.7.1", "slow.example"), true)
	test(helo.Options{UnknownCode: 550}, "sf-all.example", temp, notFound(450, "4.7.1", "sf-all.example"), true)
	// unknown_hostname_reject_code.
	test(helo.Options{UnknownCode: 550}, "nx.example", fail, notFound(550, "5.7.1", "nx.example"), true)
	test(helo.Options{}, "nx.example", fail, notFound(450, "4.7.1", "nx.example"), true)
	// Names Postfix never looks up: "Host not found" without a query.
	test(postfixCodes, "mx.example.", fail, notFound(450, "4.7.1", "mx.example."), false) // used as sent
	test(postfixCodes, "exämple.example", fail, notFound(450, "4.7.1", "exämple.example"), false)
	test(postfixCodes, "192.0.2.1", fail, notFound(450, "4.7.1", "192.0.2.1"), false)
	test(postfixCodes, "2001:db8::1", fail, notFound(450, "4.7.1", "2001:db8::1"), false)
	test(postfixCodes, "foo bar", fail, notFound(450, "4.7.1", "foo bar"), false)
	test(helo.Options{UnknownCode: 550}, "192.0.2.1", fail, notFound(550, "5.7.1", "192.0.2.1"), false)
	// Address literals: syntax only.
	test(postfixCodes, "[192.0.2.1]", none, "", false)
	test(postfixCodes, "[IPv6:2001:db8::1]", none, "", false)
	test(postfixCodes, "[::1]", fail, "501 5.5.2 <[::1]>: Helo command rejected: invalid ip address", false)
	test(helo.Options{InvalidCode: 550}, "[1.2.3]", fail, "550 5.5.2 <[1.2.3]>: Helo command rejected: invalid ip address", false)
	test(postfixCodes, "-", none, "", false)
}

func TestHostExists(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t, dnstest.WithZone(zone))
	r := newResolver(t, srv, 0)
	test := func(name string, want checks.Status, errKind func(error) bool) {
		t.Helper()
		st, err := helo.HostExists(context.Background(), r, name)
		if st != want {
			t.Errorf("HostExists(%q) = %s, %v; want %s", name, st, err, want)
		}
		if errKind == nil && err != nil || errKind != nil && !errKind(err) {
			t.Errorf("HostExists(%q): unexpected error %v", name, err)
		}
	}
	test("a-only.example", checks.StatusPass, nil)
	test("a-only.example.", checks.StatusPass, nil)
	test("MX-ONLY.example", checks.StatusPass, nil)
	test("nullmx.example", checks.StatusPass, nil)
	test("nx.example", checks.StatusFail, resolver.IsNXDOMAIN)
	test("txt-only.example", checks.StatusFail, resolver.IsNoData)
	test("sf-nullmx.example", checks.StatusTemperror, resolver.IsTemporary)
	test("sf-all.example", checks.StatusTemperror, resolver.IsTemporary)

	// A, AAAA and MX are asked once each, in parallel.
	srv.ResetQueries()
	test("aaaa-only.example", checks.StatusPass, nil)
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX} {
		if n := srv.Count("aaaa-only.example.", qt); n != 1 {
			t.Errorf("%s asked %d times", dns.TypeToString[qt], n)
		}
	}
}

func TestUnknownPrefetch(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t, dnstest.WithZone(zone))
	r := newResolver(t, srv, 0)
	// Nothing to look up: no HELO, a literal, a numeric name.
	for _, name := range []string{"-", "[192.0.2.1]", "192.0.2.1"} {
		helo.Unknown{}.Prefetch(newEnv(r, name))
	}
	env := newEnv(r, "prefetch.example")
	helo.Unknown{}.Prefetch(env)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.WaitQueries(ctx, 3); err != nil {
		t.Fatal(err)
	}
	// The verdict finds the answers cached or in flight: no new query.
	if st, got := replyOf(t, helo.Unknown{Opts: postfixCodes}, env); st != checks.StatusPass || got != "" {
		t.Errorf("after prefetch: %s %q", st, got)
	}
	if n := srv.QueryCount(); n != 3 {
		t.Errorf("%d queries, want 3 (A, AAAA, MX of prefetch.example): %v", n, srv.Queries())
	}
}

func TestImpersonation(t *testing.T) {
	c := helo.Impersonation{
		Names: []string{"mx.ours.example", "ours.example"},
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.25"), netip.MustParseAddr("2001:db8::1")},
	}
	test := func(c helo.Impersonation, name string, reply string) {
		t.Helper()
		st, got := replyOf(t, c, newEnv(nil, name))
		want := checks.StatusPass
		switch {
		case name == "-":
			want = checks.StatusNone
		case reply != "":
			want = checks.StatusFail
		}
		if st != want || got != reply {
			t.Errorf("%q: %s %q; want %s %q", name, st, got, want, reply)
		}
	}
	claim := func(name string) string {
		return "550 5.7.1 <" + name + ">: Helo command rejected: Host name impersonation"
	}
	for _, name := range []string{
		"mx.ours.example", "ours.example", "MX.Ours.Example", "mx.ours.example.", // by name, any case, trailing dot
		"[192.0.2.25]", "192.0.2.25", // literal and bare IP
		"[IPv6:2001:db8::1]", "[ipv6:2001:DB8::1]", "2001:db8::1", "[IPv6:::ffff:192.0.2.25]", // IPv6
		"localhost", "LOCALHOST", "localhost.", "localhost.localdomain", "foo.localhost", // localhost
	} {
		test(c, name, claim(name))
	}
	for _, name := range []string{
		"other.example", "sub.mx.ours.example", "ours.example.net", "[192.0.2.26]", "192.0.2.26",
		"[IPv6:2001:db8::2]", "localhostx", "-",
	} {
		test(c, name, "")
	}
	// Configured code.
	test(helo.Impersonation{Names: []string{"ours.example"}, Code: 554}, "ours.example",
		"554 5.7.1 <ours.example>: Helo command rejected: Host name impersonation")
	test(helo.Impersonation{Code: 450}, "localhost", "450 4.7.1 <localhost>: Helo command rejected: Host name impersonation")
	// Without addresses, a literal claims nothing.
	test(helo.Impersonation{}, "[192.0.2.25]", "")
}

func TestNamesAndStages(t *testing.T) {
	test := func(c checks.Check, name string) {
		t.Helper()
		if c.Name() != name || c.Stage() != checks.StageHelo {
			t.Errorf("%T: %q %v", c, c.Name(), c.Stage())
		}
	}
	test(helo.Invalid{}, "invalid_helo_hostname")
	test(helo.NonFQDN{}, "non_fqdn_helo_hostname")
	test(helo.Unknown{}, "unknown_helo_hostname")
	test(helo.Impersonation{}, "helo_impersonation")
}
