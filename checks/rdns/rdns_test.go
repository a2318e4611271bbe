package rdns_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/rdns"
	"github.com/mxguard/mxguard/internal/dnstest"
	"github.com/mxguard/mxguard/resolver"
)

// rev returns the reverse name of an address, for zone text.
func rev(t testing.TB, a string) string {
	t.Helper()
	r, err := dns.ReverseAddr(a)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// zone is the test data: one address per case. The ;! lines are dnstest
// fault directives.
func zone(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf(`
$ORIGIN in-addr.arpa.
1.2.0.192   PTR good.example.
; 192.0.2.2: no PTR at all (NXDOMAIN)
3.2.0.192   PTR forged.example.
4.2.0.192   PTR nx.example.
5.2.0.192   PTR sf.example.
6.2.0.192   PTR slow.example.
7.2.0.192   PTR 192.0.2.7.
8.2.0.192   PTR a-.example.
9.2.0.192   PTR first.example.
9.2.0.192   PTR second.example.
;!servfail  10.2.0.192
;!timeout   11.2.0.192
12.2.0.192  PTR MiXeD.Example.
13.2.0.192  TXT "no PTR here (NODATA)"
14.2.0.192  PTR dual.example.
15.2.0.192  PTR 2001:db8--1.example.
16.2.0.192  PTR v6named.example.

$ORIGIN ip6.arpa.
%s PTR v6.example.
%s PTR v6forged.example.

$ORIGIN example.
good        A    192.0.2.1
forged      A    192.0.2.99
;!servfail  sf
;!timeout   slow
first       A    192.0.2.99
second      A    192.0.2.9
mixed       A    192.0.2.12
dual        A    192.0.2.14
dual        AAAA 2001:db8::14
v6          AAAA 2001:db8::25
v6forged    AAAA 2001:db8::99
v6named     AAAA 2001:db8::16
`, rev(t, "2001:db8::25"), rev(t, "2001:db8::27"))
}

func newResolver(t testing.TB, srv *dnstest.Server, cacheSize int) *resolver.Client {
	t.Helper()
	r, err := resolver.New(resolver.Config{Servers: []string{srv.Addr()}, Timeout: 300 * time.Millisecond, Attempts: 1, CacheSize: cacheSize})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newEnv(r resolver.Resolver, addr string) *checks.Env {
	env := checks.NewEnv(r, nil)
	if addr != "" {
		env.Addr = netip.MustParseAddr(addr)
	}
	return env
}

func TestLookup(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t, dnstest.WithZone(zone(t)))
	r := newResolver(t, srv, 0)
	// test computes the client's names for addr on a fresh connection.
	test := func(addr string, reverse, forward checks.Status, ptr, name string, err error) {
		t.Helper()
		info := rdns.Lookup(context.Background(), newEnv(r, addr))
		if info.Reverse != reverse || info.Forward != forward || info.PTR != ptr || info.Name != name {
			t.Errorf("%s: reverse %s forward %s ptr %q name %q; want %s %s %q %q (reason %q, err %v)",
				addr, info.Reverse, info.Forward, info.PTR, info.Name, reverse, forward, ptr, name, info.Reason, info.Err)
		}
		if err == nil && info.Err != nil && info.Forward == checks.StatusPass {
			t.Errorf("%s: pass with error %v", addr, info.Err)
		}
		if err != nil && (info.Err == nil || (err != errAny && !errors.Is(info.Err, err))) {
			t.Errorf("%s: err %v, want %v", addr, info.Err, err)
		}
		if info.Forward != checks.StatusPass && info.Reason == "" {
			t.Errorf("%s: no reason for %s", addr, info.Forward)
		}
	}
	const (
		pass = checks.StatusPass
		fail = checks.StatusFail
		temp = checks.StatusTemperror
		none = checks.StatusNone
	)
	test("192.0.2.1", pass, pass, "good.example", "good.example", nil)
	test("192.0.2.2", fail, fail, "", "unknown", errAny)  // no PTR (NXDOMAIN)
	test("192.0.2.13", fail, fail, "", "unknown", errAny) // no PTR (NODATA)
	test("192.0.2.10", temp, temp, "", "unknown", errAny) // PTR SERVFAIL
	test("192.0.2.11", temp, temp, "", "unknown", errAny) // PTR timeout
	test("192.0.2.3", pass, fail, "forged.example", "unknown", nil)
	test("192.0.2.4", pass, fail, "nx.example", "unknown", errAny)        // forward NXDOMAIN
	test("192.0.2.5", pass, temp, "sf.example", "unknown", errAny)        // forward SERVFAIL
	test("192.0.2.6", pass, temp, "slow.example", "unknown", errAny)      // forward timeout
	test("192.0.2.7", fail, fail, "", "unknown", nil)                     // numeric PTR
	test("192.0.2.8", fail, fail, "", "unknown", nil)                     // invalid PTR name
	test("192.0.2.15", fail, fail, "", "unknown", nil)                    // invalid PTR name (a ":")
	test("192.0.2.12", pass, pass, "mixed.example", "mixed.example", nil) // PTR in mixed case
	test("192.0.2.14", pass, pass, "dual.example", "dual.example", nil)
	test("2001:db8::25", pass, pass, "v6.example", "v6.example", nil)
	test("2001:db8::27", pass, fail, "v6forged.example", "unknown", nil)
	test("2001:db8::26", fail, fail, "", "unknown", errAny)
	test("::ffff:192.0.2.1", pass, pass, "good.example", "good.example", nil) // IPv4-mapped: looked up as IPv4
	test("", none, none, "", "unknown", nil)                                  // no address (unix socket)
	// An IPv4 client is not confirmed by an AAAA record of its name.
	test("192.0.2.16", pass, fail, "v6named.example", "unknown", nil)
}

// errAny stands for "some error" in the Lookup table.
var errAny = errors.New("any error")

// TestLookupFirstPTR: as glibc's getnameinfo, only the first PTR name counts.
// The fixture answers in zone order and the resolver keeps it, but DNS gives
// no order guarantee: the expectation is derived from the order the resolver
// actually returned, so the test is deterministic either way. One of the two
// names resolves back to the client and the other does not.
func TestLookupFirstPTR(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t, dnstest.WithZone(zone(t)))
	r := newResolver(t, srv, 0)
	ptrs, err := r.LookupPTR(context.Background(), netip.MustParseAddr("192.0.2.9"))
	if err != nil || len(ptrs) != 2 {
		t.Fatalf("LookupPTR = %v, %v; the zone has two PTRs", ptrs, err)
	}
	first := strings.TrimSuffix(ptrs[0], ".")
	want := checks.StatusFail // first.example points elsewhere
	if first == "second.example" {
		want = checks.StatusPass
	}
	info := rdns.Lookup(context.Background(), newEnv(r, "192.0.2.9"))
	if info.PTR != first || info.Forward != want {
		t.Errorf("PTRs %v: PTR %q forward %s; want %q %s", ptrs, info.PTR, info.Forward, first, want)
	}
}

func TestChecks(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t, dnstest.WithZone(zone(t)))
	r := newResolver(t, srv, 0)
	// test runs both restrictions for addr with unknown_client_reject_code
	// code on a fresh connection, and compares the status and reply
	// line ("" for none).
	test := func(addr string, code int, revStatus checks.Status, revReply string, fwdStatus checks.Status, fwdReply string) {
		t.Helper()
		opts := rdns.Options{RejectCode: code}
		env := newEnv(r, addr) // one connection: both restrictions share the lookups
		for _, c := range []struct {
			chk    checks.Check
			status checks.Status
			reply  string
		}{{rdns.Reverse{Opts: opts}, revStatus, revReply}, {rdns.Forward{Opts: opts}, fwdStatus, fwdReply}} {
			res := c.chk.Check(context.Background(), env)
			got := ""
			if !res.Reply.IsZero() {
				got = res.Reply.String()
			}
			if res.Status != c.status || got != c.reply {
				t.Errorf("%s %s code %d: %s %q; want %s %q", c.chk.Name(), addr, code, res.Status, got, c.status, c.reply)
			}
			if res.Check != c.chk.Name() || res.Stage != checks.StageConnect || res.Decision != checks.Dunno {
				t.Errorf("%s %s: result %+v", c.chk.Name(), addr, res)
			}
			if res.Reason == "" {
				t.Errorf("%s %s: no reason", c.chk.Name(), addr)
			}
		}
	}
	const (
		pass = checks.StatusPass
		fail = checks.StatusFail
		temp = checks.StatusTemperror
		none = checks.StatusNone
	)
	revText := func(a string) string { return "Client host rejected: cannot find your reverse hostname, [" + a + "]" }
	fwdText := func(a string) string { return "Client host rejected: cannot find your hostname, [" + a + "]" }

	test("192.0.2.1", 450, pass, "", pass, "")
	// Postfix's default unknown_client_reject_code, 450.
	test("192.0.2.2", 450, fail, "450 4.7.1 "+revText("192.0.2.2"), fail, "450 4.7.25 "+fwdText("192.0.2.2"))
	test("192.0.2.2", 550, fail, "550 5.7.1 "+revText("192.0.2.2"), fail, "550 5.7.25 "+fwdText("192.0.2.2"))
	test("192.0.2.2", 0, fail, "450 4.7.1 "+revText("192.0.2.2"), fail, "450 4.7.25 "+fwdText("192.0.2.2")) // zero: Postfix's default
	// Forged: the reverse name exists, the forward check fails with the code.
	test("192.0.2.3", 550, pass, "", fail, "550 5.7.25 "+fwdText("192.0.2.3"))
	test("192.0.2.3", 450, pass, "", fail, "450 4.7.25 "+fwdText("192.0.2.3"))
	test("192.0.2.7", 550, fail, "550 5.7.1 "+revText("192.0.2.7"), fail, "550 5.7.25 "+fwdText("192.0.2.7"))
	// A temporary failure is a literal 450, whatever the code.
	test("192.0.2.10", 550, temp, "450 4.7.1 "+revText("192.0.2.10"), temp, "450 4.7.25 "+fwdText("192.0.2.10"))
	test("192.0.2.5", 550, pass, "", temp, "450 4.7.25 "+fwdText("192.0.2.5"))
	test("192.0.2.6", 550, pass, "", temp, "450 4.7.25 "+fwdText("192.0.2.6"))
	// IPv6 without the IPv6: tag; IPv4-mapped shown as IPv4.
	test("2001:db8::26", 550, fail, "550 5.7.1 "+revText("2001:db8::26"), fail, "550 5.7.25 "+fwdText("2001:db8::26"))
	test("2001:db8::25", 550, pass, "", pass, "")
	test("::ffff:192.0.2.2", 550, fail, "550 5.7.1 "+revText("192.0.2.2"), fail, "550 5.7.25 "+fwdText("192.0.2.2"))
	test("::ffff:192.0.2.3", 550, pass, "", fail, "550 5.7.25 "+fwdText("192.0.2.3"))
	// No address: nothing to check.
	test("", 550, none, "", none, "")
}

func TestNamesAndStages(t *testing.T) {
	test := func(c checks.Check, name string) {
		t.Helper()
		if c.Name() != name || c.Stage() != checks.StageConnect {
			t.Errorf("%T: %q %v", c, c.Name(), c.Stage())
		}
		if _, ok := c.(checks.Prefetcher); !ok {
			t.Errorf("%T is not a Prefetcher", c)
		}
	}
	test(rdns.Reverse{}, "unknown_reverse_client_hostname")
	test(rdns.Forward{}, "unknown_client_hostname")
}

// TestMemoized: the names are computed once per connection, for both
// restrictions and the prefetch. The resolver's cache is off so that the
// fixture's counts see every lookup.
func TestMemoized(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t, dnstest.WithZone(zone(t)))
	r := newResolver(t, srv, -1)
	env := newEnv(r, "192.0.2.1")
	rdns.Reverse{}.Prefetch(env)
	rdns.Forward{}.Prefetch(env)
	for range 3 {
		for _, c := range []checks.Check{rdns.Reverse{}, rdns.Forward{}} {
			if res := c.Check(context.Background(), env); res.Status != checks.StatusPass {
				t.Fatalf("%s: %+v", c.Name(), res)
			}
		}
	}
	count := func(name string, qtype uint16, want int) {
		t.Helper()
		if n := srv.Count(name, qtype); n != want {
			t.Errorf("%s %s asked %d times, want %d (queries: %v)", dns.TypeToString[qtype], name, n, want, srv.Queries())
		}
	}
	count(rev(t, "192.0.2.1"), dns.TypePTR, 1)
	count("good.example.", dns.TypeA, 1)
	// Only the client's family is asked for, as Postfix does.
	count("good.example.", dns.TypeAAAA, 0)
	if n := srv.QueryCount(); n != 2 {
		t.Errorf("%d queries, want 2: %v", n, srv.Queries())
	}

	// A new connection computes again; a client without an address asks
	// nothing, even with a prefetch.
	rdns.Lookup(context.Background(), newEnv(r, "192.0.2.1"))
	count(rev(t, "192.0.2.1"), dns.TypePTR, 2)
	noAddr := newEnv(r, "")
	rdns.Prefetch(noAddr)
	rdns.Lookup(context.Background(), noAddr)
	if n := srv.QueryCount(); n != 4 {
		t.Errorf("%d queries, want 4: %v", n, srv.Queries())
	}
}

// TestLookupCallerGivesUp: a caller whose ctx ends gets a temperror at once;
// the lookup goes on for the next caller.
func TestLookupCallerGivesUp(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t, dnstest.WithZone(zone(t)))
	r := newResolver(t, srv, 0)
	env := newEnv(r, "192.0.2.11") // the PTR query is never answered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	info := rdns.Lookup(ctx, env)
	if info.Reverse != checks.StatusTemperror || info.Forward != checks.StatusTemperror || info.Name != "unknown" ||
		!errors.Is(info.Err, context.Canceled) {
		t.Errorf("cancelled caller: %+v", info)
	}
	res := rdns.Reverse{Opts: rdns.Options{RejectCode: 550}}.Check(ctx, env)
	if got := res.Reply.String(); res.Status != checks.StatusTemperror ||
		got != "450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.11]" {
		t.Errorf("cancelled check: %s %q", res.Status, got)
	}
	// The computation (started by the first caller) times out by itself
	// after the resolver's 300ms and is then shared.
	info = rdns.Lookup(context.Background(), env)
	if info.Reverse != checks.StatusTemperror || !resolver.IsTemporary(info.Err) {
		t.Errorf("patient caller: %+v", info)
	}
	if n := srv.Count(rev(t, "192.0.2.11"), dns.TypePTR); n != 1 {
		t.Errorf("PTR asked %d times, want 1", n)
	}
}
