// Package address implements Postfix's envelope address restrictions:
// reject_non_fqdn_sender/recipient and reject_unknown_sender/recipient_domain,
// including the null MX of RFC 7505 (§4.2: a sender domain with a null MX
// cannot receive replies, 550 5.7.27; §4.3: a recipient domain with a null
// MX accepts no mail, 556 5.1.10).
//
// The null sender <> (RFC 5321 §4.5.5) is always accepted. Address literals
// (user@[192.0.2.1]) are never looked up in DNS, as in Postfix.
package address

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/syntax"
	"github.com/mxguard/mxguard/resolver"
)

// Role says which envelope address a check looks at.
type Role int

const (
	Sender Role = iota
	Recipient
)

func (r Role) class() string {
	if r == Sender {
		return "Sender address"
	}
	return "Recipient address"
}

func (r Role) stage() checks.Stage {
	if r == Sender {
		return checks.StageMail
	}
	return checks.StageRcpt
}

func (r Role) addr(env *checks.Env) string {
	if r == Sender {
		return env.Mail
	}
	return env.Rcpt
}

func (r Role) present(env *checks.Env) bool {
	if r == Sender {
		return env.MailSeen
	}
	return env.Rcpt != ""
}

// NonFQDN is reject_non_fqdn_sender / reject_non_fqdn_recipient.
type NonFQDN struct {
	Role Role
	Code int // non_fqdn_reject_code (504)
}

func (c NonFQDN) Name() string {
	if c.Role == Sender {
		return "non_fqdn_sender"
	}
	return "non_fqdn_recipient"
}
func (c NonFQDN) Stage() checks.Stage { return c.Role.stage() }

func (c NonFQDN) Check(_ context.Context, env *checks.Env) checks.Result {
	r := checks.Result{Check: c.Name(), Stage: c.Stage(), Status: checks.StatusPass}
	raw := c.Role.addr(env)
	if !c.Role.present(env) || raw == "" {
		r.Status, r.Reason = checks.StatusNone, "null address"
		return r
	}
	a, err := syntax.ParseAddress(raw)
	if err == nil && a.Null {
		r.Status, r.Reason = checks.StatusNone, "null address"
		return r
	}
	if err != nil || !syntax.IsFQDNAddress(a) {
		r.Status, r.Reason = checks.StatusFail, "address is not fully qualified"
		code := c.Code
		if code == 0 {
			code = 504
		}
		shown := raw
		if err == nil {
			shown = a.String() // Postfix shows the internal form: unquoted, no source route
		}
		r.Reply = checks.Reply{Code: code, Enhanced: "5.5.2",
			Text: "<" + shown + ">: " + c.Role.class() + " rejected: need fully-qualified address"}.WithCode(code)
	}
	return r
}

// UnknownDomain is reject_unknown_sender_domain /
// reject_unknown_recipient_domain: the domain has no MX and no A/AAAA
// record, or a null MX. A temporary failure gives a 450 whose action is
// unknown_address_tempfail_action (defer_if_permit by default).
type UnknownDomain struct {
	Role Role
	Code int // unknown_address_reject_code
}

var (
	_ checks.Check      = UnknownDomain{}
	_ checks.Prefetcher = UnknownDomain{}
)

func (c UnknownDomain) Name() string {
	if c.Role == Sender {
		return "unknown_sender_domain"
	}
	return "unknown_recipient_domain"
}
func (c UnknownDomain) Stage() checks.Stage { return c.Role.stage() }

// lookupDomain returns the name to look up; notFound is set for a domain
// Postfix never queries (numeric or malformed: "Domain not found"), and
// both are empty for an address with nothing to look up (null sender, no
// domain, address literal).
func (c UnknownDomain) lookupDomain(env *checks.Env) (a syntax.Address, name string, notFound bool) {
	raw := c.Role.addr(env)
	if !c.Role.present(env) || raw == "" {
		return a, "", false
	}
	a, err := syntax.ParseAddress(raw)
	if err != nil || a.Null || a.Literal || a.Domain == "" {
		return a, "", false
	}
	name, skip, notFound := syntax.MailDomainLookupName(a.Domain)
	if skip {
		return a, "", false
	}
	return a, name, notFound
}

// Prefetch starts the domain's lookups as soon as the address is known.
func (c UnknownDomain) Prefetch(env *checks.Env) {
	if _, d, _ := c.lookupDomain(env); d != "" {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), prefetchTimeout)
			defer cancel()
			DomainStatus(ctx, env.Resolver, d)
		}()
	}
}

var prefetchTimeout = 15 * time.Second

func (c UnknownDomain) Check(ctx context.Context, env *checks.Env) checks.Result {
	r := checks.Result{Check: c.Name(), Stage: c.Stage(), Status: checks.StatusNone}
	a, d, notFound := c.lookupDomain(env)
	if d == "" && !notFound {
		r.Reason = "no domain to look up"
		return r
	}
	st, nullMX, err := checks.StatusFail, false, error(nil)
	if !notFound {
		st, nullMX, err = DomainStatus(ctx, env.Resolver, d)
	}
	r.Status, r.Err = st, err
	prefix := "<" + a.String() + ">: " + c.Role.class() + " rejected: "
	notFoundDSN, nullEnh, nullCode := "5.1.8", "5.7.27", 550
	if c.Role == Recipient {
		notFoundDSN, nullEnh, nullCode = "5.1.2", "5.1.10", 556
	}
	switch {
	case nullMX:
		r.Reason = "domain " + d + " has a null MX"
		r.Reply = checks.Reply{Code: nullCode, Enhanced: nullEnh, Text: prefix + "Domain " + d + " does not accept mail (nullMX)"}
	case st == checks.StatusFail:
		code := c.Code
		if code == 0 {
			code = 450 // Postfix's unknown_address_reject_code default
		}
		r.Reason = "domain " + a.Domain + " has no MX, A or AAAA record"
		if notFound {
			r.Reason = "domain " + a.Domain + " is not a valid DNS name"
		}
		r.Reply = checks.Reply{Code: code, Enhanced: notFoundDSN, Text: prefix + "Domain not found"}.WithCode(code)
	case st == checks.StatusTemperror:
		r.Reason = "lookup of domain " + d + " failed temporarily"
		r.Reply = checks.Reply{Code: 450, Enhanced: notFoundDSN, Text: prefix + "Domain not found"}.WithCode(450)
	default:
		r.Reason = "domain " + d + " exists"
	}
	return r
}

// DomainStatus looks d's MX, A and AAAA records up in parallel and
// combines them as Postfix's reject_unknown_mailhost does
// (dns_lookup_rl with STOP_OK|STOP_NULLMX): an MX answer decides by itself
// (any "." target is a null MX, even beside real ones; MX hosts are not
// resolved); without one, an address record passes; then a temporary
// failure of any lookup is a temperror; else the domain is not found.
func DomainStatus(ctx context.Context, r resolver.Resolver, d string) (st checks.Status, nullMX bool, err error) {
	fqdn := d + "."
	var (
		wg           sync.WaitGroup
		mxs          []*net.MX
		mxErr, ipErr error
		haveIP       bool
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		mxs, mxErr = r.LookupMX(ctx, fqdn)
	}()
	go func() {
		defer wg.Done()
		a, e := r.LookupIP(ctx, fqdn)
		haveIP, ipErr = len(a) > 0 && e == nil, e
	}()
	wg.Wait()
	if mxErr == nil && len(mxs) > 0 {
		for _, m := range mxs {
			if m.Host == "." || m.Host == "" {
				return checks.StatusFail, true, nil
			}
		}
		return checks.StatusPass, false, nil
	}
	switch {
	case haveIP:
		return checks.StatusPass, false, nil
	case resolver.IsTemporary(mxErr):
		return checks.StatusTemperror, false, mxErr
	case resolver.IsTemporary(ipErr):
		return checks.StatusTemperror, false, ipErr
	}
	if ipErr == nil {
		ipErr = mxErr
	}
	return checks.StatusFail, false, ipErr
}
