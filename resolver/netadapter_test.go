package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/mxguard/mxguard/internal/dnstest"
	"github.com/mxguard/mxguard/resolver"
)

// The shapes the libraries expect, checked at compile time.
var (
	// go-msgauth dkim.VerifyOptions.LookupTXT, dmarc.LookupOptions.LookupTXT.
	_ func(string) ([]string, error) = (&resolver.NetAdapter{}).LookupTXT
	// blitiri.com.ar/go/spf DNSResolver, and what *net.Resolver offers.
	_ interface {
		LookupTXT(ctx context.Context, domain string) ([]string, error)
		LookupMX(ctx context.Context, name string) ([]*net.MX, error)
		LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
		LookupAddr(ctx context.Context, addr string) ([]string, error)
	} = resolver.NetResolver{}
	_ interface {
		LookupTXT(ctx context.Context, domain string) ([]string, error)
		LookupMX(ctx context.Context, name string) ([]*net.MX, error)
		LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
		LookupAddr(ctx context.Context, addr string) ([]string, error)
	} = net.DefaultResolver
)

func TestNetAdapterErrors(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithZone(testZone))
	a := resolver.NewNetAdapter(context.Background(), newClient(t, nil, nil, s))

	// flags: what the libraries look at. The error must be a bare
	// *net.DNSError (type assertion, not errors.As).
	test := func(name string, wantNotFound, wantTemporary, wantTimeout bool, wantKind resolver.Kind) {
		t.Helper()
		_, err := a.LookupTXT(name)
		de, ok := err.(*net.DNSError)
		if !ok {
			t.Errorf("%s: error %T %v, want *net.DNSError", name, err, err)
			return
		}
		if de.IsNotFound != wantNotFound || de.IsTemporary != wantTemporary || de.IsTimeout != wantTimeout {
			t.Errorf("%s: IsNotFound %v IsTemporary %v IsTimeout %v, want %v %v %v",
				name, de.IsNotFound, de.IsTemporary, de.IsTimeout, wantNotFound, wantTemporary, wantTimeout)
		}
		// go-msgauth: err.(net.Error).Temporary().
		//lint:ignore SA1019 deprecated, but it is what go-msgauth calls
		if ne, ok := err.(net.Error); !ok || ne.Temporary() != (wantTemporary || wantTimeout) {
			t.Errorf("%s: net.Error Temporary() wrong", name)
		}
		if de.Name != name {
			t.Errorf("%s: DNSError.Name %q", name, de.Name)
		}
		// Our typed error is still reachable.
		var e *resolver.Error
		if !errors.As(err, &e) || e.Kind != wantKind {
			t.Errorf("%s: errors.As *resolver.Error: %v", name, e)
		}
	}
	test("nope.example", true, false, false, resolver.NXDOMAIN)
	test("mx1.example.", true, false, false, resolver.NoData)
	test("broken.example", false, true, false, resolver.Temporary)
	test("outside.test", false, true, false, resolver.Temporary) // REFUSED
	test("dropped.example", false, true, true, resolver.Temporary)
	test("formerr.example", false, false, false, resolver.Permanent)

	// A bare *net.DNSError from the other methods too.
	ctx := context.Background()
	for _, f := range []func() error{
		func() error { _, err := a.LookupIPAddr(ctx, "broken.example"); return err },
		func() error { _, err := a.LookupMX(ctx, "broken.example"); return err },
		func() error { _, err := a.LookupAddr(ctx, "198.51.100.1"); return err },
		func() error { _, err := a.LookupTXTCtx(ctx, "broken.example"); return err },
		func() error { _, err := a.NetResolver().LookupTXT(ctx, "broken.example"); return err },
	} {
		if de, ok := f().(*net.DNSError); !ok || !de.IsTemporary {
			t.Errorf("error %#v, want a temporary *net.DNSError", de)
		}
	}
	if _, err := a.LookupAddr(ctx, "not-an-ip"); err == nil {
		t.Error("LookupAddr(not-an-ip): no error")
	}
}

func TestNetAdapterAnswers(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithZone(testZone))
	a := &resolver.NetAdapter{R: newClient(t, nil, nil, s)} // nil Ctx: Background
	ctx := context.Background()

	test := func(what string, got any, err error, want string) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		} else if g := fmt.Sprint(got); g != want {
			t.Errorf("%s: %s, want %s", what, g, want)
		}
	}
	txt, err := a.LookupTXT("example") // relative: a dot is appended
	test("LookupTXT", txt, err, "[v=spf1 -all second]")
	ips, err := a.LookupIPAddr(ctx, "mx1.example")
	test("LookupIPAddr", ips, err, "[{192.0.2.25 } {2001:db8::25 }]")
	ips, err = a.LookupIPAddr(ctx, "192.0.2.1")
	test("LookupIPAddr literal", ips, err, "[{192.0.2.1 }]")
	mxs, err := a.LookupMX(ctx, "example.")
	test("LookupMX", fmtResult(mxs), err, "10 mx1.example., 20 mx2.example.")
	names, err := a.LookupAddr(ctx, "192.0.2.25")
	test("LookupAddr", names, err, "[mx1.example.]")
	names, err = a.NetResolver().LookupAddr(ctx, "2001:db8::25")
	test("NetResolver.LookupAddr", names, err, "[mx1.example.]")
	txt, err = a.NetResolver().LookupTXT(ctx, "txtonly.example")
	test("NetResolver.LookupTXT", txt, err, "[x]")

	// LookupTXT without ctx uses the adapter's: a canceled one makes a
	// temporary error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = resolver.NewNetAdapter(cctx, a.R).LookupTXT("mx2.example") // not cached
	if de, ok := err.(*net.DNSError); !ok || !de.IsTemporary {
		t.Errorf("canceled adapter ctx: %v", err)
	}
}
