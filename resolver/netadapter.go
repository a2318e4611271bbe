package resolver

import (
	"context"
	"errors"
	"net"
	"net/netip"
)

// NetAdapter gives a Resolver the method shapes of net.Resolver and of the
// lookup hooks of third-party libraries:
//
//   - go-msgauth's dkim.VerifyOptions.LookupTXT and
//     dmarc.LookupOptions.LookupTXT take func(domain string) ([]string, error)
//     without a context: use the method value a.LookupTXT, which closes over
//     Ctx.
//   - blitiri.com.ar/go/spf's DNSResolver wants LookupTXT(ctx, name) next to
//     LookupMX, LookupIPAddr and LookupAddr: use a.NetResolver().
//
// Names may be relative (a dot is appended: the libraries pass domains as
// written in mail). Errors are always a bare *net.DNSError, never wrapped,
// because both libraries test them by type assertion (err.(*net.DNSError),
// err.(net.Error).Temporary()) rather than errors.As: a wrapped SERVFAIL
// would turn into a permanent failure. The *Error stays reachable through
// DNSError.Unwrap, so errors.As and the Is* predicates still work.
type NetAdapter struct {
	R Resolver
	// Ctx is used by LookupTXT(name), which has no ctx parameter. Nil means
	// context.Background(); set it to the per-message context so the
	// library's lookups end with the message's deadline.
	Ctx context.Context
}

// NewNetAdapter returns a NetAdapter whose context-less LookupTXT uses ctx.
func NewNetAdapter(ctx context.Context, r Resolver) *NetAdapter {
	return &NetAdapter{R: r, Ctx: ctx}
}

// LookupTXT is the go-msgauth shape: func(domain string) ([]string, error).
func (a *NetAdapter) LookupTXT(name string) ([]string, error) {
	ctx := a.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	return a.LookupTXTCtx(ctx, name)
}

// LookupTXTCtx is LookupTXT with an explicit context.
func (a *NetAdapter) LookupTXTCtx(ctx context.Context, name string) ([]string, error) {
	txts, err := a.R.LookupTXT(ctx, absolute(name))
	return txts, netError(err, name)
}

// LookupIPAddr is net.Resolver.LookupIPAddr. An IP literal is returned as
// is, as net.Resolver does.
func (a *NetAdapter) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []net.IPAddr{{IP: ip.AsSlice(), Zone: ip.Zone()}}, nil
	}
	ips, err := a.R.LookupIP(ctx, absolute(host))
	if err != nil {
		return nil, netError(err, host)
	}
	out := make([]net.IPAddr, len(ips))
	for i, ip := range ips {
		out[i] = net.IPAddr{IP: ip.AsSlice(), Zone: ip.Zone()}
	}
	return out, nil
}

// LookupMX is net.Resolver.LookupMX: hosts are absolute, sorted by
// preference.
func (a *NetAdapter) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, err := a.R.LookupMX(ctx, absolute(name))
	return mxs, netError(err, name)
}

// LookupAddr is net.Resolver.LookupAddr: the PTR names of an IP address
// given as a string, absolute.
func (a *NetAdapter) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "unrecognized address", Name: addr}
	}
	names, err := a.R.LookupPTR(ctx, ip)
	return names, netError(err, addr)
}

// NetResolver returns the all-context view of a, for libraries that want
// LookupTXT(ctx, name) (blitiri.com.ar/go/spf's DNSResolver).
func (a *NetAdapter) NetResolver() NetResolver { return NetResolver{a: a} }

// NetResolver has exactly the method set of *net.Resolver that mail
// libraries use. Errors are bare *net.DNSError as for NetAdapter.
type NetResolver struct{ a *NetAdapter }

// LookupTXT is net.Resolver.LookupTXT.
func (r NetResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return r.a.LookupTXTCtx(ctx, name)
}

// LookupIPAddr is net.Resolver.LookupIPAddr.
func (r NetResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	return r.a.LookupIPAddr(ctx, host)
}

// LookupMX is net.Resolver.LookupMX.
func (r NetResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return r.a.LookupMX(ctx, name)
}

// LookupAddr is net.Resolver.LookupAddr.
func (r NetResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return r.a.LookupAddr(ctx, addr)
}

func absolute(name string) string {
	if name == "" || isAbsolute(name) {
		return name
	}
	return name + "."
}

// netError converts err into the *net.DNSError the libraries expect:
// IsNotFound for NXDOMAIN and NODATA (as the net package reports both),
// IsTemporary for Temporary, IsTimeout as well when no answer came in
// time. A Permanent error has no flag set. It returns a nil error for a nil
// err, typed as the interface, never a typed nil.
func netError(err error, name string) error {
	if err == nil {
		return nil
	}
	de := &net.DNSError{UnwrapErr: err, Err: err.Error(), Name: name}
	var e *Error
	if errors.As(err, &e) {
		switch e.Kind {
		case NXDOMAIN, NoData:
			de.IsNotFound = true
		case Temporary:
			de.IsTemporary = true
		}
	} else {
		// Not ours (a Resolver implementation returning a plain error):
		// treat as temporary, as kindOf does.
		de.IsTemporary = true
	}
	if errors.Is(err, ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		de.IsTimeout = true
		de.IsTemporary = true
	}
	return de
}
