package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/address"
	"github.com/mxguard/mxguard/checks/helo"
	"github.com/mxguard/mxguard/checks/rdns"
)

// Restriction is one configured restriction (config.Restriction, decoupled
// so that this package does not depend on the configuration loader).
type Restriction struct {
	Name       string // canonical name, or a class name when Class is set
	Arg        string
	Action     string
	TempAction string
	Code       int
	Enhanced   string
	Text       string
	Options    map[string]string
	Key        string // configuration path for messages, e.g. "client[2]"
	Class      bool
}

// Codes are Postfix's reply-code parameters.
type Codes struct {
	UnknownClientReject      int    // unknown_client_reject_code
	UnknownHostnameReject    int    // unknown_hostname_reject_code
	UnknownAddressReject     int    // unknown_address_reject_code
	NonFQDNReject            int    // non_fqdn_reject_code
	InvalidHostnameReject    int    // invalid_hostname_reject_code
	AccessMapReject          int    // access_map_reject_code
	AccessMapDefer           int    // access_map_defer_code
	MapsRBLReject            int    // maps_rbl_reject_code
	UnknownHeloTempfailAct   string // unknown_helo_hostname_tempfail_action
	UnknownAddressTempfailAc string // unknown_address_tempfail_action
}

// Spec is everything New needs.
type Spec struct {
	Lists        [numLists][]Restriction // client, helo, sender, recipient
	Classes      map[string][]Restriction
	Trusted      []netip.Prefix
	SkipAuth     bool
	DelayReject  bool
	HeloRequired bool
	Timeout      time.Duration
	Codes        Codes
	// LocalNames and LocalAddrs are what a client must not claim in HELO.
	LocalNames []string
	LocalAddrs []netip.Addr
	// RecipientDelimiter is Postfix's recipient_delimiter for access lookups.
	RecipientDelimiter string
	Log                *slog.Logger
}

// builder holds what New needs while it builds rules.
type builder struct {
	spec   *Spec
	tables *tableCache
}

// New builds an engine. The error lists every problem found, one per line,
// each with its configuration key.
func New(spec Spec) (*Engine, error) {
	if spec.Log == nil {
		spec.Log = slog.Default()
	}
	b := &builder{spec: &spec, tables: newTableCache()}
	e := &Engine{
		classes:      map[string][]*rule{},
		trusted:      spec.Trusted,
		skipAuth:     spec.SkipAuth,
		delayReject:  spec.DelayReject,
		heloRequired: spec.HeloRequired,
		timeout:      spec.Timeout,
		log:          spec.Log,
	}
	var errs []error
	for l := List(0); l < numLists; l++ {
		for _, r := range spec.Lists[l] {
			ru, err := b.rule(r, l)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if ru != nil {
				e.lists[l] = append(e.lists[l], ru)
			}
		}
	}
	names := make([]string, 0, len(spec.Classes))
	for n := range spec.Classes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e.classes[n] = []*rule{}
		for _, r := range spec.Classes[n] {
			// A class runs in whatever list refers to it: build it for the
			// recipient list, where every input exists.
			ru, err := b.rule(r, ListRecipient)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if ru != nil {
				e.classes[n] = append(e.classes[n], ru)
			}
		}
	}
	e.byName = func(name string, l List) (*rule, error) {
		return b.rule(Restriction{Name: canonical(name), Key: "access result " + name}, l)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return e, nil
}

// canonical maps Postfix's restriction names to ours, for restriction names
// that appear in access-table results.
func canonical(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "permit_mynetworks":
		return "mynetworks"
	case "permit_sasl_authenticated":
		return "sasl_authenticated"
	case "reject_unknown_reverse_client_hostname", "rdns":
		return "unknown_reverse_client_hostname"
	case "reject_unknown_client_hostname", "reject_unknown_client", "fcrdns":
		return "unknown_client_hostname"
	case "reject_unknown_helo_hostname", "reject_unknown_hostname":
		return "unknown_helo_hostname"
	case "reject_invalid_helo_hostname", "reject_invalid_hostname":
		return "invalid_helo_hostname"
	case "reject_non_fqdn_helo_hostname", "reject_non_fqdn_hostname":
		return "non_fqdn_helo_hostname"
	}
	for _, p := range []string{"reject_", "check_"} {
		if strings.HasPrefix(n, p) {
			return strings.TrimPrefix(n, p)
		}
	}
	return n
}

func (b *builder) policy(r Restriction, tempDefault string) checks.Policy {
	p := checks.Policy{Action: r.Action, TempAction: r.TempAction, Code: r.Code, Enhanced: r.Enhanced, Text: r.Text}
	if p.TempAction == "" {
		p.TempAction = tempDefault
	}
	return p
}

// tempAction maps Postfix's *_tempfail_action words to our actions.
func tempAction(postfix string) string {
	switch postfix {
	case "", "defer_if_permit":
		return "defer_if_permit"
	case "defer":
		return "tempfail"
	case "dunno":
		return "accept"
	}
	return postfix
}

func (b *builder) rule(r Restriction, l List) (*rule, error) {
	c := b.spec.Codes
	if r.Action == "off" {
		return nil, nil
	}
	if r.Class {
		return &rule{name: r.Name, key: r.Key, class: r.Name}, nil
	}
	ru := &rule{name: r.Name, key: r.Key}
	switch r.Name {
	case "unknown_reverse_client_hostname":
		ru.check = rdns.Reverse{Opts: rdns.Options{RejectCode: c.UnknownClientReject}}
		ru.policy = b.policy(r, "tempfail")
	case "unknown_client_hostname":
		ru.check = rdns.Forward{Opts: rdns.Options{RejectCode: c.UnknownClientReject}}
		ru.policy = b.policy(r, "tempfail")
	case "invalid_helo_hostname":
		ru.check = helo.Invalid{Opts: helo.Options{InvalidCode: c.InvalidHostnameReject}}
		ru.policy = b.policy(r, "tempfail")
	case "non_fqdn_helo_hostname":
		ru.check = helo.NonFQDN{Opts: helo.Options{NonFQDNCode: c.NonFQDNReject}}
		ru.policy = b.policy(r, "tempfail")
	case "unknown_helo_hostname":
		ru.check = helo.Unknown{Opts: helo.Options{UnknownCode: c.UnknownHostnameReject}}
		ru.policy = b.policy(r, tempAction(c.UnknownHeloTempfailAct))
	case "helo_impersonation":
		ru.check = helo.Impersonation{Names: b.spec.LocalNames, Addrs: b.spec.LocalAddrs}
		ru.policy = b.policy(r, "tempfail")
	case "non_fqdn_sender", "non_fqdn_recipient":
		role := address.Sender
		if r.Name == "non_fqdn_recipient" {
			role = address.Recipient
		}
		ru.check = address.NonFQDN{Role: role, Code: c.NonFQDNReject}
		ru.policy = b.policy(r, "tempfail")
	case "unknown_sender_domain", "unknown_recipient_domain":
		role := address.Sender
		if r.Name == "unknown_recipient_domain" {
			role = address.Recipient
		}
		ru.check = address.UnknownDomain{Role: role, Code: c.UnknownAddressReject}
		ru.policy = b.policy(r, tempAction(c.UnknownAddressTempfailAc))
	case "mynetworks":
		trusted := b.spec.Trusted
		ru.check = checks.Func{N: r.Name, S: checks.StageConnect, F: func(_ context.Context, env *checks.Env) checks.Result {
			for _, p := range trusted {
				if env.Addr.IsValid() && p.Contains(env.Addr.Unmap()) {
					return checks.Result{Status: checks.StatusOK, Decision: checks.Permit, Reason: "client in trusted_networks"}
				}
			}
			return checks.Result{Status: checks.StatusDunno}
		}}
	case "sasl_authenticated":
		ru.check = checks.Func{N: r.Name, S: checks.StageMail, F: func(_ context.Context, env *checks.Env) checks.Result {
			if env.AuthUser != "" {
				return checks.Result{Status: checks.StatusOK, Decision: checks.Permit, Reason: "authenticated as " + env.AuthUser}
			}
			return checks.Result{Status: checks.StatusDunno}
		}}
	case "permit", "dunno":
		d := checks.Permit
		if r.Name == "dunno" {
			d = checks.Dunno
		}
		ru.check = checks.Func{N: r.Name, S: checks.StageConnect, F: func(context.Context, *checks.Env) checks.Result {
			return checks.Result{Status: checks.StatusOK, Decision: d}
		}}
	case "reject", "defer", "defer_if_permit", "defer_if_reject":
		reply := checks.Reply{Code: 554, Enhanced: "5.7.1", Text: "Access denied"} // reject_code
		d := checks.Reject
		switch r.Name {
		case "defer":
			reply = checks.Reply{Code: 450, Enhanced: "4.7.1", Text: "Try again later"} // defer_code
		case "defer_if_permit":
			reply, d = checks.Reply{Code: 450, Enhanced: "4.7.1", Text: "defer_if_permit requested"}, checks.DeferIfPermit
		case "defer_if_reject":
			reply, d = checks.Reply{Code: 450, Enhanced: "4.7.1", Text: "defer_if_reject requested"}, checks.DeferIfReject
		}
		ru.check = checks.Func{N: r.Name, S: checks.StageConnect, F: func(context.Context, *checks.Env) checks.Result {
			return checks.Result{Status: checks.StatusReject, Decision: d, Reply: reply}
		}}
		ru.policy = b.policy(r, "tempfail")
	case "access", "client_access", "helo_access", "sender_access", "recipient_access":
		kind := r.Name
		if kind == "access" {
			kind = [numLists]string{"client_access", "helo_access", "sender_access", "recipient_access"}[l]
		}
		chk, err := b.accessCheck(kind, r)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", r.Key, r.Name, err)
		}
		ru.check = chk
		ru.policy = b.policy(r, "tempfail")
	case "rbl", "rhsbl_client", "rhsbl_reverse_client", "rhsbl_helo", "rhsbl_sender", "rhsbl_recipient", "dnswl", "rhswl":
		return nil, fmt.Errorf("%s: %s: DNS lists are not implemented in this version; remove it or keep the equivalent in main.cf", r.Key, r.Name)
	default:
		return nil, fmt.Errorf("%s: unknown restriction %q", r.Key, r.Name)
	}
	if ru.policy.Code == 0 && r.Code != 0 {
		ru.policy.Code = r.Code
	}
	return ru, nil
}
