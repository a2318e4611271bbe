package helo_test

import (
	"context"
	"testing"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/helo"
	"github.com/mxguard/mxguard/internal/dnstest"
)

// Fixed bug (helo.go:193-199, HostExists): a null MX is accepted before a
// permanent lookup failure is considered. POSTFIX-NOTES.md §4: the best
// status of the A, AAAA and MX lookups wins, OK > POLICY > RETRY > INVAL >
// FAIL > NULLMX > NOTFOUND, and reject_unknown_helo_hostname accepts only
// OK and NULLMX. A FORMERR (NO_RECOVERY, DNS_FAIL) on A beside a null MX is
// therefore FAIL: "450 4.7.1 <h>: Helo command rejected: Host not found"
// (unknown_hostname_reject_code). mxguard answers pass. (An edge case: it
// needs a server that answers FORMERR or NOTIMP for one type.)
func TestHostExistsPermanentFailureBeatsNullMX(t *testing.T) {
	srv := dnstest.Start(t, dnstest.WithZone(`
$ORIGIN example.
formerr-nullmx  MX 0 .
;!rcode FORMERR formerr-nullmx A
`))
	r := newResolver(t, srv, 0)
	st, err := helo.HostExists(context.Background(), r, "formerr-nullmx.example")
	if st != checks.StatusFail {
		t.Errorf("HostExists = %s, %v; Postfix: fail (DNS_FAIL beats DNS_NULLMX)", st, err)
	}
	_, got := replyOf(t, helo.Unknown{Opts: postfixCodes}, newEnv(r, "formerr-nullmx.example"))
	if want := "450 4.7.1 <formerr-nullmx.example>: Helo command rejected: Host not found"; got != want {
		t.Errorf("reply %q, want %q", got, want)
	}
}

// Fixed bug (helo.go:166-173, HostExists): an MX answer counts as found without
// checking its host names. In Postfix an MX set whose names all fail
// valid_hostname() is DNS_INVAL, which ranks above NOTFOUND, and
// reject_unknown_hostname answers unknown_hostname_reject_code 4.7.1
// "Malformed DNS server reply" (POSTFIX-NOTES.md §2 table;
// smtpd_check.c reject_unknown_hostname). mxguard answers pass.
func TestUnknownHeloInvalidMXNames(t *testing.T) {
	srv := dnstest.Start(t, dnstest.WithZone(`
$ORIGIN example.
badmx    MX 10 -bad.example.
`))
	r := newResolver(t, srv, 0)
	st, got := replyOf(t, helo.Unknown{Opts: postfixCodes}, newEnv(r, "badmx.example"))
	if want := "450 4.7.1 <badmx.example>: Helo command rejected: Malformed DNS server reply"; st != checks.StatusFail || got != want {
		t.Errorf("%s %q; Postfix: fail %q", st, got, want)
	}
}
