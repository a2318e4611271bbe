package dnsbl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/syntax"
	"github.com/mxguard/mxguard/resolver"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrDNS: the A lookup failed (SERVFAIL, timeout, ...). Temporary;
	// Postfix counts it as "not listed" for a blocklist and defers a
	// later reject for an allowlist.
	ErrDNS = errors.New("dnsbl: dns lookup")
	// ErrRefused: the list answered with a refusal code (127.255.255.0/24,
	// Spamhaus' "query via public resolver", "excessive queries", "typo in
	// zone") or with an address outside 127.0.0.0/8. Never a listing.
	ErrRefused = errors.New("dnsbl: the list refused the query")
	// ErrQueryName: the query name would be invalid or longer than 253
	// characters. Nothing is asked; the target counts as not listed.
	ErrQueryName = errors.New("dnsbl: invalid query name")
)

// RefusedHint is appended to every refusal: the usual cause is a public
// or shared resolver (8.8.8.8, 1.1.1.1, an ISP's), which the big lists
// block.
const RefusedHint = "use a local recursive resolver, not a public one"

// maxNameLen is the longest domain name in text form without the final
// dot: 255 octets on the wire (RFC 1035 §2.3.4) less the length octets.
const maxNameLen = 253

// txtLimit is RBL_TXT_LIMIT of Postfix's smtpd_check.c rbl_pagein: the
// TXT records of a listing are joined with " / " up to 500 bytes.
const txtLimit = 500

// Target is what is looked up: a client address for an IP list (RBL,
// DNSWL) or a host or domain name for a domain list (RHSBL, RHSWL).
type Target struct {
	Addr   netip.Addr
	Domain string
}

// AddrTarget returns the Target for an address.
func AddrTarget(a netip.Addr) Target { return Target{Addr: a} }

// DomainTarget returns the Target for a host or domain name.
func DomainTarget(d string) Target { return Target{Domain: d} }

// String is the target as shown in results: the address or the name.
func (t Target) String() string {
	if t.Addr.IsValid() {
		return t.Addr.Unmap().WithZone("").String()
	}
	return t.Domain
}

// QueryName returns the absolute name to ask for t in zone, as RFC 5782
// §2.1 and §2.4 say and Postfix does (smtpd_check.c find_dnsxl_addr,
// find_dnsxl_domain):
//
//   - IPv4: the four octets reversed: 192.0.2.1 in zen.example is
//     1.2.0.192.zen.example.; an IPv4-mapped IPv6 address is IPv4.
//   - IPv6: the 32 nibbles reversed, lower-case hex (RFC 5782 §2.4):
//     2001:db8::1 is 1.0.0.0.(24 more).8.b.d.0.1.0.0.2.zen.example.
//   - A name: lower case, one trailing dot removed, a non-ASCII name in
//     its A-label form, prepended to the zone. Postfix skips, and so do
//     we, a name that is not a valid host name (valid_hostname) or whose
//     last label is numeric (some lists refuse "IP queries"). An
//     address literal ("[192.0.2.1]") is not a host name.
//
// The error wraps ErrQueryName when nothing should be asked: a skipped
// name, or a query longer than 253 characters.
func QueryName(zone string, t Target) (string, error) {
	var b strings.Builder
	switch {
	case t.Addr.IsValid():
		a := t.Addr.Unmap()
		if a.Is4() {
			o := a.As4()
			for i := 3; i >= 0; i-- {
				b.WriteString(strconv.Itoa(int(o[i])))
				b.WriteByte('.')
			}
		} else {
			const hex = "0123456789abcdef"
			o := a.As16()
			for i := 15; i >= 0; i-- {
				b.WriteByte(hex[o[i]&0xf])
				b.WriteByte('.')
				b.WriteByte(hex[o[i]>>4])
				b.WriteByte('.')
			}
		}
	case t.Domain != "":
		d, err := domainLabel(t.Domain)
		if err != nil {
			return "", err
		}
		b.WriteString(d)
		b.WriteByte('.')
	default:
		return "", fmt.Errorf("%w: nothing to look up", ErrQueryName)
	}
	b.WriteString(zone)
	if b.Len() > maxNameLen {
		return "", fmt.Errorf("%w: query name of %d characters, longer than %d", ErrQueryName, b.Len(), maxNameLen)
	}
	b.WriteByte('.')
	return b.String(), nil
}

// domainLabel prepares a name for a domain list, or says why it is
// skipped.
func domainLabel(d string) (string, error) {
	d = strings.ToLower(syntax.StripTrailingDot(d))
	if !isASCII(d) {
		a, ok := syntax.ToASCII(d)
		if !ok {
			return "", fmt.Errorf("%w: %q has no A-label form", ErrQueryName, d)
		}
		d = a
	}
	if !syntax.ValidHostname(d) {
		return "", fmt.Errorf("%w: %q is not a valid host name", ErrQueryName, d)
	}
	last := d[strings.LastIndexByte(d, '.')+1:]
	if allDigitsDots(last) {
		return "", fmt.Errorf("%w: %q ends in a numeric label", ErrQueryName, d)
	}
	return d, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Result is the outcome of one list lookup.
type Result struct {
	// Listed is true when an answer is inside the list's filter.
	Listed bool
	// Codes are the answers inside the filter (the listing's return
	// codes), in the order received.
	Codes []netip.Addr
	// Answers are all the A records received.
	Answers []netip.Addr
	// TXT is the listing's TXT records joined with " / " (at most 500
	// bytes, as Postfix does), for $rbl_reason; fetched only when listed.
	// With a public name set, the zone and key-like labels are removed.
	TXT string
	// Status is always set: fail when listed, pass when not listed
	// (NXDOMAIN, NODATA, or only answers outside the filter), none when
	// nothing was asked (no target, a name Postfix would not look up, a
	// query name too long, an unhealthy list), temperror when the lookup
	// failed, permerror when the list refused the query.
	Status checks.Status
	// Reason explains Status for the log, with the list's public name.
	Reason string
	// Err is set for temperror (wraps ErrDNS), permerror (ErrRefused)
	// and a skipped query (ErrQueryName). It never contains a zone that
	// has a public name.
	Err error
}

// Lookup asks spec's zone about t and fetches the TXT records of a
// listing.
//
// The classification (RFC 5782 §2.3; Postfix's rbl_pagein and
// rbl_match_addr):
//
//   - NXDOMAIN or NODATA: not listed (pass).
//   - A lookup error (SERVFAIL, REFUSED, timeout, malformed answer):
//     temperror, wrapping ErrDNS.
//   - Any answer in 127.255.255.0/24 or outside 127.0.0.0/8: permerror,
//     wrapping ErrRefused, never a listing, whatever the filter. Spamhaus
//     answers 127.255.255.254 to queries through public resolvers and
//     127.255.255.255 to excessive ones; other lists answer with
//     addresses that are not listings at all.
//   - Otherwise the answers inside the filter are the listing codes:
//     listed (fail) when there is one, pass when every answer is
//     outside the filter.
//
// The returned Status is always set; for temperror and permerror an error
// is also returned in Result.Err.
func Lookup(ctx context.Context, r resolver.Resolver, spec Spec, t Target) Result {
	q, err := QueryName(spec.Zone, t)
	if err != nil {
		return skipped(spec, t, err)
	}
	addrs, err := r.LookupA(ctx, q)
	res := classify(spec, t, addrs, err)
	if res.Listed {
		res.TXT = spec.redact(joinTXT(r.LookupTXT(ctx, q)))
	}
	return res
}

func skipped(spec Spec, t Target, err error) Result {
	return Result{Status: checks.StatusNone, Err: err,
		Reason: fmt.Sprintf("%s not looked up in %s: %v", t, spec.Display(), spec.redact(err.Error()))}
}

// classify turns an A lookup into a Result. Temp vs perm is decided here,
// next to the lookup, and only here.
func classify(spec Spec, t Target, addrs []netip.Addr, err error) Result {
	name := spec.Display()
	switch {
	case err != nil && resolver.IsNotFound(err):
		return Result{Status: checks.StatusPass, Reason: fmt.Sprintf("%s not listed in %s", t, name)}
	case err != nil:
		// Postfix counts every answer but OK and NOTFOUND as an "RBL
		// lookup error", FORMERR and NOTIMP included.
		return Result{Status: checks.StatusTemperror, Err: fmt.Errorf("%w: %w", ErrDNS, spec.redactErr(err)),
			Reason: fmt.Sprintf("lookup of %s in %s failed: %v", t, name, spec.redact(err.Error()))}
	}
	res := Result{Answers: addrs}
	for _, a := range addrs {
		a = a.Unmap()
		if !a.Is4() || !loopback8.Contains(a) || refused24.Contains(a) {
			res.Status = checks.StatusPermerror
			res.Err = fmt.Errorf("%w: answer %s for %s: %s", ErrRefused, a, name, RefusedHint)
			res.Reason = fmt.Sprintf("%s refused the query for %s (answer %s%s): %s", name, t, a, refusalMeaning(a), RefusedHint)
			return res
		}
	}
	for _, a := range addrs {
		if spec.Filter.Match(a) {
			res.Codes = append(res.Codes, a.Unmap())
		}
	}
	if len(res.Codes) == 0 {
		res.Status = checks.StatusPass
		res.Reason = fmt.Sprintf("%s not listed in %s (answer %s outside the filter %s)", t, name, joinAddrs(addrs), spec.Filter)
		return res
	}
	res.Listed, res.Status = true, checks.StatusFail
	res.Reason = fmt.Sprintf("%s listed in %s (%s)", t, name, joinAddrs(res.Codes))
	return res
}

// refusalMeaning names Spamhaus' documented error codes.
func refusalMeaning(a netip.Addr) string {
	switch a {
	case netip.AddrFrom4([4]byte{127, 255, 255, 252}):
		return ": typo in the zone name"
	case netip.AddrFrom4([4]byte{127, 255, 255, 254}):
		return ": query via a public or open resolver"
	case netip.AddrFrom4([4]byte{127, 255, 255, 255}):
		return ": excessive number of queries"
	}
	return ""
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.Unmap().String()
	}
	return strings.Join(s, ",")
}

// joinTXT joins TXT records as Postfix's rbl_pagein does: " / " between
// records, at most 500 bytes. A failed TXT lookup gives "".
func joinTXT(txts []string, err error) string {
	if err != nil {
		return ""
	}
	var b strings.Builder
	for i, t := range txts {
		left := txtLimit - b.Len()
		if left <= 0 {
			break
		}
		if len(t) > left {
			t = t[:left]
		}
		b.WriteString(t)
		if i+1 < len(txts) && txtLimit-b.Len() > 3 {
			b.WriteString(" / ")
		}
	}
	return b.String()
}

// redactErr returns err with the zone replaced by the public name.
// A *resolver.Error is copied with its Name redacted, so that errors.As
// and the resolver predicates keep working on the result.
func (s Spec) redactErr(err error) error {
	if s.Name == "" || err == nil {
		return err
	}
	if re, ok := err.(*resolver.Error); ok {
		c := *re
		c.Name = s.redact(c.Name)
		if c.Err != nil && s.redact(c.Err.Error()) != c.Err.Error() {
			c.Err = errors.New(s.redact(c.Err.Error()))
		}
		return &c
	}
	return errors.New(s.redact(err.Error()))
}
