package policy

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/mxguard/mxguard/resolver"
)

// Mode is the specification followed.
type Mode string

const (
	// ModeRFC9989 is DMARCbis: the organizational domain by the DNS Tree
	// Walk, np=, psd=, t=. The default.
	ModeRFC9989 Mode = "rfc9989"
	// ModeRFC7489 is the original DMARC: the organizational domain by the
	// Public Suffix List, pct=.
	ModeRFC7489 Mode = "rfc7489"
)

// ParseMode checks a configured mode; "" is ModeRFC9989.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", ModeRFC9989:
		return ModeRFC9989, nil
	case ModeRFC7489:
		return ModeRFC7489, nil
	}
	return "", fmt.Errorf("dmarc: unknown mode %q (rfc9989 or rfc7489)", s)
}

// effective is the mode applied: anything but ModeRFC7489 is
// ModeRFC9989 (the configuration validates the word).
func (m Mode) effective() Mode {
	if m == ModeRFC7489 {
		return m
	}
	return ModeRFC9989
}

// Options are the parameters of Evaluate (and of Discover and OrgDomain
// as methods).
type Options struct {
	Mode Mode
	// Rand returns a number from 0 to 99 for the RFC 7489 pct sampling; a
	// message is in the sample when Rand() < pct. nil: math/rand/v2.
	Rand func() int
	// PSL is the public suffix list of RFC 7489 mode. nil:
	// golang.org/x/net/publicsuffix.
	PSL SuffixList
	// Log gets one debug line per Evaluate. nil: no logging.
	Log *slog.Logger
}

// Lookup statuses.
const (
	LookupFound     = "found"
	LookupNoRecord  = "norecord"
	LookupTemperror = "temperror"
	LookupPermerror = "permerror"
)

// Lookup is the outcome of policy discovery. Status is always set; Err
// is set for every status but found (for norecord it wraps ErrNoRecord or
// ErrMultipleRecords).
type Lookup struct {
	Status string // found, norecord, temperror, permerror
	// PolicyDomain is the domain of the record that applies; for norecord
	// the From domain; for temperror the domain whose lookup failed; for
	// permerror the domain of the broken record (or the From domain).
	PolicyDomain string
	// OrgDomain is the From domain's organizational domain (the From
	// domain itself when RFC 7489's list has none for it). Empty when the
	// lookup failed before it was known.
	OrgDomain string
	// Record is the record that applies, as applied: in RFC 9989 mode
	// with the faulty tags dropped; a record without a valid policy but
	// with a valid rua reads p=none (RFC 9989 §4.10.1, RFC 7489 §6.6.3).
	// nil unless found.
	Record *Record
	Err    error
}

// Discover finds the DMARC record that applies to mail from fromDomain
// (RFC 9989 §4.10.1; RFC 7489 §6.6.3). The returned status is always set.
func Discover(ctx context.Context, r resolver.Resolver, fromDomain string, mode Mode) Lookup {
	return Options{Mode: mode}.Discover(ctx, r, fromDomain)
}

// Discover is Discover with o's mode and public suffix list.
func (o Options) Discover(ctx context.Context, r resolver.Resolver, fromDomain string) Lookup {
	from, err := normalize(fromDomain)
	if err != nil {
		return Lookup{Status: LookupPermerror, PolicyDomain: fromDomain, Err: err}
	}
	return newWalker(r, o).discover(ctx, from)
}

// OrgDomain returns the organizational domain of domain: by the DNS Tree
// Walk in RFC 9989 mode (§4.10.2; a temporary DNS failure is an error
// wrapping ErrDNS); by the Public Suffix List in RFC 7489 mode (§3.2; a
// public suffix has none: ErrPublicSuffix). An invalid name wraps
// ErrInvalidDomain. r is not used in RFC 7489 mode.
func OrgDomain(ctx context.Context, r resolver.Resolver, domain string, mode Mode) (string, error) {
	return Options{Mode: mode}.OrgDomain(ctx, r, domain)
}

// OrgDomain is OrgDomain with o's mode and public suffix list.
func (o Options) OrgDomain(ctx context.Context, r resolver.Resolver, domain string) (string, error) {
	d, err := normalize(domain)
	if err != nil {
		return "", err
	}
	w := newWalker(r, o)
	if w.mode == ModeRFC7489 {
		od, err := w.psl.EffectiveTLDPlusOne(d)
		if err != nil {
			return "", fmt.Errorf("%w: %s: %v", ErrPublicSuffix, d, err)
		}
		return od, nil
	}
	return w.orgDomain(ctx, d)
}

// discover runs policy discovery for a normalized From domain.
func (w *walker) discover(ctx context.Context, from string) Lookup {
	if w.mode == ModeRFC7489 {
		return w.discover7489(ctx, from)
	}
	return w.discover9989(ctx, from)
}

// discover9989: RFC 9989 §4.10.1. The record at the Author Domain, else
// the DNS Tree Walk gives the Organizational Domain (§4.10.2), whose
// record applies, else the Public Suffix Domain's (the psd=y record that
// ended the walk). The walk goes on past an Author Domain record, for the
// Organizational Domain that relaxed alignment needs; walkNames keeps
// the queries within 8.
func (w *walker) discover9989(ctx context.Context, from string) Lookup {
	found, err := w.walk(ctx, from)
	if err != nil {
		failed := from
		for _, n := range walkNames(from) {
			if w.txt[n].err != nil {
				failed = n
				break
			}
		}
		return Lookup{Status: LookupTemperror, PolicyDomain: failed, Err: err}
	}
	org := w.selectOrg(from, found)
	w.orgs[from] = org
	var pd string
	switch {
	case w.txt[from].single():
		pd = from
	case slices.Contains(found, org):
		pd = org
	case len(found) > 0 && w.txt[found[len(found)-1]].rec.PSD == "y":
		pd = found[len(found)-1]
	default:
		lk := Lookup{Status: LookupNoRecord, PolicyDomain: from, OrgDomain: org, Err: ErrNoRecord}
		if w.txt[from].n > 1 {
			lk.Err = fmt.Errorf("%w at _dmarc.%s (discarded)", ErrMultipleRecords, from)
		}
		return lk
	}
	lk := w.apply(pd)
	lk.OrgDomain = org
	return lk
}

// discover7489: RFC 7489 §6.6.3. _dmarc.<From domain>, and only when no
// DMARC record is there _dmarc.<organizational domain> (steps 1-4);
// several records end discovery (step 5).
func (w *walker) discover7489(ctx context.Context, from string) Lookup {
	org, err := w.orgDomain(ctx, from)
	if err != nil {
		return Lookup{Status: LookupTemperror, PolicyDomain: from, Err: err} // not reached: no DNS in RFC 7489 mode
	}
	pd := from
	t := w.at(ctx, from)
	if t.err == nil && t.n == 0 && org != from {
		pd = org
		t = w.at(ctx, org)
	}
	switch {
	case t.err != nil:
		return Lookup{Status: LookupTemperror, PolicyDomain: pd, OrgDomain: org, Err: t.err}
	case t.n > 1:
		return Lookup{Status: LookupNoRecord, PolicyDomain: from, OrgDomain: org,
			Err: fmt.Errorf("%w at _dmarc.%s", ErrMultipleRecords, pd)}
	case t.n == 0:
		return Lookup{Status: LookupNoRecord, PolicyDomain: from, OrgDomain: org, Err: ErrNoRecord}
	}
	lk := w.apply(pd)
	lk.OrgDomain = org
	return lk
}

// apply turns the single record at pd into the record that applies, by
// the mode's syntax rules.
func (w *walker) apply(pd string) Lookup {
	t := w.txt[pd]
	rec := *t.rec
	rec.RUA, rec.RUF = slices.Clone(rec.RUA), slices.Clone(rec.RUF)
	var fatal, policy []problem
	for _, p := range t.probs {
		switch {
		case w.mode == ModeRFC7489 && (p.tag == "np" || p.tag == "psd" || p.tag == "t"):
			// Unknown tags in RFC 7489.
		case p.tag == "p" || p.tag == "sp" || p.tag == "np":
			policy = append(policy, p)
		case w.mode == ModeRFC7489:
			fatal = append(fatal, p)
		}
		if w.mode == ModeRFC9989 {
			// RFC 9989 §4.8: discarded in favour of the defaults.
			rec.Ignored = append(rec.Ignored, p.String())
		}
	}
	if w.mode == ModeRFC7489 {
		rec.NonexistentPolicy, rec.PSD, rec.Testing = "", "u", false
	}
	if len(fatal) > 0 {
		// RFC 7489 §6.3 says SHOULD discard; we follow mox (and the
		// conformance cases): a malformed record is a permerror.
		return Lookup{Status: LookupPermerror, PolicyDomain: pd,
			Err: fmt.Errorf("%w at _dmarc.%s: %s", ErrSyntax, pd, joinProblems(fatal))}
	}
	if rec.Policy == "" || len(policy) > 0 {
		why := "no p tag"
		if len(policy) > 0 {
			why = joinProblems(policy)
		}
		// RFC 9989 §4.10.1, RFC 7489 §6.6.3 step 6.
		if len(rec.RUA) == 0 {
			return Lookup{Status: LookupPermerror, PolicyDomain: pd,
				Err: fmt.Errorf("%w at _dmarc.%s: %s, and no valid rua", ErrNoPolicy, pd, why)}
		}
		rec.Policy, rec.SubdomainPolicy, rec.NonexistentPolicy = PolicyNone, "", ""
		rec.Ignored = append(rec.Ignored, "p=none applied for want of a valid policy (rua is valid)")
	}
	return Lookup{Status: LookupFound, PolicyDomain: pd, Record: &rec}
}
