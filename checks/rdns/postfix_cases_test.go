package rdns_test

import (
	"context"
	"testing"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/rdns"
	"github.com/mxguard/mxguard/internal/dnstest"
)

// Fixed bug (rdns.go:98, compute): the forward lookup is LookupIP, which asks A and
// AAAA and merges them, for every client. Postfix asks only the client's
// address family (smtpd_peer.c: hostname_to_sockaddr_pf(name, client
// family), glibc getaddrinfo with AF_INET asks A only; POSTFIX-NOTES.md §3
// step 2), and an EAI_AGAIN of that lookup is TEMP, any other error FORGED.
// So for an IPv4 client:
//   - A SERVFAIL with an AAAA record: Postfix TEMP (450 4.7.25), mxguard
//     sees the AAAA address, finds no match and says fail: a permanent
//     "550 5.7.25" with unknown_client_reject_code = 550;
//   - A NODATA with AAAA SERVFAIL: Postfix FORGED (reject with the code),
//     mxguard says temperror (the merged error is the AAAA's temporary one).
func TestForwardLookupUsesClientFamilyOnly(t *testing.T) {
	srv := dnstest.Start(t, dnstest.WithZone(`
$ORIGIN in-addr.arpa.
20.2.0.192  PTR asf.example.
21.2.0.192  PTR aaaasf.example.
$ORIGIN example.
asf     AAAA 2001:db8::20
;!servfail asf A
aaaasf  TXT  "exists, no A"
;!servfail aaaasf AAAA
`))
	r := newResolver(t, srv, 0)
	test := func(addr string, forward checks.Status, reply string) {
		t.Helper()
		res := rdns.Forward{Opts: rdns.Options{RejectCode: 550}}.Check(context.Background(), newEnv(r, addr))
		if res.Status != forward || res.Reply.String() != reply {
			t.Errorf("%s: %s %q; Postfix: %s %q (reason %q)", addr, res.Status, res.Reply.String(), forward, reply, res.Reason)
		}
	}
	test("192.0.2.20", checks.StatusTemperror, "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.20]")
	test("192.0.2.21", checks.StatusFail, "550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.21]")
}
