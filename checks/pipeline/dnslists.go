package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/dnsbl"
)

// dnsList builds reject_rbl_client, reject_rhsbl_*, permit_dnswl_client
// and permit_rhswl_client. Options: name (the public name shown instead of
// the zone, for zones holding a key), reply (a Postfix-style template),
// health_check (false to keep a list out of the RFC 5782 health checks).
func (b *builder) dnsList(r Restriction) (checks.Check, error) {
	spec, err := dnsbl.ParseSpec(r.Arg)
	if err != nil {
		return nil, err
	}
	if n := r.Options["name"]; n != "" {
		spec.Name = n
	}
	c, err := dnsbl.New(dnsbl.Kind(r.Name), spec, dnsbl.Options{
		Code: b.spec.Codes.MapsRBLReject, Template: r.Options["reply"], Health: b.health,
	})
	if err != nil {
		return nil, err
	}
	if hc := r.Options["health_check"]; hc != "false" && hc != "no" {
		if sp, ok := c.(interface{ Spec() dnsbl.Spec }); ok {
			b.health.Lists = append(b.health.Lists, sp.Spec())
		}
	}
	return c, nil
}

// dnsScore builds postscreen-style scoring: arg is the list of
// zone[=filter][*weight] entries (postscreen_dnsbl_sites); options
// reject_threshold (postscreen_dnsbl_threshold, 1), allow_threshold
// (postscreen_dnsbl_allowlist_threshold, 0 = off), names ("zone=public
// name" pairs), code.
func (b *builder) dnsScore(r Restriction) (checks.Check, error) {
	sc := &dnsbl.Scorer{Health: b.health}
	names := map[string]string{}
	for _, p := range strings.Fields(strings.ReplaceAll(r.Options["names"], ",", " ")) {
		if z, n, ok := strings.Cut(p, "="); ok {
			names[strings.ToLower(z)] = n
		}
	}
	for _, f := range strings.Fields(strings.ReplaceAll(r.Arg, ",", " ")) {
		spec, err := dnsbl.ParseSpec(f)
		if err != nil {
			return nil, err
		}
		if n := names[strings.ToLower(spec.Zone)]; n != "" {
			spec.Name = n
		}
		sc.Lists = append(sc.Lists, spec)
		b.health.Lists = append(b.health.Lists, spec)
	}
	for opt, dst := range map[string]*int{"reject_threshold": &sc.RejectThreshold, "allow_threshold": &sc.AllowThreshold, "code": &sc.Code} {
		if v := r.Options[opt]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a whole number", opt, v)
			}
			*dst = n
		}
	}
	if sc.Code == 0 && r.Code != 0 {
		sc.Code = r.Code
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return sc, nil
}

// Health returns the DNS lists' health tracker, for the caller to run
// (Health.Run) with a resolver; nil when no list is configured.
func (e *Engine) Health() *dnsbl.Health { return e.health }
