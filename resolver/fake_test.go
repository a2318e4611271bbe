package resolver_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mxguard/mxguard/resolver"
)

func TestFake(t *testing.T) {
	f := &resolver.Fake{
		A:     map[string][]string{"mx.example.": {"192.0.2.25"}, "half.example.": {"192.0.2.50"}},
		AAAA:  map[string][]string{"mx.example.": {"2001:db8::25"}, "v6.example.": {"2001:db8::6"}, "half.example.": {"2001:db8::50"}},
		MX:    map[string][]*net.MX{"example.": {{Host: "MX2.example", Pref: 20}, {Host: "mx.example.", Pref: 10}}, "null.example.": {{Host: ".", Pref: 0}}},
		TXT:   map[string][]string{"example.": {"v=spf1 -all"}, "broken.example.": {"never"}},
		PTR:   map[string][]string{"192.0.2.25": {"MX.example."}, "2001:db8::25": {"mx.example."}},
		CNAME: map[string]string{"www.example.": "mx.example.", "loop.example.": "loop.example.", "dangling.example.": "gone.example."},

		NoData: []string{"ent.example."},
		Fail:   []string{"txt broken.example.", "aaaa half.example.", "ptr 192.0.2.99", "a mx.example."},
		Perm:   []string{"mx perm.example."},
	}
	ctx := context.Background()
	a := func(n string) (any, error) { return f.LookupA(ctx, n) }
	ip := func(n string) (any, error) { return f.LookupIP(ctx, n) }
	mx := func(n string) (any, error) { return f.LookupMX(ctx, n) }
	txt := func(n string) (any, error) { return f.LookupTXT(ctx, n) }
	ptr := func(n string) (any, error) { return f.LookupPTR(ctx, netip.MustParseAddr(n)) }

	test := func(fn func(string) (any, error), name, want string, kind resolver.Kind) {
		t.Helper()
		got, err := fn(name)
		var e *resolver.Error
		switch {
		case kind == 0 && (err != nil || fmtResult(got) != want):
			t.Errorf("%s: %q, %v; want %q", name, fmtResult(got), err, want)
		case kind != 0 && (!errors.As(err, &e) || e.Kind != kind):
			t.Errorf("%s: %q, %v; want a %s error", name, fmtResult(got), err, kind)
		}
	}
	test(ip, "mx.example.", "2001:db8::25", 0) // A fails, AAAA found
	test(a, "mx.example.", "", resolver.Temporary)
	test(ip, "half.example.", "192.0.2.50", 0)
	test(ip, "v6.example.", "2001:db8::6", 0)
	test(a, "v6.example.", "", resolver.NoData)
	test(a, "www.example.", "", resolver.Temporary) // CNAME to mx., whose A fails
	test(ip, "www.example.", "2001:db8::25", 0)
	test(a, "dangling.example.", "", resolver.NXDOMAIN)
	test(a, "loop.example.", "", resolver.Permanent)
	test(a, "ent.example.", "", resolver.NoData)
	test(a, "nope.example.", "", resolver.NXDOMAIN)
	test(ip, "nope.example.", "", resolver.NXDOMAIN)
	test(a, "mx.example", "", resolver.Permanent) // relative
	test(mx, "example.", "10 mx.example., 20 mx2.example.", 0)
	test(mx, "null.example.", "0 .", 0)
	test(mx, "mx.example.", "", resolver.NoData)
	test(mx, "perm.example.", "", resolver.Permanent)
	test(txt, "example.", "v=spf1 -all", 0)
	test(txt, "EXAMPLE.", "v=spf1 -all", 0)
	test(txt, "broken.example.", "", resolver.Temporary)
	test(ptr, "192.0.2.25", "mx.example.", 0)
	test(ptr, "2001:db8::25", "mx.example.", 0)
	test(ptr, "192.0.2.99", "", resolver.Temporary)
	test(ptr, "192.0.2.1", "", resolver.NXDOMAIN)

	mxs, _ := f.LookupMX(ctx, "null.example.")
	if !resolver.IsNullMX(mxs) {
		t.Errorf("IsNullMX(%v) = false", fmtResult(mxs))
	}

	// Latency honours ctx.
	slow := &resolver.Fake{TXT: map[string][]string{"example.": {"x"}}, Latency: time.Hour}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := slow.LookupTXT(cctx, "example."); !resolver.IsTemporary(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow Fake: %v, want Temporary wrapping DeadlineExceeded", err)
	}
}

func TestPredicates(t *testing.T) {
	test := func(err error, notFound, nx, noData, temp bool) {
		t.Helper()
		if resolver.IsNotFound(err) != notFound || resolver.IsNXDOMAIN(err) != nx ||
			resolver.IsNoData(err) != noData || resolver.IsTemporary(err) != temp {
			t.Errorf("%v: IsNotFound %v IsNXDOMAIN %v IsNoData %v IsTemporary %v", err,
				resolver.IsNotFound(err), resolver.IsNXDOMAIN(err), resolver.IsNoData(err), resolver.IsTemporary(err))
		}
	}
	e := func(k resolver.Kind) error { return &resolver.Error{Name: "x.", Qtype: 1, Kind: k, Rcode: -1} }
	test(nil, false, false, false, false)
	test(e(resolver.NXDOMAIN), true, true, false, false)
	test(e(resolver.NoData), true, false, true, false)
	test(e(resolver.Temporary), false, false, false, true)
	test(e(resolver.Permanent), false, false, false, false)
	test(context.DeadlineExceeded, false, false, false, true)
	test(&net.DNSError{UnwrapErr: e(resolver.NoData)}, true, false, true, false)
}
