// Package resolver is the only way mxguard talks to DNS.
//
// It wraps a github.com/miekg/dns client with the servers from the
// configuration (default: /etc/resolv.conf), per-query timeouts and retries,
// TCP fallback on truncation, a TTL-honouring cache with negative caching
// (RFC 2308) and a size bound, and in-flight de-duplication.
//
// Results are typed: every failure is a *Error whose Kind separates
// NXDOMAIN, NODATA (NOERROR with an empty answer), temporary failures
// (SERVFAIL, REFUSED, timeouts, network errors) and permanent ones
// (FORMERR, NOTIMP, malformed answers). The classification follows
// coredns' plugin/pkg/response/typify.go: NXDOMAIN is terminal, an empty
// NOERROR answer is NODATA, and anything that might succeed later is
// Temporary.
//
// All names must be absolute (end in a dot): the search list is never used
// (see ErrRelativeName). Names are checked against the limits of RFC 1035
// §2.3.4 (labels of 63 octets, names of 255) before anything is sent.
//
// References:
//
//   - RFC 1035 (https://www.rfc-editor.org/rfc/rfc1035): the message
//     format, UDP with TCP on truncation (§4.2), name limits.
//   - RFC 2308 (https://www.rfc-editor.org/rfc/rfc2308): negative caching;
//     NXDOMAIN and NODATA are cached for min(SOA TTL, SOA MINIMUM) from the
//     authority section (§5), capped by Config.MaxTTL.
//   - RFC 7505 (https://www.rfc-editor.org/rfc/rfc7505): null MX; LookupMX
//     returns it as a single {Host: ".", Pref: 0}, see IsNullMX.
//   - RFC 6891: EDNS(0), we advertise 4096 octets.
//
// What others do / what we do. net.Resolver has no cache and reports
// NXDOMAIN and NODATA alike as IsNotFound; a local caching recursive
// resolver is the usual answer to the first. A milter asks the same few
// names (the big senders' SPF, DKIM keys, DMARC, DNSBL zones) thousands of
// times an hour, so we cache in-process with an LRU bound and share
// in-flight queries, and keep the NXDOMAIN/NODATA distinction for the checks
// that need it (iprev, null MX, DNSBL).
//
// The Client is for production; Fake is a map for the smallest unit tests;
// NetAdapter gives third-party libraries the *net.DNSError they expect.
// Tests that care about the wire use internal/dnstest, a real authoritative
// server on loopback.
package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// Resolver is what checks use to look names up. Every method takes an
// absolute name (ending in ".") and returns either a non-empty answer or a
// *Error (NXDOMAIN, NoData, Temporary, Permanent). CNAMEs are followed.
type Resolver interface {
	// LookupA returns the IPv4 addresses of name.
	LookupA(ctx context.Context, name string) ([]netip.Addr, error)
	// LookupAAAA returns the IPv6 addresses of name.
	LookupAAAA(ctx context.Context, name string) ([]netip.Addr, error)
	// LookupIP returns the A and AAAA addresses of name, queried in
	// parallel. It returns NoData only when both are empty, NXDOMAIN when the
	// name does not exist, and Temporary when either query failed
	// temporarily and the other found nothing.
	LookupIP(ctx context.Context, name string) ([]netip.Addr, error)
	// LookupMX returns the MX records of name, sorted by preference. A null
	// MX (RFC 7505: one record, preference 0, host ".") is returned as such.
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	// LookupTXT returns the TXT records of name, each record's strings
	// concatenated (RFC 7208 §3.3).
	LookupTXT(ctx context.Context, name string) ([]string, error)
	// LookupPTR returns the PTR names (absolute, lower case) of addr.
	LookupPTR(ctx context.Context, addr netip.Addr) ([]string, error)
}

// Kind classifies a lookup failure.
type Kind int

const (
	// NXDOMAIN: the name does not exist (rcode 3). Terminal.
	NXDOMAIN Kind = iota + 1
	// NoData: the name exists but has no record of the asked type.
	NoData
	// Temporary: SERVFAIL, REFUSED, timeout, network error: try again later.
	Temporary
	// Permanent: FORMERR, NOTIMP, an invalid name, a malformed answer.
	Permanent
)

func (k Kind) String() string {
	switch k {
	case NXDOMAIN:
		return "NXDOMAIN"
	case NoData:
		return "NODATA"
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is the error type of every failed lookup.
type Error struct {
	Name  string // the absolute name asked
	Qtype uint16 // dns.TypeA, ...
	Kind  Kind
	Rcode int   // the DNS rcode when an answer came, else -1
	Err   error // the underlying cause (timeout, network), may be nil
}

func (e *Error) Error() string {
	s := fmt.Sprintf("dns %s %s: %s", dns.TypeToString[e.Qtype], e.Name, e.Kind)
	if e.Rcode >= 0 && e.Kind != NoData {
		s += " (" + dns.RcodeToString[e.Rcode] + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Sentinel causes, found in Error.Err and matched with errors.Is.
var (
	// ErrRelativeName is returned (wrapped in a Permanent *Error) for a
	// name that does not end in a dot.
	ErrRelativeName = errors.New("resolver: relative name")
	// ErrInvalidName: a label longer than 63 octets, a name longer than 255
	// octets, an empty label (RFC 1035 §2.3.4). Permanent.
	ErrInvalidName = errors.New("resolver: invalid name")
	// ErrTimeout: no server answered within the per-attempt timeout, on any
	// attempt. Temporary.
	ErrTimeout = errors.New("resolver: timeout")
	// ErrCNAMEChain: more CNAMEs than we follow (a loop, most likely).
	// Permanent.
	ErrCNAMEChain = errors.New("resolver: CNAME chain too long")
	// ErrMalformed: an answer that does not answer our question. Temporary
	// when it came from the network (it may be spoofed or misrouted), the
	// next server is tried.
	ErrMalformed = errors.New("resolver: malformed answer")
	// ErrNoServers: the configuration and resolv.conf name no server.
	ErrNoServers = errors.New("resolver: no name servers")
)

func kindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if err != nil {
		return Temporary
	}
	return 0
}

// IsNotFound reports whether err says the answer is definitively empty
// (NXDOMAIN or NoData).
func IsNotFound(err error) bool { k := kindOf(err); return k == NXDOMAIN || k == NoData }

// IsNXDOMAIN reports whether err says the name does not exist.
func IsNXDOMAIN(err error) bool { return kindOf(err) == NXDOMAIN }

// IsNoData reports whether err says the name exists without such records.
func IsNoData(err error) bool { return kindOf(err) == NoData }

// IsTemporary reports whether err is a failure that may succeed later.
// A non-nil error that is not a *Error (for example a context deadline) is
// temporary.
func IsTemporary(err error) bool { return kindOf(err) == Temporary }

// IsNullMX reports whether mxs is a null MX (RFC 7505 §3).
func IsNullMX(mxs []*net.MX) bool {
	return len(mxs) == 1 && mxs[0].Pref == 0 && (mxs[0].Host == "." || mxs[0].Host == "")
}
