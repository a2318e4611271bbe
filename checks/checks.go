// Package checks holds the types shared by every mxguard check: the SMTP
// stages, a check's Status and Result, the Reply sent to the client, the
// per-connection Env, and the Policy that maps a status to an action.
//
// A check reports what it found (a Status in Authentication-Results words,
// RFC 8601 §2.7) and the reply it would give; it never decides between
// reject, tempfail or warn. The configuration does, through Policy: this is
// Postfix's split between a restriction and its *_reject_code /
// *_tempfail_action parameters, and maddy's per-result FailAction.
//
// The restriction lists themselves (Postfix's smtpd_*_restrictions, with
// their first-match semantics, defer_if_permit and restriction classes) are
// evaluated by package checks/pipeline.
package checks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Stage is the SMTP stage at which a check's input first exists.
type Stage int

const (
	StageConnect Stage = iota + 1
	StageHelo
	StageMail
	StageRcpt
	StageData
	StageEOM
)

var stageNames = [...]string{"", "connect", "helo", "mail", "rcpt", "data", "eom"}

func (s Stage) String() string {
	if s > 0 && int(s) < len(stageNames) {
		return stageNames[s]
	}
	return "stage(" + strconv.Itoa(int(s)) + ")"
}

// Status is what a check found, in Authentication-Results words.
type Status string

const (
	StatusPass      Status = "pass"      // the check found nothing wrong
	StatusFail      Status = "fail"      // the check found the problem it looks for
	StatusSoftfail  Status = "softfail"  // SPF's weak fail
	StatusNeutral   Status = "neutral"   // no assertion
	StatusNone      Status = "none"      // nothing to check (no data, not applicable)
	StatusTemperror Status = "temperror" // a temporary failure (DNS timeout, SERVFAIL)
	StatusPermerror Status = "permerror" // a permanent error in the published data
	// StatusOK, StatusReject, StatusDunno ... are the words of access tables
	// and explicit permit_*/reject restrictions, which decide by themselves.
	StatusOK     Status = "ok"
	StatusReject Status = "reject"
	StatusDunno  Status = "dunno"
	StatusWarn   Status = "warn"
)

// Decision is the effect of one restriction on its list, with Postfix's
// semantics (smtpd_check.c generic_checks).
type Decision int

const (
	// Dunno: no opinion; the list goes on with the next restriction.
	Dunno Decision = iota
	// Permit ends the current list with OK; later lists still run.
	Permit
	// Reject ends the evaluation with Reply (4xx or 5xx).
	Reject
	// DeferIfPermit remembers Reply (450) and goes on; the transaction is
	// deferred unless something later rejects (Postfix defer_if_permit).
	DeferIfPermit
	// DeferIfReject remembers Reply and goes on; a later 5xx reject is
	// turned into this 4xx (Postfix defer_if_reject).
	DeferIfReject
	// Warn logs what would have been rejected and goes on.
	Warn
	// Quarantine marks the message to be held (Postfix HOLD) and goes on.
	Quarantine
	// Discard marks the message to be discarded and accepts the command:
	// like Postfix's DISCARD, it is OK for its own list and no later
	// restriction runs, for the rest of the transaction (checks/pipeline).
	Discard
	// Tag marks the message with a header and goes on.
	Tag
)

var decisionNames = [...]string{"dunno", "permit", "reject", "defer_if_permit", "defer_if_reject", "warn", "quarantine", "discard", "tag"}

func (d Decision) String() string {
	if d >= 0 && int(d) < len(decisionNames) {
		return decisionNames[d]
	}
	return "decision(" + strconv.Itoa(int(d)) + ")"
}

// Reply is an SMTP reply: code, RFC 3463 enhanced status code and text.
// The text is public: it must never carry secrets or internal detail.
type Reply struct {
	Code     int
	Enhanced string
	Text     string
}

// IsZero reports whether r is unset.
func (r Reply) IsZero() bool { return r.Code == 0 }

// Temporary reports whether r is a 4xx reply.
func (r Reply) Temporary() bool { return r.Code >= 400 && r.Code < 500 }

// String renders r as an SMTP reply line: "550 5.7.1 text".
func (r Reply) String() string {
	if r.Enhanced == "" {
		return fmt.Sprintf("%d %s", r.Code, r.Text)
	}
	return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text)
}

// WithCode returns r with another reply code and the enhanced code's class
// digit rewritten to match it, as Postfix's smtpd_check_reject does
// ("450 4.7.1" for a 4xx, "550 5.7.1" for a 5xx).
func (r Reply) WithCode(code int) Reply {
	r.Code = code
	if len(r.Enhanced) > 1 && (r.Enhanced[0] == '4' || r.Enhanced[0] == '5' || r.Enhanced[0] == '2') {
		r.Enhanced = strconv.Itoa(code/100) + r.Enhanced[1:]
	}
	return r
}

// AsTemporary returns r as a 4xx reply: a 5xx code becomes 450 (Postfix's
// defer_code family), a 4xx stays as it is.
func (r Reply) AsTemporary() Reply {
	if r.Code >= 500 {
		return r.WithCode(450)
	}
	return r
}

// Result is one restriction's evaluation.
type Result struct {
	Check    string        // the restriction's name, as configured
	Stage    Stage         // where its input exists
	Status   Status        // what it found
	Decision Decision      // set by checks that decide by themselves (access tables, permit_*), else by the Policy
	Reply    Reply         // the reply it would give if it rejects or defers
	Reason   string        // internal detail for the log
	Err      error         // the cause of a temperror/permerror
	Class    string        // an access-table result naming a restriction or class, to be evaluated in its place
	Duration time.Duration // how long it took
	Action   string        // the configured action that Policy applied (reject, warn, ...)
}

// Check is one restriction. Implementations keep no per-message state; that
// belongs in Env. The returned Result's Status is always set.
type Check interface {
	Name() string
	Stage() Stage
	Check(ctx context.Context, env *Env) Result
}

// Prefetcher is implemented by checks whose lookups can start before their
// verdict is due: the milter calls Prefetch as soon as the stage's input
// exists (client address at connect, HELO name at HELO, sender at MAIL), so
// that by the time the verdict is due the answers are in the resolver's
// cache or in flight. Prefetch must return at once.
type Prefetcher interface {
	Prefetch(env *Env)
}

// Func adapts a stateless function to Check, for one-line restrictions.
type Func struct {
	N string
	S Stage
	F func(ctx context.Context, env *Env) Result
}

func (f Func) Name() string                               { return f.N }
func (f Func) Stage() Stage                               { return f.S }
func (f Func) Check(ctx context.Context, env *Env) Result { return f.F(ctx, env) }

var _ Check = Func{}

// ParseAction validates an action word of the configuration (DESIGN.md §2).
func ParseAction(s string) (string, error) {
	switch a := strings.ToLower(strings.TrimSpace(s)); a {
	case "reject", "tempfail", "defer_if_permit", "quarantine", "tag", "warn", "accept", "off", "discard":
		return a, nil
	}
	return "", fmt.Errorf("unknown action %q (want reject, tempfail, defer_if_permit, quarantine, tag, warn, accept or off)", s)
}
