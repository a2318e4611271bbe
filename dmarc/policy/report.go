package policy

import (
	"context"
	"fmt"

	"github.com/mxguard/mxguard/resolver"
)

// ExternalReportsAccepted reports whether destDomain, the domain of a rua
// or ruf address outside policyDomain, accepts DMARC reports about
// policyDomain (RFC 7489 §7.1; RFC 9989 Appendix B.2.3 and the aggregate
// reporting specification, RFC 9990 §3): a DMARC record at
// <policyDomain>._report._dmarc.<destDomain>. Several records are fine, p
// is not needed. status is found, norecord, temperror or permerror; err
// is set unless found. In RFC 7489 mode a malformed record is a permerror
// (as mox); in RFC 9989 mode its faulty tags are ignored (§4.8).
func ExternalReportsAccepted(ctx context.Context, r resolver.Resolver, policyDomain, destDomain string, mode Mode) (accepted bool, status string, err error) {
	pd, err := normalize(policyDomain)
	if err != nil {
		return false, LookupPermerror, err
	}
	dd, err := normalize(destDomain)
	if err != nil {
		return false, LookupPermerror, err
	}
	name := pd + "._report._dmarc." + dd + "."
	txts, err := r.LookupTXT(ctx, name)
	switch {
	case err != nil && resolver.IsNotFound(err):
		return false, LookupNoRecord, fmt.Errorf("%w at %s", ErrNoRecord, name)
	case err != nil:
		return false, LookupTemperror, fmt.Errorf("%w: %w", ErrDNS, err)
	}
	n := 0
	for _, s := range txts {
		_, probs, ok := parse(s)
		if !ok {
			continue
		}
		if len(probs) > 0 && mode.effective() == ModeRFC7489 {
			return false, LookupPermerror, fmt.Errorf("%w at %s: %s", ErrSyntax, name, joinProblems(probs))
		}
		n++
	}
	if n == 0 {
		return false, LookupNoRecord, fmt.Errorf("%w at %s", ErrNoRecord, name)
	}
	return true, LookupFound, nil
}
