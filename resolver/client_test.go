package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mxguard/mxguard/internal/dnstest"
	"github.com/mxguard/mxguard/resolver"
)

// testZone is served by dnstest in most tests. The ;! lines are dnstest
// fault directives.
const testZone = `
$ORIGIN example.
@       3600 SOA ns hostmaster 1 7200 3600 1209600 60
@       MX   20 mx2
@       MX   10 MX1.Example.
@       TXT  "v=spf1 " "-all"
@       TXT  "second"
mx1     A    192.0.2.25
mx1     AAAA 2001:db8::25
mx2     A    192.0.2.26
v6only  AAAA 2001:db8::6
txtonly TXT  "x"
null    MX   0 .
www     CNAME mx1
ext     CNAME mail.other.test.
dangling CNAME nothing
empty   CNAME txtonly
ttl120  120 A 192.0.2.120
loop    CNAME loop.other.test.
;!servfail broken
;!timeout  dropped
;!truncate tc
tc      A    192.0.2.77
;!rcode FORMERR formerr
;!rcode NOTIMP notimp
;!servfail half AAAA
half    A    192.0.2.50
;!timeout halfdropped A
halfdropped AAAA 2001:db8::50

$ORIGIN other.test.
@       86400 SOA ns hostmaster 1 7200 3600 1209600 86400
mail    A    198.51.100.25
loop    CNAME loop.example.

$ORIGIN 2.0.192.in-addr.arpa.
25      PTR  MX1.example.
$ORIGIN 5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.
@       PTR  mx1.example.
`

// clock is an injectable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newClient returns a Client for the servers with short timeouts, one
// attempt and the clock, after applying edit.
func newClient(t testing.TB, clk *clock, edit func(*resolver.Config), servers ...*dnstest.Server) *resolver.Client {
	t.Helper()
	cfg := resolver.Config{Timeout: 200 * time.Millisecond, Attempts: 1}
	for _, s := range servers {
		cfg.Servers = append(cfg.Servers, s.Addr())
	}
	if clk != nil {
		cfg.Now = clk.Now
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := resolver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fmtResult renders any lookup result for comparison.
func fmtResult(v any) string {
	switch v := v.(type) {
	case []*net.MX:
		var s []string
		for _, mx := range v {
			s = append(s, fmt.Sprintf("%d %s", mx.Pref, mx.Host))
		}
		return strings.Join(s, ", ")
	case []netip.Addr:
		var s []string
		for _, a := range v {
			s = append(s, a.String())
		}
		return strings.Join(s, ", ")
	case []string:
		return strings.Join(v, ", ")
	}
	return fmt.Sprint(v)
}

func TestLookups(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithZone(testZone))
	r := newClient(t, nil, nil, s)
	ctx := context.Background()

	type lookup func(name string) (any, error)
	a := func(n string) (any, error) { return r.LookupA(ctx, n) }
	aaaa := func(n string) (any, error) { return r.LookupAAAA(ctx, n) }
	ip := func(n string) (any, error) { return r.LookupIP(ctx, n) }
	mx := func(n string) (any, error) { return r.LookupMX(ctx, n) }
	txt := func(n string) (any, error) { return r.LookupTXT(ctx, n) }
	ptr := func(n string) (any, error) { return r.LookupPTR(ctx, netip.MustParseAddr(n)) }

	// kind 0: success. rcode is checked on failures: -1 when no answer came.
	test := func(f lookup, name, want string, kind resolver.Kind, rcode int) {
		t.Helper()
		got, err := f(name)
		var e *resolver.Error
		switch {
		case kind == 0 && err != nil:
			t.Errorf("%s: unexpected error %v", name, err)
		case kind == 0 && fmtResult(got) != want:
			t.Errorf("%s: got %q, want %q", name, fmtResult(got), want)
		case kind != 0 && !errors.As(err, &e):
			t.Errorf("%s: got %q, %v; want a %s *Error", name, fmtResult(got), err, kind)
		case kind != 0 && (e.Kind != kind || e.Rcode != rcode):
			t.Errorf("%s: error %v (kind %s, rcode %d), want kind %s, rcode %d", name, err, e.Kind, e.Rcode, kind, rcode)
		}
	}
	const (
		ok   = resolver.Kind(0)
		nx   = resolver.NXDOMAIN
		nod  = resolver.NoData
		temp = resolver.Temporary
		perm = resolver.Permanent
	)

	test(a, "mx1.example.", "192.0.2.25", ok, 0)
	test(a, "MX1.EXAMPLE.", "192.0.2.25", ok, 0)
	test(aaaa, "mx1.example.", "2001:db8::25", ok, 0)
	test(ip, "mx1.example.", "192.0.2.25, 2001:db8::25", ok, 0)
	test(ip, "v6only.example.", "2001:db8::6", ok, 0)
	test(ip, "half.example.", "192.0.2.50", ok, 0)                  // AAAA SERVFAIL, A found
	test(ip, "halfdropped.example.", "2001:db8::50", ok, 0)         // A times out, AAAA found
	test(mx, "example.", "10 mx1.example., 20 mx2.example.", ok, 0) // sorted, lower case
	test(mx, "null.example.", "0 .", ok, 0)                         // RFC 7505
	test(txt, "example.", "v=spf1 -all, second", ok, 0)             // strings joined per record
	test(ptr, "192.0.2.25", "mx1.example.", ok, 0)
	test(ptr, "::ffff:192.0.2.25", "mx1.example.", ok, 0)
	test(ptr, "2001:db8::25", "mx1.example.", ok, 0)
	// CNAMEs: in the answer, chased with a new query when out of zone.
	test(a, "www.example.", "192.0.2.25", ok, 0)
	test(ip, "www.example.", "192.0.2.25, 2001:db8::25", ok, 0)
	test(a, "ext.example.", "198.51.100.25", ok, 0)
	test(a, "dangling.example.", "", nx, dns.RcodeNameError)
	test(a, "empty.example.", "", nod, dns.RcodeSuccess)
	test(a, "loop.example.", "", perm, dns.RcodeSuccess) // ErrCNAMEChain
	// Not found.
	test(a, "nope.example.", "", nx, dns.RcodeNameError)
	test(ip, "nope.example.", "", nx, dns.RcodeNameError)
	test(a, "v6only.example.", "", nod, dns.RcodeSuccess)
	test(ip, "txtonly.example.", "", nod, dns.RcodeSuccess)
	test(mx, "mx1.example.", "", nod, dns.RcodeSuccess)
	test(txt, "mx1.example.", "", nod, dns.RcodeSuccess)
	test(ptr, "192.0.2.99", "", nx, dns.RcodeNameError)
	// Temporary: SERVFAIL, REFUSED (outside the zones), timeout.
	test(a, "broken.example.", "", temp, dns.RcodeServerFailure)
	test(ip, "broken.example.", "", temp, dns.RcodeServerFailure)
	test(txt, "outside.test.", "", temp, dns.RcodeRefused)
	test(a, "dropped.example.", "", temp, -1)
	test(ip, "dropped.example.", "", temp, -1)
	test(ptr, "198.51.100.1", "", temp, dns.RcodeRefused)
	// Permanent: FORMERR, NOTIMP, bad names.
	test(a, "formerr.example.", "", perm, dns.RcodeFormatError)
	test(mx, "notimp.example.", "", perm, dns.RcodeNotImplemented)
	test(a, "mx1.example", "", perm, -1)
	test(a, strings.Repeat("a", 64)+".example.", "", perm, -1)
	test(a, strings.Repeat("abcdefghi.", 26), "", perm, -1)
	test(a, "a..example.", "", perm, -1)
}

func TestErrorCauses(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithZone(testZone))
	r := newClient(t, nil, nil, s)
	ctx := context.Background()

	test := func(name string, want error) {
		t.Helper()
		_, err := r.LookupA(ctx, name)
		if !errors.Is(err, want) {
			t.Errorf("%s: error %v, want errors.Is %v", name, err, want)
		}
	}
	test("dropped.example.", resolver.ErrTimeout)
	test("loop.example.", resolver.ErrCNAMEChain)
	test("relative.example", resolver.ErrRelativeName)
	test(`escaped\.`, resolver.ErrRelativeName)
	test(strings.Repeat("a", 64)+".example.", resolver.ErrInvalidName)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := r.LookupA(canceled, "mx1.example.")
	if !resolver.IsTemporary(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled ctx: %v, want Temporary wrapping context.Canceled", err)
	}
	if n := s.Count("mx1.example.", 0); n != 0 {
		t.Errorf("canceled ctx: %d queries sent", n)
	}
}

func TestRelativeNames(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithZone(testZone))
	r := newClient(t, nil, nil, s)
	ctx := context.Background()
	test := func(name string, f func() error) {
		t.Helper()
		err := f()
		var e *resolver.Error
		if !errors.As(err, &e) || e.Kind != resolver.Permanent || !errors.Is(err, resolver.ErrRelativeName) {
			t.Errorf("%s: %v, want Permanent ErrRelativeName", name, err)
		}
	}
	test("A", func() error { _, err := r.LookupA(ctx, "mx1.example"); return err })
	test("AAAA", func() error { _, err := r.LookupAAAA(ctx, "mx1.example"); return err })
	test("IP", func() error { _, err := r.LookupIP(ctx, "mx1.example"); return err })
	test("MX", func() error { _, err := r.LookupMX(ctx, "example"); return err })
	test("TXT", func() error { _, err := r.LookupTXT(ctx, "example"); return err })
	test("Lookup", func() error { _, err := r.Lookup(ctx, "example", dns.TypeSOA); return err })
	if n := s.QueryCount(); n != 0 {
		t.Errorf("%d queries sent for relative names", n)
	}
}

func TestTCPFallback(t *testing.T) {
	var big strings.Builder
	big.WriteString("$ORIGIN large.test.\n")
	for i := range 30 {
		fmt.Fprintf(&big, "big TXT \"%03d%s\"\n", i, strings.Repeat("x", 200))
	}
	s := dnstest.Start(t, dnstest.WithZone(testZone), dnstest.WithZone(big.String()))
	r := newClient(t, nil, nil, s)
	ctx := context.Background()

	test := func(name string, qtype uint16, wantRecords int) {
		t.Helper()
		s.ResetQueries()
		rrs, err := r.Lookup(ctx, name, qtype)
		if err != nil || len(rrs) != wantRecords {
			t.Errorf("%s: %d records, %v; want %d", name, len(rrs), err, wantRecords)
		}
		var got []string
		for _, q := range s.Queries() {
			got = append(got, q.Transport)
		}
		if want := []string{"udp", "tcp"}; !slices.Equal(got, want) {
			t.Errorf("%s: transports %v, want %v", name, got, want)
		}
	}
	test("tc.example.", dns.TypeA, 1)        // ;!truncate
	test("big.large.test.", dns.TypeTXT, 30) // more than 4096 octets
	if st := r.Stats(); st.Queries != 4 {
		t.Errorf("Stats.Queries = %d, want 4", st.Queries)
	}
}

func TestServerOrder(t *testing.T) {
	good := dnstest.Start(t, dnstest.WithZone(testZone))
	refusing := dnstest.Start(t) // no zones: REFUSED for every name
	failing := dnstest.Start(t)
	failing.Fail("*.", 0, dns.RcodeServerFailure)
	dropping := dnstest.Start(t)
	dropping.Drop("*.", 0)
	dead := dnstest.Start(t)
	dead.Close()

	r := newClient(t, nil, nil, dead, dropping, failing, refusing, good)
	addrs, err := r.LookupA(context.Background(), "mx1.example.")
	if err != nil || len(addrs) != 1 {
		t.Fatalf("LookupA: %v, %v", addrs, err)
	}
	for _, s := range []*dnstest.Server{dropping, failing, refusing, good} {
		if n := s.QueryCount(); n != 1 {
			t.Errorf("server %s got %d queries, want 1", s.Addr(), n)
		}
	}

	// Two attempts over one failing server: two queries, and the last
	// rcode is reported.
	r2 := newClient(t, nil, func(c *resolver.Config) { c.Attempts = 2 }, failing)
	_, err = r2.LookupA(context.Background(), "mx1.example.")
	var e *resolver.Error
	if !errors.As(err, &e) || e.Kind != resolver.Temporary || e.Rcode != dns.RcodeServerFailure {
		t.Errorf("all SERVFAIL: %v", err)
	}
	if n := failing.QueryCount(); n != 3 {
		t.Errorf("failing server: %d queries, want 1+2", n)
	}
}

func TestNegativeCache(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithZone(testZone))
	clk := newClock()
	r := newClient(t, clk, func(c *resolver.Config) { c.MaxTTL = 10 * time.Minute }, s)
	ctx := context.Background()

	// lookupN looks name up and checks the result kind and how many
	// queries the server has seen for it so far.
	lookupN := func(name string, qtype uint16, wantKind resolver.Kind, wantQueries int) {
		t.Helper()
		_, err := r.Lookup(ctx, name, qtype)
		var e *resolver.Error
		if !errors.As(err, &e) || e.Kind != wantKind {
			t.Errorf("%s: %v, want %s", name, err, wantKind)
		}
		if n := s.Count(name, qtype); n != wantQueries {
			t.Errorf("%s %s: %d queries, want %d", name, dns.TypeToString[qtype], n, wantQueries)
		}
	}
	// example.'s SOA: TTL 3600, MINIMUM 60: cached 60s (RFC 2308 §5).
	lookupN("nope.example.", dns.TypeA, resolver.NXDOMAIN, 1)
	lookupN("nope.example.", dns.TypeA, resolver.NXDOMAIN, 1)
	lookupN("NOPE.example.", dns.TypeA, resolver.NXDOMAIN, 1) // same cache key
	lookupN("mx1.example.", dns.TypeMX, resolver.NoData, 1)
	lookupN("mx1.example.", dns.TypeMX, resolver.NoData, 1)
	clk.Add(59 * time.Second)
	lookupN("nope.example.", dns.TypeA, resolver.NXDOMAIN, 1)
	lookupN("mx1.example.", dns.TypeMX, resolver.NoData, 1)
	clk.Add(2 * time.Second)
	lookupN("nope.example.", dns.TypeA, resolver.NXDOMAIN, 2)
	lookupN("mx1.example.", dns.TypeMX, resolver.NoData, 2)

	// other.test.'s SOA has MINIMUM 86400: capped at MaxTTL (10m).
	lookupN("nope.other.test.", dns.TypeA, resolver.NXDOMAIN, 1)
	clk.Add(10*time.Minute - time.Second)
	lookupN("nope.other.test.", dns.TypeA, resolver.NXDOMAIN, 1)
	clk.Add(2 * time.Second)
	lookupN("nope.other.test.", dns.TypeA, resolver.NXDOMAIN, 2)

	// Temporary failures are not cached.
	lookupN("broken.example.", dns.TypeA, resolver.Temporary, 1)
	lookupN("broken.example.", dns.TypeA, resolver.Temporary, 2)

	st := r.Stats()
	if st.CacheHits != 6 {
		t.Errorf("Stats.CacheHits = %d, want 6", st.CacheHits)
	}
}

func TestTTLExpiry(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithZone(testZone))
	clk := newClock()
	r := newClient(t, clk, nil, s)
	ctx := context.Background()

	test := func(advance time.Duration, wantTTL uint32, wantQueries int) {
		t.Helper()
		clk.Add(advance)
		rrs, err := r.Lookup(ctx, "ttl120.example.", dns.TypeA)
		if err != nil || len(rrs) != 1 {
			t.Fatalf("Lookup: %v %v", rrs, err)
		}
		if got := rrs[0].Header().Ttl; got != wantTTL {
			t.Errorf("after %v: TTL %d, want %d", advance, got, wantTTL)
		}
		if n := s.Count("ttl120.example.", dns.TypeA); n != wantQueries {
			t.Errorf("after %v: %d queries, want %d", advance, n, wantQueries)
		}
	}
	test(0, 120, 1)
	test(20*time.Second, 100, 1) // counted down
	test(99*time.Second, 1, 1)
	test(time.Second, 120, 2) // expired at 120s: asked again, fresh TTL
	test(30*time.Second, 90, 2)

	// MinTTL and MaxTTL clamp.
	r2 := newClient(t, clk, func(c *resolver.Config) { c.MinTTL = 10 * time.Minute }, s)
	if rrs, err := r2.Lookup(ctx, "ttl120.example.", dns.TypeA); err != nil || rrs[0].Header().Ttl != 600 {
		t.Errorf("MinTTL: %v %v", rrs, err)
	}
	r3 := newClient(t, clk, func(c *resolver.Config) { c.MaxTTL = time.Minute }, s)
	if rrs, err := r3.Lookup(ctx, "ttl120.example.", dns.TypeA); err != nil || rrs[0].Header().Ttl != 60 {
		t.Errorf("MaxTTL: %v %v", rrs, err)
	}
}

func TestCacheBound(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithZone(testZone))
	r := newClient(t, nil, func(c *resolver.Config) { c.CacheSize = 2 }, s)
	ctx := context.Background()

	lookup := func(name string, wantQueries int) {
		t.Helper()
		if _, err := r.LookupA(ctx, name); err != nil {
			t.Fatal(err)
		}
		if n := s.Count(name, dns.TypeA); n != wantQueries {
			t.Errorf("%s: %d queries, want %d", name, n, wantQueries)
		}
	}
	lookup("mx1.example.", 1)
	lookup("mx2.example.", 1)
	lookup("mx1.example.", 1)  // hit: mx1 is now the most recently used
	lookup("half.example.", 1) // evicts mx2, the least recently used
	if n := r.Stats().CacheSize; n != 2 {
		t.Errorf("CacheSize = %d, want 2", n)
	}
	lookup("mx1.example.", 1)
	lookup("mx2.example.", 2)

	// No cache at all.
	r2 := newClient(t, nil, func(c *resolver.Config) { c.CacheSize = -1 }, s)
	for range 2 {
		if _, err := r2.LookupA(ctx, "ttl120.example."); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Count("ttl120.example.", dns.TypeA); n != 2 {
		t.Errorf("no cache: %d queries, want 2", n)
	}
	if st := r2.Stats(); st.CacheSize != 0 || st.CacheHits != 0 {
		t.Errorf("no cache: %+v", st)
	}
	r.FlushCache()
	if n := r.Stats().CacheSize; n != 0 {
		t.Errorf("after FlushCache: %d entries", n)
	}
}

func TestDedup(t *testing.T) {
	// The latency keeps the first query in flight while the others arrive.
	s := dnstest.Start(t, dnstest.WithZone(testZone), dnstest.WithLatency(300*time.Millisecond))
	r := newClient(t, nil, func(c *resolver.Config) { c.Timeout = 5 * time.Second }, s)

	const n = 20
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			addrs, err := r.LookupA(context.Background(), "mx1.example.")
			if err != nil || len(addrs) != 1 {
				t.Errorf("LookupA: %v %v", addrs, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := s.Count("mx1.example.", dns.TypeA); got != 1 {
		t.Errorf("%d upstream queries, want 1", got)
	}
	// A goroutine scheduled very late may find the answer cached instead.
	if st := r.Stats(); st.DedupJoins+st.CacheHits != n-1 || st.Queries != 1 {
		t.Errorf("Stats %+v: want 1 query and %d joins or hits", st, n-1)
	}
}

func TestDedupWaiterLeaves(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithZone(testZone), dnstest.WithLatency(time.Second))
	r := newClient(t, nil, func(c *resolver.Config) { c.Timeout = 5 * time.Second }, s)
	ctx := context.Background()

	// The patient waiter starts the query...
	type result struct {
		addrs []netip.Addr
		err   error
	}
	patient := make(chan result, 1)
	go func() {
		addrs, err := r.LookupA(ctx, "mx1.example.")
		patient <- result{addrs, err}
	}()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.WaitQueries(wctx, 1); err != nil {
		t.Fatal(err)
	}
	// ...an impatient one joins it and leaves when its ctx ends...
	short, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	_, err := r.LookupA(short, "mx1.example.")
	if !resolver.IsTemporary(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("impatient waiter: %v, want Temporary wrapping DeadlineExceeded", err)
	}
	// ...without cancelling the query for the first.
	res := <-patient
	if res.err != nil || len(res.addrs) != 1 {
		t.Errorf("patient waiter: %v %v", res.addrs, res.err)
	}
	if got := s.QueryCount(); got != 1 {
		t.Errorf("%d upstream queries, want 1", got)
	}
	if st := r.Stats(); st.DedupJoins != 1 {
		t.Errorf("Stats.DedupJoins = %d, want 1", st.DedupJoins)
	}
}

func TestLookupIPParallel(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithZone(testZone), dnstest.WithLatency(100*time.Millisecond))
	r := newClient(t, nil, func(c *resolver.Config) { c.Timeout = 5 * time.Second }, s)
	if _, err := r.LookupIP(context.Background(), "mx1.example."); err != nil {
		t.Fatal(err)
	}
	if got := s.MaxConcurrent(); got != 2 {
		t.Errorf("MaxConcurrent = %d, want 2 (A and AAAA in parallel)", got)
	}
}

func TestMetrics(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithZone(testZone))
	var (
		mu  sync.Mutex
		got []string
	)
	r := newClient(t, nil, func(c *resolver.Config) {
		c.Metrics = func(qtype, rcode string, cached bool) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, fmt.Sprintf("%s %s %v", qtype, rcode, cached))
		}
	}, s)
	ctx := context.Background()
	r.LookupA(ctx, "mx1.example.")
	r.LookupA(ctx, "mx1.example.")
	r.LookupMX(ctx, "nope.example.")
	r.LookupTXT(ctx, "broken.example.")
	r.LookupA(ctx, "dropped.example.")
	want := []string{"A NOERROR false", "A NOERROR true", "MX NXDOMAIN false", "TXT SERVFAIL false", "A TIMEOUT false"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("metrics calls\n  %q\nwant\n  %q", got, want)
	}
}

func TestResolvConf(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	test := func(text string, wantServers []string, wantErr error) {
		t.Helper()
		c, err := resolver.New(resolver.Config{ResolvConf: write("resolv.conf", text)})
		switch {
		case wantErr != nil && !errors.Is(err, wantErr):
			t.Errorf("%q: error %v, want %v", text, err, wantErr)
		case wantErr == nil && err != nil:
			t.Errorf("%q: %v", text, err)
		case wantErr == nil && !slices.Equal(c.Servers(), wantServers):
			t.Errorf("%q: servers %v, want %v", text, c.Servers(), wantServers)
		}
	}
	test("nameserver 127.0.0.1\nnameserver ::1\nsearch example.com\noptions ndots:2 timeout:1 attempts:3\n",
		[]string{"127.0.0.1:53", "[::1]:53"}, nil)
	test("# nothing\ndomain example.com\n", nil, resolver.ErrNoServers)
	if _, err := resolver.New(resolver.Config{ResolvConf: filepath.Join(dir, "missing")}); err == nil {
		t.Error("missing resolv.conf: no error")
	}

	// Configured servers: a bare address gets port 53.
	c, err := resolver.New(resolver.Config{Servers: []string{"192.0.2.1", "2001:db8::1", "127.0.0.1:5353"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"192.0.2.1:53", "[2001:db8::1]:53", "127.0.0.1:5353"}; !slices.Equal(c.Servers(), want) {
		t.Errorf("servers %v, want %v", c.Servers(), want)
	}
	if _, err := resolver.New(resolver.Config{Servers: []string{"not an address"}}); err == nil {
		t.Error("bad server address: no error")
	}
}

func BenchmarkCachedLookup(b *testing.B) {
	s := dnstest.Start(b, dnstest.WithZone(testZone))
	r := newClient(b, nil, nil, s)
	ctx := context.Background()
	if _, err := r.LookupA(ctx, "mx1.example."); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.LookupA(ctx, "mx1.example."); err != nil {
			b.Fatal(err)
		}
	}
}
