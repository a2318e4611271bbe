package dnsbl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/access"
)

// DefaultScoreCode is the reply code of a score-mode rejection: 550, as
// postscreen's "enforce" action.
const DefaultScoreCode = 550

// Scorer is score mode, as Postfix's postscreen_dnsbl_sites: every list
// is asked about the client address at once, the weights of the entries
// whose filter matches an answer are summed, and the sum decides.
//
// A zone may appear in several entries with different filters, so that
// its weight depends on the return code (postscreen's
// "zone=filter*weight"): one query is made per zone, and each entry
// whose filter matches counts once. Negative weights are allowlists.
//
// Lookup errors count as "not listed" (0), as in postscreen, except that
// a rejection that a failed allowlist entry could have prevented becomes
// a 4xx (Postfix's defer_if_reject for DNSWL lookup errors). Refusals
// (127.255.255.0/24, answers outside 127.0.0.0/8) count 0 and are logged;
// unhealthy lists are skipped.
type Scorer struct {
	// Lists are the entries, weights included (ParseSpec).
	Lists []Spec
	// RejectThreshold is postscreen_dnsbl_threshold: a sum at or above it
	// rejects. 0 means 1, postscreen's default.
	RejectThreshold int
	// AllowThreshold is postscreen_dnsbl_allowlist_threshold: a sum at or
	// below it permits (Decision Permit). As in postscreen, only a
	// negative value enables it; 0 (the default) never permits.
	AllowThreshold int
	// Code is the reply code of a rejection: DefaultScoreCode (550) when 0.
	Code int
	// Timeout bounds each list's lookup (DefaultTimeout when 0).
	Timeout time.Duration
	// Health, when set, skips unhealthy lists.
	Health *Health

	warn warnLimiter
}

var (
	_ checks.Check      = (*Scorer)(nil)
	_ checks.Prefetcher = (*Scorer)(nil)
)

// Validate checks the configuration; the error lists every problem.
func (s *Scorer) Validate() error {
	var errs []error
	if len(s.Lists) == 0 {
		errs = append(errs, errors.New("dnsbl score: no lists"))
	}
	if s.RejectThreshold < 0 {
		errs = append(errs, fmt.Errorf("dnsbl score: reject threshold %d is negative (want 1 or more; negative sums are for the allow threshold)", s.RejectThreshold))
	}
	if s.AllowThreshold >= s.threshold() && s.AllowThreshold < 0 {
		errs = append(errs, fmt.Errorf("dnsbl score: allow threshold %d is not below the reject threshold %d", s.AllowThreshold, s.threshold()))
	}
	if s.Code != 0 && (s.Code < 400 || s.Code > 599) {
		errs = append(errs, fmt.Errorf("dnsbl score: code %d is not a 4xx or 5xx reply code", s.Code))
	}
	names := map[string]string{}
	for _, l := range s.Lists {
		if l.Zone == "" {
			errs = append(errs, errors.New("dnsbl score: a list without zone"))
			continue
		}
		if n, ok := names[l.Zone]; ok && n != l.Name {
			errs = append(errs, fmt.Errorf("dnsbl score: entries of the same zone have different public names %q and %q", n, l.Name))
		}
		names[l.Zone] = l.Name
	}
	return errors.Join(errs...)
}

func (s *Scorer) threshold() int {
	if s.RejectThreshold == 0 {
		return 1
	}
	return s.RejectThreshold
}

func (s *Scorer) timeout() time.Duration {
	if s.Timeout <= 0 {
		return DefaultTimeout
	}
	return s.Timeout
}

// Name is "dnsbl_score".
func (s *Scorer) Name() string { return "dnsbl_score" }

// Stage is connect: the client address exists from the start.
func (s *Scorer) Stage() checks.Stage { return checks.StageConnect }

// zones returns the distinct zones in order of first appearance, each
// with its entries.
func (s *Scorer) zones() [][]Spec {
	var out [][]Spec
	idx := map[string]int{}
	for _, l := range s.Lists {
		i, ok := idx[l.Zone]
		if !ok {
			i = len(out)
			idx[l.Zone] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], l)
	}
	return out
}

// Prefetch starts every list's lookup at connect.
func (s *Scorer) Prefetch(env *checks.Env) {
	if !env.Addr.IsValid() {
		return
	}
	for _, entries := range s.zones() {
		if !s.Health.Healthy(entries[0]) {
			continue
		}
		if q, err := QueryName(entries[0].Zone, AddrTarget(env.Addr)); err == nil {
			go queryA(context.Background(), env, q, s.timeout())
		}
	}
}

// hit is one matching entry.
type hit struct {
	name   string
	weight int
	codes  string
}

// Check asks every list concurrently (one round trip for all of them),
// then sums the weights. It rejects (Status fail) with
//
//	550 5.7.1 Service unavailable; client [192.0.2.1] blocked using bl.example, bl2.example
//
// naming the lists with a positive contribution, largest weight first
// (postscreen names the largest one; its reply is this one for a single
// list), and permits (Decision Permit) when the sum is at or below a
// negative AllowThreshold. The Reason has the score and every hit, with
// public names only. The Status is always set.
func (s *Scorer) Check(ctx context.Context, env *checks.Env) (res checks.Result) {
	t0 := time.Now()
	t := AddrTarget(env.Addr)
	defer func() {
		env.Log.Debug("dnsbl score result", "check", s.Name(), "target", t.String(), "status", res.Status,
			"decision", res.Decision, "reason", res.Reason, "duration", time.Since(t0), "err", res.Err)
	}()
	res = checks.Result{Check: s.Name(), Stage: s.Stage(), Status: checks.StatusPass}
	if !env.Addr.IsValid() {
		res.Status, res.Reason = checks.StatusNone, "client has no IP address"
		return res
	}
	zones := s.zones()
	results := make([]Result, len(zones))
	var wg sync.WaitGroup
	for i, entries := range zones {
		spec := entries[0]
		spec.Filter = Filter{} // the entries' filters are applied below
		if !s.Health.Healthy(spec) {
			results[i] = Result{Status: checks.StatusNone, Reason: "list unhealthy: " + spec.Display() + " failed its health check"}
			continue
		}
		q, err := QueryName(spec.Zone, t)
		if err != nil {
			results[i] = skipped(spec, t, err)
			continue
		}
		wg.Go(func() {
			a := queryA(ctx, env, q, s.timeout())
			results[i] = classify(spec, t, a.addrs, a.err)
		})
	}
	wg.Wait()

	var (
		sum       int
		hits      []hit
		notes     []string
		lostAllow int // the negative weights of allowlist entries whose lookup failed
		errs      []error
	)
	for i, entries := range zones {
		r := results[i]
		switch r.Status {
		case checks.StatusFail:
			for _, e := range entries {
				var codes []string
				for _, a := range r.Answers {
					if e.Filter.Match(a) {
						codes = append(codes, a.Unmap().String())
					}
				}
				if len(codes) > 0 {
					sum += e.Weight
					hits = append(hits, hit{e.Display(), e.Weight, strings.Join(codes, ",")})
				}
			}
		case checks.StatusTemperror:
			for _, e := range entries {
				if e.Weight < 0 {
					lostAllow += e.Weight
				}
			}
			notes = append(notes, r.Reason)
			errs = append(errs, r.Err)
		case checks.StatusPermerror:
			notes = append(notes, r.Reason)
			errs = append(errs, r.Err)
			if s.warn.allow(env.Now) {
				env.Log.Warn("dnsbl list refused the query", "list", entries[0].Display(), "target", t.String(),
					"answers", joinAddrs(r.Answers), "hint", RefusedHint)
			}
		case checks.StatusNone:
			notes = append(notes, r.Reason)
		}
	}
	res.Err = errors.Join(errs...)
	reason := fmt.Sprintf("score %d for %s", sum, t)
	if len(hits) > 0 {
		parts := make([]string, len(hits))
		for i, h := range hits {
			parts[i] = fmt.Sprintf("%s=%s*%d", h.name, h.codes, h.weight)
		}
		reason += " (" + strings.Join(parts, " ") + ")"
	}
	if len(notes) > 0 {
		reason += "; " + strings.Join(notes, "; ")
	}
	threshold := s.threshold()
	switch {
	case sum >= threshold:
		text := "Service unavailable; client [" + t.String() + "] blocked using " + strings.Join(blockers(hits), ", ")
		code := s.Code
		if code == 0 {
			code = DefaultScoreCode
		}
		res.Reply = checks.Reply{Code: code, Enhanced: "5.7.1", Text: access.Printable(text)}.WithCode(code)
		res.Status = checks.StatusFail
		res.Reason = reason + " >= " + strconv.Itoa(threshold)
		if sum+lostAllow < threshold {
			// An allowlist that failed could have saved the client:
			// defer instead of rejecting (defer_if_reject).
			res.Status, res.Decision = checks.StatusTemperror, checks.Reject
			res.Reply = res.Reply.AsTemporary()
			res.Reason += ", but an allowlist lookup failed: deferred"
		}
	case s.AllowThreshold < 0 && sum <= s.AllowThreshold:
		res.Status, res.Decision = checks.StatusOK, checks.Permit
		res.Reason = reason + " <= " + strconv.Itoa(s.AllowThreshold)
	default:
		res.Reason = reason
	}
	return res
}

// blockers names the lists with a positive contribution, largest weight
// first, each once.
func blockers(hits []hit) []string {
	hs := slices.Clone(hits)
	slices.SortStableFunc(hs, func(a, b hit) int { return b.weight - a.weight })
	var names []string
	for _, h := range hs {
		if h.weight > 0 && !slices.Contains(names, h.name) {
			names = append(names, h.name)
		}
	}
	return names
}
