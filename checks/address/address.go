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
	ds := checks.DNSNotFound
	if !notFound {
		ds, r.Err = Lookup(ctx, env.Resolver, d)
	}
	prefix := "<" + a.String() + ">: " + c.Role.class() + " rejected: "
	notFoundDSN, nullEnh, nullCode := "5.1.8", "5.7.27", 550
	if c.Role == Recipient {
		notFoundDSN, nullEnh, nullCode = "5.1.2", "5.1.10", 556
	}
	code := c.Code
	if code == 0 {
		code = 450 // Postfix's unknown_address_reject_code default
	}
	switch ds {
	case checks.DNSOK:
		r.Status, r.Reason = checks.StatusPass, "domain "+d+" exists"
	case checks.DNSNullMX:
		// RFC 7505 §4: fixed codes, not unknown_address_reject_code.
		r.Status, r.Reason = checks.StatusFail, "domain "+d+" has a null MX"
		r.Reply = checks.Reply{Code: nullCode, Enhanced: nullEnh, Text: prefix + "Domain " + d + " does not accept mail (nullMX)"}
	case checks.DNSRetry:
		r.Status, r.Reason = checks.StatusTemperror, "lookup of domain "+d+" failed temporarily"
		r.Reply = checks.Reply{Code: 450, Enhanced: notFoundDSN, Text: prefix + "Domain not found"}.WithCode(450)
	case checks.DNSInval:
		r.Status, r.Reason = checks.StatusFail, "every MX host of domain "+d+" is malformed"
		r.Reply = checks.Reply{Code: code, Enhanced: notFoundDSN, Text: prefix + "Malformed DNS server reply"}.WithCode(code)
	default:
		r.Status, r.Reason = checks.StatusFail, "domain "+a.Domain+" has no MX, A or AAAA record"
		if notFound {
			r.Reason = "domain " + a.Domain + " is not a valid DNS name"
		}
		r.Reply = checks.Reply{Code: code, Enhanced: notFoundDSN, Text: prefix + "Domain not found"}.WithCode(code)
	}
	return r
}

// DomainStatus looks d's MX, A and AAAA records up and combines them as
// Postfix's reject_unknown_mailhost does (see Lookup); malformed MX sets
// count as fail.
func DomainStatus(ctx context.Context, r resolver.Resolver, d string) (st checks.Status, nullMX bool, err error) {
	ds, err := Lookup(ctx, r, d)
	switch ds {
	case checks.DNSOK:
		return checks.StatusPass, false, nil
	case checks.DNSNullMX:
		return checks.StatusFail, true, nil
	case checks.DNSRetry:
		return checks.StatusTemperror, false, err
	}
	return checks.StatusFail, false, err
}

// Lookup is Postfix's dns_lookup_rl(d, MX, A, AAAA) with STOP_OK,
// STOP_INVAL and STOP_NULLMX: an MX answer decides by itself (a null MX, a
// set of malformed targets, or a usable MX; MX hosts are not resolved);
// without one, an address record passes; otherwise the best status of the
// three wins (a temporary failure before a permanent one). The three
// lookups run in parallel; the result is the one of Postfix's sequence.
func Lookup(ctx context.Context, r resolver.Resolver, d string) (checks.DNSStatus, error) {
	fqdn := d + "."
	// A, AAAA, MX in parallel; Postfix's sequence is MX, A, AAAA.
	st, errs := checks.HostStatuses(ctx, r, fqdn)
	switch st[2] {
	case checks.DNSOK, checks.DNSNullMX, checks.DNSInval:
		return st[2], nil
	}
	// The same ranking; among equals, Postfix's order: MX first.
	return checks.Best([]checks.DNSStatus{st[2], st[0], st[1]}, []error{errs[2], errs[0], errs[1]})
}
