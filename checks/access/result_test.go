package access

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseResult(t *testing.T) {
	test := func(o Options, value string, want Result, wantErr string) {
		t.Helper()
		got, err := o.ParseResult(value)
		want.Value = value
		if got.Kind != want.Kind || got.Code != want.Code || got.Enhanced != want.Enhanced || got.Text != want.Text || !slices.Equal(got.Words, want.Words) || got.Value != want.Value {
			t.Errorf("ParseResult(%q) = %+v, want %+v", value, got, want)
		}
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("ParseResult(%q): unexpected error %v", value, err)
		case wantErr != "" && (err == nil || !errors.Is(err, ErrResult) || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("ParseResult(%q): error %v, want ErrResult with %q", value, err, wantErr)
		}
	}
	def := Options{}
	test(def, "OK", Result{Kind: KindOK}, "")
	test(def, "ok trailing text is ignored", Result{Kind: KindOK}, "")
	test(def, "RELAY", Result{Kind: KindOK}, "")
	test(def, "1234567890", Result{Kind: KindOK}, "")
	test(def, "550", Result{Kind: KindOK}, "") // all-numerical before "5NN text"
	test(def, "", Result{Kind: KindOK}, "")
	test(def, "DUNNO", Result{Kind: KindDunno}, "")
	test(def, "dunno with text", Result{Kind: KindDunno}, "")
	test(def, "REJECT", Result{Kind: KindReject, Code: 554, Enhanced: "5.7.1"}, "")
	test(def, "reject Go away", Result{Kind: KindReject, Code: 554, Enhanced: "5.7.1", Text: "Go away"}, "")
	test(def, "REJECT\t5.7.0   Policy   violation", Result{Kind: KindReject, Code: 554, Enhanced: "5.7.0", Text: "Policy   violation"}, "")
	test(def, "REJECT 5.7.1", Result{Kind: KindReject, Code: 554, Enhanced: "5.7.1"}, "")
	test(def, "REJECT 5.7.1x not a status", Result{Kind: KindReject, Code: 554, Enhanced: "5.7.1", Text: "5.7.1x not a status"}, "")
	test(Options{RejectCode: 550}, "REJECT", Result{Kind: KindReject, Code: 550, Enhanced: "5.7.1"}, "")
	test(def, "DEFER", Result{Kind: KindDefer, Code: 450, Enhanced: "4.7.1"}, "")
	test(Options{DeferCode: 451}, "DEFER Try later", Result{Kind: KindDefer, Code: 451, Enhanced: "4.7.1", Text: "Try later"}, "")
	test(def, "DEFER_IF_REJECT", Result{Kind: KindDeferIfReject, Code: 450, Enhanced: "4.7.1"}, "")
	test(def, "defer_if_permit 4.7.0 Slow down", Result{Kind: KindDeferIfPermit, Code: 450, Enhanced: "4.7.0", Text: "Slow down"}, "")
	test(def, "550 Go away", Result{Kind: KindReject, Code: 550, Enhanced: "5.7.1", Text: "Go away"}, "")
	test(def, "421 4.7.0 Closing", Result{Kind: KindReject, Code: 421, Enhanced: "4.7.0", Text: "Closing"}, "")
	test(def, "450 Greylisted", Result{Kind: KindReject, Code: 450, Enhanced: "4.7.1", Text: "Greylisted"}, "")
	test(def, "550 4.7.1 Mismatched", Result{Kind: KindReject, Code: 550, Enhanced: "4.7.1", Text: "Mismatched"}, "")
	test(def, "WARN", Result{Kind: KindWarn}, "")
	test(def, "WARN looks odd", Result{Kind: KindWarn, Text: "looks odd"}, "")
	test(def, "INFO noted", Result{Kind: KindInfo, Text: "noted"}, "")
	test(def, "HOLD", Result{Kind: KindHold}, "")
	test(def, "HOLD check this", Result{Kind: KindHold, Text: "check this"}, "")
	test(def, "DISCARD spam", Result{Kind: KindDiscard, Text: "spam"}, "")
	test(def, "PREPEND X-Tag: yes", Result{Kind: KindPrepend, Text: "X-Tag: yes"}, "")
	test(def, "FILTER smtp:[127.0.0.1]:10025", Result{Kind: KindFilter, Text: "smtp:[127.0.0.1]:10025"}, "")
	test(def, "REDIRECT abuse@example.com", Result{Kind: KindRedirect, Text: "abuse@example.com"}, "")
	test(def, "BCC archive@example.com", Result{Kind: KindBCC, Text: "archive@example.com"}, "")
	test(def, "HANGUP", Result{Kind: KindHangup}, "")
	test(def, "permissive", Result{Kind: KindRestriction, Words: []string{"permissive"}}, "")
	test(def, "reject_unverified_recipient, permit", Result{Kind: KindRestriction, Words: []string{"reject_unverified_recipient", "permit"}}, "")
	test(def, "permit_mynetworks,reject_rbl_client zen.spamhaus.org",
		Result{Kind: KindRestriction, Words: []string{"permit_mynetworks", "reject_rbl_client", "zen.spamhaus.org"}}, "")
	test(def, "check_policy_service { unix:private/policy, default_action=DUNNO }", Result{Kind: KindConfigError}, "lookup table")
	test(def, "DELAY 1h", Result{Kind: KindRestriction, Words: []string{"DELAY", "1h"}}, "") // compiled out of Postfix
	test(def, "450", Result{Kind: KindOK}, "")
	// What Postfix warns about and then does.
	test(def, "FILTER", Result{Kind: KindDunno}, "FILTER entry without value")
	test(def, "FILTER scanner", Result{Kind: KindDunno}, "requires transport:destination")
	test(def, "REDIRECT nobody", Result{Kind: KindDunno}, "requires user@domain target")
	test(def, "BCC", Result{Kind: KindDunno}, "requires user@domain target")
	test(def, "PREPEND not a header", Result{Kind: KindDunno}, "requires header: text")
	test(def, "check_sender_access hash:/etc/postfix/other", Result{Kind: KindConfigError}, "define a restriction class")
	test(def, "restrictive {", Result{Kind: KindConfigError}, "unbalanced")

	for k := KindDunno; k <= KindConfigError; k++ {
		if strings.HasPrefix(k.String(), "Kind(") {
			t.Errorf("Kind %d has no name", k)
		}
	}
	if Kind(99).String() != "Kind(99)" || !KindFilter.Unsupported() || KindHold.Unsupported() {
		t.Error("Kind methods")
	}
}

func TestReply(t *testing.T) {
	test := func(value, name, class, want string) {
		t.Helper()
		r, _ := ParseResult(value)
		code, enh, text := r.Reply(name, class)
		got := fmt.Sprintf("%d %s %s", code, enh, text)
		if code == 0 {
			got = ""
		}
		if got != want {
			t.Errorf("Reply(%q, %q, %q) =\n %q, want\n %q", value, name, class, got, want)
		}
	}
	test("REJECT", "unknown[192.0.2.1]", ClassClient, "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied")
	test("REJECT Go away", "spammer@example.com", ClassSender, "554 5.7.1 <spammer@example.com>: Sender address rejected: Go away")
	test("550 5.7.1 You are listed", "mail.example.net[198.51.100.7]", ClassClient,
		"550 5.7.1 <mail.example.net[198.51.100.7]>: Client host rejected: You are listed")
	test("550 Go away", "bad.example", ClassHelo, "550 5.7.1 <bad.example>: Helo command rejected: Go away")
	test("450 Greylisted", "joe@example.com", ClassRecipient, "450 4.7.1 <joe@example.com>: Recipient address rejected: Greylisted")
	// The enhanced class follows the reply code.
	test("550 4.7.1 Mismatched", "x", ClassClient, "550 5.7.1 <x>: Client host rejected: Mismatched")
	test("REJECT 4.7.1 Mismatched", "x", ClassClient, "554 5.7.1 <x>: Client host rejected: Mismatched")
	test("DEFER 5.7.1 Later", "x", ClassClient, "450 4.7.1 <x>: Client host rejected: Later")
	test("REJECT 2.0.0 Odd", "x", ClassClient, "554 5.0.0 <x>: Client host rejected: Odd")
	// smtpd_dsn_fix: address statuses follow what is rejected.
	test("REJECT 5.1.1 No such user", "joe@example.com", ClassRecipient, "554 5.1.1 <joe@example.com>: Recipient address rejected: No such user")
	test("REJECT 5.1.1 No such user", "joe@example.com", ClassSender, "554 5.1.7 <joe@example.com>: Sender address rejected: No such user")
	test("REJECT 5.1.8 Bad domain", "joe@example.com", ClassRecipient, "554 5.1.2 <joe@example.com>: Recipient address rejected: Bad domain")
	test("REJECT 5.1.9 Odd", "joe@example.com", ClassSender, "554 5.1.0 <joe@example.com>: Sender address rejected: Odd")
	test("REJECT 5.1.1 No such user", "unknown[192.0.2.1]", ClassClient, "554 5.0.0 <unknown[192.0.2.1]>: Client host rejected: No such user")
	test("DEFER", "unknown[192.0.2.1]", ClassClient, "450 4.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied")
	test("DEFER_IF_PERMIT", "joe@example.com", ClassSender, "450 4.7.1 <joe@example.com>: Sender address rejected: Service unavailable")
	test("DEFER_IF_REJECT Try later", "h", ClassHelo, "450 4.7.1 <h>: Helo command rejected: Try later")
	// The null sender.
	test("550 5.7.1 No bounces here", "", ClassSender, "550 5.7.1 <>: Sender address rejected: No bounces here")
	test("check_sender_access hash:/x", "x", ClassSender, "451 4.3.5 Server configuration error")
	test("OK", "x", ClassClient, "")
	test("DUNNO", "x", ClassClient, "")
	test("HOLD", "x", ClassClient, "")
	test("REJECT bad\x01char\ttab", "x", ClassClient, "554 5.7.1 <x>: Client host rejected: bad char tab")

	long := "REJECT " + strings.Repeat("x", 600)
	r, _ := ParseResult(long)
	code, enh, text := r.Reply("x", ClassClient)
	if line := fmt.Sprintf("%d %s %s", code, enh, text); len(line) != 510 {
		t.Errorf("long reply is %d bytes, want 510", len(line))
	}
	// A code outside 400-599 or a bad status is replaced by a generic reply.
	code, enh, text = Result{Kind: KindReject, Code: 250}.Reply("x", ClassClient)
	if code != 450 || enh != "4.7.1" || text != "Service unavailable" {
		t.Errorf("bad code: %d %s %s", code, enh, text)
	}
	code, enh, text = Result{Kind: KindReject, Code: 550, Enhanced: "5.7"}.Reply("x", ClassClient)
	if code != 450 || enh != "4.7.1" || text != "Service unavailable" {
		t.Errorf("bad status: %d %s %s", code, enh, text)
	}
	// Defaults when a Result is built by hand.
	code, enh, _ = Result{Kind: KindReject, Code: 421}.Reply("x", ClassClient)
	if code != 421 || enh != "4.7.1" {
		t.Errorf("hand-built: %d %s", code, enh)
	}
}

func TestDSN(t *testing.T) {
	test := func(s string, want int) {
		t.Helper()
		if got := dsnValid(s); got != want {
			t.Errorf("dsnValid(%q) = %d, want %d", s, got, want)
		}
	}
	test("5.7.1", 5)
	test("5.7.1 text", 5)
	test("4.123.456\tx", 9)
	test("2.0.0", 5)
	test("3.0.0", 0)
	test("5.7.1234", 0)
	test("5.1234.1", 0)
	test("5..1", 0)
	test("5.7.", 0)
	test("5.7", 0)
	test("5.7.1x", 0)
	test("", 0)
}
