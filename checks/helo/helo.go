// Package helo implements Postfix's HELO/EHLO restrictions
// (reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname,
// reject_unknown_helo_hostname) and a check that Postfix leaves to
// check_helo_access tables: a client claiming to be us (our host name, one
// of our domains or addresses, or localhost).
//
// RFC 5321 §4.1.1.1 requires the EHLO argument to be the client's
// primary host name or, without one, an address literal (§4.1.3). As
// Postfix does (smtpd_check.c), a bracketed address literal is checked for
// syntax only, is never "non-FQDN" and is never looked up in DNS; a bare IP
// address is valid syntax but not a fully-qualified host name.
package helo

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/syntax"
	"github.com/mxguard/mxguard/resolver"
)

// Options carry the reply codes from the configuration's codes section.
type Options struct {
	InvalidCode int // invalid_hostname_reject_code (501)
	NonFQDNCode int // non_fqdn_reject_code (504)
	UnknownCode int // unknown_hostname_reject_code
}

func reply(code, def int, enhanced, helo, what string) checks.Reply {
	if code == 0 {
		code = def
	}
	return checks.Reply{Code: code, Enhanced: enhanced, Text: "<" + helo + ">: Helo command rejected: " + what}.WithCode(code)
}

// stripDot removes the trailing dot, for comparisons with our names.
func stripDot(h string) string { return syntax.StripTrailingDot(h) }

// Invalid is reject_invalid_helo_hostname.
type Invalid struct{ Opts Options }

func (Invalid) Name() string        { return "invalid_helo_hostname" }
func (Invalid) Stage() checks.Stage { return checks.StageHelo }
func (c Invalid) Check(_ context.Context, env *checks.Env) checks.Result {
	r := checks.Result{Check: c.Name(), Stage: checks.StageHelo, Status: checks.StatusPass}
	if !env.HeloSeen {
		r.Status, r.Reason = checks.StatusNone, "no HELO"
		return r
	}
	if res := syntax.CheckInvalidHelo(env.Helo); res != syntax.HeloOK {
		r.Status, r.Reason = checks.StatusFail, "invalid HELO: "+res.String()
		r.Reply = reply(c.Opts.InvalidCode, 501, "5.5.2", env.Helo, res.String())
	}
	return r
}

// NonFQDN is reject_non_fqdn_helo_hostname.
type NonFQDN struct{ Opts Options }

func (NonFQDN) Name() string        { return "non_fqdn_helo_hostname" }
func (NonFQDN) Stage() checks.Stage { return checks.StageHelo }
func (c NonFQDN) Check(_ context.Context, env *checks.Env) checks.Result {
	r := checks.Result{Check: c.Name(), Stage: checks.StageHelo, Status: checks.StatusPass}
	if !env.HeloSeen {
		r.Status = checks.StatusNone
		return r
	}
	// The milter does not see MAIL FROM's SMTPUTF8 parameter: a UTF-8 HELO
	// is judged as Postfix judges it without SMTPUTF8.
	switch res := syntax.CheckNonFQDNHelo(env.Helo, false); res {
	case syntax.HeloInvalidAddress:
		// Postfix checks a bracketed literal with reject_invalid_hostaddr
		// here too, with invalid_hostname_reject_code.
		r.Status, r.Reason = checks.StatusFail, "invalid HELO address literal"
		r.Reply = reply(c.Opts.InvalidCode, 501, "5.5.2", env.Helo, res.String())
	case syntax.HeloNotFQDN:
		r.Status, r.Reason = checks.StatusFail, "HELO name is not a fully-qualified host name"
		r.Reply = reply(c.Opts.NonFQDNCode, 504, "5.5.2", env.Helo, res.String())
	}
	return r
}

// Unknown is reject_unknown_helo_hostname: the HELO name has no A, AAAA
// or MX record. Postfix accepts a null MX here ("allow MTA names to have
// nullMX records"). A temporary failure gives a 450 whose action is
// unknown_helo_hostname_tempfail_action (defer_if_permit by default).
type Unknown struct{ Opts Options }

var (
	_ checks.Check      = Unknown{}
	_ checks.Prefetcher = Unknown{}
)

func (Unknown) Name() string        { return "unknown_helo_hostname" }
func (Unknown) Stage() checks.Stage { return checks.StageHelo }

// Prefetch starts the lookups at HELO.
func (c Unknown) Prefetch(env *checks.Env) {
	if !env.HeloSeen {
		return
	}
	if name, _ := syntax.HeloLookupName(env.Helo); name != "" {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), prefetchTimeout)
			defer cancel()
			HostExists(ctx, env.Resolver, name)
		}()
	}
}

func (c Unknown) Check(ctx context.Context, env *checks.Env) checks.Result {
	r := checks.Result{Check: c.Name(), Stage: checks.StageHelo, Status: checks.StatusPass}
	if !env.HeloSeen {
		r.Status = checks.StatusNone
		return r
	}
	name, res := syntax.HeloLookupName(env.Helo)
	switch {
	case res == syntax.HeloInvalidAddress:
		r.Status, r.Reason = checks.StatusFail, "invalid HELO address literal"
		r.Reply = reply(c.Opts.InvalidCode, 501, "5.5.2", env.Helo, res.String())
		return r
	case res == syntax.HeloNotFound:
		// Postfix does not look up a numeric or malformed name.
		r.Status, r.Reason = checks.StatusFail, "HELO name cannot exist in DNS"
		r.Reply = reply(c.Opts.UnknownCode, 450, "5.7.1", env.Helo, "Host not found")
		return r
	case name == "":
		r.Status, r.Reason = checks.StatusNone, "address literal"
		return r
	}
	st, err := hostStatus(ctx, env.Resolver, name)
	r.Err = err
	switch st {
	case checks.DNSOK, checks.DNSNullMX:
	case checks.DNSRetry:
		r.Status, r.Reason = checks.StatusTemperror, "HELO name lookup failed temporarily"
		r.Reply = reply(450, 450, "4.7.1", env.Helo, "Host not found")
	case checks.DNSInval:
		r.Status, r.Reason = checks.StatusFail, "every MX host of the HELO name is malformed"
		r.Reply = reply(c.Opts.UnknownCode, 450, "5.7.1", env.Helo, "Malformed DNS server reply")
	default:
		r.Status, r.Reason = checks.StatusFail, "HELO name has no A, AAAA or MX record ("+st.String()+")"
		r.Reply = reply(c.Opts.UnknownCode, 450, "5.7.1", env.Helo, "Host not found")
	}
	return r
}

// HostExists looks name's A, AAAA and MX records up in parallel and
// combines them as Postfix's reject_unknown_hostname does: the best status
// wins (checks.DNSStatus); OK and a null MX pass ("allow MTA names to have
// nullMX records"), RETRY is a temperror, anything else fails.
func HostExists(ctx context.Context, r resolver.Resolver, name string) (checks.Status, error) {
	st, err := hostStatus(ctx, r, name)
	switch st {
	case checks.DNSOK, checks.DNSNullMX:
		return checks.StatusPass, nil
	case checks.DNSRetry:
		return checks.StatusTemperror, err
	}
	return checks.StatusFail, err
}

func hostStatus(ctx context.Context, r resolver.Resolver, name string) (checks.DNSStatus, error) {
	fqdn := strings.ToLower(name)
	if !strings.HasSuffix(fqdn, ".") {
		fqdn += "."
	}
	st, errs := checks.HostStatuses(ctx, r, fqdn)
	return checks.Best(st[:], errs[:])
}

// Impersonation rejects a HELO that names us: our host name, one of
// Names (host names, domains, addresses), localhost, or an address literal
// or bare address that is one of Addrs.
type Impersonation struct {
	Names []string     // lower case, without trailing dot
	Addrs []netip.Addr // our addresses
	Code  int
}

func (Impersonation) Name() string        { return "helo_impersonation" }
func (Impersonation) Stage() checks.Stage { return checks.StageHelo }
func (c Impersonation) Check(_ context.Context, env *checks.Env) checks.Result {
	r := checks.Result{Check: c.Name(), Stage: checks.StageHelo, Status: checks.StatusPass}
	if !env.HeloSeen {
		r.Status = checks.StatusNone
		return r
	}
	h := strings.ToLower(stripDot(env.Helo))
	claimed := ""
	if a, ok := literalAddr(h); ok {
		for _, our := range c.Addrs {
			if our.Unmap() == a {
				claimed = a.String()
			}
		}
	} else if h == "localhost" || h == "localhost.localdomain" || strings.HasSuffix(h, ".localhost") {
		claimed = h
	} else {
		for _, n := range c.Names {
			if h == n {
				claimed = n
			}
		}
	}
	if claimed != "" {
		r.Status, r.Reason = checks.StatusFail, "HELO claims to be us ("+claimed+")"
		code := c.Code
		if code == 0 {
			code = 550
		}
		r.Reply = reply(code, 550, "5.7.1", env.Helo, "Host name impersonation")
	}
	return r
}

// literalAddr parses "[1.2.3.4]", "[IPv6:::1]" or a bare address.
func literalAddr(h string) (netip.Addr, bool) {
	s := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if len(s) > 5 && strings.EqualFold(s[:5], "ipv6:") {
		s = s[5:]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// prefetchTimeout bounds a prefetch that nobody waits for.
var prefetchTimeout = 15 * time.Second
