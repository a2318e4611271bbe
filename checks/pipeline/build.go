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
	"github.com/mxguard/mxguard/checks/access"
	"github.com/mxguard/mxguard/checks/address"
	"github.com/mxguard/mxguard/checks/dnsbl"
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
	health *dnsbl.Health
}

// New builds an engine. The error lists every problem found, one per line,
// each with its configuration key.
func New(spec Spec) (*Engine, error) {
	if spec.Log == nil {
		spec.Log = slog.Default()
	}
	b := &builder{spec: &spec, tables: newTableCache(), health: &dnsbl.Health{Log: spec.Log}}
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
			rs, err := b.rules(r, l)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			e.lists[l] = append(e.lists[l], rs...)
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
			// recipient list, where every input exists. (The generic
			// restrictions learn the referring list at run time, for their
			// reply: see listFrom.)
			rs, err := b.rules(r, ListRecipient)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			e.classes[n] = append(e.classes[n], rs...)
		}
	}
	e.byName = func(name string, l List) (*rule, error) {
		rs, err := b.rules(Restriction{Name: canonical(name), Key: "access result " + name}, l)
		if err != nil {
			return nil, err
		}
		if len(rs) != 1 {
			return nil, fmt.Errorf("restriction %q in an access result is off or not a single restriction", name)
		}
		return rs[0], nil
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(b.health.Lists) > 0 {
		e.health = b.health
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

// rules builds the rules of one configured restriction in list l: none for
// an "off" restriction, one per table for an access restriction with
// several tables (see accessChecks), else one.
func (b *builder) rules(r Restriction, l List) ([]*rule, error) {
	c := b.spec.Codes
	if r.Action == "off" {
		return nil, nil
	}
	if r.Class {
		return []*rule{{name: r.Name, key: r.Key, class: r.Name}}, nil
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
		ru.check = newGenericCheck(r.Name, l)
		ru.policy = b.policy(r, "tempfail")
	case "access", "client_access", "helo_access", "sender_access", "recipient_access":
		kind := r.Name
		if kind == "access" {
			kind = [numLists]string{"client_access", "helo_access", "sender_access", "recipient_access"}[l]
		}
		chks, err := b.accessChecks(kind, r)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", r.Key, r.Name, err)
		}
		rs := make([]*rule, 0, len(chks))
		for _, chk := range chks {
			rs = append(rs, &rule{name: r.Name, key: r.Key, check: chk, policy: b.policy(r, "tempfail")})
		}
		return rs, nil
	case "rbl", "rhsbl_client", "rhsbl_reverse_client", "rhsbl_helo", "rhsbl_sender", "rhsbl_recipient", "dnswl", "rhswl":
		chk, err := b.dnsList(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", r.Key, r.Name, err)
		}
		ru.check = chk
		switch sc := r.Options["scope"]; sc {
		case "", "list":
		case "all":
			ru.permitAll = true
		default:
			return nil, fmt.Errorf("%s: %s: scope %q: want list (Postfix: a permit ends its own list) or all (it ends every later list)", r.Key, r.Name, sc)
		}
		// Postfix: a DNSBL lookup error counts as not listed
		// (temperror: tempfail to defer instead). Allowlists decide
		// themselves (a lookup error defers a later reject).
		ru.policy = b.policy(r, "accept")
	case "dnsbl_score":
		chk, err := b.dnsScore(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", r.Key, r.Name, err)
		}
		ru.check = chk
		ru.policy = b.policy(r, "accept")
	default:
		return nil, fmt.Errorf("%s: unknown restriction %q", r.Key, r.Name)
	}
	return []*rule{ru}, nil
}

// genericCheck is one of Postfix's generic restrictions reject, defer,
// defer_if_permit and defer_if_reject (smtpd_check.c generic_checks, 3.7):
//
//	reject           reject_code 554, 5.7.1, "<name>: <class> rejected: Access denied"
//	defer            defer_code 450,  4.3.2, "<name>: <class> rejected: Try again later"
//	defer_if_permit  450,             4.7.0, "<name>: <class> rejected: defer_if_permit requested"
//	defer_if_reject  450,             4.7.0, "<name>: <class> rejected: defer_if_reject requested"
//
// with the reply name and class of the list being evaluated (replyName):
// for a restriction class, the list that refers to it.
type genericCheck struct {
	name     string
	list     List // the list it was built for
	decision checks.Decision
	reply    access.Result // formatted by access.Result.Reply, Postfix's smtpd_check_reject
}

var (
	_ checks.Check      = genericCheck{}
	_ checks.Prefetcher = genericCheck{}
)

func newGenericCheck(name string, l List) genericCheck {
	g := genericCheck{name: name, list: l, decision: checks.Reject,
		reply: access.Result{Kind: access.KindReject, Code: 554, Enhanced: "5.7.1", Text: "Access denied"}} // reject_code
	switch name {
	case "defer":
		g.reply = access.Result{Kind: access.KindReject, Code: 450, Enhanced: "4.3.2", Text: "Try again later"} // defer_code
	case "defer_if_permit":
		g.decision = checks.DeferIfPermit
		g.reply = access.Result{Kind: access.KindDeferIfPermit, Code: 450, Enhanced: "4.7.0", Text: "defer_if_permit requested"}
	case "defer_if_reject":
		g.decision = checks.DeferIfReject
		g.reply = access.Result{Kind: access.KindDeferIfReject, Code: 450, Enhanced: "4.7.0", Text: "defer_if_reject requested"}
	}
	return g
}

func (g genericCheck) Name() string        { return g.name }
func (g genericCheck) Stage() checks.Stage { return checks.StageConnect }

// Prefetch starts the client name lookups at connect in the client list:
// the reply names the client as name[addr].
func (g genericCheck) Prefetch(env *checks.Env) {
	if g.list == ListClient {
		rdns.Prefetch(env)
	}
}

// Check replies "<name>: <class> rejected: <text>", cut to 510 bytes with
// non-printable characters (a HELO argument is sent as is) made spaces.
func (g genericCheck) Check(ctx context.Context, env *checks.Env) checks.Result {
	code, enh, text := g.reply.Reply(replyName(ctx, env, listFrom(ctx, g.list)))
	return checks.Result{Status: checks.StatusReject, Decision: g.decision,
		Reply: checks.Reply{Code: code, Enhanced: enh, Text: text}}
}
