package pipeline_test

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/pipeline"
	"github.com/mxguard/mxguard/resolver"
)

var discard = slog.New(slog.DiscardHandler)

// fake is the DNS of the unit tests: a client 192.0.2.1 whose name
// mx.client.example is forward-confirmed, sender and recipient domains
// with MX records, and names that fail.
var fake = &resolver.Fake{
	PTR: map[string][]string{
		"192.0.2.1": {"mx.client.example."},
		"192.0.2.5": {"bad.client.example."},
	},
	A: map[string][]string{
		"mx.client.example.":  {"192.0.2.1"},
		"bad.client.example.": {"192.0.2.5"},
		"mx.ours.example.":    {"192.0.2.25"},
	},
	MX: map[string][]*net.MX{
		"client.example.": {{Host: "mx.client.example.", Pref: 10}},
		"ours.example.":   {{Host: "mx.ours.example.", Pref: 10}},
		"x.example.":      {{Host: "mx.x.example.", Pref: 10}},
	},
	Fail: []string{"a tempfail.example.", "aaaa tempfail.example.", "mx tempfail.example."},
}

// R is a restriction by name; "@name" refers to a class.
func R(name string) pipeline.Restriction {
	if c, ok := strings.CutPrefix(name, "@"); ok {
		return pipeline.Restriction{Name: c, Key: "class " + c, Class: true}
	}
	return pipeline.Restriction{Name: name, Key: name}
}

// Rs is a list of restrictions by name.
func Rs(names ...string) []pipeline.Restriction {
	out := make([]pipeline.Restriction, 0, len(names))
	for _, n := range names {
		out = append(out, R(n))
	}
	return out
}

// access is an access restriction of kind with table spec arg.
func access(kind, arg string) pipeline.Restriction {
	return pipeline.Restriction{Name: kind, Arg: arg, Key: kind}
}

// table writes an access table source file and returns its hash: spec.
func table(t *testing.T, content string) string {
	t.Helper()
	return "hash:" + writeFile(t, content)
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "access")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func lists(client, helo, sender, rcpt []pipeline.Restriction) (l [4][]pipeline.Restriction) {
	l[pipeline.ListClient], l[pipeline.ListHelo], l[pipeline.ListSender], l[pipeline.ListRecipient] = client, helo, sender, rcpt
	return l
}

func newEngine(t *testing.T, spec pipeline.Spec) *pipeline.Engine {
	t.Helper()
	if spec.Log == nil {
		spec.Log = discard
	}
	e, err := pipeline.New(spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// newEnv is a complete transaction from the verified client 192.0.2.1.
func newEnv() *checks.Env {
	env := checks.NewEnv(fake, discard)
	env.Addr = netip.MustParseAddr("192.0.2.1")
	env.Helo, env.HeloSeen = "mx.client.example", true
	env.Mail, env.MailSeen = "sender@client.example", true
	env.Rcpt = "rcpt@ours.example"
	return env
}

// show renders an outcome as "action" or "action reply".
func show(o *pipeline.Outcome) string {
	if o.Reply.IsZero() {
		return o.Action
	}
	return o.Action + " " + o.Reply.String()
}

// ran lists the names of the restrictions an outcome evaluated.
func ran(o *pipeline.Outcome) string {
	var names []string
	for _, r := range o.Results {
		names = append(names, r.Check)
	}
	return strings.Join(names, ",")
}

// Postfix's default codes.
var postfixCodes = pipeline.Codes{
	UnknownClientReject: 450, UnknownHostnameReject: 450, UnknownAddressReject: 450,
	NonFQDNReject: 504, InvalidHostnameReject: 501, AccessMapReject: 554, AccessMapDefer: 450,
	MapsRBLReject: 554,
}

// The reply names and classes of newEnv's transaction in each list
// (Postfix's reply_name and reply_class).
const (
	clientName = "<mx.client.example[192.0.2.1]>: Client host"
	heloName   = "<mx.client.example>: Helo command"
	senderName = "<sender@client.example>: Sender address"
	rcptName   = "<rcpt@ours.example>: Recipient address"
)

// The replies of the generic restrictions (smtpd_check.c generic_checks,
// 3.7) for a reply name and class.
func generic(verdict, code, name, text string) string {
	return verdict + " " + code + " " + name + " rejected: " + text
}
func rejectIn(name string) string { return generic("reject", "554 5.7.1", name, "Access denied") }
func deferIn(name string) string  { return generic("tempfail", "450 4.3.2", name, "Try again later") }
func dipIn(name string) string {
	return generic("tempfail", "450 4.7.0", name, "defer_if_permit requested")
}
func dirIn(name string) string {
	return generic("tempfail", "450 4.7.0", name, "defer_if_reject requested")
}

// TestListSemantics: Postfix's restriction list rules (smtpd_check.c
// generic_checks and smtpd_check_rcpt), with the generic restrictions, at
// RCPT with delayed rejection.
func TestListSemantics(t *testing.T) {
	test := func(l [4][]pipeline.Restriction, want, wantRan string) {
		t.Helper()
		e := newEngine(t, pipeline.Spec{Lists: l, DelayReject: true, Codes: postfixCodes})
		out := e.AtStage(context.Background(), newEnv(), checks.StageRcpt)
		if got := show(out); got != want || ran(out) != wantRan {
			t.Errorf("%v: %q after %q; want %q after %q", l, got, ran(out), want, wantRan)
		}
		if out.Stage != checks.StageRcpt {
			t.Errorf("stage %v", out.Stage)
		}
		if out.Rejects() != (out.Action == "reject" || out.Action == "tempfail") {
			t.Errorf("Rejects() = %v for %q", out.Rejects(), out.Action)
		}
	}
	none := []pipeline.Restriction(nil)
	test(lists(none, none, none, none), "continue", "")
	// The first permit or reject ends a list.
	test(lists(Rs("reject", "permit"), none, none, none), rejectIn(clientName), "reject")
	test(lists(Rs("permit", "reject"), none, none, none), "continue", "permit")
	test(lists(Rs("dunno", "reject"), none, none, none), rejectIn(clientName), "dunno,reject")
	test(lists(Rs("defer", "reject"), none, none, none), deferIn(clientName), "defer")
	// A permit ends only its own list; a reject ends everything.
	test(lists(Rs("permit"), Rs("permit"), Rs("reject"), Rs("permit")), rejectIn(senderName), "permit,permit,reject")
	test(lists(Rs("reject"), Rs("permit"), none, none), rejectIn(clientName), "reject")
	test(lists(Rs("permit"), Rs("permit"), Rs("permit"), Rs("reject")), rejectIn(rcptName), "permit,permit,permit,reject")
	// defer_if_permit is kept across lists and applied at the end...
	test(lists(none, Rs("defer_if_permit"), none, Rs("permit")), dipIn(heloName), "defer_if_permit,permit")
	test(lists(Rs("defer_if_permit", "permit"), none, none, none), dipIn(clientName), "defer_if_permit,permit")
	test(lists(none, Rs("defer_if_permit"), none, none), dipIn(heloName), "defer_if_permit")
	// ... unless a reject comes, 5xx or 4xx.
	test(lists(none, Rs("defer_if_permit"), none, Rs("reject")), rejectIn(rcptName), "defer_if_permit,reject")
	test(lists(none, Rs("defer_if_permit"), Rs("defer"), none), deferIn(senderName), "defer_if_permit,defer")
	// defer_if_reject turns a 5xx of its own list into its 450...
	test(lists(none, none, Rs("defer_if_reject", "reject"), none), dirIn(senderName), "defer_if_reject,reject")
	test(lists(none, none, Rs("defer_if_reject", "dunno", "reject"), none), dirIn(senderName), "defer_if_reject,dunno,reject")
	// ... not a 4xx ...
	test(lists(none, none, Rs("defer_if_reject", "defer"), none), deferIn(senderName), "defer_if_reject,defer")
	// ... and not a reject of another list (SMTPD_CHECK_RESET per stage).
	test(lists(none, Rs("defer_if_reject"), none, Rs("reject")), rejectIn(rcptName), "defer_if_reject,reject")
	// Alone it never defers.
	test(lists(none, Rs("defer_if_reject"), none, Rs("permit")), "continue", "defer_if_reject,permit")
	// Both flags armed: the list stops; the deferral applies.
	test(lists(none, none, Rs("defer_if_permit", "defer_if_reject", "reject"), none), dipIn(senderName), "defer_if_permit,defer_if_reject")
	test(lists(none, none, Rs("defer_if_reject", "defer_if_permit", "reject"), Rs("permit")), dipIn(senderName),
		"defer_if_reject,defer_if_permit,permit")
	// defer_if_permit of an earlier list plus defer_if_reject stops this
	// list too; the next list starts without defer_if_reject.
	test(lists(Rs("defer_if_permit"), none, Rs("defer_if_reject", "reject"), Rs("reject")), rejectIn(rcptName),
		"defer_if_permit,defer_if_reject,reject")
	// Only the first reason of each kind is kept.
	test(lists(Rs("defer_if_permit"), Rs("defer_if_permit"), none, none), dipIn(clientName), "defer_if_permit,defer_if_permit")
}

func TestClasses(t *testing.T) {
	classes := map[string][]pipeline.Restriction{
		"strict":  Rs("reject"),
		"lenient": Rs("permit"),
		"nested":  Rs("dunno", "@strict"),
		"empty":   nil,
		"loop":    Rs("@loop"),
		"dip":     Rs("defer_if_permit"),
	}
	test := func(l [4][]pipeline.Restriction, want, wantRan string) {
		t.Helper()
		e := newEngine(t, pipeline.Spec{Lists: l, Classes: classes, DelayReject: true})
		out := e.AtStage(context.Background(), newEnv(), checks.StageRcpt)
		if got := show(out); got != want || ran(out) != wantRan {
			t.Errorf("%v: %q after %q; want %q after %q", l, got, ran(out), want, wantRan)
		}
	}
	none := []pipeline.Restriction(nil)
	test(lists(none, none, none, Rs("@strict")), rejectIn(rcptName), "reject")
	test(lists(none, none, none, Rs("@nested")), rejectIn(rcptName), "dunno,reject")
	// A permit in a class ends the list that refers to it, only that one.
	test(lists(none, none, Rs("@lenient", "reject"), none), "continue", "permit")
	test(lists(none, none, Rs("@lenient"), Rs("reject")), rejectIn(rcptName), "permit,reject")
	test(lists(none, none, Rs("@empty", "reject"), none), rejectIn(senderName), "reject")
	test(lists(Rs("@dip"), none, none, Rs("permit")), dipIn(clientName), "defer_if_permit,permit")
	// An undefined class, or endless nesting: Postfix's server
	// configuration error.
	test(lists(none, none, none, Rs("@missing")), "tempfail 451 4.3.5 Server configuration error", "missing")
	test(lists(none, none, none, Rs("@loop")), "tempfail 451 4.3.5 Server configuration error", "loop")
}

func TestBypass(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	test := func(spec pipeline.Spec, mod func(*checks.Env), want, reason string) {
		t.Helper()
		spec.DelayReject = true
		e := newEngine(t, spec)
		env := newEnv()
		mod(env)
		out := e.AtStage(context.Background(), env, checks.StageRcpt)
		if got := show(out); got != want || out.Reason != reason {
			t.Errorf("%q (%q); want %q (%q)", got, out.Reason, want, reason)
		}
	}
	l := lists(Rs("reject"), nil, nil, nil)
	same := func(*checks.Env) {}
	addr := func(a string) func(*checks.Env) {
		return func(env *checks.Env) { env.Addr = netip.MustParseAddr(a) }
	}
	auth := func(env *checks.Env) { env.AuthUser = "alice" }
	test(pipeline.Spec{Lists: l, Trusted: trusted}, same, "accept", "client in trusted_networks")
	test(pipeline.Spec{Lists: l, Trusted: trusted}, addr("::ffff:192.0.2.1"), "accept", "client in trusted_networks")
	test(pipeline.Spec{Lists: l, Trusted: trusted}, addr("2001:db8::7"), "accept", "client in trusted_networks")
	test(pipeline.Spec{Lists: l, Trusted: trusted}, addr("198.51.100.1"), rejectIn("<unknown[198.51.100.1]>: Client host"), "")
	test(pipeline.Spec{Lists: l, Trusted: trusted}, addr("::"), rejectIn("<unknown[::]>: Client host"), "")
	test(pipeline.Spec{Lists: l, Trusted: trusted}, func(env *checks.Env) { env.Addr = netip.Addr{} }, rejectIn("<unknown[unknown]>: Client host"), "")
	test(pipeline.Spec{Lists: l}, func(env *checks.Env) { env.Trusted = true }, "accept", "client in trusted_networks")
	test(pipeline.Spec{Lists: l, SkipAuth: true}, auth, "accept", "authenticated as alice")
	test(pipeline.Spec{Lists: l, SkipAuth: true}, same, rejectIn(clientName), "")
	test(pipeline.Spec{Lists: l, SkipAuth: false}, auth, rejectIn(clientName), "")
	// permit_sasl_authenticated as a restriction ends its list only.
	sasl := lists(nil, nil, Rs("sasl_authenticated", "reject"), nil)
	test(pipeline.Spec{Lists: sasl}, auth, "continue", "")
	test(pipeline.Spec{Lists: sasl}, same, rejectIn(senderName), "")
	test(pipeline.Spec{Lists: lists(nil, nil, Rs("sasl_authenticated"), Rs("reject"))}, auth, rejectIn(rcptName), "")
	// permit_mynetworks: a client outside trusted_networks goes on (one
	// inside never gets here: it is bypassed).
	test(pipeline.Spec{Lists: lists(Rs("mynetworks", "reject"), nil, nil, nil), Trusted: trusted}, addr("198.51.100.1"), rejectIn("<unknown[198.51.100.1]>: Client host"), "")
	test(pipeline.Spec{Lists: lists(Rs("mynetworks", "reject"), nil, nil, nil)}, same, rejectIn(clientName), "")

	// Prefetch does nothing for a bypassed client (no resolver to call).
	e := newEngine(t, pipeline.Spec{Lists: lists(Rs("unknown_client_hostname"), nil, nil, nil), Trusted: trusted})
	env := newEnv()
	env.Resolver = nil
	e.Prefetch(env, checks.StageConnect)
	if ok, why := e.Bypassed(env); !ok || why != "client in trusted_networks" {
		t.Errorf("Bypassed = %v, %q", ok, why)
	}
}

func TestPostmaster(t *testing.T) {
	e := newEngine(t, pipeline.Spec{Lists: lists(Rs("reject"), Rs("reject"), Rs("reject"), Rs("reject")), DelayReject: true})
	test := func(rcpt, want string) {
		t.Helper()
		env := newEnv()
		env.Rcpt = rcpt
		out := e.AtStage(context.Background(), env, checks.StageRcpt)
		if got := show(out); got != want {
			t.Errorf("RCPT TO:<%s>: %q, want %q", rcpt, got, want)
		}
		if want == "continue" && len(out.Results) != 0 {
			t.Errorf("RCPT TO:<%s>: restrictions ran: %q", rcpt, ran(out))
		}
	}
	test("postmaster", "continue")
	test("Postmaster", "continue")
	test("<POSTMASTER>", "continue")
	test("postmaster@ours.example", rejectIn(clientName))
	test("postmasters", rejectIn(clientName))
	test("rcpt@ours.example", rejectIn(clientName))
}

func TestHeloRequired(t *testing.T) {
	test := func(spec pipeline.Spec, heloSeen, trusted bool, stage checks.Stage, want string) {
		t.Helper()
		e := newEngine(t, spec)
		env := newEnv()
		env.Helo, env.HeloSeen, env.Trusted = "", heloSeen, trusted
		out := e.AtStage(context.Background(), env, stage)
		if got := show(out); got != want {
			t.Errorf("helo seen %v trusted %v at %v: %q, want %q", heloSeen, trusted, stage, got, want)
		}
	}
	const noHelo = "reject 503 5.5.1 Error: send HELO/EHLO first"
	on := pipeline.Spec{HeloRequired: true, DelayReject: true}
	test(on, false, false, checks.StageMail, noHelo)
	test(on, true, false, checks.StageMail, "continue")
	test(on, false, true, checks.StageMail, "continue") // trusted clients are not asked
	test(on, false, false, checks.StageHelo, "continue")
	test(pipeline.Spec{HeloRequired: false, DelayReject: true}, false, false, checks.StageMail, "continue")
	// Answered at MAIL before the sender list, with or without delayed
	// rejection.
	test(pipeline.Spec{HeloRequired: true, Lists: lists(nil, nil, Rs("reject"), nil)}, false, false, checks.StageMail, noHelo)
}

// TestAtStage: with delay_reject every list is answered at RCPT; without
// it, each list at its own stage.
func TestAtStage(t *testing.T) {
	tables := lists(
		[]pipeline.Restriction{access("client_access", "static:REJECT")},
		[]pipeline.Restriction{access("helo_access", "static:REJECT")},
		[]pipeline.Restriction{access("sender_access", "static:REJECT")},
		[]pipeline.Restriction{access("recipient_access", "static:REJECT")},
	)
	test := func(delay bool, l [4][]pipeline.Restriction, stage checks.Stage, want string) {
		t.Helper()
		e := newEngine(t, pipeline.Spec{Lists: l, DelayReject: delay})
		if e.DelayReject() != delay {
			t.Errorf("DelayReject() = %v", e.DelayReject())
		}
		out := e.AtStage(context.Background(), newEnv(), stage)
		if got := show(out); got != want || out.Stage != stage {
			t.Errorf("delay %v at %v: %q (stage %v), want %q", delay, stage, got, out.Stage, want)
		}
	}
	const (
		client = "reject 554 5.7.1 <mx.client.example[192.0.2.1]>: Client host rejected: Access denied"
		helo   = "reject 554 5.7.1 <mx.client.example>: Helo command rejected: Access denied"
		sender = "reject 554 5.7.1 <sender@client.example>: Sender address rejected: Access denied"
		rcpt   = "reject 554 5.7.1 <rcpt@ours.example>: Recipient address rejected: Access denied"
	)
	for _, s := range []checks.Stage{checks.StageConnect, checks.StageHelo, checks.StageMail, checks.StageData, checks.StageEOM} {
		test(true, tables, s, "continue")
	}
	test(true, tables, checks.StageRcpt, client)
	test(true, lists(nil, tables[1], tables[2], tables[3]), checks.StageRcpt, helo)
	test(true, lists(nil, nil, tables[2], tables[3]), checks.StageRcpt, sender)
	test(true, lists(nil, nil, nil, tables[3]), checks.StageRcpt, rcpt)

	test(false, tables, checks.StageConnect, client)
	test(false, tables, checks.StageHelo, helo)
	test(false, tables, checks.StageMail, sender)
	test(false, tables, checks.StageRcpt, rcpt)
	test(false, tables, checks.StageData, "continue")
	test(false, tables, checks.StageEOM, "continue")
	test(false, lists(Rs("permit"), nil, nil, nil), checks.StageConnect, "continue")
}

// TestActions: the per-restriction action, temporary action and reply
// overrides, with the real HELO and address restrictions.
func TestActions(t *testing.T) {
	test := func(codes pipeline.Codes, helo pipeline.Restriction, heloName string, rcpt []pipeline.Restriction, want string, check func(*pipeline.Outcome) string) {
		t.Helper()
		e := newEngine(t, pipeline.Spec{Lists: lists(nil, []pipeline.Restriction{helo}, nil, rcpt), DelayReject: true, Codes: codes})
		env := newEnv()
		env.Helo = heloName
		out := e.AtStage(context.Background(), env, checks.StageRcpt)
		if got := show(out); got != want {
			t.Errorf("%+v HELO %q: %q, want %q", helo, heloName, got, want)
		}
		if check != nil {
			if msg := check(out); msg != "" {
				t.Errorf("%+v HELO %q: %s", helo, heloName, msg)
			}
		}
	}
	with := func(name, action string) pipeline.Restriction {
		r := R(name)
		r.Action = action
		return r
	}
	first := func(decision checks.Decision, action string) func(*pipeline.Outcome) string {
		return func(o *pipeline.Outcome) string {
			if len(o.Results) == 0 || o.Results[0].Decision != decision || o.Results[0].Action != action {
				return "first result: " + ran(o)
			}
			return ""
		}
	}
	const nonFQDN = "<a>: Helo command rejected: need fully-qualified hostname"
	c := postfixCodes
	test(c, R("non_fqdn_helo_hostname"), "a", nil, "reject 504 5.5.2 "+nonFQDN, first(checks.Reject, "reject"))
	test(c, with("non_fqdn_helo_hostname", "reject"), "a", nil, "reject 504 5.5.2 "+nonFQDN, nil)
	test(pipeline.Codes{NonFQDNReject: 550}, R("non_fqdn_helo_hostname"), "a", nil, "reject 550 5.5.2 "+nonFQDN, nil)
	// tempfail: a 5xx becomes 450, the class digit follows.
	test(c, with("non_fqdn_helo_hostname", "tempfail"), "a", nil, "tempfail 450 4.5.2 "+nonFQDN, first(checks.Reject, "tempfail"))
	// defer_if_permit: applied at the end, unless something rejects.
	test(c, with("non_fqdn_helo_hostname", "defer_if_permit"), "a", nil, "tempfail 450 4.5.2 "+nonFQDN, nil)
	test(c, with("non_fqdn_helo_hostname", "defer_if_permit"), "a", Rs("reject"), rejectIn(rcptName), nil)
	// warn: logged, no rejection.
	test(c, with("invalid_helo_hostname", "warn"), "foo bar", Rs("permit"), "continue", first(checks.Warn, "warn"))
	test(c, with("invalid_helo_hostname", "warn"), "foo bar", Rs("reject"), rejectIn(rcptName), first(checks.Warn, "warn"))
	// accept: no objection, still in the results.
	test(c, with("invalid_helo_hostname", "accept"), "foo bar", nil, "continue", first(checks.Dunno, "accept"))
	// off: the restriction is not built.
	test(c, with("invalid_helo_hostname", "off"), "foo bar", nil, "continue", func(o *pipeline.Outcome) string {
		if len(o.Results) != 0 {
			return "off restriction ran: " + ran(o)
		}
		return ""
	})
	// quarantine, tag, discard: marks for the end of the message.
	test(c, with("invalid_helo_hostname", "quarantine"), "foo bar", nil, "continue", func(o *pipeline.Outcome) string {
		if !o.Quarantine || o.Discard || len(o.Tags) != 0 {
			return "marks wrong"
		}
		return ""
	})
	test(c, with("invalid_helo_hostname", "discard"), "foo bar", nil, "continue", func(o *pipeline.Outcome) string {
		if !o.Discard || o.Quarantine {
			return "marks wrong"
		}
		return ""
	})
	test(c, with("invalid_helo_hostname", "tag"), "foo bar", nil, "continue", func(o *pipeline.Outcome) string {
		if !slices.Equal(o.Tags, []string{"invalid_helo_hostname: invalid HELO: Invalid name"}) {
			return "tags " + strings.Join(o.Tags, "|")
		}
		return ""
	})
	// A passing restriction is not affected by its action.
	test(c, with("invalid_helo_hostname", "tempfail"), "mx.client.example", nil, "continue", first(checks.Dunno, "continue"))
	// Reply overrides.
	r := R("non_fqdn_helo_hostname")
	r.Code = 550
	test(c, r, "a", nil, "reject 550 5.5.2 "+nonFQDN, nil)
	r.Enhanced, r.Text = "5.7.1", "Go away"
	test(c, r, "a", nil, "reject 550 5.7.1 Go away", nil)
	r.Action = "tempfail"
	test(c, r, "a", nil, "tempfail 450 4.7.1 Go away", nil)
	r = R("non_fqdn_helo_hostname")
	r.Code = 421
	test(c, r, "a", nil, "tempfail 421 4.5.2 "+nonFQDN, nil)
	// An override of a generic restriction.
	r = R("reject")
	r.Code, r.Text = 550, "No"
	test(c, R("invalid_helo_hostname"), "mx.client.example", []pipeline.Restriction{r}, "reject 550 5.7.1 No", nil)
}

// TestDNSRestrictions: the DNS restrictions by name, with their codes and
// temporary actions, on a Fake resolver.
func TestDNSRestrictions(t *testing.T) {
	test := func(codes pipeline.Codes, l [4][]pipeline.Restriction, mod func(*checks.Env), want, wantRan string) {
		t.Helper()
		e := newEngine(t, pipeline.Spec{Lists: l, DelayReject: true, Codes: codes,
			LocalNames: []string{"mx.ours.example"}, LocalAddrs: []netip.Addr{netip.MustParseAddr("192.0.2.25")}})
		env := newEnv()
		mod(env)
		out := e.AtStage(context.Background(), env, checks.StageRcpt)
		if got := show(out); got != want || ran(out) != wantRan {
			t.Errorf("%q after %q; want %q after %q", got, ran(out), want, wantRan)
		}
	}
	same := func(*checks.Env) {}
	helo := func(h string) func(*checks.Env) { return func(env *checks.Env) { env.Helo = h } }
	addr := func(a string) func(*checks.Env) {
		return func(env *checks.Env) { env.Addr = netip.MustParseAddr(a) }
	}
	from := func(a string) func(*checks.Env) { return func(env *checks.Env) { env.Mail = a } }
	to := func(a string) func(*checks.Env) { return func(env *checks.Env) { env.Rcpt = a } }
	c := postfixCodes
	all := lists(Rs("unknown_reverse_client_hostname", "unknown_client_hostname"),
		Rs("invalid_helo_hostname", "non_fqdn_helo_hostname", "unknown_helo_hostname", "helo_impersonation"),
		Rs("non_fqdn_sender", "unknown_sender_domain"),
		Rs("non_fqdn_recipient", "unknown_recipient_domain"))
	everything := "unknown_reverse_client_hostname,unknown_client_hostname,invalid_helo_hostname,non_fqdn_helo_hostname," +
		"unknown_helo_hostname,helo_impersonation,non_fqdn_sender,unknown_sender_domain,non_fqdn_recipient,unknown_recipient_domain"
	test(c, all, same, "continue", everything)

	// Client names: unknown_client_reject_code, 450 by default.
	test(c, all, addr("198.51.100.9"),
		"tempfail 450 4.7.1 Client host rejected: cannot find your reverse hostname, [198.51.100.9]", "unknown_reverse_client_hostname")
	c550 := c
	c550.UnknownClientReject = 550
	test(c550, lists(Rs("unknown_client_hostname"), nil, nil, nil), addr("198.51.100.9"),
		"reject 550 5.7.25 Client host rejected: cannot find your hostname, [198.51.100.9]", "unknown_client_hostname")

	// HELO.
	test(c, all, helo("mx.ours.example"), "reject 550 5.7.1 <mx.ours.example>: Helo command rejected: Host name impersonation",
		"unknown_reverse_client_hostname,unknown_client_hostname,invalid_helo_hostname,non_fqdn_helo_hostname,unknown_helo_hostname,helo_impersonation")
	test(c, lists(nil, Rs("helo_impersonation"), nil, nil), helo("[192.0.2.25]"),
		"reject 550 5.7.1 <[192.0.2.25]>: Helo command rejected: Host name impersonation", "helo_impersonation")
	test(c, lists(nil, Rs("unknown_helo_hostname"), nil, nil), helo("nx.example"),
		"tempfail 450 4.7.1 <nx.example>: Helo command rejected: Host not found", "unknown_helo_hostname")
	// A temporary failure: unknown_helo_hostname_tempfail_action,
	// defer_if_permit by default.
	heloTemp := lists(nil, Rs("unknown_helo_hostname"), nil, Rs("permit"))
	const heloDefer = "tempfail 450 4.7.1 <tempfail.example>: Helo command rejected: Host not found"
	test(c, heloTemp, helo("tempfail.example"), heloDefer, "unknown_helo_hostname,permit")
	test(c, lists(nil, Rs("unknown_helo_hostname"), nil, Rs("reject")), helo("tempfail.example"), rejectIn(rcptName), "unknown_helo_hostname,reject")
	cDefer := c
	cDefer.UnknownHeloTempfailAct = "defer"
	test(cDefer, heloTemp, helo("tempfail.example"), heloDefer, "unknown_helo_hostname")
	cDunno := c
	cDunno.UnknownHeloTempfailAct = "dunno"
	test(cDunno, heloTemp, helo("tempfail.example"), "continue", "unknown_helo_hostname,permit")
	withTemp := R("unknown_helo_hostname")
	withTemp.TempAction = "tempfail"
	test(c, lists(nil, []pipeline.Restriction{withTemp}, nil, Rs("permit")), helo("tempfail.example"), heloDefer, "unknown_helo_hostname")

	// Sender and recipient.
	test(c, all, from("u@nx.example"), "tempfail 450 4.1.8 <u@nx.example>: Sender address rejected: Domain not found",
		"unknown_reverse_client_hostname,unknown_client_hostname,invalid_helo_hostname,non_fqdn_helo_hostname,"+
			"unknown_helo_hostname,helo_impersonation,non_fqdn_sender,unknown_sender_domain")
	c550.UnknownAddressReject = 550
	test(c550, lists(nil, nil, Rs("unknown_sender_domain"), nil), from("u@nx.example"),
		"reject 550 5.1.8 <u@nx.example>: Sender address rejected: Domain not found", "unknown_sender_domain")
	test(c550, lists(nil, nil, nil, Rs("unknown_recipient_domain")), to("u@nx.example"),
		"reject 550 5.1.2 <u@nx.example>: Recipient address rejected: Domain not found", "unknown_recipient_domain")
	test(c, lists(nil, nil, Rs("non_fqdn_sender"), nil), from("u@localhost"),
		"reject 504 5.5.2 <u@localhost>: Sender address rejected: need fully-qualified address", "non_fqdn_sender")
	test(c, lists(nil, nil, nil, Rs("non_fqdn_recipient")), to("u@localhost"),
		"reject 504 5.5.2 <u@localhost>: Recipient address rejected: need fully-qualified address", "non_fqdn_recipient")
	// unknown_address_tempfail_action, defer_if_permit by default.
	const addrDefer = "tempfail 450 4.1.8 <u@tempfail.example>: Sender address rejected: Domain not found"
	test(c, lists(nil, nil, Rs("unknown_sender_domain"), Rs("permit")), from("u@tempfail.example"), addrDefer, "unknown_sender_domain,permit")
	cDefer.UnknownAddressTempfailAc = "defer"
	test(cDefer, lists(nil, nil, Rs("unknown_sender_domain"), Rs("permit")), from("u@tempfail.example"), addrDefer, "unknown_sender_domain")
}

// TestAccessTables: check_*_access results (access(5)) in the lists.
func TestAccessTables(t *testing.T) {
	senderTable := table(t, `
ok@x.example            OK
digits@x.example        20260101
reject@x.example        REJECT
text@x.example          reject go away
defer@x.example         DEFER
dsn4@x.example          450 4.2.0 mailbox busy
dsn5@x.example          550 5.1.1 bad sender
dunno@x.example         DUNNO
warn@x.example          WARN suspicious
hold@x.example          HOLD check this
restr@nx.example        reject_unknown_sender_domain
restr-ok@x.example      reject_unknown_sender_domain
permit@x.example        permit_mynetworks
class@x.example         strict
unknownr@x.example      reject_bogus
dip@x.example           DEFER_IF_PERMIT first reason
dir@x.example           DEFER_IF_REJECT second reason
<>                      550 5.7.1 No bounces here
reject@x.example        OK duplicate: the first entry wins
filter@x.example        FILTER smtp:[relay.example]
prepend@x.example       PREPEND X-Checked: yes
lookup@x.example        hash:/etc/postfix/other
`)
	clientTable := table(t, `
192.0.2.66              REJECT
198.51.100              DEFER go slow
bad.client.example      REJECT named
192.0.2.77              REJECT 4.1.1 fixed dsn
2001:db8::66            554 v6
`)
	heloTable := table(t, `
bad.helo.example        REJECT
helo.example            550 5.7.1 parent
`)
	rcptTable := table(t, `
rcpt@ours.example       REJECT 4.1.1 no such user
ok@ours.example         OK
`)
	// Every sender that gets here is rejected (a pattern table, so that
	// the reply text can have spaces).
	endOfList := access("sender_access", "pcre:"+writeFile(t, "/^/ REJECT end of list\n"))
	spec := pipeline.Spec{
		Lists: lists(
			[]pipeline.Restriction{access("client_access", clientTable)},
			[]pipeline.Restriction{access("helo_access", heloTable)},
			[]pipeline.Restriction{access("sender_access", senderTable), endOfList},
			[]pipeline.Restriction{access("access", rcptTable)}, // "access" takes the list's kind
		),
		Classes:            map[string][]pipeline.Restriction{"strict": Rs("reject")},
		DelayReject:        true,
		Codes:              postfixCodes,
		RecipientDelimiter: "+",
	}
	spec.Codes.UnknownAddressReject = 550
	e := newEngine(t, spec)
	test := func(mod func(*checks.Env), want string, check func(*pipeline.Outcome) string) {
		t.Helper()
		env := newEnv()
		env.Rcpt = "ok@ours.example"
		mod(env)
		out := e.AtStage(context.Background(), env, checks.StageRcpt)
		if got := show(out); got != want {
			t.Errorf("%q after %q, want %q", got, ran(out), want)
		}
		if check != nil {
			if msg := check(out); msg != "" {
				t.Error(msg)
			}
		}
	}
	from := func(a string) func(*checks.Env) { return func(env *checks.Env) { env.Mail = a } }
	snd := func(code, addr, text string) string {
		return code + " <" + addr + ">: Sender address rejected: " + text
	}
	end := func(addr string) string {
		return "reject 554 5.7.1 <" + addr + ">: Sender address rejected: end of list"
	}

	test(from("sender@client.example"), end("sender@client.example"), nil) // not found
	test(from("ok@x.example"), "continue", nil)                            // OK ends the list
	test(from("digits@x.example"), "continue", nil)                        // all digits: OK
	test(from("reject@x.example"), "reject "+snd("554 5.7.1", "reject@x.example", "Access denied"), nil)
	test(from("reject+tag@x.example"), "reject "+snd("554 5.7.1", "reject+tag@x.example", "Access denied"), nil)
	test(from("REJECT@X.example"), "reject "+snd("554 5.7.1", "REJECT@X.example", "Access denied"), nil)
	test(from("text@x.example"), "reject "+snd("554 5.7.1", "text@x.example", "go away"), nil)
	test(from("defer@x.example"), "tempfail "+snd("450 4.7.1", "defer@x.example", "Access denied"), nil)
	test(from("dsn4@x.example"), "tempfail "+snd("450 4.2.0", "dsn4@x.example", "mailbox busy"), nil)
	test(from("dsn5@x.example"), "reject "+snd("550 5.1.7", "dsn5@x.example", "bad sender"), nil) // smtpd_dsn_fix
	test(from("dunno@x.example"), end("dunno@x.example"), nil)
	test(from("warn@x.example"), end("warn@x.example"), func(o *pipeline.Outcome) string {
		if r := o.Results[2]; r.Check != "sender_access" || r.Decision != checks.Warn || r.Status != checks.StatusWarn {
			return "WARN: " + r.Check + " " + r.Decision.String()
		}
		return ""
	})
	test(from("hold@x.example"), end("hold@x.example"), func(o *pipeline.Outcome) string {
		if !o.Quarantine {
			return "HOLD did not quarantine"
		}
		return ""
	})
	// A result naming a restriction: evaluated in its place.
	test(from("restr@nx.example"), "reject "+snd("550 5.1.8", "restr@nx.example", "Domain not found"), nil)
	test(from("restr-ok@x.example"), end("restr-ok@x.example"), nil)
	test(from("permit@x.example"), end("permit@x.example"), nil) // not in mynetworks: DUNNO
	// A result naming a class.
	test(from("class@x.example"), rejectIn("<class@x.example>: Sender address"), func(o *pipeline.Outcome) string {
		if ran(o) != "client_access,helo_access,sender_access,reject" || o.Results[2].Class != "strict" {
			return "class: ran " + ran(o)
		}
		return ""
	})
	test(from("unknownr@x.example"), "tempfail 451 4.3.5 Server configuration error", nil)
	// DEFER_IF_REJECT turns the list's later reject into its own 450;
	// DEFER_IF_PERMIT is overridden by it.
	test(from("dir@x.example"), "tempfail "+snd("450 4.7.1", "dir@x.example", "second reason"), nil)
	test(from("dip@x.example"), end("dip@x.example"), nil)
	// Actions mxguard does not carry out are ignored, as Postfix's DUNNO.
	test(from("filter@x.example"), end("filter@x.example"), nil)
	test(from("prepend@x.example"), end("prepend@x.example"), nil)
	// A lookup table as a result: Postfix's server configuration error.
	test(from("lookup@x.example"), "tempfail 451 4.3.5 Server configuration error", nil)
	// The null sender is looked up as <>.
	test(from(""), "reject "+snd("550 5.7.1", "", "No bounces here"), nil)

	// Client table: name, then address and its parents.
	addr := func(a string) func(*checks.Env) {
		return func(env *checks.Env) { env.Addr = netip.MustParseAddr(a) }
	}
	test(addr("192.0.2.66"), "reject 554 5.7.1 <unknown[192.0.2.66]>: Client host rejected: Access denied", nil)
	test(addr("198.51.100.4"), "tempfail 450 4.7.1 <unknown[198.51.100.4]>: Client host rejected: go slow", nil)
	test(addr("192.0.2.5"), "reject 554 5.7.1 <bad.client.example[192.0.2.5]>: Client host rejected: named", nil)
	test(addr("192.0.2.77"), "reject 554 5.0.0 <unknown[192.0.2.77]>: Client host rejected: fixed dsn", nil)
	test(addr("2001:db8::66"), "reject 554 5.7.1 <unknown[2001:db8::66]>: Client host rejected: v6", nil)

	// HELO table: the name, then its parent domains.
	helo := func(h string, seen bool) func(*checks.Env) {
		return func(env *checks.Env) { env.Helo, env.HeloSeen = h, seen }
	}
	test(helo("bad.helo.example", true), "reject 554 5.7.1 <bad.helo.example>: Helo command rejected: Access denied", nil)
	test(helo("sub.helo.example", true), "reject 550 5.7.1 <sub.helo.example>: Helo command rejected: parent", nil)
	test(helo("bad.helo.example", false), end("sender@client.example"), nil) // no HELO: nothing to look up

	// Recipient table through the generic "access" name.
	to := func(a string) func(*checks.Env) { return func(env *checks.Env) { env.Rcpt = a } }
	test(func(env *checks.Env) { to("rcpt@ours.example")(env); env.Mail = "ok@x.example" },
		"reject 554 5.1.1 <rcpt@ours.example>: Recipient address rejected: no such user", nil)
	test(func(env *checks.Env) { env.Mail = "ok@x.example" }, "continue", nil)
	test(func(env *checks.Env) { env.Mail = "ok@x.example"; env.Rcpt = "other@ours.example" }, "continue", nil)
}

// TestAccessDeferrals: access-table deferrals across lists.
func TestAccessDeferrals(t *testing.T) {
	senderTable := table(t, `
dip@x.example           DEFER_IF_PERMIT first reason
dir@x.example           DEFER_IF_REJECT second reason
`)
	heloTable := table(t, "mx.client.example DEFER_IF_PERMIT helo reason\n")
	test := func(l [4][]pipeline.Restriction, from, want string) {
		t.Helper()
		e := newEngine(t, pipeline.Spec{Lists: l, DelayReject: true})
		env := newEnv()
		env.Mail = from
		if got := show(e.AtStage(context.Background(), env, checks.StageRcpt)); got != want {
			t.Errorf("%s: %q, want %q", from, got, want)
		}
	}
	snd := []pipeline.Restriction{access("sender_access", senderTable)}
	hl := []pipeline.Restriction{access("helo_access", heloTable)}
	test(lists(nil, nil, snd, Rs("permit")), "dip@x.example",
		"tempfail 450 4.7.1 <dip@x.example>: Sender address rejected: first reason")
	test(lists(nil, nil, snd, Rs("reject")), "dip@x.example", rejectIn(rcptName))
	// The first deferral is the one reported.
	test(lists(nil, hl, snd, nil), "dip@x.example", "tempfail 450 4.7.1 <mx.client.example>: Helo command rejected: helo reason")
	// DEFER_IF_REJECT of the sender list does not reach the recipient list.
	test(lists(nil, nil, snd, Rs("reject")), "dir@x.example", rejectIn(rcptName))
	test(lists(nil, nil, snd, nil), "dir@x.example", "continue")
}

func TestNewErrors(t *testing.T) {
	test := func(spec pipeline.Spec, want ...string) {
		t.Helper()
		spec.Log = discard
		e, err := pipeline.New(spec)
		if err == nil || e != nil {
			t.Fatalf("New = %v, %v; want an error", e, err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
		if n := strings.Count(err.Error(), "\n") + 1; n != len(want) {
			t.Errorf("error has %d lines, want %d: %q", n, len(want), err)
		}
	}
	bogus := pipeline.Restriction{Name: "bogus", Key: "client[0]"}
	test(pipeline.Spec{Lists: lists([]pipeline.Restriction{bogus}, nil, nil, nil)}, `client[0]: unknown restriction "bogus"`)
	test(pipeline.Spec{Lists: lists(nil, nil, []pipeline.Restriction{{Name: "sender_access", Key: "sender[1]"}}, nil)},
		"sender[1]: sender_access: needs a table")
	test(pipeline.Spec{Lists: lists(nil, nil, nil, []pipeline.Restriction{{Name: "access", Arg: "hash:/nonexistent/table", Key: "recipient[0]"}})},
		"recipient[0]: access:")
	test(pipeline.Spec{Lists: lists([]pipeline.Restriction{{Name: "rbl", Arg: "zen.example=127.0.0", Key: "client[3]"}}, nil, nil, nil)},
		"client[3]: rbl:")
	test(pipeline.Spec{Lists: lists([]pipeline.Restriction{{Name: "dnsbl_score", Arg: "zen.example*x", Key: "client[4]"}}, nil, nil, nil)},
		"client[4]: dnsbl_score:")
	// Every problem is listed, classes included.
	test(pipeline.Spec{
		Lists:   lists([]pipeline.Restriction{bogus}, nil, nil, nil),
		Classes: map[string][]pipeline.Restriction{"c": {{Name: "nope", Key: "classes.c[0]"}}},
	}, `client[0]: unknown restriction "bogus"`, `classes.c[0]: unknown restriction "nope"`)
	// An "off" restriction is not built, so not checked either.
	if _, err := pipeline.New(pipeline.Spec{Log: discard, Lists: lists([]pipeline.Restriction{{Name: "bogus", Action: "off"}}, nil, nil, nil)}); err != nil {
		t.Errorf("off restriction: %v", err)
	}
	// A nil Log is allowed.
	if _, err := pipeline.New(pipeline.Spec{}); err != nil {
		t.Errorf("empty spec: %v", err)
	}
}

func TestListString(t *testing.T) {
	test := func(l pipeline.List, want string) {
		t.Helper()
		if l.String() != want {
			t.Errorf("%d: %q, want %q", int(l), l.String(), want)
		}
	}
	test(pipeline.ListClient, "client")
	test(pipeline.ListHelo, "helo")
	test(pipeline.ListSender, "sender")
	test(pipeline.ListRecipient, "recipient")
}
