package checks_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mxguard/mxguard/checks"
)

func TestStageAndDecisionString(t *testing.T) {
	test := func(got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	test(checks.StageConnect.String(), "connect")
	test(checks.StageHelo.String(), "helo")
	test(checks.StageMail.String(), "mail")
	test(checks.StageRcpt.String(), "rcpt")
	test(checks.StageData.String(), "data")
	test(checks.StageEOM.String(), "eom")
	test(checks.Stage(0).String(), "stage(0)")
	test(checks.Stage(42).String(), "stage(42)")

	test(checks.Dunno.String(), "dunno")
	test(checks.Permit.String(), "permit")
	test(checks.Reject.String(), "reject")
	test(checks.DeferIfPermit.String(), "defer_if_permit")
	test(checks.DeferIfReject.String(), "defer_if_reject")
	test(checks.Warn.String(), "warn")
	test(checks.Quarantine.String(), "quarantine")
	test(checks.Discard.String(), "discard")
	test(checks.Tag.String(), "tag")
	test(checks.Decision(-1).String(), "decision(-1)")
	test(checks.Decision(99).String(), "decision(99)")
}

func TestReply(t *testing.T) {
	r := func(code int, enh, text string) checks.Reply {
		return checks.Reply{Code: code, Enhanced: enh, Text: text}
	}

	// String renders the SMTP line.
	str := func(in checks.Reply, want string) {
		t.Helper()
		if got := in.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", in, got, want)
		}
	}
	str(r(550, "5.7.1", "Access denied"), "550 5.7.1 Access denied")
	str(r(450, "", "Try later"), "450 Try later")
	str(r(504, "5.5.2", "<a>: Helo command rejected: need fully-qualified hostname"),
		"504 5.5.2 <a>: Helo command rejected: need fully-qualified hostname")

	// WithCode forces the class digit of the enhanced code to the code's
	// first digit (smtpd_check_reject: error_text[4] = error_text[0]).
	withCode := func(in checks.Reply, code int, want string) {
		t.Helper()
		if got := in.WithCode(code).String(); got != want {
			t.Errorf("%v.WithCode(%d) = %q, want %q", in, code, got, want)
		}
	}
	withCode(r(550, "5.7.1", "x"), 450, "450 4.7.1 x")
	withCode(r(450, "4.7.25", "x"), 550, "550 5.7.25 x")
	withCode(r(504, "4.5.2", "x"), 504, "504 5.5.2 x") // the lab's "4.5.2 with 504"
	withCode(r(550, "4.5.6", "x"), 550, "550 5.5.6 x") // "550 4.5.6" from a table
	withCode(r(550, "2.0.0", "x"), 421, "421 4.0.0 x")
	withCode(r(550, "", "x"), 450, "450 x")
	withCode(r(550, "X.1.1", "x"), 450, "450 X.1.1 x") // not a status code: left alone
	withCode(r(550, "5", "x"), 450, "450 5 x")         // too short to rewrite

	// AsTemporary: 5xx becomes 450, 4xx stays.
	temp := func(in checks.Reply, want string) {
		t.Helper()
		if got := in.AsTemporary().String(); got != want {
			t.Errorf("%v.AsTemporary() = %q, want %q", in, got, want)
		}
	}
	temp(r(550, "5.7.1", "x"), "450 4.7.1 x")
	temp(r(554, "5.7.25", "x"), "450 4.7.25 x")
	temp(r(504, "5.5.2", "x"), "450 4.5.2 x")
	temp(r(421, "4.3.0", "x"), "421 4.3.0 x")
	temp(r(451, "4.3.5", "x"), "451 4.3.5 x")

	pred := func(in checks.Reply, zero, temporary bool) {
		t.Helper()
		if in.IsZero() != zero || in.Temporary() != temporary {
			t.Errorf("%#v: IsZero %v Temporary %v, want %v %v", in, in.IsZero(), in.Temporary(), zero, temporary)
		}
	}
	pred(checks.Reply{}, true, false)
	pred(r(450, "4.7.1", ""), false, true)
	pred(r(499, "", ""), false, true)
	pred(r(500, "", ""), false, false)
	pred(r(554, "5.7.1", ""), false, false)
	pred(r(399, "", ""), false, false)
}

func TestPolicyApply(t *testing.T) {
	reply550 := checks.Reply{Code: 550, Enhanced: "5.7.1", Text: "Access denied"}
	reply450 := checks.Reply{Code: 450, Enhanced: "4.7.1", Text: "Host not found"}
	res := func(st checks.Status, d checks.Decision, rp checks.Reply) checks.Result {
		return checks.Result{Check: "c", Status: st, Decision: d, Reply: rp}
	}
	// test applies p to in and compares the decision, the recorded action
	// and the reply line ("" for no reply).
	test := func(p checks.Policy, in checks.Result, decision checks.Decision, action, reply string) {
		t.Helper()
		got := p.Apply(in)
		gotReply := ""
		if !got.Reply.IsZero() {
			gotReply = got.Reply.String()
		}
		if got.Decision != decision || got.Action != action || gotReply != reply {
			t.Errorf("%+v.Apply(status %s, decision %s, reply %q) = decision %s, action %q, reply %q; want %s, %q, %q",
				p, in.Status, in.Decision, in.Reply, got.Decision, got.Action, gotReply, decision, action, reply)
		}
		if got.Status != in.Status || got.Check != in.Check {
			t.Errorf("Apply changed status or check: %+v", got)
		}
	}
	P := func(action, temp string) checks.Policy { return checks.Policy{Action: action, TempAction: temp} }

	// Every action word on a fail.
	fail := res(checks.StatusFail, checks.Dunno, reply550)
	test(P("", ""), fail, checks.Reject, "reject", "550 5.7.1 Access denied")
	test(P("reject", ""), fail, checks.Reject, "reject", "550 5.7.1 Access denied")
	test(P("tempfail", ""), fail, checks.Reject, "tempfail", "450 4.7.1 Access denied")
	test(P("defer_if_permit", ""), fail, checks.DeferIfPermit, "defer_if_permit", "450 4.7.1 Access denied")
	test(P("quarantine", ""), fail, checks.Quarantine, "quarantine", "550 5.7.1 Access denied")
	test(P("tag", ""), fail, checks.Tag, "tag", "550 5.7.1 Access denied")
	test(P("discard", ""), fail, checks.Discard, "discard", "550 5.7.1 Access denied")
	test(P("warn", ""), fail, checks.Warn, "warn", "550 5.7.1 Access denied")
	test(P("accept", ""), fail, checks.Dunno, "accept", "550 5.7.1 Access denied")
	test(P("off", ""), fail, checks.Dunno, "accept", "550 5.7.1 Access denied")

	// permerror and softfail follow Action too.
	test(P("", ""), res(checks.StatusPermerror, checks.Dunno, reply550), checks.Reject, "reject", "550 5.7.1 Access denied")
	test(P("warn", ""), res(checks.StatusSoftfail, checks.Dunno, reply550), checks.Warn, "warn", "550 5.7.1 Access denied")

	// temperror follows TempAction (default tempfail), never Action.
	temp := res(checks.StatusTemperror, checks.Dunno, reply450)
	test(P("", ""), temp, checks.Reject, "tempfail", "450 4.7.1 Host not found")
	test(P("warn", ""), temp, checks.Reject, "tempfail", "450 4.7.1 Host not found")
	test(P("reject", "tempfail"), temp, checks.Reject, "tempfail", "450 4.7.1 Host not found")
	test(P("", "defer_if_permit"), temp, checks.DeferIfPermit, "defer_if_permit", "450 4.7.1 Host not found")
	test(P("", "warn"), temp, checks.Warn, "warn", "450 4.7.1 Host not found")
	test(P("", "accept"), temp, checks.Dunno, "accept", "450 4.7.1 Host not found")
	// A temperror whose reply is a 5xx is made temporary by tempfail.
	test(P("", ""), res(checks.StatusTemperror, checks.Dunno, reply550), checks.Reject, "tempfail", "450 4.7.1 Access denied")

	// Statuses without objection continue, whatever the action.
	for _, st := range []checks.Status{checks.StatusPass, checks.StatusNone, checks.StatusNeutral, checks.StatusDunno, ""} {
		test(P("reject", "tempfail"), res(st, checks.Dunno, checks.Reply{}), checks.Dunno, "continue", "")
	}

	// Checks that decided by themselves keep their decision; only a Reject
	// is softened by an action other than reject.
	test(P("", ""), res(checks.StatusOK, checks.Permit, checks.Reply{}), checks.Permit, "permit", "")
	test(P("warn", ""), res(checks.StatusOK, checks.Permit, checks.Reply{}), checks.Permit, "permit", "")
	test(P("", ""), res(checks.StatusReject, checks.Reject, reply550), checks.Reject, "reject", "550 5.7.1 Access denied")
	test(P("reject", ""), res(checks.StatusReject, checks.Reject, reply550), checks.Reject, "reject", "550 5.7.1 Access denied")
	test(P("warn", ""), res(checks.StatusReject, checks.Reject, reply550), checks.Warn, "warn", "550 5.7.1 Access denied")
	test(P("tempfail", ""), res(checks.StatusReject, checks.Reject, reply550), checks.Reject, "tempfail", "450 4.7.1 Access denied")
	test(P("accept", ""), res(checks.StatusReject, checks.Reject, reply550), checks.Dunno, "accept", "550 5.7.1 Access denied")
	test(P("", ""), res(checks.StatusReject, checks.DeferIfPermit, reply450), checks.DeferIfPermit, "defer_if_permit", "450 4.7.1 Host not found")
	test(P("", ""), res(checks.StatusReject, checks.DeferIfReject, reply450), checks.DeferIfReject, "defer_if_reject", "450 4.7.1 Host not found")
	test(P("", ""), res(checks.StatusWarn, checks.Warn, checks.Reply{}), checks.Warn, "warn", "")
	test(P("", ""), res(checks.StatusOK, checks.Quarantine, checks.Reply{}), checks.Quarantine, "quarantine", "")
	// A result naming a class is left to the pipeline.
	cl := res(checks.StatusDunno, checks.Dunno, checks.Reply{})
	cl.Class = "strict"
	test(P("", ""), cl, checks.Dunno, "dunno", "")

	// Overrides of code, enhanced code and text.
	test(checks.Policy{Code: 554}, fail, checks.Reject, "reject", "554 5.7.1 Access denied")
	test(checks.Policy{Code: 450}, fail, checks.Reject, "reject", "450 4.7.1 Access denied")
	test(checks.Policy{Text: "Go away"}, fail, checks.Reject, "reject", "550 5.7.1 Go away")
	test(checks.Policy{Enhanced: "5.7.25"}, fail, checks.Reject, "reject", "550 5.7.25 Access denied")
	test(checks.Policy{Code: 521, Enhanced: "5.7.0", Text: "No thanks"}, fail, checks.Reject, "reject", "521 5.7.0 No thanks")
	// The override comes first, then tempfail makes it temporary.
	test(checks.Policy{Action: "tempfail", Code: 554, Text: "Later"}, fail, checks.Reject, "tempfail", "450 4.7.1 Later")
	test(checks.Policy{Code: 554}, temp, checks.Reject, "tempfail", "450 4.7.1 Host not found")
	// No reply, nothing to override.
	test(checks.Policy{Code: 554, Text: "x"}, res(checks.StatusFail, checks.Dunno, checks.Reply{}), checks.Reject, "reject", "")
}

// TestPolicyEnhancedOverrideClassDigit: an Enhanced override has its class
// digit forced to the reply code's, as Postfix's smtpd_check_reject always
// ends with error_text[4] = error_text[0] (POSTFIX-NOTES.md §1: "550 4.5.6"
// from a table is sent as "550 5.5.6").
func TestPolicyEnhancedOverrideClassDigit(t *testing.T) {
	fail := checks.Result{Status: checks.StatusFail, Reply: checks.Reply{Code: 550, Enhanced: "5.7.1", Text: "x"}}
	test := func(p checks.Policy, want string) {
		t.Helper()
		if got := p.Apply(fail).Reply.String(); got != want {
			t.Errorf("%+v: reply %q, want %q", p, got, want)
		}
	}
	test(checks.Policy{Code: 550, Enhanced: "4.7.26"}, "550 5.7.26 x")
	test(checks.Policy{Enhanced: "4.7.1"}, "550 5.7.1 x")
	test(checks.Policy{Code: 450, Enhanced: "5.7.1"}, "450 4.7.1 x")
	// With tempfail the override is made temporary afterwards.
	test(checks.Policy{Action: "tempfail", Enhanced: "5.7.26"}, "450 4.7.26 x")
	// The check's own reply is fixed the same way.
	odd := fail
	odd.Reply.Enhanced = "4.5.6"
	if got := (checks.Policy{}).Apply(odd).Reply.String(); got != "550 5.5.6 x" {
		t.Errorf("no override: %q, want %q", got, "550 5.5.6 x")
	}
}

func TestParseAction(t *testing.T) {
	test := func(in, want string, wantErr bool) {
		t.Helper()
		got, err := checks.ParseAction(in)
		if got != want || (err != nil) != wantErr {
			t.Errorf("ParseAction(%q) = %q, %v; want %q, error %v", in, got, err, want, wantErr)
		}
	}
	for _, a := range []string{"reject", "tempfail", "defer_if_permit", "quarantine", "tag", "warn", "accept", "off", "discard"} {
		test(a, a, false)
	}
	test(" Reject ", "reject", false)
	test("WARN", "warn", false)
	test("permit", "", true)
	test("", "", true)
	test("defer", "", true)
}

func TestFunc(t *testing.T) {
	f := checks.Func{N: "one", S: checks.StageHelo, F: func(_ context.Context, env *checks.Env) checks.Result {
		return checks.Result{Status: checks.StatusPass, Reason: env.Helo}
	}}
	env := checks.NewEnv(nil, nil)
	env.Helo = "mx.example"
	if f.Name() != "one" || f.Stage() != checks.StageHelo {
		t.Errorf("Func: name %q stage %v", f.Name(), f.Stage())
	}
	if r := f.Check(context.Background(), env); r.Status != checks.StatusPass || r.Reason != "mx.example" {
		t.Errorf("Func.Check = %+v", r)
	}
}

func TestPanicError(t *testing.T) {
	var err error = &checks.PanicError{Value: errors.New("boom")}
	if got := err.Error(); got != "panic in check: boom" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&checks.PanicError{Value: 42}).Error(); !strings.Contains(got, "42") {
		t.Errorf("Error() = %q", got)
	}
}
