package syntax

import (
	"strings"
	"testing"
)

// TestHeloRestrictionsPostfixLab replays HELO arguments whose answers were
// recorded from Postfix 3.7.11 (Debian 3.7.11-0+deb12u1) with
// smtpd_delay_reject=no and, in turn, smtpd_helo_restrictions =
// reject_invalid_helo_hostname and reject_non_fqdn_helo_hostname. The
// reply column is the Postfix reply text after "<helo>: Helo command
// rejected: ", or "ok" for 250.
func TestHeloRestrictionsPostfixLab(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	label64 := strings.Repeat("a", 64)
	test := func(helo, invalid, nonFQDN string) {
		t.Helper()
		if got := CheckInvalidHelo(helo).String(); got != invalid {
			t.Errorf("reject_invalid_helo_hostname %q: got %q, Postfix said %q", helo, got, invalid)
		}
		if got := CheckNonFQDNHelo(helo, false).String(); got != nonFQDN {
			t.Errorf("reject_non_fqdn_helo_hostname %q: got %q, Postfix said %q", helo, got, nonFQDN)
		}
	}
	const (
		ok      = "ok"
		invName = "Invalid name"
		invAddr = "invalid ip address"
		notFQDN = "need fully-qualified hostname"
	)
	test("example.com", ok, ok)
	test("example.com.", ok, ok)
	test("example.com..", invName, notFQDN)
	test(".", invName, notFQDN)
	test("a", ok, notFQDN)
	test("a.b", ok, ok)
	test("1.2.3.4", ok, notFQDN)
	test("1.2.3.4.", ok, notFQDN)
	test("[1.2.3.4]", ok, ok)
	test("[1.2.3.4", invAddr, invAddr)
	test("[]", invAddr, invAddr)
	test("[::1]", invAddr, invAddr)
	test("[IPv6:::1]", ok, ok)
	test("[ipv6:::1]", ok, ok)
	test("[IPv6:2001:db8::1]", ok, ok)
	test("[IPv6:1.2.3.4]", invAddr, invAddr)
	test("[1.2.3.4]x", invAddr, invAddr)
	test("[1.2.3.4].", invAddr, invAddr)
	test("[0.0.0.0]", ok, ok)
	test("::1", ok, notFQDN)
	test("IPv6:::1", invName, notFQDN)
	test("a_b.example", ok, ok)
	test("_a.example", ok, ok)
	test("-a.example", invName, notFQDN)
	test("a-.example", invName, notFQDN)
	test("a.b-", invName, notFQDN)
	test("a--b.example", ok, ok)
	test("123", invName, notFQDN)
	test("1-2.3", ok, ok)
	test("1_2", ok, notFQDN)
	test("x.123", ok, ok)
	test(label64+".com", invName, notFQDN)
	test(label63+".com", ok, ok)
	test("a..b", invName, notFQDN)
	test("foo bar", invName, notFQDN)
	test("a:b", invName, notFQDN)
	test("a@b", invName, notFQDN)
	test("a<b", invName, notFQDN)
	test("exämple.com", invName, notFQDN)
	test("0.1.2.3", invName, notFQDN)
	test("256.1.1.1", invName, notFQDN)
	test("1:2:3:4:5:6:7:8:9", invName, notFQDN)
}

func TestCheckNonFQDNHeloSMTPUTF8(t *testing.T) {
	test := func(helo string, smtputf8 bool, want HeloResult) {
		t.Helper()
		if got := CheckNonFQDNHelo(helo, smtputf8); got != want {
			t.Errorf("CheckNonFQDNHelo(%q, %v) = %v, want %v", helo, smtputf8, got, want)
		}
	}
	test("exämple.com", false, HeloNotFQDN)
	test("exämple.com", true, HeloOK)
	test("exämple", true, HeloNotFQDN)
	test("localhost", true, HeloNotFQDN)
}

// TestHeloLookupNamePostfixLab: reject_unknown_helo_hostname answers from
// Postfix 3.7.11 for names that need no DNS (the lab DNS server answered
// NXDOMAIN for anything not in its zone, so the "Host not found" rows
// below were also checked to be rejected without a query where Postfix
// refuses to query).
func TestHeloLookupNamePostfixLab(t *testing.T) {
	test := func(helo, wantName string, want HeloResult) {
		t.Helper()
		name, r := HeloLookupName(helo)
		if name != wantName || r != want {
			t.Errorf("HeloLookupName(%q) = %q, %v, want %q, %v", helo, name, r, wantName, want)
		}
	}
	test("helo-a.test", "helo-a.test", HeloOK)
	test("[1.2.3.4]", "", HeloOK)
	test("[::1]", "", HeloInvalidAddress)
	test("1.2.3.4", "", HeloNotFound)
	test("::1", "", HeloNotFound)
	test("helo-a.test.", "", HeloNotFound) // trailing dot is not stripped here
	test("exämple.test", "", HeloNotFound) // no IDNA for HELO
	test("a", "a", HeloOK)                 // queried, NXDOMAIN in the lab
	test(".", ".", HeloOK)                 // queried as the root name
	test("-a.test", "", HeloNotFound)
}

func TestHeloResultString(t *testing.T) {
	for r, want := range map[HeloResult]string{
		HeloOK:             "ok",
		HeloInvalidName:    "Invalid name",
		HeloInvalidAddress: "invalid ip address",
		HeloNotFQDN:        "need fully-qualified hostname",
		HeloNotFound:       "Host not found",
		HeloResult(99):     "unknown",
	} {
		if got := r.String(); got != want {
			t.Errorf("HeloResult(%d).String() = %q, want %q", int(r), got, want)
		}
	}
}
