package syntax

import (
	"strings"
	"testing"
)

func TestValidHostname(t *testing.T) {
	test := func(name string, want bool) {
		t.Helper()
		if got := ValidHostname(name); got != want {
			t.Errorf("ValidHostname(%q) = %v, want %v", name, got, want)
		}
	}
	label63 := strings.Repeat("a", 63)
	label64 := strings.Repeat("a", 64)

	// Empty.
	test("", false)
	// Allowed characters: letters, digits, "_", "-", ".".
	test("example.com", true)
	test("EXAMPLE.com", true)
	test("a", true)
	test("a_b.example", true)
	test("_a.example", true)
	test("a_", true)
	test("_", true)
	test("3com.example", true)
	test("a b", false)
	test("a@b", false)
	test("a:b", false)
	test("[1.2.3.4]", false)
	test("exämple.com", false)
	test("a\x00b", false)
	test("a/b", false)
	// Dots: no leading, adjacent or trailing dot.
	test(".example.com", false)
	test("a..b", false)
	test("example.com.", false)
	test(".", false)
	// Hyphens: not at the start or end of a label; inner "--" is fine.
	test("-a.example", false)
	test("a-.example", false)
	test("a.b-", false)
	test("a.-b", false)
	test("-", false)
	test("a--b.example", true)
	test("xn--exmple-cua.test", true)
	test("a-b-c", true)
	// Label length: 63 bytes maximum.
	test(label63+".com", true)
	test(label64+".com", false)
	test("com."+label64, false)
	test(strings.Repeat("a", 61)+"-b", true)  // the hyphen counts: 63
	test(strings.Repeat("a", 62)+"-b", false) // 64
	// All-numeric (digits and dots only) is invalid; "-" and "_" count as
	// non-numeric in Postfix 3.x (lab-verified: HELO 1-2.3 accepted).
	test("123", false)
	test("1.2.3.4", false)
	test("0", false)
	test("1-2.3", true)
	test("1_2", true)
	test("x.123", true)
	test("123.x", true)
	// Total length: 255 bytes maximum.
	long := strings.Repeat(label63+".", 3) + strings.Repeat("a", 63) // 255
	test(long, true)
	test(long+"a", false)
	test(strings.Repeat("a.", 127)+"a", true)  // 255
	test(strings.Repeat("a.", 128)+"a", false) // 257
}

func TestValidIPv4HostAddr(t *testing.T) {
	test := func(s string, want bool) {
		t.Helper()
		if got := ValidIPv4HostAddr(s); got != want {
			t.Errorf("ValidIPv4HostAddr(%q) = %v, want %v", s, got, want)
		}
		if got := ValidHostAddr(s); got != want {
			t.Errorf("ValidHostAddr(%q) = %v, want %v", s, got, want)
		}
	}
	test("", false)
	test("192.0.2.1", true)
	test("255.255.255.255", true)
	test("256.1.1.1", false)
	test("1.2.3.256", false)
	test("1.2.3", false)
	test("1.2.3.4.5", false)
	test("1.2.3.4.", false)
	test(".1.2.3.4", false)
	test("1..2.3", false)
	test("01.2.3.4", true)   // leading zeros allowed
	test("0001.2.3.4", true) // value 1
	test("0.0.0.0", true)    // all zero allowed
	test("00.0.000.0", true) // still only zeros and dots
	test("0.1.2.3", false)   // zero first octet otherwise not
	test("1.0.0.0", true)    // zero elsewhere is fine
	test("1.2.3.4a", false)  // no letters
	test("1.2.3.-4", false)  // no signs
	test("1.2.3.4 ", false)  // no white space
	test("9999999999.1.1.1", false)
}

func TestValidIPv6HostAddr(t *testing.T) {
	test := func(s string, want bool) {
		t.Helper()
		if got := ValidIPv6HostAddr(s); got != want {
			t.Errorf("ValidIPv6HostAddr(%q) = %v, want %v", s, got, want)
		}
		if got := ValidHostAddr(s); got != want {
			t.Errorf("ValidHostAddr(%q) = %v, want %v", s, got, want)
		}
	}
	test("::", true)
	test("::1", true)
	test("1::", true)
	test("2001:db8::1", true)
	test("2001:DB8::A", true)
	test("1:2:3:4:5:6:7:8", true)
	test("1:2:3:4:5:6:7:8:9", false) // more than seven ":"
	test("1:2", false)               // fewer than two ":"
	test("1:2:3", true)              // Postfix does not count groups
	test(":1", false)                // null first field
	test(":1:2", false)
	test(":::", false)
	test("1::2::3", false) // two "::"
	test("12345::1", false)
	test("0000::1", true)
	test("g::1", false)
	test("1:2:", false) // bad null last field
	test("::ffff:192.0.2.1", true)
	test("1:2:3:4:5:6:1.2.3.4", true)
	test("1:2:3:4:5:6:7:1.2.3.4", false) // IPv4 after seven ":"
	test("::1.2.3.4", true)
	test("1.2.3.4::", false) // no ":" before the dot: IPv4 path fails
	test("::ffff:1.2.3", false)
	test("::ffff:1a.2.3.4", false)
	test("IPv6:::1", false) // the tag is not part of the address
	test("[::1]", false)
	test("fe80::1%eth0", false)
	test("::1 ", false)
}

func TestValidMailhostAddr(t *testing.T) {
	test := func(s, wantBare string, want bool) {
		t.Helper()
		bare, ok := ValidMailhostAddr(s)
		if ok != want || (ok && bare != wantBare) {
			t.Errorf("ValidMailhostAddr(%q) = %q, %v, want %q, %v", s, bare, ok, wantBare, want)
		}
	}
	test("192.0.2.1", "192.0.2.1", true)
	test("IPv6:2001:db8::1", "2001:db8::1", true)
	test("ipv6:::1", "::1", true)
	test("IPV6:::1", "::1", true)
	test("2001:db8::1", "", false) // tag required
	test("IPv6:1.2.3.4", "", false)
	test("IPv6:", "", false)
	test("", "", false)
}

func TestValidAddressLiteral(t *testing.T) {
	test := func(s string, want bool) {
		t.Helper()
		if got := ValidAddressLiteral(s); got != want {
			t.Errorf("ValidAddressLiteral(%q) = %v, want %v", s, got, want)
		}
	}
	// Lab-verified against Postfix 3.7.11 reject_invalid_helo_hostname.
	test("[1.2.3.4]", true)
	test("[0.0.0.0]", true)
	test("[IPv6:::1]", true)
	test("[ipv6:::1]", true)
	test("[IPv6:2001:db8::1]", true)
	test("[::1]", false)
	test("[IPv6:1.2.3.4]", false)
	test("[1.2.3.4", false)
	test("[]", false)
	test("[1.2.3.4]x", false)
	test("[1.2.3.4].", false)
	test("[example.com]", false)
	test("[0.1.2.3]", false)
	test("1.2.3.4", false) // not a literal
	test("", false)
	test("[", false)
}

func TestStripTrailingDot(t *testing.T) {
	test := func(in, want string) {
		t.Helper()
		if got := StripTrailingDot(in); got != want {
			t.Errorf("StripTrailingDot(%q) = %q, want %q", in, got, want)
		}
	}
	test("example.com.", "example.com")
	test("example.com", "example.com")
	test("example.com..", "example.com..") // dot-dot is left alone
	test(".", ".")                         // too short
	test("a.", "a")
	test("..", "..")
	test("", "")
}

func TestValidUTF8Hostname(t *testing.T) {
	test := func(name string, smtputf8, want bool) {
		t.Helper()
		if got := ValidUTF8Hostname(name, smtputf8); got != want {
			t.Errorf("ValidUTF8Hostname(%q, %v) = %v, want %v", name, smtputf8, got, want)
		}
	}
	test("example.com", false, true)
	test("example.com", true, true)
	test("exämple.test", false, false)
	test("exämple.test", true, true)
	test("ÄÖÜ.example", true, true)
	test("ex ämple.test", true, false)
	test("\xff.test", true, false)
	test("-ä.test", true, false)
	test("", true, false)
	test("1.2.3.4", true, false)
}

func TestToASCII(t *testing.T) {
	test := func(in, want string, wantOK bool) {
		t.Helper()
		got, ok := ToASCII(in)
		if ok != wantOK || (ok && got != want) {
			t.Errorf("ToASCII(%q) = %q, %v, want %q, %v", in, got, ok, want, wantOK)
		}
	}
	// exämple.test -> xn--exmple-cua.test was resolved by Postfix 3.7.11
	// in the lab (reject_unknown_sender_domain).
	test("exämple.test", "xn--exmple-cua.test", true)
	test("bücher.example", "xn--bcher-kva.example", true)
	test("München.DE", "xn--mnchen-3ya.de", true)
	test("例え.テスト", "xn--r8jz45g.xn--zckzah", true)
	test("例え。テスト", "xn--r8jz45g.xn--zckzah", true)
	test("example.com", "example.com", true)
	test("EXAMPLE.com", "example.com", true)
	// Known gap: ICU would NFC-normalize "a"+U+0301 to U+00E1 and produce
	// "xn--1ca"; without NFC in the standard library we encode as is
	// (checked against golang.org/x/net/idna Punycode).
	test("a\u0301.example", "xn--a-xbb.example", true)
	test("\u0301a.example", "", false) // leading combining mark
	test("ä-.example", "", false)
	test("ab--ä.example", "", false)
	test("ä b.example", "", false)
	test("ä!.example", "", false)
	test("\xc3.example", "", false)
}
