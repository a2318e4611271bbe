// Package pipeline evaluates mxguard's restriction lists with Postfix's
// semantics (smtpd_check.c): the lists client, helo, sender and recipient
// (smtpd_client/helo/sender/recipient_restrictions) run in that order; in
// each list the restrictions run in configuration order and the first
// permit or reject ends the list; a permit ends only its own list, a reject
// ends everything, and so does a discard (for the rest of the transaction);
// defer_if_permit and defer_if_reject are remembered and applied at the end
// (smtpd_check_rcpt); an access-table result may name a restriction or a
// restriction class (smtpd_restriction_classes), which is evaluated in its
// place.
//
// With delay_reject (Postfix's smtpd_delay_reject = yes, the default) the
// lists are evaluated at each RCPT TO, so that the log carries the sender
// and the recipient; their DNS lookups start earlier (Prefetch) so that the
// wait at RCPT is short. Without it, each list is evaluated at its own
// stage, and a defer_if_permit of the client, HELO or sender list is kept
// in the Env and applied at each RCPT TO.
package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/dnsbl"
)

// List is one restriction list.
type List int

const (
	ListClient List = iota
	ListHelo
	ListSender
	ListRecipient
	numLists
)

var listNames = [numLists]string{"client", "helo", "sender", "recipient"}

func (l List) String() string { return listNames[l] }

// rule is one configured restriction: a check with its policy, or a
// reference to a restriction class.
type rule struct {
	name   string // as configured
	key    string // configuration path, e.g. "client[2]"
	check  checks.Check
	policy checks.Policy
	class  string // restriction class to evaluate instead of check
	// permitAll: a permit of this rule ends every later list too, not
	// only its own (the "scope: all" option of allowlists).
	permitAll bool
}

// Engine evaluates the configured lists. It is immutable once built and is
// swapped as a whole on reload.
type Engine struct {
	lists        [numLists][]*rule
	classes      map[string][]*rule
	trusted      []netip.Prefix
	skipAuth     bool
	delayReject  bool
	heloRequired bool
	timeout      time.Duration
	log          *slog.Logger
	// byName builds a rule for a restriction named by an access-table
	// result (for example "reject_unknown_sender_domain" or
	// "permit_mynetworks") in the given list.
	byName func(name string, l List) (*rule, error)
	// health tracks the DNS lists' RFC 5782 health; nil without lists.
	health *dnsbl.Health
}

// maxDepth bounds class recursion (config validation rejects cycles; this
// is the belt to those braces).
const maxDepth = 16

// tempfailReply is the reply when a check panics or the stage times out.
var tempfailReply = checks.Reply{Code: 451, Enhanced: "4.3.0", Text: "Temporary failure in policy check, try again later"}

// evalState carries Postfix's per-evaluation flags.
type evalState struct {
	deferIfPermit *checks.Result
	deferIfReject *checks.Result
	out           *Outcome
	// permitAll: an allowlist with scope "all" matched: no later list runs.
	permitAll bool
}

// Bypassed reports whether the client skips every check (trusted network,
// or authenticated with skip_authenticated), and why.
func (e *Engine) Bypassed(env *checks.Env) (bool, string) {
	if env.Trusted || e.isTrusted(env.Addr) {
		return true, "client in trusted_networks"
	}
	if e.skipAuth && env.AuthUser != "" {
		return true, "authenticated as " + env.AuthUser
	}
	return false, ""
}

func (e *Engine) isTrusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range e.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// DelayReject reports whether early verdicts are answered at RCPT.
func (e *Engine) DelayReject() bool { return e.delayReject }

// Prefetch starts the lookups of every restriction whose input exists at
// stage s, so that the verdict, due later, finds them done or in flight.
func (e *Engine) Prefetch(env *checks.Env, s checks.Stage) {
	if ok, _ := e.Bypassed(env); ok {
		return
	}
	walk := func(rules []*rule) {
		for _, r := range rules {
			if r.check == nil {
				continue
			}
			if p, ok := r.check.(checks.Prefetcher); ok && r.check.Stage() == s {
				p.Prefetch(env)
			}
		}
	}
	for _, l := range e.lists {
		walk(l)
	}
	for _, c := range e.classes {
		walk(c)
	}
}

// AtStage evaluates what is due at stage s and returns the verdict to
// answer there. At connect, HELO and MAIL with delayed rejection that is
// nothing (Action "continue"), except the missing-HELO check of MAIL FROM,
// which Postfix answers at once.
//
// Without delayed rejection each list runs at its own stage, as
// smtpd_check_client, _helo, _mail and _rcpt do, and only a reject answers
// the command. A defer_if_permit does not: Postfix keeps the flag per
// stage (defer_if_permit_client, _helo, _sender), restores it at the start
// of the next stage and applies it at the end of smtpd_check_rcpt, unless
// something rejects there. The Engine keeps no state, so the flags live
// in the Env (DeferClient, DeferHelo: connection; DeferSender:
// transaction).
func (e *Engine) AtStage(ctx context.Context, env *checks.Env, s checks.Stage) *Outcome {
	if s == checks.StageMail && e.heloRequired && !env.HeloSeen {
		if ok, _ := e.Bypassed(env); !ok {
			return &Outcome{Action: "reject", Stage: s, Check: "helo_required", Status: checks.StatusFail,
				Reason: "MAIL FROM before HELO/EHLO",
				Reply:  checks.Reply{Code: 503, Enhanced: "5.5.1", Text: "Error: send HELO/EHLO first"}}
		}
	}
	if e.delayReject {
		if s == checks.StageRcpt {
			return e.Evaluate(ctx, env, s, ListClient, ListHelo, ListSender, ListRecipient)
		}
		return &Outcome{Action: "continue", Stage: s}
	}
	var out *Outcome
	switch s {
	case checks.StageConnect:
		// smtpd_check_client starts with no deferral.
		out, env.DeferClient = e.evaluate(ctx, env, s, nil, false, ListClient)
	case checks.StageHelo:
		out, env.DeferHelo = e.evaluate(ctx, env, s, env.DeferClient, false, ListHelo)
	case checks.StageMail:
		// defer_if_permit_client | defer_if_permit_helo; the reason is the
		// first one raised.
		inherited := env.DeferClient
		if inherited == nil {
			inherited = env.DeferHelo
		}
		out, env.DeferSender = e.evaluate(ctx, env, s, inherited, false, ListSender)
	case checks.StageRcpt:
		out, _ = e.evaluate(ctx, env, s, env.DeferSender, true, ListRecipient)
	default:
		out = &Outcome{Action: "continue", Stage: s}
	}
	return out
}

// Evaluate runs the given lists in order, as Postfix's smtpd_check_rcpt
// does with delayed rejection, and returns the verdict: a defer_if_permit
// raised by any of them becomes the verdict unless something rejects.
func (e *Engine) Evaluate(ctx context.Context, env *checks.Env, s checks.Stage, lists ...List) *Outcome {
	out, _ := e.evaluate(ctx, env, s, nil, true, lists...)
	return out
}

// evaluate runs lists starting with the deferral inherited from earlier
// stages (nil with delayed rejection, where smtpd_check_client resets it).
// With final (RCPT TO) a deferral in force at the end becomes the verdict
// unless something rejected; otherwise the command is not refused for it
// and it is returned, for the caller to keep for the next stage.
func (e *Engine) evaluate(ctx context.Context, env *checks.Env, s checks.Stage, inherited *checks.Result, final bool, lists ...List) (*Outcome, *checks.Result) {
	out := &Outcome{Action: "continue", Stage: s}
	if ok, why := e.Bypassed(env); ok {
		out.Action, out.Reason = "accept", why
		return out, inherited
	}
	if e.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	// RFC 5321 §4.5.1: mail to a bare "postmaster" must be accepted;
	// Postfix skips every restriction for it, the delayed ones included.
	if s == checks.StageRcpt && strings.EqualFold(strings.Trim(env.Rcpt, "<> "), "postmaster") {
		out.Reason = "RCPT TO:<postmaster> is never refused"
		return out, inherited
	}
	st := &evalState{out: out, deferIfPermit: inherited}
	if env.Discarded {
		// generic_checks stops at once while state->discard is set: no
		// restriction runs for the rest of the transaction.
		out.Discard = true
		out.Reason = "message discarded earlier in this transaction: no restriction runs"
	} else {
	lists:
		for _, l := range lists {
			// Postfix skips the HELO restrictions when there was no HELO
			// (smtpd_check_helo returns at once without a helo name).
			if l == ListHelo && !env.HeloSeen {
				continue
			}
			// defer_if_reject only reaches a reject of its own list
			// (SMTPD_CHECK_RESET at the start of each stage).
			st.deferIfReject = nil
			switch e.runList(ctx, env, e.lists[l], l, st, 0) {
			case checks.Reject:
				return out, st.deferIfPermit
			case checks.Discard:
				// DISCARD is OK for its own list, and every later list
				// stops before its first restriction (generic_checks:
				// "if (state->discard != 0) break;"): the command is
				// accepted, the message will be discarded.
				break lists
			}
			if st.permitAll {
				break lists
			}
		}
	}
	// Force permission into deferral when an earlier temporary error may
	// have prevented a reject (smtpd_check.c, end of smtpd_check_rcpt).
	// This holds after a DISCARD too: Postfix tests only for REJECT.
	if d := st.deferIfPermit; d != nil {
		if final {
			out.setReply(*d, d.Reply)
		} else if out.Reason == "" {
			out.Reason = "defer_if_permit kept for RCPT TO: " + d.Check + ": " + d.Reply.String()
		}
	}
	return out, st.deferIfPermit
}

// runList evaluates one list; it returns Permit, Reject, Discard or
// Dunno.
func (e *Engine) runList(ctx context.Context, env *checks.Env, rules []*rule, l List, st *evalState, depth int) checks.Decision {
	for _, r := range rules {
		var d checks.Decision
		if r.class != "" {
			d = e.runClass(ctx, env, r.class, l, st, depth)
		} else {
			d = e.runRule(ctx, env, r, l, st, depth)
		}
		if d == checks.Permit || d == checks.Reject || d == checks.Discard {
			return d
		}
		// Nothing later in the list can change the outcome once both
		// deferrals are armed (generic_checks).
		if st.deferIfPermit != nil && st.deferIfReject != nil {
			break
		}
	}
	return checks.Dunno
}

func (e *Engine) runClass(ctx context.Context, env *checks.Env, class string, l List, st *evalState, depth int) checks.Decision {
	rules, ok := e.classes[class]
	if !ok || depth >= maxDepth {
		// Postfix: an unknown restriction in an access result is a server
		// configuration error, answered with 451 4.3.5.
		res := checks.Result{Check: class, Status: checks.StatusPermerror, Decision: checks.Reject,
			Reason: fmt.Sprintf("unknown restriction or class %q (or nesting deeper than %d)", class, maxDepth),
			Reply:  checks.Reply{Code: 451, Enhanced: "4.3.5", Text: "Server configuration error"}, Action: "tempfail"}
		st.out.Results = append(st.out.Results, res)
		st.out.setReply(res, res.Reply)
		return checks.Reject
	}
	return e.runList(ctx, env, rules, l, st, depth+1)
}

func (e *Engine) runRule(ctx context.Context, env *checks.Env, r *rule, l List, st *evalState, depth int) checks.Decision {
	res := e.run(withList(ctx, l), env, r)
	st.out.Results = append(st.out.Results, res)
	if res.Class != "" {
		// An access table named a restriction or a class.
		if _, ok := e.classes[res.Class]; ok {
			return e.runClass(ctx, env, res.Class, l, st, depth)
		}
		nr, err := e.byName(res.Class, l)
		if err != nil || depth >= maxDepth {
			return e.runClass(ctx, env, res.Class, l, st, maxDepth)
		}
		return e.runRule(ctx, env, nr, l, st, depth+1)
	}
	switch res.Decision {
	case checks.Reject:
		reply := res.Reply
		// defer_if_reject turns a later 5xx into the remembered 4xx.
		if st.deferIfReject != nil && !reply.Temporary() {
			st.out.setReply(*st.deferIfReject, st.deferIfReject.Reply)
			return checks.Reject
		}
		st.out.setReply(res, reply)
		return checks.Reject
	case checks.DeferIfPermit:
		if st.deferIfPermit == nil {
			c := res
			st.deferIfPermit = &c
		}
	case checks.DeferIfReject:
		if st.deferIfReject == nil {
			c := res
			st.deferIfReject = &c
		}
	case checks.Quarantine:
		st.out.Quarantine = true
	case checks.Discard:
		if !env.MailSeen {
			// Before MAIL FROM (client and HELO lists without delayed
			// rejection) Postfix skips DISCARD as DUNNO, with a warning
			// (smtpd_check.c not_in_client_helo): there is no message yet.
			st.out.Results[len(st.out.Results)-1].Reason += " (discard before MAIL FROM: ignored)"
			return checks.Dunno
		}
		// check_table_result: DISCARD sets state->discard and returns OK.
		st.out.Discard = true
		env.Discarded = true
		return checks.Discard
	case checks.Tag:
		st.out.Tags = append(st.out.Tags, res.Check+": "+res.Reason)
	case checks.Permit:
		if r.permitAll {
			st.permitAll = true
		}
		return checks.Permit
	}
	return checks.Dunno
}

// listKey is the context key of the list being evaluated.
type listKey struct{}

// withList records in ctx the list being evaluated, for the restrictions
// whose reply names it (genericCheck): a restriction class is built once
// but runs in whatever list refers to it.
func withList(ctx context.Context, l List) context.Context {
	return context.WithValue(ctx, listKey{}, l)
}

// listFrom returns the list recorded by withList, or def.
func listFrom(ctx context.Context, def List) List {
	if l, ok := ctx.Value(listKey{}).(List); ok {
		return l
	}
	return def
}

// run executes one check with its policy. A panic becomes a tempfail for
// the transaction (never a dropped connection), and so does a check that
// returns after the stage's deadline without a verdict.
func (e *Engine) run(ctx context.Context, env *checks.Env, r *rule) (res checks.Result) {
	t0 := time.Now()
	defer func() {
		if x := recover(); x != nil {
			res = checks.Result{Check: r.name, Stage: r.check.Stage(), Status: checks.StatusTemperror,
				Decision: checks.Reject, Action: "tempfail", Reply: tempfailReply,
				Err: &checks.PanicError{Value: x}, Reason: fmt.Sprintf("check panicked: %v", x)}
			e.log.Error("check panicked", "check", r.name, "panic", x)
		}
		res.Duration = time.Since(t0)
	}()
	res = r.check.Check(ctx, env)
	res.Check = r.name
	if res.Stage == 0 {
		res.Stage = r.check.Stage()
	}
	if err := ctx.Err(); err != nil && res.Decision == checks.Dunno && res.Class == "" {
		switch res.Status {
		case "", checks.StatusPass, checks.StatusNone, checks.StatusDunno:
			// The deadline passed while it ran and it found nothing: what
			// it would have found is unknown, so the message must not pass
			// unchecked. A check that reports its own temperror keeps it,
			// for its policy's temporary action.
			reason := fmt.Sprintf("no verdict before the stage deadline: %v", err)
			if res.Reason != "" {
				reason += " (" + res.Reason + ")"
			}
			return checks.Result{Check: r.name, Stage: res.Stage, Status: checks.StatusTemperror,
				Decision: checks.Reject, Action: "tempfail", Reply: tempfailReply, Err: err, Reason: reason}
		}
	}
	res = r.policy.Apply(res)
	if res.Decision == checks.Reject && res.Reply.IsZero() {
		res.Reply = checks.Reply{Code: 554, Enhanced: "5.7.1", Text: "Access denied"}
	}
	return res
}
