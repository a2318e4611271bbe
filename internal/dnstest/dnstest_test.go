package dnstest

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// ask sends one query over network ("udp" or "tcp") with EDNS0 and
// returns the answer.
func ask(t *testing.T, s *Server, network, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(4096, false)
	c := &dns.Client{Net: network, Timeout: 200 * time.Millisecond}
	r, _, err := c.Exchange(q, s.Addr())
	return r, err
}

// short renders records as "owner TYPE rdata", without TTL and class.
func short(rrs []dns.RR) string {
	var out []string
	for _, rr := range rrs {
		f := strings.Fields(rr.String())
		out = append(out, f[0]+" "+f[3]+" "+strings.Join(f[4:], " "))
	}
	return strings.Join(out, "; ")
}

func TestAnswers(t *testing.T) {
	s := Start(t, WithZoneFile("testdata/example.zone"))

	// wantNS is the authority section: "" or the negative SOA's TTL.
	test := func(name string, qtype uint16, wantRcode int, wantAnswer string, wantSOATTL uint32) {
		t.Helper()
		r, err := ask(t, s, "udp", name, qtype)
		if err != nil {
			t.Errorf("%s %s: %v", name, dns.TypeToString[qtype], err)
			return
		}
		if r.Rcode != wantRcode {
			t.Errorf("%s %s: rcode %s, want %s", name, dns.TypeToString[qtype], dns.RcodeToString[r.Rcode], dns.RcodeToString[wantRcode])
		}
		if got := short(r.Answer); got != wantAnswer {
			t.Errorf("%s %s: answer\n  %s\nwant\n  %s", name, dns.TypeToString[qtype], got, wantAnswer)
		}
		var soaTTL uint32
		for _, rr := range r.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				soaTTL = soa.Hdr.Ttl
			}
		}
		if soaTTL != wantSOATTL {
			t.Errorf("%s %s: negative SOA TTL %d, want %d", name, dns.TypeToString[qtype], soaTTL, wantSOATTL)
		}
		if wantRcode != dns.RcodeRefused && !r.Authoritative {
			t.Errorf("%s %s: AA bit not set", name, dns.TypeToString[qtype])
		}
	}

	const (
		noErr = dns.RcodeSuccess
		nx    = dns.RcodeNameError
	)
	test("mx1.example.", dns.TypeA, noErr, "mx1.example. A 192.0.2.25", 0)
	test("MX1.Example.", dns.TypeAAAA, noErr, "mx1.example. AAAA 2001:db8::25", 0)
	test("example.", dns.TypeMX, noErr, "example. MX 10 mx1.example.; example. MX 20 mx2.example.", 0)
	test("example.", dns.TypeTXT, noErr, `example. TXT "v=spf1 ip4:192.0.2.0/24 -all"`, 0)
	test("25.2.0.192.in-addr.arpa.", dns.TypePTR, noErr, "25.2.0.192.in-addr.arpa. PTR mx1.example.", 0)
	// CNAMEs are followed inside the zone, not out of it.
	test("www.example.", dns.TypeA, noErr, "www.example. CNAME mx1.example.; mx1.example. A 192.0.2.25", 0)
	test("alias.example.", dns.TypeA, noErr, "alias.example. CNAME www.example.; www.example. CNAME mx1.example.; mx1.example. A 192.0.2.25", 0)
	test("www.example.", dns.TypeCNAME, noErr, "www.example. CNAME mx1.example.", 0)
	test("out.example.", dns.TypeA, noErr, "out.example. CNAME host.other.test.", 0)
	test("loop1.example.", dns.TypeA, dns.RcodeServerFailure, "", 0)
	// Wildcards (RFC 4592): synthesized with the query name as owner, at
	// any depth below the closest encloser.
	test("x.wild.example.", dns.TypeA, noErr, "x.wild.example. A 192.0.2.99", 0)
	test("a.b.wild.example.", dns.TypeA, noErr, "a.b.wild.example. A 192.0.2.99", 0)
	test("x.wild.example.", dns.TypeMX, noErr, "", 60)
	// NODATA: other types, empty non-terminals. Negative SOA TTL is
	// min(3600, MINIMUM 60).
	test("mx1.example.", dns.TypeMX, noErr, "", 60)
	test("b.ent.example.", dns.TypeA, noErr, "", 60)
	test("ent.example.", dns.TypeTXT, noErr, "", 60)
	test("wild.example.", dns.TypeA, noErr, "", 60)
	// NXDOMAIN inside a zone, with the SOA; below an ENT no wildcard.
	test("nope.example.", dns.TypeA, nx, "", 60)
	test("x.b.ent.example.", dns.TypeA, nx, "", 60)
	test("99.2.0.192.in-addr.arpa.", dns.TypePTR, nx, "", 300) // synthesized SOA
	// Outside every zone.
	test("host.other.test.", dns.TypeA, dns.RcodeRefused, "", 0)
	// Directives.
	test("broken.example.", dns.TypeA, dns.RcodeServerFailure, "", 0)
	test("x.failing.example.", dns.TypeTXT, dns.RcodeServerFailure, "", 0)
	test("failing.example.", dns.TypeA, nx, "", 60) // "*." matches below only
	test("refused.example.", dns.TypeA, dns.RcodeRefused, "", 0)
	test("formerr.example.", dns.TypeA, dns.RcodeFormatError, "", 0)
	test("half.example.", dns.TypeAAAA, dns.RcodeServerFailure, "", 0)
	test("half.example.", dns.TypeA, noErr, "half.example. A 192.0.2.21", 0)
	test("lagged.example.", dns.TypeA, noErr, "lagged.example. A 192.0.2.20", 0)
}

func TestTruncate(t *testing.T) {
	var big strings.Builder
	for i := range 30 {
		big.WriteString("big TXT \"" + strings.Repeat(string(rune('a'+i%26)), 200) + "\"\n")
	}
	s := Start(t, WithZoneFile("testdata/example.zone"), WithZone("$ORIGIN large.test.\n"+big.String()))

	// wantAnswers -1: any number.
	test := func(network, name string, qtype uint16, wantTC bool, wantAnswers int) {
		t.Helper()
		r, err := ask(t, s, network, name, qtype)
		if err != nil {
			t.Errorf("%s %s: %v", network, name, err)
			return
		}
		if r.Truncated != wantTC || (wantAnswers >= 0 && len(r.Answer) != wantAnswers) {
			t.Errorf("%s %s: TC %v with %d answers, want %v with %d", network, name, r.Truncated, len(r.Answer), wantTC, wantAnswers)
		}
	}
	test("udp", "trunc.example.", dns.TypeTXT, true, 0) // ;!truncate
	test("tcp", "trunc.example.", dns.TypeTXT, false, 1)
	test("udp", "trunc.example.", dns.TypeA, false, 0)    // other type: NODATA, not truncated
	test("udp", "big.large.test.", dns.TypeTXT, true, -1) // as many as fit in 4096 octets
	test("tcp", "big.large.test.", dns.TypeTXT, false, 30)

	s.Truncate("mx1.example.", dns.TypeA)
	test("udp", "mx1.example.", dns.TypeA, true, 0)
	test("tcp", "mx1.example.", dns.TypeA, false, 1)
}

func TestDrop(t *testing.T) {
	s := Start(t, WithZoneFile("testdata/example.zone"))
	test := func(network, name string, qtype uint16, wantTimeout bool) {
		t.Helper()
		_, err := ask(t, s, network, name, qtype)
		var ne net.Error
		if got := errors.As(err, &ne) && ne.Timeout(); got != wantTimeout {
			t.Errorf("%s %s %s: err %v, want timeout %v", network, name, dns.TypeToString[qtype], err, wantTimeout)
		}
	}
	test("udp", "slow.example.", dns.TypeA, true)
	test("tcp", "slow.example.", dns.TypeA, true)
	test("udp", "mx1.example.", dns.TypeA, false)

	s.Drop("*.example.", dns.TypeMX)
	test("udp", "mx1.example.", dns.TypeMX, true)
	test("udp", "mx1.example.", dns.TypeA, false)
	test("udp", "example.", dns.TypeMX, false)

	// A later fault wins over an earlier one.
	s.Fail("slow.example.", 0, dns.RcodeServerFailure)
	test("udp", "slow.example.", dns.TypeA, false)
	s.ClearFaults()
	test("udp", "mx1.example.", dns.TypeMX, false)
	if n := s.Count("slow.example", dns.TypeA); n != 3 {
		t.Errorf("Count(slow.example, A) = %d, want 3", n)
	}
}

func TestLatencyAndConcurrency(t *testing.T) {
	s := Start(t, WithZoneFile("testdata/example.zone"), WithLatency(100*time.Millisecond))

	var wg sync.WaitGroup
	for _, name := range []string{"mx1.example.", "mx2.example.", "ns1.example.", "www.example."} {
		wg.Go(func() {
			if r, err := ask(t, s, "udp", name, dns.TypeA); err != nil || r.Rcode != dns.RcodeSuccess {
				t.Errorf("%s: %v %v", name, r, err)
			}
		})
	}
	wg.Wait()
	if got := s.MaxConcurrent(); got != 4 {
		t.Errorf("MaxConcurrent = %d, want 4", got)
	}
	qs := s.Queries()
	if len(qs) != 4 || s.QueryCount() != 4 {
		t.Fatalf("queries %v", qs)
	}
	for _, q := range qs {
		if q.Transport != "udp" || q.Type != dns.TypeA || q.Time.IsZero() {
			t.Errorf("query %v", q)
		}
	}

	s.ResetQueries()
	s.SetLatency(0)
	for _, name := range []string{"mx1.example.", "mx2.example."} {
		if _, err := ask(t, s, "tcp", name, dns.TypeA); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.MaxConcurrent(); got != 1 {
		t.Errorf("MaxConcurrent after sequential queries = %d, want 1", got)
	}
	want := []string{"tcp A mx1.example.", "tcp A mx2.example."}
	var got []string
	for _, q := range s.Queries() {
		got = append(got, q.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("Queries = %q, want %q", got, want)
	}
}

func TestWaitQueries(t *testing.T) {
	s := Start(t, WithZoneFile("testdata/example.zone"))
	go ask(t, s, "udp", "slow.example.", dns.TypeA)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitQueries(ctx, 1); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := s.WaitQueries(ctx2, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitQueries with a canceled ctx: %v", err)
	}
}

func TestZoneErrors(t *testing.T) {
	test := func(text, wantErr string) {
		t.Helper()
		_, err := New("127.0.0.1:0", WithZone(text))
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("zone %q: error %v, want %q", text, err, wantErr)
		}
	}
	test("$ORIGIN example.\n;!servfial x\n", `unknown directive "servfial"`)
	test("$ORIGIN example.\n;!servfail x BOGUS\n", `unknown type "BOGUS"`)
	test("$ORIGIN example.\n;!servfail\n", "usage")
	test(";!servfail x\n", "without $ORIGIN")
	test("$ORIGIN example.\n;!latency soon\n", "bad duration")
	test("$ORIGIN example.\n;!rcode BADRCODE x\n", "unknown rcode")
	test("www.example. A 192.0.2.1\n", "in no zone")
	test("$ORIGIN example.\nwww A 192.0.2.300\n", "zone")
	if _, err := New("127.0.0.1:0", WithZoneFile("testdata/missing.zone")); err == nil {
		t.Error("missing zone file: no error")
	}
}

func TestAddZoneAndNesting(t *testing.T) {
	s := Start(t, WithZone("$ORIGIN example.\nwww A 192.0.2.1\n"))
	// A child zone with its own SOA takes its names from the parent.
	if err := s.AddZone(`$ORIGIN sub.example.
@ SOA ns hostmaster 1 7200 3600 1209600 30
www A 192.0.2.2
`); err != nil {
		t.Fatal(err)
	}
	test := func(name string, wantRcode int, wantAnswer string, wantSOA string) {
		t.Helper()
		r, err := ask(t, s, "udp", name, dns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		gotSOA := ""
		if len(r.Ns) > 0 {
			gotSOA = r.Ns[0].Header().Name
		}
		if r.Rcode != wantRcode || short(r.Answer) != wantAnswer || gotSOA != wantSOA {
			t.Errorf("%s: %s %q SOA %q, want %s %q SOA %q", name, dns.RcodeToString[r.Rcode], short(r.Answer), gotSOA,
				dns.RcodeToString[wantRcode], wantAnswer, wantSOA)
		}
	}
	test("www.example.", dns.RcodeSuccess, "www.example. A 192.0.2.1", "")
	test("www.sub.example.", dns.RcodeSuccess, "www.sub.example. A 192.0.2.2", "")
	test("nope.sub.example.", dns.RcodeNameError, "", "sub.example.")
	test("nope.example.", dns.RcodeNameError, "", "example.")
}

func TestNewStartClose(t *testing.T) {
	s, err := New("127.0.0.1:0", WithZone("$ORIGIN example.\nwww A 192.0.2.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if _, port, _ := net.SplitHostPort(addr); port == "0" {
		t.Fatalf("Addr() = %s, want the bound port", addr)
	}
	if r, err := ask(t, s, "udp", "www.example.", dns.TypeA); err != nil || len(r.Answer) != 1 {
		t.Fatalf("before Close: %v %v", r, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// A fixed address, as the Postfix suite uses (there 127.0.0.53:53): the
	// address just freed.
	s2, err := New(addr, WithZone("$ORIGIN example.\nwww A 192.0.2.2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.Addr() != addr {
		t.Errorf("Addr() = %s, want %s", s2.Addr(), addr)
	}
	if r, err := ask(t, s2, "tcp", "www.example.", dns.TypeA); err != nil || len(r.Answer) != 1 {
		t.Fatalf("fixed address: %v %v", r, err)
	}

	// Close abandons delayed answers instead of waiting for them.
	s3 := Start(t, WithZone("$ORIGIN example.\nwww A 192.0.2.1\n;!latency 1h\n"))
	go ask(t, s3, "udp", "www.example.", dns.TypeA)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s3.WaitQueries(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s3.Close(); err != nil {
		t.Fatalf("Close with a delayed answer: %v", err)
	}
}
