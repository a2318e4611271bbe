package spf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mxguard/mxguard/internal/dnstest"
	"github.com/mxguard/mxguard/resolver"
)

// fakeZone is the data of most unit tests.
func fakeZone() *resolver.Fake {
	return &resolver.Fake{
		TXT: map[string][]string{
			"pass.example.":        {"v=spf1 ip4:192.0.2.0/24 -all"},
			"fail.example.":        {"v=spf1 -all exp=why.fail.example"},
			"why.fail.example.":    {"%{i} is not one of %{d}'s hosts (%{s})"},
			"other.example.":       {"not spf", "v=spf1 include:pass.example ~all", "x"},
			"multi.example.":       {"v=spf1 -all", "V=SPF1 +all"},
			"late.example.":        {"v=spf1 +all ip4:300.1.2.3"},
			"a.example.":           {"v=spf1 a -all"},
			"mx.example.":          {"v=spf1 mx/24 -all"},
			"exists.example.":      {"v=spf1 exists:%{ir}.bl.example -all"},
			"inc-none.example.":    {"v=spf1 include:nothing.example -all"},
			"redir-none.example.":  {"v=spf1 redirect=nothing.example"},
			"inc-temp.example.":    {"v=spf1 include:broken.example -all"},
			"a-temp.example.":      {"v=spf1 a:broken.example -all"},
			"mx-temp.example.":     {"v=spf1 mx:mxbroken.example -all"},
			"exists-temp.example.": {"v=spf1 exists:broken.example -all"},
			"ptr.example.":         {"v=spf1 ptr ?all"},
			"ptr-temp.example.":    {"v=spf1 ptr:ptr.example ?all"},
			"exp-temp.example.":    {"v=spf1 -all exp=broken.example"},
			"exp-ok.example.":      {"v=spf1 -all exp=expok.example"},
			"expok.example.":       {"Go away, %{c}. %{r} at %{t}"},
			"v6.example.":          {"v=spf1 ip6:2001:db8::/32 a//64 -all"},
			// Targets that expand to impossible names (an empty label):
			// the mechanism does not match, include and redirect are
			// permerror, exp= gives no explanation.
			"bad-targets.example.":  {"v=spf1 a:x..%{d} mx:x..%{d} ptr:x..%{d} exists:x..%{d} -all exp=x..%{d}"},
			"bad-include.example.":  {"v=spf1 include:x..%{d} -all"},
			"bad-redirect.example.": {"v=spf1 redirect=x..%{d}"},
			"exp-local.example.":    {"v=spf1 -all exp=explocal.example"},
			"explocal.example.":     {"local part %{l}"},
		},
		A: map[string][]string{
			"a.example.":            {"192.0.2.10"},
			"mx1.mx.example.":       {"198.51.100.7"},
			"1.2.0.192.bl.example.": {"127.0.0.2"},
			"host.ptr.example.":     {"192.0.2.77"},
			"other.ptr.example.":    {"192.0.2.77"},
			"v6.example.":           {"192.0.2.1"},
		},
		AAAA: map[string][]string{
			"v6.example.": {"2001:db9::1"},
		},
		MX: map[string][]*net.MX{
			"mx.example.":       {{Host: "mx1.mx.example.", Pref: 10}},
			"mxbroken.example.": {{Host: "mxa.broken.example.", Pref: 10}},
		},
		PTR: map[string][]string{
			"192.0.2.77": {"other.ptr.example.", "host.ptr.example."},
		},
		Fail: []string{
			"txt broken.example.", "a broken.example.", "a mxa.broken.example.",
			"ptr 192.0.2.99",
		},
	}
}

func TestCheckHost(t *testing.T) {
	ctx := context.Background()
	r := fakeZone()
	opts := Options{Receiver: "mx.receiver.example", Now: func() time.Time { return time.Unix(1234567890, 0) }}
	test := func(ip, domain string, want Result, wantErr error, wantMech, wantExp string) {
		t.Helper()
		out := CheckHost(ctx, r, netip.MustParseAddr(ip), domain, "user@"+domain, "helo.example", opts)
		if out.Result != want {
			t.Errorf("%s from %s: result %s, want %s (%s, %v)", domain, ip, out.Result, want, out.Reason, out.Err)
		}
		if (want == Temperror || want == Permerror) != (out.Err != nil) {
			t.Errorf("%s from %s: err %v for %s", domain, ip, out.Err, out.Result)
		}
		if wantErr != nil && !errors.Is(out.Err, wantErr) {
			t.Errorf("%s from %s: err %v, want %v", domain, ip, out.Err, wantErr)
		}
		if out.Mechanism != wantMech {
			t.Errorf("%s from %s: mechanism %q, want %q", domain, ip, out.Mechanism, wantMech)
		}
		if out.Explanation != wantExp {
			t.Errorf("%s from %s: explanation %q, want %q", domain, ip, out.Explanation, wantExp)
		}
		if out.Identity != IdentityMailFrom || out.Domain != strings.TrimSuffix(domain, ".") || out.Reason == "" {
			t.Errorf("%s from %s: outcome %+v", domain, ip, out)
		}
	}

	test("192.0.2.1", "pass.example", Pass, nil, "ip4:192.0.2.0/24", "")
	test("::ffff:192.0.2.1", "pass.example", Pass, nil, "ip4:192.0.2.0/24", "") // RFC 7208 §5: mapped is IPv4
	test("192.0.2.1", "PASS.Example.", Pass, nil, "ip4:192.0.2.0/24", "")
	test("198.51.100.1", "pass.example", Fail, nil, "all", "")
	test("198.51.100.1", "fail.example", Fail, nil, "all", "198.51.100.1 is not one of fail.example's hosts (user@fail.example)")
	test("198.51.100.1", "other.example", Softfail, nil, "all", "")
	test("192.0.2.1", "other.example", Pass, nil, "include:pass.example", "")
	test("192.0.2.1", "nothing.example", None, nil, "default", "")
	test("192.0.2.1", "single", None, nil, "default", "")
	test("192.0.2.1", "[192.0.2.1]", None, nil, "default", "")
	test("192.0.2.1", "multi.example", Permerror, ErrMultipleRecords, "default", "")
	test("192.0.2.1", "late.example", Permerror, ErrSyntax, "default", "") // error after the deciding +all
	test("192.0.2.10", "a.example", Pass, nil, "a", "")
	test("192.0.2.11", "a.example", Fail, nil, "all", "")
	test("198.51.100.200", "mx.example", Pass, nil, "mx/24", "")
	test("198.51.101.1", "mx.example", Fail, nil, "all", "")
	test("192.0.2.1", "exists.example", Pass, nil, "exists:%{ir}.bl.example", "")
	test("192.0.2.2", "exists.example", Fail, nil, "all", "")
	test("192.0.2.1", "inc-none.example", Permerror, ErrNoRecord, "include:nothing.example", "")
	test("192.0.2.1", "redir-none.example", Permerror, ErrNoRecord, "redirect=nothing.example", "")
	test("192.0.2.77", "ptr.example", Pass, nil, "ptr", "")
	test("192.0.2.78", "ptr.example", Neutral, nil, "all", "")
	test("2001:db8::5", "v6.example", Pass, nil, "ip6:2001:db8::/32", "")
	test("2001:db9::ff", "v6.example", Pass, nil, "a//64", "")
	test("2001:dba::1", "v6.example", Fail, nil, "all", "")
	test("198.51.100.9", "exp-ok.example", Fail, nil, "all", "Go away, 198.51.100.9. mx.receiver.example at 1234567890")
	test("192.0.2.1", "bad-targets.example", Fail, nil, "all", "")
	test("192.0.2.1", "bad-include.example", Permerror, ErrNoRecord, "include:x..%{d}", "")
	test("192.0.2.1", "bad-redirect.example", Permerror, ErrNoRecord, "redirect=x..%{d}", "")
	test("192.0.2.1", "exp-local.example", Fail, nil, "all", "local part user")

	// An explanation is for an SMTP reply: one made unprintable by the
	// sender's local-part is dropped.
	if out := CheckHost(ctx, r, netip.MustParseAddr("192.0.2.1"), "exp-local.example", "a\r\nb@exp-local.example", "", opts); out.Result != Fail || out.Explanation != "" {
		t.Errorf("unprintable explanation: %+v", out)
	}

	// Temporary DNS errors: temperror wherever they happen (RFC 7208 §4.4,
	// §5), except where the RFC says otherwise.
	test("192.0.2.1", "broken.example", Temperror, ErrDNS, "default", "")
	test("192.0.2.1", "inc-temp.example", Temperror, ErrDNS, "include:broken.example", "")
	test("192.0.2.1", "a-temp.example", Temperror, ErrDNS, "a:broken.example", "")
	test("192.0.2.1", "mx-temp.example", Temperror, ErrDNS, "mx:mxbroken.example", "")
	test("192.0.2.1", "exists-temp.example", Temperror, ErrDNS, "exists:broken.example", "")
	test("192.0.2.99", "ptr-temp.example", Neutral, nil, "all", "") // §5.5: a failed PTR lookup does not match
	test("192.0.2.1", "exp-temp.example", Fail, nil, "all", "")     // §6.2: no explanation, same result

	// No client address (a milter on a local socket).
	if out := CheckHost(ctx, r, netip.Addr{}, "pass.example", "", "", opts); out.Result != None {
		t.Errorf("no ip: %+v", out)
	}
}

func TestCheckHostTimeout(t *testing.T) {
	r := fakeZone()
	r.Latency = time.Second
	t0 := time.Now()
	out := CheckHost(context.Background(), r, netip.MustParseAddr("192.0.2.1"), "pass.example", "", "", Options{Timeout: 20 * time.Millisecond})
	if out.Result != Temperror || !errors.Is(out.Err, ErrDNS) {
		t.Errorf("slow dns: %+v", out)
	}
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Errorf("took %v with a 20ms timeout", d)
	}
}

// TestTemperrorWire checks temperror and the name escaping against the
// real resolver and a real server: SERVFAIL, and a name with spaces that
// only resolves when written as miekg/dns writes names.
func TestTemperrorWire(t *testing.T) {
	srv := dnstest.Start(t, dnstest.WithZone(`
$ORIGIN wire.example.
@            TXT "v=spf1 a:%{l}.names.wire.example ?exists:servfail.wire.example -all"
a\ b.names   A   192.0.2.1
;!servfail servfail
`))
	r, err := resolver.New(resolver.Config{Servers: []string{srv.Addr()}, Timeout: time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	test := func(sender string, want Result) {
		t.Helper()
		out := CheckHost(ctx, r, netip.MustParseAddr("192.0.2.1"), "wire.example", sender, "helo.example", Options{})
		if out.Result != want {
			t.Errorf("%s: %s, want %s (%s)", sender, out.Result, want, out.Reason)
		}
	}
	test("a b@wire.example", Pass)
	test("a(b@wire.example", Temperror) // a: is NXDOMAIN (void), exists: SERVFAIL
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	chain := func(n int, last string) *resolver.Fake {
		r := &resolver.Fake{TXT: map[string][]string{}, A: map[string][]string{}, MX: map[string][]*net.MX{}}
		for i := range n {
			r.TXT[fmt.Sprintf("i%d.example.", i)] = []string{fmt.Sprintf("v=spf1 include:i%d.example -all", i+1)}
		}
		r.TXT[fmt.Sprintf("i%d.example.", n)] = []string{last}
		return r
	}
	test := func(name string, r *resolver.Fake, domain string, opts Options, want Result, wantErr error) {
		t.Helper()
		t0 := time.Now()
		out := CheckHost(ctx, r, netip.MustParseAddr("192.0.2.1"), domain, "", "", opts)
		if out.Result != want || (wantErr != nil && !errors.Is(out.Err, wantErr)) {
			t.Errorf("%s: %s %v, want %s %v", name, out.Result, out.Err, want, wantErr)
		}
		if d := time.Since(t0); d > time.Second {
			t.Errorf("%s: took %v", name, d)
		}
	}

	// RFC 7208 §4.6.4: 10 terms that query DNS, counted across includes.
	test("10 includes", chain(10, "v=spf1 +all"), "i0.example", Options{}, Pass, nil)
	test("11 includes", chain(11, "v=spf1 +all"), "i0.example", Options{}, Permerror, ErrLookupLimit)
	test("MaxLookups 3", chain(3, "v=spf1 +all"), "i0.example", Options{MaxLookups: 3}, Pass, nil)
	test("MaxLookups 2", chain(3, "v=spf1 +all"), "i0.example", Options{MaxLookups: 2}, Permerror, ErrLookupLimit)
	test("9 includes and an a", chain(9, "v=spf1 a ip4:192.0.2.1"), "i0.example", Options{}, Pass, nil)
	test("10 includes and an a", chain(10, "v=spf1 a ip4:192.0.2.1"), "i0.example", Options{}, Permerror, ErrLookupLimit)
	test("10 includes and ip4", chain(10, "v=spf1 ip4:192.0.2.1"), "i0.example", Options{}, Pass, nil)

	// Loops end in permerror through the limit, never in a hang.
	loops := &resolver.Fake{TXT: map[string][]string{
		"self.example.":   {"v=spf1 include:self.example -all"},
		"ping.example.":   {"v=spf1 include:pong.example -all"},
		"pong.example.":   {"v=spf1 include:ping.example -all"},
		"redir.example.":  {"v=spf1 redirect=redir.example"},
		"mixed.example.":  {"v=spf1 include:mixed2.example ~all"},
		"mixed2.example.": {"v=spf1 redirect=mixed.example"},
		"macro.example.":  {"v=spf1 include:x.%{d} -all"}, // x.macro.example has no record
	}}
	for _, d := range []string{"self.example", "ping.example", "redir.example", "mixed.example"} {
		test("loop "+d, loops, d, Options{}, Permerror, ErrLookupLimit)
	}
	test("include of a name without record", loops, "macro.example", Options{}, Permerror, ErrNoRecord)
	test("loop, MaxLookups huge", loops, "self.example", Options{MaxLookups: 1 << 20}, Permerror, ErrLookupLimit)

	// Void lookups: more than 2 is permerror; exp= does not count.
	voids := &resolver.Fake{TXT: map[string][]string{
		"v2.example.":   {"v=spf1 a:n1.example mx:n2.example ?all"},
		"v3.example.":   {"v=spf1 a:n1.example mx:n2.example exists:n3.example ?all"},
		"v3mx.example.": {"v=spf1 a:n1.example exists:n3.example mx:n2.example ?all"},
		"exp.example.":  {"v=spf1 a:n1.example a:n2.example exp=n3.example -all"},
		// MX host address lookups do not count.
		"mxhosts.example.": {"v=spf1 mx a:n1.example a:n2.example -all"},
	}, MX: map[string][]*net.MX{
		"mxhosts.example.": {{Host: "h1.example."}, {Host: "h2.example."}, {Host: "h3.example."}},
	}}
	test("2 voids", voids, "v2.example", Options{}, Neutral, nil)
	test("3 voids", voids, "v3.example", Options{}, Permerror, ErrVoidLookupLimit)
	test("3 voids, mx last", voids, "v3mx.example", Options{}, Permerror, ErrVoidLookupLimit)
	test("3 voids, MaxVoidLookups 3", voids, "v3.example", Options{MaxVoidLookups: 3}, Neutral, nil)
	test("exp is not void", voids, "exp.example", Options{}, Fail, nil)
	test("mx hosts are not void", voids, "mxhosts.example", Options{}, Fail, nil)

	// mx: more than 10 MX names is permerror (RFC 7208 §4.6.4).
	mxs := func(n int) []*net.MX {
		var out []*net.MX
		for i := range n {
			out = append(out, &net.MX{Host: fmt.Sprintf("mx%d.example.", i), Pref: uint16(i)})
		}
		return out
	}
	mxz := &resolver.Fake{
		TXT: map[string][]string{"ten.example.": {"v=spf1 mx -all"}, "eleven.example.": {"v=spf1 mx -all"}},
		MX:  map[string][]*net.MX{"ten.example.": mxs(10), "eleven.example.": mxs(11)},
		A:   map[string][]string{"mx9.example.": {"192.0.2.1"}, "mx0.example.": {"192.0.2.1"}},
	}
	test("10 mx", mxz, "ten.example", Options{}, Pass, nil)
	test("11 mx", mxz, "eleven.example", Options{}, Permerror, ErrLookupLimit)

	// ptr: only the first 10 PTR names count.
	ptrz := &resolver.Fake{TXT: map[string][]string{"p.example.": {"v=spf1 ptr -all"}}, A: map[string][]string{}}
	var names []string
	for i := range 11 {
		n := fmt.Sprintf("h%d.other.example.", i)
		if i == 10 {
			n = "h.p.example."
		}
		names = append(names, n)
		ptrz.A[n] = []string{"192.0.2.1"}
	}
	ptrz.PTR = map[string][]string{"192.0.2.1": names}
	test("11th ptr", ptrz, "p.example", Options{}, Fail, nil)
	ptrz.PTR["192.0.2.1"] = names[1:]
	test("10th ptr", ptrz, "p.example", Options{}, Pass, nil)
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	r := &resolver.Fake{
		TXT: map[string][]string{
			"helo.example.":     {"v=spf1 ip4:192.0.2.1 -all exp=exp.helo.example"},
			"exp.helo.example.": {"%{s} via %{h}"},
			"sender.example.":   {"v=spf1 ip4:198.51.100.0/24 -all"},
		},
	}
	ip := netip.MustParseAddr("198.51.100.1")
	test := func(helo, mailFrom string, wantMF, wantHELO Result, wantSender, wantExp string) {
		t.Helper()
		mf, h := Verify(ctx, r, ip, helo, mailFrom, Options{})
		if mf.Result != wantMF || h.Result != wantHELO {
			t.Errorf("%q %q: mailfrom %s, helo %s; want %s, %s (%s | %s)", helo, mailFrom, mf.Result, h.Result, wantMF, wantHELO, mf.Reason, h.Reason)
		}
		if mf.Identity != IdentityMailFrom || h.Identity != IdentityHELO {
			t.Errorf("%q %q: identities %s, %s", helo, mailFrom, mf.Identity, h.Identity)
		}
		if mf.Sender != wantSender || mf.Explanation != wantExp {
			t.Errorf("%q %q: sender %q explanation %q, want %q %q", helo, mailFrom, mf.Sender, mf.Explanation, wantSender, wantExp)
		}
	}
	// RFC 7208 §2.4: for <>, MAIL FROM is postmaster@helo, decided by HELO.
	test("helo.example", "", Fail, Fail, "postmaster@helo.example", "postmaster@helo.example via helo.example")
	test("helo.example", "<>", Fail, Fail, "postmaster@helo.example", "postmaster@helo.example via helo.example")
	test("helo.example", "joe@sender.example", Pass, Fail, "joe@sender.example", "")
	test("helo.example", "<joe@sender.example>", Pass, Fail, "joe@sender.example", "")
	test("[198.51.100.1]", "joe@sender.example", Pass, None, "joe@sender.example", "")
	test("[198.51.100.1]", "", None, None, "postmaster@[198.51.100.1]", "")
	test("localhost", "", None, None, "postmaster@localhost", "")
	test("helo.example", "@sender.example", Pass, Fail, "postmaster@sender.example", "")
	test("helo.example", "joe@[198.51.100.1]", None, Fail, "joe@[198.51.100.1]", "")
}

// RFC 7208 §7.4, with <sender> strong-bad@email.example.com, client
// 192.0.2.3 or 2001:db8::cb01, PTR mx.example.org.
func TestMacroRFCExamples(t *testing.T) {
	ctx := context.Background()
	r := &resolver.Fake{
		PTR:  map[string][]string{"192.0.2.3": {"mx.example.org."}, "2001:db8::cb01": {"mx.example.org."}},
		A:    map[string][]string{"mx.example.org.": {"192.0.2.3"}},
		AAAA: map[string][]string{"mx.example.org.": {"2001:db8::cb01"}},
	}
	test := func(ip, in, want string, explain bool) {
		t.Helper()
		c := &checker{r: r, ip: netip.MustParseAddr(ip), sender: "strong-bad@email.example.com", local: "strong-bad",
			senderDomain: "email.example.com", helo: "mx.example.org",
			opts: Options{Receiver: "rcv.example", Now: func() time.Time { return time.Unix(1000, 0) }}.withDefaults()}
		m, err := parseMacroString(in, explain, false)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			return
		}
		if got := c.expand(ctx, m, "email.example.com"); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
	v4 := "192.0.2.3"
	test(v4, "%{s}", "strong-bad@email.example.com", false)
	test(v4, "%{o}", "email.example.com", false)
	test(v4, "%{d}", "email.example.com", false)
	test(v4, "%{d4}", "email.example.com", false)
	test(v4, "%{d3}", "email.example.com", false)
	test(v4, "%{d2}", "example.com", false)
	test(v4, "%{d1}", "com", false)
	test(v4, "%{dr}", "com.example.email", false)
	test(v4, "%{d2r}", "example.email", false)
	test(v4, "%{l}", "strong-bad", false)
	test(v4, "%{l-}", "strong.bad", false)
	test(v4, "%{lr}", "strong-bad", false)
	test(v4, "%{lr-}", "bad.strong", false)
	test(v4, "%{l1r-}", "strong", false)
	test(v4, "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com", false)
	test(v4, "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com", false)
	test(v4, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com", false)
	test(v4, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com", false)
	test(v4, "%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net", false)
	test("2001:db8::cb01", "%{ir}.%{v}._spf.%{d2}",
		"1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com", false)

	// The rest of §7.3.
	test(v4, "%{p}", "mx.example.org", false)
	test("2001:db8::cb01", "%{p} %{c}", "mx.example.org 2001:db8::cb01", true)
	test("192.0.2.4", "%{p}", "unknown", false) // no PTR
	test(v4, "%{h}", "mx.example.org", false)
	test(v4, "%{c} %{r} %{t}", "192.0.2.3 rcv.example 1000", true)
	test(v4, "%%%_%-", "% %20", false)
	test(v4, "%{S}", "strong-bad%40email.example.com", false)
	test(v4, "%{L}", "strong-bad", false)
	test(v4, "%{d128r}", "com.example.email", false)
	test(v4, "%{l+-=}", "strong.bad", false)
}

func TestURLEscape(t *testing.T) {
	for in, want := range map[string]string{
		"~jack&jill=up-a_b3.c": "~jack%26jill%3Dup-a_b3.c",
		"a b/c%d\x80":          "a%20b%2Fc%25d%80",
	} {
		if got := urlEscape(in); got != want {
			t.Errorf("urlEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseMacroErrors(t *testing.T) {
	test := func(in string, explain bool) {
		t.Helper()
		if _, err := parseMacroString(in, explain, false); err == nil {
			t.Errorf("%q (explain %v): no error", in, explain)
		}
	}
	test("%", false)
	test("foo%", false)
	test("%x", false)
	test("%{", false)
	test("%{}", false)
	test("%{x}", false)
	test("%{a}", false)
	test("%{d0}", false)
	test("%{d2rx}", false)
	test("%{d2r.x}", false)
	test("%{c}", false) // exp text only (RFC 7208 §7.3)
	test("%{r}", false)
	test("%{t}", false)
	test("a b", false)
	test("a\tb", true)
	test("caf\xc3\xa9", true)
	for _, ok := range []string{"%{c}", "a b", "%{ir}.%{v}"} {
		if _, err := parseMacroString(ok, true, false); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

func TestParseRecord(t *testing.T) {
	test := func(txt string, wantErr bool, want ...string) {
		t.Helper()
		rec, err := parseRecord(txt)
		if (err != nil) != wantErr {
			t.Errorf("%q: err %v, want error %v", txt, err, wantErr)
			return
		}
		if err != nil {
			return
		}
		var got []string
		for _, d := range rec.directives {
			s := fmt.Sprintf("%s %s", d.qual, d.text)
			switch d.kind {
			case mIP4, mIP6:
				s += " " + d.prefix.String()
			case mA, mMX:
				s += fmt.Sprintf(" /%d//%d", d.cidr4, d.cidr6)
			}
			got = append(got, s)
		}
		if rec.redirect != nil {
			got = append(got, "redirect "+rec.redirect.raw)
		}
		if rec.exp != nil {
			got = append(got, "exp "+rec.exp.raw)
		}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("%q:\n got %q\nwant %q", txt, got, want)
		}
	}
	test("v=spf1", false)
	test("V=SPF1  -ALL ", false, "fail ALL")
	test("v=spf1 ip4:192.0.2.129/25 ~ip6:2001:DB8::/32 ?a MX:example.com/24//64 -a//0",
		false, "pass ip4:192.0.2.129/25 192.0.2.128/25", "softfail ip6:2001:DB8::/32 2001:db8::/32",
		"neutral a /32//128", "pass MX:example.com/24//64 /24//64", "fail a//0 /32//0")
	test("v=spf1 a:foo:bar/baz.example.com", false, "pass a:foo:bar/baz.example.com /32//128")
	test("v=spf1 exp=%{d}.exp.example redirect=_spf.example.com. foo.bar-x_y=%{c}x", false,
		"redirect _spf.example.com.", "exp %{d}.exp.example")
	test("v=spf1 include:_spf.%{d2} exists:%{ir}.%{l1r+-}._spf.%{d} ptr ptr:example.xn--zckzah", false,
		"pass include:_spf.%{d2}", "pass exists:%{ir}.%{l1r+-}._spf.%{d}", "pass ptr", "pass ptr:example.xn--zckzah")

	for _, bad := range []string{
		"v=spf10", "spf1 -all", "v=spf1 -all moo", "v=spf1 all.", "v=spf1 all:x", "v=spf1 -all/8",
		"v=spf1 include", "v=spf1 include:", "v=spf1 include:a.example/24", "v=spf1 exists",
		"v=spf1 a:", "v=spf1 a/33", "v=spf1 a//129", "v=spf1 a/24/64", "v=spf1 a/024", "v=spf1 a:museum",
		"v=spf1 a:museum.", "v=spf1 a:abc.123", "v=spf1 a:example.-com", "v=spf1 a:example.com-",
		"v=spf1 a:example.com:8080", "v=spf1 ptr/0", "v=spf1 ptr:", "v=spf1 ip4", "v=spf1 ip4:1.2.3",
		"v=spf1 ip4:1.2.3.4/33", "v=spf1 ip4:1.2.3.4//32", "v=spf1 ip4:01.2.3.4", "v=spf1 ip4:::1",
		"v=spf1 ip6:1.2.3.4", "v=spf1 ip6:::1/129", "v=spf1 ip6:fe80::1%eth0", "v=spf1 ip6::CAFE::BABE",
		"v=spf1 redirect:a.example", "v=spf1 redirect=", "v=spf1 redirect=-all", "v=spf1 exp=",
		"v=spf1 exp=a.example exp=b.example", "v=spf1 redirect=a.example redirect=a.example",
		"v=spf1 1up=foo", "v=spf1 =all", "v=spf1 foo=%abc", "v=spf1 moo.cow/far_out=man:dog/cat",
		"v=spf1 a:a.example\x00", "v=spf1 a:ctrl.example.com\rptr", "v=spf1 \x80a", "v=spf1 exp=%{r}.example.com",
		"v=spf1 a:%{a}.example.com", "v=spf1 a:%{d}.", "v=spf1 mx:%{d2}x",
	} {
		test(bad, true)
	}
}

func TestIdentityDomain(t *testing.T) {
	for d, ok := range map[string]bool{
		"example.com": true, "Example.COM.": true, "_spf.example.com": true,
		strings.Repeat("a", 63) + ".example": true, strings.Repeat("a", 64) + ".example": false,
		"": false, "example": false, "a..example": false, ".example.com": false, "[192.0.2.1]": false,
		"192.0.2.1": false, "JUMPIN' JUPITER": false, "bad\x00.example": false,
		strings.Repeat("abcdefghi.", 25) + "com": true, strings.Repeat("abcdefghi.", 25) + "comx": false,
	} {
		if _, why := identityDomain(d); (why == "") != ok {
			t.Errorf("identityDomain(%q): %q, want ok %v", d, why, ok)
		}
	}
}

func TestTruncateName(t *testing.T) {
	long := strings.Repeat("abcdefghi.", 30) + "example.com"
	got := truncateName(long + ".")
	if len(got) > 253 || !strings.HasSuffix(long, got) || !validName(got) || strings.HasPrefix(got, ".") {
		t.Errorf("truncateName: %q", got)
	}
	if got := truncateName("a.example."); got != "a.example" {
		t.Errorf("truncateName: %q", got)
	}
}

// TestFQDN checks that fqdn writes every octet of a label as miekg/dns
// does when it unpacks a name: the resolver compares the two as strings.
func TestFQDN(t *testing.T) {
	buf := make([]byte, 512)
	for b := range 256 {
		if b == '.' {
			continue
		}
		raw := "x" + string(rune(0)) + "y.example"
		raw = strings.Replace(raw, "\x00", string([]byte{byte(b)}), 1)
		wire := []byte{3, 'x', byte(b), 'y', 7}
		wire = append(wire, "example"...)
		wire = append(wire, 0)
		want, _, err := dns.UnpackDomainName(wire, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := fqdn(raw); got != want {
			t.Errorf("octet %d: fqdn %q, miekg %q", b, got, want)
		}
		back, ok := rawName(want)
		if !ok || back != strings.ToLower(raw) {
			t.Errorf("octet %d: rawName(%q) = %q %v", b, want, back, ok)
		}
		if n, err := dns.PackDomainName(fqdn(raw), buf, 0, nil, false); err != nil || n != len(wire) {
			t.Errorf("octet %d: packs to %d octets, %v", b, n, err)
		}
	}
	if _, ok := rawName(`a\.b.example.`); ok {
		t.Errorf("rawName accepted an escaped dot")
	}
}

func BenchmarkCheckHost(b *testing.B) {
	r := &resolver.Fake{
		TXT: map[string][]string{
			"example.com.":      {"google-site-verification=x", "v=spf1 mx include:_spf.example.net ip4:198.51.100.0/24 ~all"},
			"_spf.example.net.": {"v=spf1 ip4:192.0.2.0/25 ip4:192.0.2.128/26 ip6:2001:db8::/32 a:out.example.net -all"},
		},
		MX: map[string][]*net.MX{"example.com.": {{Host: "mx1.example.com.", Pref: 10}}},
		A:  map[string][]string{"mx1.example.com.": {"203.0.113.5"}, "out.example.net.": {"203.0.113.9"}},
	}
	ip := netip.MustParseAddr("203.0.113.9")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if out := CheckHost(ctx, r, ip, "example.com", "joe@example.com", "mail.example.net", Options{}); out.Result != Pass {
			b.Fatal(out)
		}
	}
}

func BenchmarkParseRecord(b *testing.B) {
	const txt = "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mx.%{d2}/24//64 include:_spf.example.net exists:%{ir}.%{l1r+-}._spf.%{d} redirect=_spf.example.com exp=exp.%{d}"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseRecord(txt); err != nil {
			b.Fatal(err)
		}
	}
}
