package checks

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/mxguard/mxguard/checks/syntax"
	"github.com/mxguard/mxguard/resolver"
)

// DNSStatus is a lookup's outcome in Postfix's terms (src/dns/dns.h),
// ordered so that when several record types are asked the best one wins,
// as in dns_lookup_rl: OK > RETRY > INVAL > FAIL > NULLMX > NOTFOUND.
type DNSStatus int

const (
	DNSNotFound DNSStatus = iota // NXDOMAIN or NODATA
	DNSNullMX                    // an MX whose target is "." (RFC 7505)
	DNSFail                      // a permanent failure (FORMERR, NOTIMP, malformed)
	DNSInval                     // every MX target is not a valid host name
	DNSRetry                     // a temporary failure (SERVFAIL, REFUSED, timeout)
	DNSOK                        // at least one usable record
)

var dnsStatusNames = [...]string{"NOTFOUND", "NULLMX", "FAIL", "INVAL", "RETRY", "OK"}

func (s DNSStatus) String() string { return dnsStatusNames[s] }

func errStatus(err error) DNSStatus {
	switch {
	case resolver.IsTemporary(err):
		return DNSRetry
	case resolver.IsNotFound(err):
		return DNSNotFound
	}
	return DNSFail
}

// AddrStatus classifies an A or AAAA lookup.
func AddrStatus(addrs []netip.Addr, err error) DNSStatus {
	if err == nil && len(addrs) > 0 {
		return DNSOK
	}
	if err == nil {
		return DNSNotFound
	}
	return errStatus(err)
}

// MXStatus classifies an MX lookup as Postfix does: any "." target makes it
// a null MX, even beside other records; targets that are not valid host
// names (numeric ones are fine) are skipped, and when none is left the
// answer is malformed (DNS_INVAL). MX targets are not resolved.
func MXStatus(mxs []*net.MX, err error) DNSStatus {
	if err != nil {
		return errStatus(err)
	}
	if len(mxs) == 0 {
		return DNSNotFound
	}
	valid := 0
	for _, m := range mxs {
		h := strings.TrimSuffix(m.Host, ".")
		if h == "" {
			return DNSNullMX
		}
		if syntax.ValidHostname(h) || syntax.ValidHostAddr(h) {
			valid++
		}
	}
	if valid == 0 {
		return DNSInval
	}
	return DNSOK
}

// HostStatuses asks the A, AAAA and MX records of the absolute name fqdn
// in parallel and returns each lookup's status and error, in that order.
func HostStatuses(ctx context.Context, r resolver.Resolver, fqdn string) (st [3]DNSStatus, errs [3]error) {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		a, err := r.LookupA(ctx, fqdn)
		st[0], errs[0] = AddrStatus(a, err), err
	}()
	go func() {
		defer wg.Done()
		a, err := r.LookupAAAA(ctx, fqdn)
		st[1], errs[1] = AddrStatus(a, err), err
	}()
	go func() {
		defer wg.Done()
		m, err := r.LookupMX(ctx, fqdn)
		st[2], errs[2] = MXStatus(m, err), err
	}()
	wg.Wait()
	return st, errs
}

// Best returns the best of several statuses (Postfix's dns_lookup_rl
// ranking) and the error that came with it.
func Best(st []DNSStatus, errs []error) (DNSStatus, error) {
	best := 0
	for i := range st {
		if st[i] > st[best] {
			best = i
		}
	}
	return st[best], errs[best]
}
