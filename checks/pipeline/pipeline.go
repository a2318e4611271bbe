// Package pipeline evaluates mxguard's restriction lists with Postfix's
// semantics (smtpd_check.c): the lists client, helo, sender and recipient
// (smtpd_client/helo/sender/recipient_restrictions) run in that order; in
// each list the restrictions run in configuration order and the first
// permit or reject ends the list; a permit ends only its own list, a reject
// ends everything; defer_if_permit and defer_if_reject are remembered and
// applied at the end (smtpd_check_rcpt); an access-table result may name a
// restriction or a restriction class (smtpd_restriction_classes), which is
// evaluated in its place.
//
// With delay_reject (Postfix's smtpd_delay_reject = yes, the default) the
// lists are evaluated at each RCPT TO, so that the log carries the sender
// and the recipient; their DNS lookups start earlier (Prefetch) so that the
// wait at RCPT is short. Without it, each list is evaluated at its own
// stage.
package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/mxguard/mxguard/checks"
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

// stage is where a list is evaluated without delayed rejection.
func (l List) stage() checks.Stage {
	return [numLists]checks.Stage{checks.StageConnect, checks.StageHelo, checks.StageMail, checks.StageRcpt}[l]
}

// rule is one configured restriction: a check with its policy, or a
// reference to a restriction class.
type rule struct {
	name   string // as configured
	key    string // configuration path, e.g. "client[2]"
	check  checks.Check
	policy checks.Policy
	class  string // restriction class to evaluate instead of check
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
	var walk func(rules []*rule)
	walk = func(rules []*rule) {
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
func (e *Engine) AtStage(ctx context.Context, env *checks.Env, s checks.Stage) *Outcome {
	if s == checks.StageMail && e.heloRequired && !env.HeloSeen {
		if ok, _ := e.Bypassed(env); !ok {
			return &Outcome{Action: "reject", Stage: s, Check: "helo_required", Status: checks.StatusFail,
				Reason: "MAIL FROM before HELO/EHLO",
				Reply:  checks.Reply{Code: 503, Enhanced: "5.5.1", Text: "Error: send HELO/EHLO first"}}
		}
	}
	var lists []List
	switch {
	case s == checks.StageRcpt && e.delayReject:
		lists = []List{ListClient, ListHelo, ListSender, ListRecipient}
	case e.delayReject:
		return &Outcome{Action: "continue", Stage: s}
	default:
		for l := List(0); l < numLists; l++ {
			if l.stage() == s {
				lists = append(lists, l)
			}
		}
	}
	return e.Evaluate(ctx, env, s, lists...)
}

// Evaluate runs the given lists in order, as Postfix's smtpd_check_rcpt
// does with delayed rejection, and returns the verdict.
func (e *Engine) Evaluate(ctx context.Context, env *checks.Env, s checks.Stage, lists ...List) *Outcome {
	out := &Outcome{Action: "continue", Stage: s}
	if ok, why := e.Bypassed(env); ok {
		out.Action, out.Reason = "accept", why
		return out
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
		return out
	}
	st := &evalState{out: out}
	for _, l := range lists {
		// defer_if_reject only reaches a reject of its own list
		// (SMTPD_CHECK_RESET at the start of each stage).
		st.deferIfReject = nil
		if e.runList(ctx, env, e.lists[l], l, st, 0) == checks.Reject {
			return out
		}
	}
	// Force permission into deferral when an earlier temporary error may
	// have prevented a reject (smtpd_check.c, end of smtpd_check_rcpt).
	if st.deferIfPermit != nil {
		out.setReply(*st.deferIfPermit, st.deferIfPermit.Reply)
	}
	return out
}

// runList evaluates one list; it returns Permit, Reject or Dunno.
func (e *Engine) runList(ctx context.Context, env *checks.Env, rules []*rule, l List, st *evalState, depth int) checks.Decision {
	for _, r := range rules {
		var d checks.Decision
		if r.class != "" {
			d = e.runClass(ctx, env, r.class, l, st, depth)
		} else {
			d = e.runRule(ctx, env, r, l, st, depth)
		}
		if d == checks.Permit || d == checks.Reject {
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
	res := e.run(ctx, env, r)
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
		st.out.Discard = true
	case checks.Tag:
		st.out.Tags = append(st.out.Tags, res.Check+": "+res.Reason)
	case checks.Permit:
		return checks.Permit
	}
	return checks.Dunno
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
	res = r.policy.Apply(res)
	if res.Decision == checks.Reject && res.Reply.IsZero() {
		res.Reply = checks.Reply{Code: 554, Enhanced: "5.7.1", Text: "Access denied"}
	}
	return res
}
