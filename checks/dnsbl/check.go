package dnsbl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/access"
	"github.com/mxguard/mxguard/checks/rdns"
	"github.com/mxguard/mxguard/checks/syntax"
	"github.com/mxguard/mxguard/resolver"
)

// Reply classes: Postfix's SMTPD_NAME_* (smtpd_check.h), the $rbl_class
// of each restriction.
const (
	ClassClient        = "Client host"
	ClassReverseClient = "Unverified Client host"
	ClassHelo          = "Helo command"
	ClassSender        = "Sender address"
	ClassRecipient     = "Recipient address"
)

// Defaults for the zero values of Options.
const (
	DefaultCode    = 554 // maps_rbl_reject_code
	DefaultTimeout = 10 * time.Second
)

// Options are a list restriction's settings.
type Options struct {
	// Code is $rbl_code, Postfix's maps_rbl_reject_code: 554 when 0.
	Code int
	// Template is the reply template (see Template and Variables), the
	// equivalent of this list's rbl_reply_maps entry; DefaultTemplate
	// (Postfix's default_rbl_reply) when empty.
	Template string
	// Timeout bounds the lookups of one list for one target, whether
	// started by Prefetch or by Check (DefaultTimeout when 0). The wait
	// in Check is also bounded by its ctx.
	Timeout time.Duration
	// Health, when set, skips the list while it fails its RFC 5782 §5
	// health check (Status none, Reason "list unhealthy").
	Health *Health
}

func (o Options) code() int {
	if o.Code == 0 {
		return DefaultCode
	}
	return o.Code
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

// Source is what a domain list (RHSBL, RHSWL) looks up.
type Source int

const (
	// SourceClient is the verified client name (reject_rhsbl_client,
	// permit_rhswl_client); skipped when it is "unknown".
	SourceClient Source = iota + 1
	// SourceReverseClient is the client's PTR name, unverified
	// (reject_rhsbl_reverse_client); skipped when there is none.
	SourceReverseClient
	// SourceHelo is the HELO/EHLO argument (reject_rhsbl_helo).
	SourceHelo
	// SourceSender is the MAIL FROM domain (reject_rhsbl_sender); the null
	// sender is not looked up.
	SourceSender
	// SourceRecipient is the RCPT TO domain (reject_rhsbl_recipient).
	SourceRecipient
)

func (s Source) class() string {
	switch s {
	case SourceClient:
		return ClassClient
	case SourceReverseClient:
		return ClassReverseClient
	case SourceHelo:
		return ClassHelo
	case SourceSender:
		return ClassSender
	}
	return ClassRecipient
}

func (s Source) stage() checks.Stage {
	switch s {
	case SourceHelo:
		return checks.StageHelo
	case SourceSender:
		return checks.StageMail
	case SourceRecipient:
		return checks.StageRcpt
	}
	return checks.StageConnect
}

var sourceNames = map[Source]string{SourceClient: "client", SourceReverseClient: "reverse_client",
	SourceHelo: "helo", SourceSender: "sender", SourceRecipient: "recipient"}

func (s Source) String() string {
	if n, ok := sourceNames[s]; ok {
		return n
	}
	return "source(" + strconv.Itoa(int(s)) + ")"
}

// list is what RBL and RHSBL share.
type list struct {
	name  string
	spec  Spec
	allow bool
	opts  Options
	tmpl  *Template
	warn  *warnLimiter
}

func newList(name string, spec Spec, allow bool, opts Options) (list, error) {
	if spec.Zone == "" {
		return list{}, fmt.Errorf("%s: no list zone (write e.g. zen.spamhaus.org)", name)
	}
	if opts.Code != 0 && (opts.Code < 400 || opts.Code > 599) {
		return list{}, fmt.Errorf("%s: code %d is not a 4xx or 5xx reply code", name, opts.Code)
	}
	src := opts.Template
	if src == "" {
		src = DefaultTemplate
	}
	t, err := ParseTemplate(src)
	if err != nil {
		return list{}, fmt.Errorf("%s: %w", name, err)
	}
	// The expansion must start with a 4xx or 5xx code whatever the
	// listing: try it with and without a TXT reason.
	for _, reason := range []string{"", "reason"} {
		why := t.Expand(func(n string) string {
			switch n {
			case "rbl_code":
				return strconv.Itoa(opts.code())
			case "rbl_reason", "rbl_txt":
				return reason
			}
			return "x"
		})
		if _, ok := replyFrom(why, ClassClient); !ok {
			return list{}, fmt.Errorf("%s: %w %q: it must start with $rbl_code or a 4xx/5xx code and a space (Postfix would send %q instead)",
				name, ErrTemplate, src, genericReply.String())
		}
	}
	return list{name: name, spec: spec, allow: allow, opts: opts, tmpl: t, warn: &warnLimiter{}}, nil
}

func (l *list) Name() string { return l.name }

// Spec returns the list's spec (with Domain set for a domain list), for
// Health.Lists.
func (l *list) Spec() Spec { return l.spec }

// memo keys: one per query name and type, so that every restriction and
// the scorer share a connection's lookups, whatever their filters.
func memoKeyA(q string) string   { return "dnsbl A " + q }
func memoKeyTXT(q string) string { return "dnsbl TXT " + q }

type rawAnswer struct {
	addrs []netip.Addr
	err   error
}

// queryA asks the A records of q once per connection (env.Memo); the
// resolver's cache shares them between connections.
func queryA(ctx context.Context, env *checks.Env, q string, timeout time.Duration) rawAnswer {
	v, err := env.Memo(ctx, memoKeyA(q), timeout, func(ctx context.Context) (any, error) {
		addrs, err := env.Resolver.LookupA(ctx, q)
		return rawAnswer{addrs, err}, nil
	})
	if err != nil {
		// The caller's ctx ended first (or the lookup panicked).
		return rawAnswer{err: &resolver.Error{Name: q, Qtype: dns.TypeA, Kind: resolver.Temporary, Rcode: -1, Err: err}}
	}
	return v.(rawAnswer)
}

func queryTXT(ctx context.Context, env *checks.Env, q string, timeout time.Duration) string {
	v, err := env.Memo(ctx, memoKeyTXT(q), timeout, func(ctx context.Context) (any, error) {
		return joinTXT(env.Resolver.LookupTXT(ctx, q)), nil
	})
	if err != nil {
		return ""
	}
	return v.(string)
}

// lookup is Lookup through the connection's memo, gated by health; the
// TXT records are fetched only when wanted.
func (l *list) lookup(ctx context.Context, env *checks.Env, t Target, wantTXT bool) Result {
	if !l.opts.Health.Healthy(l.spec) {
		return Result{Status: checks.StatusNone, Reason: "list unhealthy: " + l.spec.Display() + " failed its health check"}
	}
	q, err := QueryName(l.spec.Zone, t)
	if err != nil {
		return skipped(l.spec, t, err)
	}
	a := queryA(ctx, env, q, l.opts.timeout())
	res := classify(l.spec, t, a.addrs, a.err)
	if res.Listed && wantTXT {
		res.TXT = l.spec.redact(queryTXT(ctx, env, q, l.opts.timeout()))
	}
	return res
}

// prefetch starts the A lookup of t in the background.
func (l *list) prefetch(env *checks.Env, t Target) {
	if !l.opts.Health.Healthy(l.spec) {
		return
	}
	if q, err := QueryName(l.spec.Zone, t); err == nil {
		go queryA(context.Background(), env, q, l.opts.timeout())
	}
}

// result turns a lookup into the restriction's result: a blocklist hit is
// a fail with Postfix's reply, an allowlist hit permits; a lookup error is
// a temperror (a blocklist's policy decides; Postfix counts it as not
// listed) or, for an allowlist, a defer_if_reject, as Postfix's
// permit_dnswl_client and permit_rhswl_client do; a refusal is logged and
// counts as not listed.
func (l *list) result(ctx context.Context, env *checks.Env, stage checks.Stage, t Target, lr Result, class, what string) checks.Result {
	r := checks.Result{Check: l.name, Stage: stage, Status: lr.Status, Reason: lr.Reason, Err: lr.Err}
	switch lr.Status {
	case checks.StatusPermerror:
		// Never a listing, and not the sender's fault: a resolver or
		// configuration problem, logged for the administrator.
		r.Status = checks.StatusNone
		if l.warn.allow(env.Now) {
			env.Log.Warn("dnsbl list refused the query", "list", l.spec.Display(), "target", t.String(),
				"answers", joinAddrs(lr.Answers), "hint", RefusedHint)
		}
	case checks.StatusTemperror:
		r.Reply = deferReply(what, class)
		if l.allow {
			r.Decision = checks.DeferIfReject
		}
	case checks.StatusFail:
		if l.allow {
			r.Status, r.Decision = checks.StatusOK, checks.Permit
			return r
		}
		why := l.tmpl.Expand(l.vars(ctx, env, lr, class, what))
		reply, ok := replyFrom(why, class)
		if !ok {
			env.Log.Warn("dnsbl reply template does not give a 4xx or 5xx code", "list", l.spec.Display(), "template", l.tmpl.String())
		}
		r.Reply = reply
	}
	return r
}

// deferReply is the reply of Postfix's DEFER_IF_REJECT for a DNSWL or
// RHSWL lookup error: "450 4.7.1 <what>: <class> rejected: Service
// unavailable". A blocklist lookup error uses it too, for a policy that
// tempfails on lookup errors.
func deferReply(what, class string) checks.Reply {
	text := "<" + what + ">: " + class + " rejected: Service unavailable"
	if len(text) > 510-len("450 4.7.1 ") {
		text = text[:510-len("450 4.7.1 ")]
	}
	return checks.Reply{Code: 450, Enhanced: "4.7.1", Text: access.Printable(text)}
}

// vars returns the template variables (see Variables). The client names
// are looked up only when the template uses them.
func (l *list) vars(ctx context.Context, env *checks.Env, lr Result, class, what string) func(string) string {
	return func(name string) string {
		switch name {
		case "rbl_code":
			return strconv.Itoa(l.opts.code())
		case "rbl_domain":
			return l.spec.Display()
		case "rbl_reason", "rbl_txt":
			return lr.TXT
		case "rbl_class":
			return class
		case "rbl_what":
			return what
		case "client_address":
			return clientAddr(env)
		case "client_name":
			return clientName(ctx, env)
		case "reverse_client_name":
			if !env.Addr.IsValid() {
				return "unknown"
			}
			if p := rdns.Lookup(ctx, env).PTR; p != "" {
				return p
			}
			return "unknown"
		case "client_port":
			return strconv.Itoa(int(env.Port))
		case "client":
			return clientName(ctx, env) + "[" + clientAddr(env) + "]"
		case "helo_name":
			return env.Helo
		case "sender", "sender_name", "sender_domain":
			if !env.MailSeen {
				return ""
			}
			return addrPart(env.Mail, strings.TrimPrefix(name, "sender"))
		case "recipient", "recipient_name", "recipient_domain":
			if env.Rcpt == "" {
				return ""
			}
			return addrPart(env.Rcpt, strings.TrimPrefix(name, "recipient"))
		}
		return ""
	}
}

func clientAddr(env *checks.Env) string {
	if !env.Addr.IsValid() {
		return "unknown"
	}
	return env.Addr.Unmap().WithZone("").String()
}

func clientName(ctx context.Context, env *checks.Env) string {
	if !env.Addr.IsValid() {
		return "unknown"
	}
	return rdns.Lookup(ctx, env).Name
}

// addrPart is Postfix's smtpd_expand_addr: the address ("<>" when null),
// its local part ("_name") or its domain ("_domain").
func addrPart(raw, part string) string {
	a := internalAddr(raw)
	switch part {
	case "":
		if a == "" {
			return "<>"
		}
		return a
	case "_name":
		if a == "" {
			return "<>"
		}
		if i := strings.LastIndexByte(a, '@'); i >= 0 {
			return a[:i]
		}
		return a
	}
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return a[i+1:]
	}
	return ""
}

// internalAddr is an envelope address as Postfix shows it: unquoted,
// without source route; "" for the null sender.
func internalAddr(raw string) string {
	a, err := syntax.ParseAddress(raw)
	if err != nil {
		return strings.TrimSpace(raw)
	}
	return a.String()
}

// logResult is the one debug line per check (STYLE habit 11).
func (l *list) logResult(env *checks.Env, t Target, t0 time.Time, r *checks.Result) {
	env.Log.Debug("dnsbl lookup result", "check", l.name, "list", l.spec.Display(), "target", t.String(),
		"status", r.Status, "decision", r.Decision, "duration", time.Since(t0), "err", r.Err)
}

// warnLimiter lets a repeated warning through once a minute per list.
type warnLimiter struct {
	mu   sync.Mutex
	last time.Time
}

func (w *warnLimiter) allow(now func() time.Time) bool {
	if now == nil {
		now = time.Now
	}
	t := now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.last.IsZero() && t.Sub(w.last) < time.Minute {
		return false
	}
	w.last = t
	return true
}

// RBL is Postfix's reject_rbl_client (a listed client address is
// rejected) or permit_dnswl_client (a listed client address is
// permitted): the client's IPv4 or IPv6 address looked up in an IP list.
type RBL struct {
	list
}

// NewRBL returns reject_rbl_client for spec, or permit_dnswl_client when
// allow is set.
func NewRBL(spec Spec, allow bool, opts Options) (*RBL, error) {
	name := string(KindRBL)
	if allow {
		name = string(KindDNSWL)
	}
	l, err := newList(name, spec, allow, opts)
	if err != nil {
		return nil, err
	}
	return &RBL{l}, nil
}

var (
	_ checks.Check      = (*RBL)(nil)
	_ checks.Prefetcher = (*RBL)(nil)
	_ checks.Check      = (*RHSBL)(nil)
	_ checks.Prefetcher = (*RHSBL)(nil)
)

// Stage is connect: the client address exists from the start.
func (c *RBL) Stage() checks.Stage { return checks.StageConnect }

// Prefetch starts the lookup at connect.
func (c *RBL) Prefetch(env *checks.Env) {
	if env.Addr.IsValid() {
		c.prefetch(env, AddrTarget(env.Addr))
	}
}

// Check looks the client address up. A blocklist hit fails with
// Postfix's reply, for example
//
//	554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://...
//
// an allowlist hit permits (Decision Permit), an allowlist lookup error
// defers a later reject (Decision DeferIfReject, 450 4.7.1 <192.0.2.1>:
// Client host rejected: Service unavailable). The Status is always set.
func (c *RBL) Check(ctx context.Context, env *checks.Env) (res checks.Result) {
	t0 := time.Now()
	t := AddrTarget(env.Addr)
	defer c.logResult(env, t, t0, &res)
	if !env.Addr.IsValid() {
		return checks.Result{Check: c.name, Stage: c.Stage(), Status: checks.StatusNone, Reason: "client has no IP address"}
	}
	lr := c.lookup(ctx, env, t, !c.allow && c.tmpl.usesTXT())
	return c.result(ctx, env, c.Stage(), t, lr, ClassClient, t.String())
}

// RHSBL is one of Postfix's reject_rhsbl_client, reject_rhsbl_reverse_client,
// reject_rhsbl_helo, reject_rhsbl_sender and reject_rhsbl_recipient, or
// permit_rhswl_client: a name, or an address's domain, looked up in a
// domain list.
type RHSBL struct {
	list
	src Source
}

// NewRHSBL returns the RHSBL restriction for src, or permit_rhswl_client
// when allow is set (src must then be SourceClient, as in Postfix). It
// sets spec.Domain.
func NewRHSBL(spec Spec, src Source, allow bool, opts Options) (*RHSBL, error) {
	if _, ok := sourceNames[src]; !ok {
		return nil, fmt.Errorf("dnsbl: unknown RHSBL source %d", int(src))
	}
	name := "rhsbl_" + src.String()
	if allow {
		if src != SourceClient {
			return nil, fmt.Errorf("rhswl: only the verified client name can be allowlisted (permit_rhswl_client), not the %s", src)
		}
		name = string(KindRHSWL)
	}
	spec.Domain = true
	l, err := newList(name, spec, allow, opts)
	if err != nil {
		return nil, err
	}
	return &RHSBL{list: l, src: src}, nil
}

// Source returns what c looks up.
func (c *RHSBL) Source() Source { return c.src }

// Stage is where c's input first exists: connect for the client names,
// HELO, MAIL or RCPT.
func (c *RHSBL) Stage() checks.Stage { return c.src.stage() }

// subject returns the name to look up and $rbl_what (Postfix's "what":
// the client name, the HELO name, the whole sender or recipient address),
// or ok false with the reason it is not looked up.
func (c *RHSBL) subject(ctx context.Context, env *checks.Env) (domain, what string, ok bool, why string) {
	switch c.src {
	case SourceClient, SourceReverseClient:
		if !env.Addr.IsValid() {
			return "", "", false, "client has no IP address"
		}
		info := rdns.Lookup(ctx, env)
		name := info.Name
		if c.src == SourceReverseClient {
			name = info.PTR
		}
		if name == "" || strings.EqualFold(name, "unknown") {
			return "", "", false, "client name unknown"
		}
		return name, name, true, ""
	case SourceHelo:
		if !env.HeloSeen || env.Helo == "" {
			return "", "", false, "no HELO"
		}
		return env.Helo, env.Helo, true, ""
	}
	raw, seen := env.Rcpt, env.Rcpt != ""
	if c.src == SourceSender {
		raw, seen = env.Mail, env.MailSeen
	}
	if !seen {
		return "", "", false, "no address yet"
	}
	a, err := syntax.ParseAddress(raw)
	switch {
	case err != nil:
		return "", "", false, "address does not parse"
	case a.Null:
		return "", "", false, "null sender"
	case a.Domain == "":
		// Postfix would look the whole address up as a name; it has no
		// domain, so there is nothing a domain list can say about it.
		return "", "", false, "address without domain"
	case a.Literal:
		return "", "", false, "address literal"
	}
	return a.Domain, a.String(), true, ""
}

// Prefetch starts the lookup as soon as its input exists; for the client
// names, after the client's reverse lookup.
func (c *RHSBL) Prefetch(env *checks.Env) {
	switch c.src {
	case SourceClient, SourceReverseClient:
		if !env.Addr.IsValid() || !c.opts.Health.Healthy(c.spec) {
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), c.opts.timeout())
			defer cancel()
			if d, _, ok, _ := c.subject(ctx, env); ok {
				c.prefetch(env, DomainTarget(d))
			}
		}()
	default:
		if d, _, ok, _ := c.subject(context.Background(), env); ok {
			c.prefetch(env, DomainTarget(d))
		}
	}
}

// Check looks the name up. A blocklist hit fails with Postfix's reply,
// for example
//
//	554 5.7.1 Service unavailable; Sender address [user@bad.example] blocked using dbl.example; <TXT>
//
// with the class and name of the source: Client host [name], Unverified
// Client host [ptr name], Helo command [helo], Sender address [address],
// Recipient address [address]. permit_rhswl_client permits on a hit and
// defers a later reject on a lookup error (450 4.7.1 <name>: Client host
// rejected: Service unavailable). The Status is always set.
func (c *RHSBL) Check(ctx context.Context, env *checks.Env) (res checks.Result) {
	t0 := time.Now()
	var t Target
	defer func() { c.logResult(env, t, t0, &res) }()
	d, what, ok, why := c.subject(ctx, env)
	if !ok {
		return checks.Result{Check: c.name, Stage: c.Stage(), Status: checks.StatusNone, Reason: why}
	}
	t = DomainTarget(d)
	lr := c.lookup(ctx, env, t, !c.allow && c.tmpl.usesTXT())
	return c.result(ctx, env, c.Stage(), t, lr, c.src.class(), what)
}

// Kind names a DNS list restriction with mxguard's restriction names
// (the pipeline's canonical names; Postfix's in the comments).
type Kind string

const (
	KindRBL                Kind = "rbl"                  // reject_rbl_client
	KindDNSWL              Kind = "dnswl"                // permit_dnswl_client
	KindRHSBLClient        Kind = "rhsbl_client"         // reject_rhsbl_client
	KindRHSBLReverseClient Kind = "rhsbl_reverse_client" // reject_rhsbl_reverse_client
	KindRHSBLHelo          Kind = "rhsbl_helo"           // reject_rhsbl_helo
	KindRHSBLSender        Kind = "rhsbl_sender"         // reject_rhsbl_sender
	KindRHSBLRecipient     Kind = "rhsbl_recipient"      // reject_rhsbl_recipient
	KindRHSWL              Kind = "rhswl"                // permit_rhswl_client
)

// ErrKind is returned by New for an unknown kind.
var ErrKind = errors.New("dnsbl: unknown list restriction")

// New returns the restriction kind for spec: an *RBL or an *RHSBL.
func New(kind Kind, spec Spec, opts Options) (checks.Check, error) {
	switch kind {
	case KindRBL, KindDNSWL:
		return NewRBL(spec, kind == KindDNSWL, opts)
	case KindRHSBLClient:
		return NewRHSBL(spec, SourceClient, false, opts)
	case KindRHSBLReverseClient:
		return NewRHSBL(spec, SourceReverseClient, false, opts)
	case KindRHSBLHelo:
		return NewRHSBL(spec, SourceHelo, false, opts)
	case KindRHSBLSender:
		return NewRHSBL(spec, SourceSender, false, opts)
	case KindRHSBLRecipient:
		return NewRHSBL(spec, SourceRecipient, false, opts)
	case KindRHSWL:
		return NewRHSBL(spec, SourceClient, true, opts)
	}
	return nil, fmt.Errorf("%w %q (want rbl, dnswl, rhsbl_client, rhsbl_reverse_client, rhsbl_helo, rhsbl_sender, rhsbl_recipient or rhswl)", ErrKind, kind)
}
