package policy

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/mxguard/mxguard/resolver"
)

// DMARC statuses (RFC 9989 §9.2, RFC 8601 dmarc= results).
const (
	StatusPass      = "pass"
	StatusFail      = "fail"
	StatusNone      = "none"
	StatusTemperror = "temperror"
	StatusPermerror = "permerror"
)

// AuthResult is one verified identifier: an SPF result with the domain
// SPF checked (the MAIL FROM domain, or the HELO domain for a null
// sender: RFC 9989 §3.2.4), or a DKIM signature's result and d= domain.
// Result words are those of RFC 8601 (pass, fail, temperror, ...),
// compared case-insensitively.
type AuthResult struct {
	Result, Domain string
}

// Input is what Evaluate needs from the message.
type Input struct {
	FromDomain string // the RFC5322.From domain (the Author Domain)
	SPF        AuthResult
	DKIM       []AuthResult
}

// Result is a DMARC evaluation.
type Result struct {
	// Status is pass, fail, none (no record applies), temperror or
	// permerror. It is always set.
	Status string
	// PolicyDomain is the domain whose record applies (see Lookup);
	// OrgDomain the From domain's organizational domain.
	PolicyDomain, OrgDomain string
	// Policy is the published policy for this From domain: p, or for a
	// subdomain of the policy domain sp, or np when the domain does not
	// exist (RFC 9989 only). Set whenever a record applies.
	Policy string
	// Disposition is what the domain asks for this message: the policy
	// for a fail, one step lower under t=y (RFC 9989) or outside the pct
	// sample (RFC 7489); none for every other status.
	Disposition string
	// SPFAligned and DKIMAligned: an SPF or DKIM pass aligned with the From
	// domain; AlignedDKIMDomain the d= of the first aligned signature.
	SPFAligned, DKIMAligned bool
	AlignedDKIMDomain       string
	// Testing: the record has t=y (RFC 9989 mode).
	Testing bool
	// SampledOut: a failing message outside the RFC 7489 pct sample.
	SampledOut bool
	// Record is the record that applies (nil for none and permerror).
	Record *Record
	// Reason explains the status, for logs.
	Reason string
	// Err is set for temperror and permerror, and for none (why).
	Err error
}

// Evaluate evaluates the DMARC policy of in.FromDomain against the SPF and
// DKIM results (RFC 9989 §5.3; RFC 7489 §6.6). The returned status is
// always set; for temperror and permerror Err is set too. A DNS failure
// that leaves the outcome open gives temperror, never fail (§5.3.6).
func Evaluate(ctx context.Context, r resolver.Resolver, in Input, opts Options) (res Result) {
	start := time.Now()
	w := newWalker(r, opts)
	if opts.Log != nil {
		defer func() {
			opts.Log.Debug("dmarc evaluate result", "from", in.FromDomain, "mode", string(w.mode),
				"status", res.Status, "policy_domain", res.PolicyDomain, "policy", res.Policy,
				"disposition", res.Disposition, "spf_aligned", res.SPFAligned, "dkim_aligned", res.DKIMAligned,
				"reason", res.Reason, "queries", w.queries, "duration", time.Since(start), "err", res.Err)
		}()
	}
	res.Disposition = PolicyNone

	from, err := normalize(in.FromDomain)
	if err != nil {
		res.Status, res.PolicyDomain, res.Reason, res.Err = StatusPermerror, in.FromDomain, "invalid From domain", err
		return res
	}
	lk := w.discover(ctx, from)
	res.PolicyDomain, res.OrgDomain, res.Record, res.Err = lk.PolicyDomain, lk.OrgDomain, lk.Record, lk.Err
	switch lk.Status {
	case LookupNoRecord:
		res.Status, res.Reason = StatusNone, "no DMARC record applies"
		if errors.Is(lk.Err, ErrMultipleRecords) {
			res.Reason = "several DMARC records: no policy"
		}
		return res
	case LookupTemperror:
		res.Status, res.Reason = StatusTemperror, "DMARC record lookup failed temporarily"
		return res
	case LookupPermerror:
		res.Status, res.Reason = StatusPermerror, "DMARC record unusable"
		return res
	}
	rec := lk.Record
	if w.mode == ModeRFC9989 {
		res.Testing = rec.Testing
	}

	// Alignment (RFC 9989 §4.4, §4.10.2; RFC 7489 §3.1). Only a pass
	// aligns; a temporary error anywhere keeps the outcome open.
	var temp []string
	if isResult(in.SPF.Result, "pass") {
		ok, err := w.aligned(ctx, from, lk.OrgDomain, in.SPF.Domain, rec.ASPF == "s")
		res.SPFAligned = ok
		if err != nil {
			temp = append(temp, "SPF alignment: "+err.Error())
		}
	} else if isResult(in.SPF.Result, "temperror") {
		temp = append(temp, "SPF temperror")
	}
	for _, d := range in.DKIM {
		if isResult(d.Result, "temperror") {
			temp = append(temp, "DKIM temperror for d="+d.Domain)
			continue
		}
		if !isResult(d.Result, "pass") || res.DKIMAligned {
			continue
		}
		ok, err := w.aligned(ctx, from, lk.OrgDomain, d.Domain, rec.ADKIM == "s")
		if err != nil {
			temp = append(temp, "DKIM alignment of d="+d.Domain+": "+err.Error())
		}
		if ok {
			res.DKIMAligned = true
			res.AlignedDKIMDomain, _ = normalize(d.Domain)
		}
	}
	res.Err = nil
	switch {
	case res.SPFAligned || res.DKIMAligned:
		res.Status = StatusPass
		var by []string
		if res.SPFAligned {
			by = append(by, "SPF ("+in.SPF.Domain+")")
		}
		if res.DKIMAligned {
			by = append(by, "DKIM (d="+res.AlignedDKIMDomain+")")
		}
		res.Reason = "aligned pass by " + strings.Join(by, " and ")
	case len(temp) > 0:
		res.Status = StatusTemperror
		res.Reason = "no aligned pass, and " + strings.Join(temp, "; ")
		res.Err = fmt.Errorf("%w: %s", ErrDNS, strings.Join(temp, "; "))
	default:
		res.Status = StatusFail
		res.Reason = "no aligned SPF or DKIM pass"
	}

	// The policy (RFC 9989 §4.7 sp, np and §4.10.1; RFC 7489 §6.6.3).
	pol, which, err := w.policyFor(ctx, from, lk.PolicyDomain, rec)
	res.Policy = pol
	if err != nil {
		if res.Status == StatusFail {
			res.Status, res.Err = StatusTemperror, err
			res.Reason = "policy undetermined: " + err.Error()
			return res
		}
		res.Reason += "; " + which
	}
	if res.Status != StatusFail {
		return res
	}
	res.Reason += "; " + which + "=" + pol + " of " + lk.PolicyDomain
	res.Disposition = pol
	switch {
	case w.mode == ModeRFC9989 && rec.Testing:
		// RFC 9989 §4.7 t=y: one level below the policy.
		res.Disposition = weaker(pol)
		if res.Disposition != pol {
			res.Reason += "; t=y: applied as " + res.Disposition
		}
	case w.mode == ModeRFC7489 && rec.Percent < 100:
		// RFC 7489 §6.6.4: outside the sample, the next weaker policy.
		if rec.Percent == 0 || randPercent(opts.Rand) >= rec.Percent {
			res.SampledOut = true
			res.Disposition = weaker(pol)
			res.Reason += fmt.Sprintf("; outside pct=%d sample: applied as %s", rec.Percent, res.Disposition)
		}
	}
	return res
}

// policyFor returns the policy for from under the record rec found at pd,
// and the tag it came from. For from itself p applies; for a subdomain,
// np (RFC 9989 only) when from does not exist, else sp, else p. When
// existence could not be determined the error is returned with the sp/p
// policy.
func (w *walker) policyFor(ctx context.Context, from, pd string, rec *Record) (pol, tag string, err error) {
	if from == pd {
		return rec.Policy, "p", nil
	}
	pol, tag = rec.Policy, "p"
	if rec.SubdomainPolicy != "" {
		pol, tag = rec.SubdomainPolicy, "sp"
	}
	if w.mode == ModeRFC9989 && rec.NonexistentPolicy != "" && rec.NonexistentPolicy != pol {
		ok, err := w.exists(ctx, from)
		if err != nil {
			return pol, "existence of " + from + " unknown, np not applied", err
		}
		if !ok {
			return rec.NonexistentPolicy, "np", nil
		}
	}
	return pol, tag, nil
}

// aligned reports whether the identifier id aligns with the From domain
// (both normalized but id): strictly when equal, relaxed when their
// organizational domains are equal. An invalid id never aligns. The
// error is a temporary DNS failure of the tree walk.
func (w *walker) aligned(ctx context.Context, from, orgFrom, id string, strict bool) (bool, error) {
	d, err := normalize(id)
	if err != nil {
		return false, nil
	}
	if d == from {
		return true, nil
	}
	if strict || !isSubdomainOrSelf(d, orgFrom) {
		// An organizational domain is a suffix of its domain: d's cannot
		// be orgFrom unless d is orgFrom or below it.
		return false, nil
	}
	od, err := w.orgDomain(ctx, d)
	if err != nil {
		return false, err
	}
	return od == orgFrom, nil
}

// weaker is the policy one level below (RFC 9989 §4.7 t; RFC 7489
// §6.6.4).
func weaker(p string) string {
	switch p {
	case PolicyReject:
		return PolicyQuarantine
	case PolicyQuarantine:
		return PolicyNone
	}
	return p
}

func randPercent(f func() int) int {
	if f != nil {
		return f()
	}
	return rand.IntN(100)
}

func isResult(got, want string) bool { return strings.EqualFold(strings.TrimSpace(got), want) }
