package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/resolver"
)

// engineWith builds an engine from spec and appends rules whose checks are
// given directly: the registry only knows real restriction names.
func engineWith(t *testing.T, spec Spec, extra map[List][]*rule) *Engine {
	t.Helper()
	if spec.Log == nil {
		spec.Log = slog.New(slog.DiscardHandler)
	}
	e, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	for l, rs := range extra {
		e.lists[l] = append(e.lists[l], rs...)
	}
	return e
}

func fn(name string, f func(ctx context.Context, env *checks.Env) checks.Result) checks.Func {
	return checks.Func{N: name, S: checks.StageConnect, F: f}
}

func env() *checks.Env {
	e := checks.NewEnv(nil, slog.New(slog.DiscardHandler))
	e.Addr = netip.MustParseAddr("192.0.2.1")
	e.Helo, e.HeloSeen = "mx.client.example", true
	e.Mail, e.MailSeen = "a@client.example", true
	e.Rcpt = "b@ours.example"
	return e
}

func show(o *Outcome) string {
	if o.Reply.IsZero() {
		return o.Action
	}
	return o.Action + " " + o.Reply.String()
}

const tempfailLine = "tempfail 451 4.3.0 Temporary failure in policy check, try again later"

// TestPanic: a check that panics tempfails the transaction with 451 4.3.0;
// it never takes the process or the connection down.
func TestPanic(t *testing.T) {
	boom := &rule{name: "boom", key: "client[0]", check: fn("boom", func(context.Context, *checks.Env) checks.Result {
		panic("index out of range")
	})}
	test := func(spec Spec, extra map[List][]*rule, want string) {
		t.Helper()
		e := engineWith(t, spec, extra)
		out := e.Evaluate(context.Background(), env(), checks.StageRcpt, ListClient, ListHelo, ListSender, ListRecipient)
		if got := show(out); got != want {
			t.Fatalf("%q, want %q", got, want)
		}
	}
	test(Spec{}, map[List][]*rule{ListClient: {boom}}, tempfailLine)

	e := engineWith(t, Spec{}, map[List][]*rule{ListHelo: {boom}})
	out := e.Evaluate(context.Background(), env(), checks.StageRcpt, ListClient, ListHelo)
	res := out.Results[0]
	var pe *checks.PanicError
	if !errors.As(res.Err, &pe) || pe.Value != "index out of range" || res.Status != checks.StatusTemperror ||
		res.Check != "boom" || res.Action != "tempfail" || !strings.Contains(res.Reason, "index out of range") ||
		out.Check != "boom" || out.Status != checks.StatusTemperror {
		t.Errorf("panic result %+v, outcome %+v", res, out)
	}

	// A panic in a class; the 451 is temporary, so a defer_if_reject does
	// not replace it.
	spec := Spec{
		Lists:   [numLists][]Restriction{ListSender: {{Name: "defer_if_reject"}, {Name: "c", Class: true}}},
		Classes: map[string][]Restriction{"c": nil},
	}
	e = engineWith(t, spec, nil)
	e.classes["c"] = []*rule{boom}
	if got := show(e.AtStage(context.Background(), env(), checks.StageMail)); got != tempfailLine {
		t.Errorf("panic in class: %q", got)
	}
	// A panic after a permit in the same list never runs.
	test(Spec{Lists: [numLists][]Restriction{ListClient: {{Name: "permit"}}}}, map[List][]*rule{ListClient: {boom}}, "continue")
}

// TestStageTimeout: a check blocked on DNS is cut at the stage timeout and
// reports its own temperror, to which its policy's temporary action applies.
func TestStageTimeout(t *testing.T) {
	slow := func(policy checks.Policy) *rule {
		return &rule{name: "slow", policy: policy, check: fn("slow", func(ctx context.Context, _ *checks.Env) checks.Result {
			if _, ok := ctx.Deadline(); !ok {
				return checks.Result{Status: checks.StatusPermerror, Reason: "no deadline"}
			}
			<-ctx.Done()
			return checks.Result{Status: checks.StatusTemperror, Err: ctx.Err(), Reason: "lookup timed out",
				Reply: checks.Reply{Code: 550, Enhanced: "5.7.1", Text: "slow lookup"}}
		})}
	}
	permit := &rule{name: "permit", check: fn("permit", func(context.Context, *checks.Env) checks.Result {
		return checks.Result{Status: checks.StatusOK, Decision: checks.Permit}
	})}
	test := func(extra map[List][]*rule, want string) {
		t.Helper()
		e := engineWith(t, Spec{Timeout: 20 * time.Millisecond, DelayReject: true}, extra)
		out := e.AtStage(context.Background(), env(), checks.StageRcpt)
		if got := show(out); got != want {
			t.Errorf("%q, want %q", got, want)
		}
		if len(out.Results) == 0 || !errors.Is(out.Results[0].Err, context.DeadlineExceeded) {
			t.Errorf("results %+v", out.Results)
		}
	}
	test(map[List][]*rule{ListHelo: {slow(checks.Policy{})}}, "tempfail 450 4.7.1 slow lookup")
	test(map[List][]*rule{ListHelo: {slow(checks.Policy{TempAction: "tempfail"})}}, "tempfail 450 4.7.1 slow lookup")
	test(map[List][]*rule{ListHelo: {slow(checks.Policy{TempAction: "defer_if_permit"})}, ListRecipient: {permit}},
		"tempfail 450 4.7.1 slow lookup")
	test(map[List][]*rule{ListHelo: {slow(checks.Policy{TempAction: "accept"})}, ListRecipient: {permit}}, "continue")

	// The caller's own deadline is honoured too.
	e := engineWith(t, Spec{DelayReject: true}, map[List][]*rule{ListClient: {slow(checks.Policy{})}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if got := show(e.AtStage(ctx, env(), checks.StageRcpt)); got != "tempfail 450 4.7.1 slow lookup" {
		t.Errorf("caller deadline: %q", got)
	}
}

// TestRunDefaults: a rule that rejects without a reply gets 554 5.7.1
// Access denied; the check's name and stage are filled in.
func TestRunDefaults(t *testing.T) {
	bare := &rule{name: "as-configured", check: checks.Func{N: "internal", S: checks.StageHelo, F: func(context.Context, *checks.Env) checks.Result {
		return checks.Result{Status: checks.StatusFail}
	}}}
	e := engineWith(t, Spec{}, nil)
	res := e.run(context.Background(), env(), bare)
	if res.Check != "as-configured" || res.Stage != checks.StageHelo || res.Decision != checks.Reject ||
		res.Reply.String() != "554 5.7.1 Access denied" || res.Duration <= 0 {
		t.Errorf("run = %+v", res)
	}
}

func TestCanonical(t *testing.T) {
	test := func(in, want string) {
		t.Helper()
		if got := canonical(in); got != want {
			t.Errorf("canonical(%q) = %q, want %q", in, got, want)
		}
	}
	test("permit_mynetworks", "mynetworks")
	test("permit_sasl_authenticated", "sasl_authenticated")
	test("reject_unknown_reverse_client_hostname", "unknown_reverse_client_hostname")
	test("rdns", "unknown_reverse_client_hostname")
	test("reject_unknown_client_hostname", "unknown_client_hostname")
	test("reject_unknown_client", "unknown_client_hostname")
	test("fcrdns", "unknown_client_hostname")
	test("reject_unknown_helo_hostname", "unknown_helo_hostname")
	test("reject_unknown_hostname", "unknown_helo_hostname")
	test("reject_invalid_helo_hostname", "invalid_helo_hostname")
	test("reject_invalid_hostname", "invalid_helo_hostname")
	test("reject_non_fqdn_helo_hostname", "non_fqdn_helo_hostname")
	test("reject_non_fqdn_hostname", "non_fqdn_helo_hostname")
	test("reject_non_fqdn_sender", "non_fqdn_sender")
	test("reject_unknown_recipient_domain", "unknown_recipient_domain")
	test("check_sender_access", "sender_access")
	test(" REJECT_Unknown_Sender_Domain ", "unknown_sender_domain")
	test("reject", "reject")
	test("permit", "permit")
	test("defer_if_permit", "defer_if_permit")
	test("strict", "strict")
}

func TestTempAction(t *testing.T) {
	test := func(in, want string) {
		t.Helper()
		if got := tempAction(in); got != want {
			t.Errorf("tempAction(%q) = %q, want %q", in, got, want)
		}
	}
	test("", "defer_if_permit")
	test("defer_if_permit", "defer_if_permit")
	test("defer", "tempfail")
	test("dunno", "accept")
	test("warn", "warn")
}

// TestMynetworksCheck: permit_mynetworks itself (Evaluate bypasses a
// trusted client before any list runs, so only the check shows it).
func TestMynetworksCheck(t *testing.T) {
	e := engineWith(t, Spec{
		Trusted: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
		Lists:   [numLists][]Restriction{ListClient: {{Name: "mynetworks"}, {Name: "sasl_authenticated"}, {Name: "dunno"}}},
	}, nil)
	test := func(r *rule, mod func(*checks.Env), decision checks.Decision) {
		t.Helper()
		en := env()
		mod(en)
		if res := r.check.Check(context.Background(), en); res.Decision != decision {
			t.Errorf("%s: %+v, want %s", r.name, res, decision)
		}
	}
	my, sasl, dunno := e.lists[ListClient][0], e.lists[ListClient][1], e.lists[ListClient][2]
	test(my, func(*checks.Env) {}, checks.Permit)
	test(my, func(en *checks.Env) { en.Addr = netip.MustParseAddr("::ffff:192.0.2.9") }, checks.Permit)
	test(my, func(en *checks.Env) { en.Addr = netip.MustParseAddr("198.51.100.1") }, checks.Dunno)
	test(my, func(en *checks.Env) { en.Addr = netip.Addr{} }, checks.Dunno)
	test(sasl, func(*checks.Env) {}, checks.Dunno)
	test(sasl, func(en *checks.Env) { en.AuthUser = "bob" }, checks.Permit)
	test(dunno, func(*checks.Env) {}, checks.Dunno)
}

func TestOutcomeRejects(t *testing.T) {
	for action, want := range map[string]bool{"reject": true, "tempfail": true, "continue": false, "accept": false, "quarantine": false, "discard": false} {
		if got := (&Outcome{Action: action}).Rejects(); got != want {
			t.Errorf("Rejects(%q) = %v", action, got)
		}
	}
}

func tableSpec(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "access")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return "hash:" + p
}

// TestDiscardEndsRestrictions: an access-table DISCARD is OK for its list
// and every later restriction is skipped (check_table_result returns OK
// and sets state->discard; generic_checks stops at the top of its loop
// while it is set), for the rest of the transaction: the recipient is
// accepted and the message discarded. A deferral raised before it still
// applies (smtpd_check_rcpt tests only for REJECT), and before MAIL FROM
// Postfix skips DISCARD as DUNNO (not_in_client_helo).
func TestDiscardEndsRestrictions(t *testing.T) {
	tbl := tableSpec(t, "a@client.example DISCARD\nb@ours.example DISCARD\n")
	e := engineWith(t, Spec{DelayReject: true, Lists: [numLists][]Restriction{
		ListSender:    {{Name: "sender_access", Arg: tbl}, {Name: "reject"}},
		ListRecipient: {{Name: "reject"}},
	}}, nil)
	en := env()
	out := e.AtStage(context.Background(), en, checks.StageRcpt)
	if got := show(out); got != "continue" || !out.Discard || !en.Discarded {
		t.Errorf("%q, discard %v %v; Postfix: accepted (continue) and discarded", got, out.Discard, en.Discarded)
	}
	if got := len(out.Results); got != 1 {
		t.Errorf("%d restrictions ran after DISCARD", got-1)
	}
	// A later recipient of the same transaction: nothing runs.
	en.Mail = "other@client.example"
	out = e.AtStage(context.Background(), en, checks.StageRcpt)
	if got := show(out); got != "continue" || !out.Discard || len(out.Results) != 0 {
		t.Errorf("next RCPT: %q, discard %v, ran %d", got, out.Discard, len(out.Results))
	}
	// A new transaction starts afresh.
	en.ResetTransaction()
	en.Mail, en.MailSeen, en.Rcpt = "other@client.example", true, "c@ours.example"
	if got := show(e.AtStage(context.Background(), en, checks.StageRcpt)); got != "reject 554 5.7.1 <other@client.example>: Sender address rejected: Access denied" {
		t.Errorf("new transaction: %q", got)
	}

	// A recipient-list DISCARD, inside a class.
	e = engineWith(t, Spec{DelayReject: true,
		Lists:   [numLists][]Restriction{ListRecipient: {{Name: "c", Class: true}, {Name: "reject"}}},
		Classes: map[string][]Restriction{"c": {{Name: "recipient_access", Arg: tbl}}},
	}, nil)
	en = env()
	en.Rcpt = "b@ours.example"
	if out := e.AtStage(context.Background(), en, checks.StageRcpt); show(out) != "continue" || !out.Discard {
		t.Errorf("class: %q, discard %v", show(out), out.Discard)
	}

	// An earlier defer_if_permit still defers.
	e = engineWith(t, Spec{DelayReject: true, Lists: [numLists][]Restriction{
		ListHelo:      {{Name: "defer_if_permit"}},
		ListSender:    {{Name: "sender_access", Arg: tbl}},
		ListRecipient: {{Name: "reject"}},
	}}, nil)
	out = e.AtStage(context.Background(), env(), checks.StageRcpt)
	if got := show(out); got != "tempfail 450 4.7.0 <mx.client.example>: Helo command rejected: defer_if_permit requested" {
		t.Errorf("deferral then DISCARD: %q", got)
	}

	// Before MAIL FROM (delay_reject off): skipped as DUNNO.
	clientTbl := tableSpec(t, "192.0.2.1 DISCARD\n")
	e = engineWith(t, Spec{Lists: [numLists][]Restriction{
		ListClient: {{Name: "client_access", Arg: clientTbl}, {Name: "reject"}},
	}}, nil)
	en = env()
	en.Resolver = &resolver.Fake{}
	en.ResetTransaction()
	out = e.AtStage(context.Background(), en, checks.StageConnect)
	if got := show(out); got != "reject 554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied" || out.Discard || en.Discarded {
		t.Errorf("DISCARD at connect: %q, discard %v", got, out.Discard)
	}
}

// TestDeferIfPermitWithoutDelayReject: without delay_reject a
// defer_if_permit of the client, HELO or sender list does not refuse its
// own command. Postfix saves the flag (smtpd_check_client/helo/mail:
// defer_if_permit_client/_helo/_sender = defer_if_permit.active), restores
// it at the start of the next stage and applies it at the end of
// smtpd_check_rcpt, where a reject still wins (POSTFIX-NOTES.md §5).
func TestDeferIfPermitWithoutDelayReject(t *testing.T) {
	e := engineWith(t, Spec{DelayReject: false, Lists: [numLists][]Restriction{
		ListClient: {{Name: "defer_if_permit"}},
		ListHelo:   {{Name: "defer_if_permit"}},
		ListSender: {{Name: "defer_if_permit"}},
	}}, nil)
	en := env()
	en.Resolver = &resolver.Fake{}
	for _, s := range []checks.Stage{checks.StageConnect, checks.StageHelo, checks.StageMail} {
		if got := show(e.AtStage(context.Background(), en, s)); got != "continue" {
			t.Errorf("%v: %q; Postfix accepts the command and defers at RCPT", s, got)
		}
	}
	// The first reason is the one reported, at each RCPT.
	const clientDefer = "tempfail 450 4.7.0 <unknown[192.0.2.1]>: Client host rejected: defer_if_permit requested"
	for range 2 {
		if got := show(e.AtStage(context.Background(), en, checks.StageRcpt)); got != clientDefer {
			t.Errorf("RCPT: %q, want %q", got, clientDefer)
		}
	}

	test := func(l [numLists][]Restriction, stages []checks.Stage, want string) {
		t.Helper()
		e := engineWith(t, Spec{Lists: l}, nil)
		en := env()
		for _, s := range stages {
			if s == checks.StageMail {
				// What the milter does at MAIL FROM.
				en.ResetTransaction()
				en.Mail, en.MailSeen, en.Rcpt = "a@client.example", true, "b@ours.example"
			}
			out := e.AtStage(context.Background(), en, s)
			if s != checks.StageRcpt && show(out) != "continue" {
				t.Errorf("%v: %q", s, show(out))
			}
			if s == checks.StageRcpt {
				if got := show(out); got != want {
					t.Errorf("RCPT: %q, want %q", got, want)
				}
			}
		}
	}
	all := []checks.Stage{checks.StageConnect, checks.StageHelo, checks.StageMail, checks.StageRcpt}
	heloDefer := "tempfail 450 4.7.0 <mx.client.example>: Helo command rejected: defer_if_permit requested"
	senderDefer := "tempfail 450 4.7.0 <a@client.example>: Sender address rejected: defer_if_permit requested"
	// A HELO deferral reaches RCPT; a recipient reject wins over it; a
	// recipient permit does not.
	test([numLists][]Restriction{ListHelo: {{Name: "defer_if_permit"}}}, all, heloDefer)
	test([numLists][]Restriction{ListHelo: {{Name: "defer_if_permit"}}, ListRecipient: {{Name: "reject"}}}, all,
		"reject 554 5.7.1 <b@ours.example>: Recipient address rejected: Access denied")
	test([numLists][]Restriction{ListHelo: {{Name: "defer_if_permit"}}, ListRecipient: {{Name: "permit"}}}, all, heloDefer)
	// A sender deferral belongs to its transaction: a new MAIL FROM
	// without it is not deferred.
	sender := [numLists][]Restriction{ListSender: {{Name: "defer_if_permit"}}}
	test(sender, all, senderDefer)
	test(sender, []checks.Stage{checks.StageMail, checks.StageRcpt, checks.StageMail, checks.StageRcpt}, senderDefer)
	e2 := engineWith(t, Spec{Lists: sender}, nil)
	en = env()
	e2.AtStage(context.Background(), en, checks.StageMail)
	en.ResetTransaction()
	en.Rcpt = "b@ours.example"
	if got := show(e2.AtStage(context.Background(), en, checks.StageRcpt)); got != "continue" {
		t.Errorf("after ResetTransaction: %q", got)
	}
	// A second HELO replaces the HELO deferral.
	e3 := engineWith(t, Spec{Lists: [numLists][]Restriction{ListHelo: {{Name: "helo_access", Arg: "inline:{ mx.client.example=DEFER_IF_PERMIT }"}}}}, nil)
	en = env()
	e3.AtStage(context.Background(), en, checks.StageHelo)
	if en.DeferHelo == nil {
		t.Fatal("no HELO deferral kept")
	}
	en.Helo = "other.client.example"
	e3.AtStage(context.Background(), en, checks.StageHelo)
	if got := show(e3.AtStage(context.Background(), en, checks.StageRcpt)); got != "continue" {
		t.Errorf("after a second HELO: %q", got)
	}
	// With delay_reject the deferral is answered at RCPT as before, and
	// nothing is kept in the Env.
	e4 := engineWith(t, Spec{DelayReject: true, Lists: [numLists][]Restriction{ListHelo: {{Name: "defer_if_permit"}}}}, nil)
	en = env()
	if got := show(e4.AtStage(context.Background(), en, checks.StageRcpt)); got != heloDefer {
		t.Errorf("delay_reject: %q", got)
	}
	if en.DeferClient != nil || en.DeferHelo != nil || en.DeferSender != nil {
		t.Errorf("delay_reject kept deferrals in the Env")
	}
}

// TestStageTimeoutWithoutVerdict: a check that returns after the stage's
// deadline without a verdict tempfails the transaction; one that returned
// in time is not affected.
func TestStageTimeoutWithoutVerdict(t *testing.T) {
	late := &rule{name: "late", check: fn("late", func(ctx context.Context, _ *checks.Env) checks.Result {
		<-ctx.Done()
		return checks.Result{}
	})}
	e := engineWith(t, Spec{Timeout: 20 * time.Millisecond, DelayReject: true}, map[List][]*rule{ListHelo: {late}})
	out := e.AtStage(context.Background(), env(), checks.StageRcpt)
	if got := show(out); got != tempfailLine {
		t.Errorf("%q; the doc comment promises %q", got, tempfailLine)
	}
	if res := out.Results[0]; res.Status != checks.StatusTemperror || res.Action != "tempfail" ||
		!errors.Is(res.Err, context.DeadlineExceeded) || out.Check != "late" {
		t.Errorf("result %+v", res)
	}
	// A pass, and a none, returned after the deadline.
	for _, r := range []checks.Result{{Status: checks.StatusPass}, {Status: checks.StatusNone}} {
		late := &rule{name: "late", check: fn("late", func(ctx context.Context, _ *checks.Env) checks.Result {
			<-ctx.Done()
			return r
		})}
		e := engineWith(t, Spec{Timeout: 20 * time.Millisecond, DelayReject: true}, map[List][]*rule{ListSender: {late}})
		if got := show(e.AtStage(context.Background(), env(), checks.StageRcpt)); got != tempfailLine {
			t.Errorf("%s after the deadline: %q", r.Status, got)
		}
	}
	quick := &rule{name: "quick", check: fn("quick", func(context.Context, *checks.Env) checks.Result {
		return checks.Result{Status: checks.StatusPass}
	})}
	e = engineWith(t, Spec{Timeout: time.Second, DelayReject: true}, map[List][]*rule{ListHelo: {quick}})
	if got := show(e.AtStage(context.Background(), env(), checks.StageRcpt)); got != "continue" {
		t.Errorf("in time: %q", got)
	}
}

// TestAccessReplyNameInternalForm: check_sender_access and
// check_recipient_access name the address in Postfix's internal form
// (POSTFIX-NOTES.md §1, lab): MAIL FROM:<"a b"@x> gives <a b@x>,
// <@a,@b:u@x> gives <u@x>; the null sender is <>.
func TestAccessReplyNameInternalForm(t *testing.T) {
	tbl := tableSpec(t, "client.example REJECT\nours.example REJECT\n<> REJECT\n")
	test := func(l List, from, rcpt, want string) {
		t.Helper()
		var lists [numLists][]Restriction
		lists[l] = []Restriction{{Name: "access", Arg: tbl}}
		e := engineWith(t, Spec{DelayReject: true, Lists: lists}, nil)
		en := env()
		en.Mail, en.Rcpt = from, rcpt
		if got := show(e.AtStage(context.Background(), en, checks.StageRcpt)); got != want {
			t.Errorf("%q, Postfix: %q", got, want)
		}
	}
	test(ListSender, `"a b"@client.example`, "b@ours.example",
		"reject 554 5.7.1 <a b@client.example>: Sender address rejected: Access denied")
	test(ListSender, "@relay.example:a@client.example", "b@ours.example",
		"reject 554 5.7.1 <a@client.example>: Sender address rejected: Access denied")
	test(ListSender, "<a@client.example>", "b@ours.example",
		"reject 554 5.7.1 <a@client.example>: Sender address rejected: Access denied")
	test(ListSender, "", "b@ours.example", "reject 554 5.7.1 <>: Sender address rejected: Access denied")
	test(ListRecipient, "a@other.example", "@r1.example,@r2.example:b@ours.example",
		"reject 554 5.7.1 <b@ours.example>: Recipient address rejected: Access denied")
}

// TestClientAccessReplyNameMappedIPv4: an IPv4-mapped IPv6 client is named
// as IPv4, as Postfix converts it first (POSTFIX-NOTES.md §3).
func TestClientAccessReplyNameMappedIPv4(t *testing.T) {
	tbl := tableSpec(t, "192.0.2.66 REJECT\n")
	e := engineWith(t, Spec{DelayReject: true, Lists: [numLists][]Restriction{
		ListClient: {{Name: "client_access", Arg: tbl}},
	}}, nil)
	en := env()
	en.Resolver = &resolver.Fake{}
	en.Addr = netip.MustParseAddr("::ffff:192.0.2.66")
	want := "reject 554 5.7.1 <unknown[192.0.2.66]>: Client host rejected: Access denied"
	if got := show(e.AtStage(context.Background(), en, checks.StageRcpt)); got != want {
		t.Errorf("%q, Postfix: %q", got, want)
	}
}

// TestMultiTableNonFinalResult: several tables in one restriction act as
// consecutive restrictions, so results that Postfix's check_table_result
// answers with DUNNO (WARN, INFO, HOLD, PREPEND, DEFER_IF_*, FILTER,
// REDIRECT, BCC) take effect and the next table is consulted.
func TestMultiTableNonFinalResult(t *testing.T) {
	first := tableSpec(t, "warn@client.example WARN look\nhold@client.example HOLD look\n"+
		"prepend@client.example PREPEND X-Seen: yes\nfilter@client.example FILTER smtp:[relay.example]\n"+
		"dir@client.example DEFER_IF_REJECT wait\nok@client.example OK\n")
	second := tableSpec(t, "client.example REJECT\n")
	e := engineWith(t, Spec{DelayReject: true, Lists: [numLists][]Restriction{
		ListSender: {{Name: "sender_access", Arg: first + " , " + second}},
	}}, nil)
	test := func(from, want string, check func(*Outcome) string) {
		t.Helper()
		en := env()
		en.Mail = from
		out := e.AtStage(context.Background(), en, checks.StageRcpt)
		if got := show(out); got != want {
			t.Errorf("%s: %q, want %q", from, got, want)
		}
		if len(out.Results) != 2 && from != "ok@client.example" {
			t.Errorf("%s: %d results, want one per table", from, len(out.Results))
		}
		if check != nil {
			if msg := check(out); msg != "" {
				t.Errorf("%s: %s", from, msg)
			}
		}
	}
	rejected := func(from string) string {
		return "reject 554 5.7.1 <" + from + ">: Sender address rejected: Access denied"
	}
	test("warn@client.example", rejected("warn@client.example"), func(o *Outcome) string {
		if o.Results[0].Decision != checks.Warn {
			return "WARN not recorded"
		}
		return ""
	})
	test("hold@client.example", rejected("hold@client.example"), func(o *Outcome) string {
		if o.Results[0].Decision != checks.Quarantine {
			return "HOLD not recorded"
		}
		return ""
	})
	test("prepend@client.example", rejected("prepend@client.example"), nil)
	test("filter@client.example", rejected("filter@client.example"), nil)
	// DEFER_IF_REJECT in the first table turns the second's reject into
	// its 450.
	test("dir@client.example", "tempfail 450 4.7.1 <dir@client.example>: Sender address rejected: wait", nil)
	// OK in the first table ends the list: the second is not consulted.
	test("ok@client.example", "continue", func(o *Outcome) string {
		if len(o.Results) != 1 {
			return "second table consulted after OK"
		}
		return ""
	})
}

// TestBraceQuotedTableSpec: the table argument is split at commas and
// spaces outside braces, as Postfix's smtpd_check_parse does (mystrtokq
// with CHARS_BRACE).
func TestBraceQuotedTableSpec(t *testing.T) {
	test := func(arg, from, want string) {
		t.Helper()
		e, err := New(Spec{DelayReject: true, Lists: [numLists][]Restriction{
			ListSender: {{Name: "sender_access", Arg: arg, Key: "sender[0]"}},
		}})
		if err != nil {
			t.Fatalf("New(%q): %v", arg, err)
		}
		en := env()
		en.Mail = from
		if got := show(e.AtStage(context.Background(), en, checks.StageRcpt)); got != want {
			t.Errorf("%s, %s: %q, want %q", arg, from, got, want)
		}
	}
	test("static:{REJECT go away}", "a@client.example", "reject 554 5.7.1 <a@client.example>: Sender address rejected: go away")
	inline := "inline:{ a@x.example=REJECT, { b@x.example = REJECT no, really } }, static:{ REJECT other }"
	test(inline, "a@x.example", "reject 554 5.7.1 <a@x.example>: Sender address rejected: Access denied")
	test(inline, "b@x.example", "reject 554 5.7.1 <b@x.example>: Sender address rejected: no, really")
	test(inline, "c@x.example", "reject 554 5.7.1 <c@x.example>: Sender address rejected: other")

	for _, arg := range []string{"static:{REJECT", "static:REJECT}", "inline:{ {a=b }"} {
		if _, err := New(Spec{Lists: [numLists][]Restriction{
			ListSender: {{Name: "sender_access", Arg: arg, Key: "sender[0]"}},
		}}); err == nil || !strings.Contains(err.Error(), "sender[0]") || !strings.Contains(err.Error(), "unbalanced") {
			t.Errorf("New(%q) = %v, want an unbalanced-brace error", arg, err)
		}
	}
}

// TestGenericRestrictionReplies: the generic restrictions reply as
// smtpd_check.c generic_checks (3.7) does:
//
//	reject           reject_code 554, "5.7.1", "<%s>: %s rejected: Access denied"
//	defer            defer_code 450,  "4.3.2", "<%s>: %s rejected: Try again later"
//	defer_if_permit  450,             "4.7.0", "<%s>: %s rejected: defer_if_permit requested"
//	defer_if_reject  450,             "4.7.0", "<%s>: %s rejected: defer_if_reject requested"
//
// with reply_name/reply_class those of the list being evaluated (for a
// class, the list that refers to it).
func TestGenericRestrictionReplies(t *testing.T) {
	test := func(l List, names []string, want string) {
		t.Helper()
		var lists [numLists][]Restriction
		for _, n := range names {
			lists[l] = append(lists[l], Restriction{Name: n})
		}
		e := engineWith(t, Spec{DelayReject: true, Lists: lists}, nil)
		if got := show(e.AtStage(context.Background(), env(), checks.StageRcpt)); got != want {
			t.Errorf("%v %v: %q, Postfix: %q", l, names, got, want)
		}
	}
	test(ListRecipient, []string{"reject"}, "reject 554 5.7.1 <b@ours.example>: Recipient address rejected: Access denied")
	test(ListSender, []string{"defer"}, "tempfail 450 4.3.2 <a@client.example>: Sender address rejected: Try again later")
	test(ListHelo, []string{"defer_if_permit"}, "tempfail 450 4.7.0 <mx.client.example>: Helo command rejected: defer_if_permit requested")
	test(ListSender, []string{"defer_if_reject", "reject"},
		"tempfail 450 4.7.0 <a@client.example>: Sender address rejected: defer_if_reject requested")

	// A class names the list that refers to it.
	classes := map[string][]Restriction{"strict": {{Name: "reject"}}}
	for l, want := range map[List]string{
		ListHelo:      "reject 554 5.7.1 <mx.client.example>: Helo command rejected: Access denied",
		ListSender:    "reject 554 5.7.1 <a@client.example>: Sender address rejected: Access denied",
		ListRecipient: "reject 554 5.7.1 <b@ours.example>: Recipient address rejected: Access denied",
	} {
		var lists [numLists][]Restriction
		lists[l] = []Restriction{{Name: "strict", Class: true}}
		e := engineWith(t, Spec{DelayReject: true, Lists: lists, Classes: classes}, nil)
		if got := show(e.AtStage(context.Background(), env(), checks.StageRcpt)); got != want {
			t.Errorf("class in %v: %q, want %q", l, got, want)
		}
	}
	// The HELO argument as sent, with non-printable bytes made spaces
	// (smtpd_check_reject's printable()).
	e := engineWith(t, Spec{DelayReject: true, Lists: [numLists][]Restriction{ListHelo: {{Name: "reject"}}}}, nil)
	en := env()
	en.Helo = "foo bar\x01<x>"
	if got := show(e.AtStage(context.Background(), en, checks.StageRcpt)); got !=
		"reject 554 5.7.1 <foo bar <x>>: Helo command rejected: Access denied" {
		t.Errorf("HELO: %q", got)
	}
	// The client name is the verified one, prefetched at connect.
	e = engineWith(t, Spec{DelayReject: true, Lists: [numLists][]Restriction{ListClient: {{Name: "reject"}}}}, nil)
	en = env()
	en.Resolver = &resolver.Fake{PTR: map[string][]string{"192.0.2.1": {"mx.client.example."}},
		A: map[string][]string{"mx.client.example.": {"192.0.2.1"}}}
	e.Prefetch(en, checks.StageConnect)
	if got := show(e.AtStage(context.Background(), en, checks.StageRcpt)); got !=
		"reject 554 5.7.1 <mx.client.example[192.0.2.1]>: Client host rejected: Access denied" {
		t.Errorf("client: %q", got)
	}
}

// Postfix skips smtpd_helo_restrictions when the client sent no HELO
// (smtpd_check_helo returns at once): a "reject" there must not fire.
func TestHeloListSkippedWithoutHelo(t *testing.T) {
	e, err := New(Spec{Lists: [numLists][]Restriction{ListHelo: {{Name: "reject", Key: "helo[0]"}}}, DelayReject: true})
	if err != nil {
		t.Fatal(err)
	}
	env := checks.NewEnv(nil, nil)
	env.MailSeen, env.Mail, env.Rcpt = true, "a@example.com", "b@example.com"
	if o := e.AtStage(context.Background(), env, checks.StageRcpt); o.Action != "continue" {
		t.Errorf("no HELO: %s %s", o.Action, o.Reply)
	}
	env.Helo, env.HeloSeen = "mail.example.com", true
	if o := e.AtStage(context.Background(), env, checks.StageRcpt); o.Action != "reject" {
		t.Errorf("with HELO: %s", o.Action)
	}
}
