package resolver

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Fake is a map-based Resolver for the smallest unit tests (in the spirit
// of mox's dns.MockResolver). Tests that care about the wire, caching or
// timeouts use internal/dnstest with a real Client instead.
//
// Map keys are absolute lower-case names, except PTR which is keyed by the
// IP address string ("192.0.2.1", "2001:db8::1"). A name found in no map
// is NXDOMAIN; a name found in another map only (or listed in NoData) is
// NODATA. CNAME entries are followed, up to 8 hops, by every lookup.
//
// Fail and Perm entries are "<type> <name>" with a lower-case type: "a",
// "aaaa", "mx", "txt", or "ptr <ip>"; they make that lookup Temporary or
// Permanent. LookupIP consults "a" and "aaaa" separately and merges like
// Client.
//
// Fake is safe for concurrent use as long as its fields are not modified.
type Fake struct {
	A     map[string][]string // IPv4 addresses as strings
	AAAA  map[string][]string // IPv6 addresses as strings
	MX    map[string][]*net.MX
	TXT   map[string][]string
	PTR   map[string][]string // keyed by IP string
	CNAME map[string]string   // name -> target

	NoData []string // names that exist without any record (empty non-terminals)
	Fail   []string // "<type> <name>": Temporary (a SERVFAIL)
	Perm   []string // "<type> <name>": Permanent (a FORMERR)

	// Latency delays every answer; a ctx that ends first wins.
	Latency time.Duration
}

var _ Resolver = (*Fake)(nil)

// LookupA implements Resolver.
func (f *Fake) LookupA(ctx context.Context, name string) ([]netip.Addr, error) {
	name, vals, err := f.lookup(ctx, name, dns.TypeA, func(n string) ([]string, bool) { v, ok := f.A[n]; return v, ok })
	if err != nil {
		return nil, err
	}
	return parseAddrs(name, dns.TypeA, vals)
}

// LookupAAAA implements Resolver.
func (f *Fake) LookupAAAA(ctx context.Context, name string) ([]netip.Addr, error) {
	name, vals, err := f.lookup(ctx, name, dns.TypeAAAA, func(n string) ([]string, bool) { v, ok := f.AAAA[n]; return v, ok })
	if err != nil {
		return nil, err
	}
	return parseAddrs(name, dns.TypeAAAA, vals)
}

// LookupIP implements Resolver.
func (f *Fake) LookupIP(ctx context.Context, name string) ([]netip.Addr, error) {
	a4, err4 := f.LookupA(ctx, name)
	a6, err6 := f.LookupAAAA(ctx, name)
	return mergeIP(a4, err4, a6, err6)
}

// LookupMX implements Resolver.
func (f *Fake) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	var found []*net.MX
	_, _, err := f.lookup(ctx, name, dns.TypeMX, func(n string) ([]string, bool) {
		mxs, ok := f.MX[n]
		found = mxs
		return make([]string, len(mxs)), ok
	})
	if err != nil {
		return nil, err
	}
	out := make([]*net.MX, len(found))
	for i, mx := range found {
		out[i] = &net.MX{Host: strings.ToLower(dns.Fqdn(mx.Host)), Pref: mx.Pref}
	}
	sortMX(out)
	return out, nil
}

// LookupTXT implements Resolver.
func (f *Fake) LookupTXT(ctx context.Context, name string) ([]string, error) {
	_, vals, err := f.lookup(ctx, name, dns.TypeTXT, func(n string) ([]string, bool) { v, ok := f.TXT[n]; return v, ok })
	if err != nil {
		return nil, err
	}
	return slices.Clone(vals), nil
}

// LookupPTR implements Resolver.
func (f *Fake) LookupPTR(ctx context.Context, addr netip.Addr) ([]string, error) {
	ip := addr.Unmap().WithZone("").String()
	rev, err := reverseName(addr)
	if err != nil {
		return nil, err
	}
	if err := f.wait(ctx, rev, dns.TypePTR); err != nil {
		return nil, err
	}
	if err := f.injected(rev, "ptr "+ip, dns.TypePTR); err != nil {
		return nil, err
	}
	names, ok := f.PTR[ip]
	if !ok {
		return nil, &Error{Name: rev, Qtype: dns.TypePTR, Kind: NXDOMAIN, Rcode: dns.RcodeNameError}
	}
	if len(names) == 0 {
		return nil, &Error{Name: rev, Qtype: dns.TypePTR, Kind: NoData, Rcode: dns.RcodeSuccess}
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToLower(dns.Fqdn(n))
	}
	return out, nil
}

// lookup checks the name, waits Latency, applies Fail/Perm, follows
// CNAMEs and classifies: get returns the values at a name and whether the
// name is in that type's map.
func (f *Fake) lookup(ctx context.Context, name string, qtype uint16, get func(string) ([]string, bool)) (string, []string, error) {
	orig, err := checkName(name, qtype)
	if err != nil {
		return "", nil, err
	}
	if err := f.wait(ctx, orig, qtype); err != nil {
		return "", nil, err
	}
	tname := strings.ToLower(dns.TypeToString[qtype])
	n := orig
	for hop := 0; ; hop++ {
		if err := f.injected(orig, tname+" "+n, qtype); err != nil {
			return "", nil, err
		}
		if vals, ok := get(n); ok && len(vals) > 0 {
			return n, vals, nil
		}
		target, ok := f.CNAME[n]
		if !ok {
			break
		}
		if hop >= maxCNAMEHops {
			return "", nil, &Error{Name: orig, Qtype: qtype, Kind: Permanent, Rcode: -1, Err: ErrCNAMEChain}
		}
		n = strings.ToLower(dns.Fqdn(target))
	}
	if f.exists(n) {
		return "", nil, &Error{Name: orig, Qtype: qtype, Kind: NoData, Rcode: dns.RcodeSuccess}
	}
	return "", nil, &Error{Name: orig, Qtype: qtype, Kind: NXDOMAIN, Rcode: dns.RcodeNameError}
}

func (f *Fake) wait(ctx context.Context, name string, qtype uint16) error {
	if err := ctx.Err(); err != nil {
		return &Error{Name: name, Qtype: qtype, Kind: Temporary, Rcode: -1, Err: err}
	}
	if f.Latency <= 0 {
		return nil
	}
	t := time.NewTimer(f.Latency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return &Error{Name: name, Qtype: qtype, Kind: Temporary, Rcode: -1, Err: ctx.Err()}
	}
}

func (f *Fake) injected(name, entry string, qtype uint16) error {
	if slices.Contains(f.Fail, entry) {
		return &Error{Name: name, Qtype: qtype, Kind: Temporary, Rcode: dns.RcodeServerFailure}
	}
	if slices.Contains(f.Perm, entry) {
		return &Error{Name: name, Qtype: qtype, Kind: Permanent, Rcode: dns.RcodeFormatError}
	}
	return nil
}

func (f *Fake) exists(name string) bool {
	_, a := f.A[name]
	_, aaaa := f.AAAA[name]
	_, mx := f.MX[name]
	_, txt := f.TXT[name]
	_, cname := f.CNAME[name]
	return a || aaaa || mx || txt || cname || slices.Contains(f.NoData, name)
}

func parseAddrs(name string, qtype uint16, vals []string) ([]netip.Addr, error) {
	out := make([]netip.Addr, 0, len(vals))
	for _, v := range vals {
		a, err := netip.ParseAddr(v)
		if err != nil {
			// A typo in a test table: make it loud rather than NODATA.
			return nil, &Error{Name: name, Qtype: qtype, Kind: Permanent, Rcode: -1, Err: err}
		}
		out = append(out, a)
	}
	return out, nil
}
