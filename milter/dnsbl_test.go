package milter_test

// DNS lists through the milter: Postfix's reply for each kind of list,
// allowlists, the access-table override, score mode, and the safety rules
// (refused queries are not listings, a key in the zone never shows).

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestDNSLists(t *testing.T) {
	td, _ := filepath.Abs("testdata")
	h := newHarness(t, fmt.Sprintf(`
trusted_networks: []
client:
  - client_access: cidr:%s/dnsbl_override.cidr
  - dnswl: wl.test=127.0.[0..255].[1..3]
  - rbl: zen.test=127.0.0.[2..11]
  - rbl: {zone: "k3y0s3cr3t0k3y0abc.zen.dq.test=127.0.0.[2..11]", name: zen.dq.example}
  - rhsbl_reverse_client: dbl.test=127.0.1.[2..99]
helo:
  - rhsbl_helo: dbl.test=127.0.1.[2..99]
sender:
  - rhsbl_sender: dbl.test=127.0.1.[2..99]
recipient:
  - rhsbl_recipient: dbl.test=127.0.1.[2..99]
`, td))
	cases := []struct{ name, ip, helo, from, want string }{
		{"listed with reason", "192.0.2.31", "mail.good.test", "a@good.test",
			"554 5.7.1 Service unavailable; Client host [192.0.2.31] blocked using zen.test; listed: see https://lists.test/query/192.0.2.31"},
		{"IPv6 listed", "2001:db8::25", "mail6.good.test", "a@good.test",
			"554 5.7.1 Service unavailable; Client host [2001:db8::25] blocked using zen.test"},
		{"allowlisted", "192.0.2.30", "mail.good.test", "a@good.test", "250"},
		{"code outside the filter", "192.0.2.33", "mail.good.test", "a@good.test", "250"},
		{"lookup error counts as not listed", "192.0.2.32", "mail.good.test", "a@good.test", "250"},
		{"refused query is not a listing; reverse name listed", "192.0.2.20", "mail.good.test", "a@good.test",
			"554 5.7.1 Service unavailable; Unverified Client host [aonly.test] blocked using dbl.test; spam domain"},
		{"HELO listed", "192.0.2.10", "aonly.test", "a@good.test",
			"554 5.7.1 Service unavailable; Helo command [aonly.test] blocked using dbl.test; spam domain"},
		{"sender listed", "192.0.2.10", "mail.good.test", "x@aonly.test",
			"554 5.7.1 Service unavailable; Sender address [x@aonly.test] blocked using dbl.test; spam domain"},
		{"access override beats the lists", "192.0.2.1", "mail.good.test", "a@good.test", "250"},
		// A DNSWL lookup error turns the later reject into a 4xx
		// (Postfix: defer_if_reject).
		{"allowlist lookup error defers the reject", "192.0.2.34", "mail.good.test", "a@good.test",
			"450 4.7.1 <192.0.2.34>: Client host rejected: Service unavailable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := h.session(t)
			connect(t, s, c.ip)
			run(t, s, tx{helo: c.helo, from: c.from, rcpts: []string{"b@good.test"}, want: []string{c.want}})
		})
	}
	t.Run("recipient domain listed", func(t *testing.T) {
		s := h.session(t)
		connect(t, s, "192.0.2.10")
		run(t, s, tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"x@nullmx.test", "b@good.test"}, want: []string{
			"554 5.7.1 Service unavailable; Recipient address [x@nullmx.test] blocked using dbl.test", "250"}})
	})
	logs := h.logs.String()
	if !strings.Contains(logs, "local") || !strings.Contains(logs, "zen.test") {
		t.Errorf("no warning with a hint for the refused query:\n%s", logs)
	}
	if strings.Contains(logs, "k3y0s3cr3t0k3y0abc") {
		t.Error("the list's key appears in the log")
	}
}

// The DQS-style list shows its public name, never the key in its zone.
func TestDNSListKeyNeverShown(t *testing.T) {
	h := newHarness(t, `
trusted_networks: []
client:
  - rbl: {zone: "k3y0s3cr3t0k3y0abc.zen.dq.test=127.0.0.[2..11]", name: zen.dq.example}
`)
	s := h.session(t)
	connect(t, s, "192.0.2.31")
	run(t, s, tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"b@good.test"},
		want: []string{"554 5.7.1 Service unavailable; Client host [192.0.2.31] blocked using zen.dq.example"}})
	if strings.Contains(h.logs.String(), "k3y0s3cr3t0k3y0abc") {
		t.Errorf("the key leaked into the log:\n%s", h.logs.String())
	}
}

// postscreen-style scoring: weights summed against thresholds.
func TestDNSListScore(t *testing.T) {
	h := newHarness(t, `
trusted_networks: []
client:
  - dnsbl_score: {arg: "zen.test=127.0.0.[2..11]*2 wl.test=127.0.[0..255].[1..3]*-3", reject_threshold: "2", allow_threshold: "-1"}
  - reject
`)
	cases := []struct{ ip, want string }{
		{"192.0.2.31", "550 5.7.1 Service unavailable; client [192.0.2.31] blocked using zen.test"},
		// listed (2) and allowlisted (-3): -1 reaches the allow threshold,
		// which permits before the final reject.
		{"192.0.2.30", "250"},
		// not listed: 0, neither threshold: the final reject decides.
		{"192.0.2.10", "554 5.7.1 <mail.good.test[192.0.2.10]>: Client host rejected: Access denied"},
	}
	for _, c := range cases {
		s := h.session(t)
		connect(t, s, c.ip)
		run(t, s, tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"b@good.test"}, want: []string{c.want}})
	}
}

// temperror: tempfail makes a failed DNSBL lookup a 4xx instead of "not
// listed".
func TestDNSListTempfail(t *testing.T) {
	h := newHarness(t, `
trusted_networks: []
client:
  - rbl: {zone: "zen.test=127.0.0.[2..11]", temperror: tempfail}
`)
	s := h.session(t)
	connect(t, s, "192.0.2.32")
	run(t, s, tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"b@good.test"}, want: []string{""}})
	s2 := h.session(t)
	connect(t, s2, "192.0.2.32")
	if got := reply(s2.Helo("mail.good.test")); got != "250" {
		t.Fatal(got)
	}
	s2.Mail("<a@good.test>", nil)
	got := reply(s2.Rcpt("<b@good.test>", nil))
	if !strings.HasPrefix(got, "4") {
		t.Errorf("SERVFAIL with temperror: tempfail: %q, want a 4xx", got)
	}
}

// reject_rhsbl_client looks up the verified client name.
func TestDNSListVerifiedClientName(t *testing.T) {
	h := newHarness(t, `
trusted_networks: []
client:
  - rhsbl_client: dbl.test=127.0.1.[2..99]
`)
	for ip, want := range map[string]string{
		// forward-confirmed as helo-a.test, which is listed
		"192.0.2.35": "554 5.7.1 Service unavailable; Client host [helo-a.test] blocked using dbl.test",
		// PTR forged.good.test is not confirmed: no verified name to look up
		"192.0.2.11": "250",
	} {
		s := h.session(t)
		connect(t, s, ip)
		run(t, s, tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"b@good.test"}, want: []string{want}})
	}
}

// An allowlist hit ends its own list, as Postfix's permit_dnswl_client;
// with scope: all it skips every later list's rejects too.
func TestDNSListAllowlistScope(t *testing.T) {
	for scope, want := range map[string]string{
		"list": "554 5.7.1 Service unavailable; Sender address [x@aonly.test] blocked using dbl.test; spam domain",
		"all":  "250",
	} {
		h := newHarness(t, fmt.Sprintf(`
trusted_networks: []
client:
  - dnswl: {zone: "wl.test=127.0.[0..255].[1..3]", scope: %s}
sender:
  - rhsbl_sender: dbl.test=127.0.1.[2..99]
`, scope))
		s := h.session(t)
		connect(t, s, "192.0.2.30")
		run(t, s, tx{helo: "mail.good.test", from: "x@aonly.test", rcpts: []string{"b@good.test"}, want: []string{want}})
	}
}
