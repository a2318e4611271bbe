package address_test

import (
	"testing"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/address"
	"github.com/mxguard/mxguard/internal/dnstest"
)

// Fixed bug (address.go:220-227, DomainStatus): MX host names are not checked.
// Postfix's dns_lookup skips an MX whose name fails valid_hostname() and,
// when every MX name is invalid, returns DNS_INVAL; reject_unknown_mailhost
// stops there (DNS_REQ_FLAG_STOP_INVAL, before the A lookup) and replies
// unknown_address_reject_code with 4.1.8/4.1.2 and "Malformed DNS server
// reply" (POSTFIX-NOTES.md §2 and §4, lab-verified; smtpd_check.c
// reject_unknown_mailhost). mxguard counts any MX record as a pass.
func TestUnknownDomainInvalidMXNames(t *testing.T) {
	srv := dnstest.Start(t, dnstest.WithZone(`
$ORIGIN example.
badmx       MX 10 -bad.example.
badmx-a     MX 10 bad_.-x.example.
badmx-a     A  192.0.2.1
onegood     MX 10 -bad.example.
onegood     MX 20 mail.example.
`))
	r := newResolver(t, srv, 0)
	test := func(role address.Role, addr string, st checks.Status, reply string) {
		t.Helper()
		env := newEnv(r, addr, "")
		if role == address.Recipient {
			env = newEnv(r, "-", addr)
		}
		gotSt, got := run(t, address.UnknownDomain{Role: role, Code: 450}, env)
		if gotSt != st || got != reply {
			t.Errorf("%q: %s %q; Postfix: %s %q", addr, gotSt, got, st, reply)
		}
	}
	test(address.Sender, "u@badmx.example", checks.StatusFail,
		"450 4.1.8 <u@badmx.example>: Sender address rejected: Malformed DNS server reply")
	test(address.Recipient, "u@badmx.example", checks.StatusFail,
		"450 4.1.2 <u@badmx.example>: Recipient address rejected: Malformed DNS server reply")
	// STOP_INVAL: the A record is never asked for.
	test(address.Sender, "u@badmx-a.example", checks.StatusFail,
		"450 4.1.8 <u@badmx-a.example>: Sender address rejected: Malformed DNS server reply")
	// One valid MX name is enough (this one passes today).
	test(address.Sender, "u@onegood.example", checks.StatusPass, "")
}
