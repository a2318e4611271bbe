package syntax

import (
	"strings"
	"testing"
)

// FuzzValidHostname checks that the host name and address validators
// never panic and keep their documented invariants.
func FuzzValidHostname(f *testing.F) {
	for _, s := range []string{
		"example.com", "example.com.", "a..b", "-a.example", "1-2.3", "123",
		"_dmarc.example", "1.2.3.4", "0.1.2.3", "::1", "1::", "::ffff:1.2.3.4",
		"[IPv6:::1]", "[1.2.3.4]", "[]", "exämple.com", strings.Repeat("a", 64),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidHostname(s) {
			if len(s) == 0 || len(s) > MaxHostnameLen {
				t.Fatalf("ValidHostname(%q) accepted a bad length", s)
			}
			if strings.Trim(s, "0123456789.") == "" {
				t.Fatalf("ValidHostname(%q) accepted a numeric name", s)
			}
			if strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
				t.Fatalf("ValidHostname(%q) accepted a misplaced dot", s)
			}
		}
		if ValidHostAddr(s) && ValidHostname(s) {
			t.Fatalf("%q is both a host name and an address", s)
		}
		_ = ValidAddressLiteral(s)
		_, _ = ValidMailhostAddr(s)
		_ = ValidUTF8Hostname(s, true)
		_, _ = ToASCII(s)
		if got := StripTrailingDot(s); len(s)-len(got) > 1 {
			t.Fatalf("StripTrailingDot(%q) removed more than one byte", s)
		}
		_ = CheckInvalidHelo(s)
		_ = CheckNonFQDNHelo(s, true)
		if name, r := HeloLookupName(s); r == HeloOK && name != "" && name != "." && !ValidHostname(name) {
			t.Fatalf("HeloLookupName(%q) wants to query an invalid name", s)
		}
	})
}

// FuzzParseAddress checks that ParseAddress never panics and that its
// result is consistent.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"<>", "", "user@example.com", "<user@example.com>", `"a b"@example.com`,
		"@a,@b:user@example.com", "<@x:>", "user@[192.0.2.1]", "user@[IPv6:::1]",
		"user@example.com.", "üser@exämple.com", `"user@example.com"`, `a\@b@c`,
		"Name <x@y.z>", "user(comment)@example.com", `"unterminated`, "a b@c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		if a.Null != (a.String() == "") {
			t.Fatalf("ParseAddress(%q) = %+v: Null and String disagree", s, a)
		}
		if strings.Contains(a.Domain, "@") {
			t.Fatalf("ParseAddress(%q): domain %q contains @", s, a.Domain)
		}
		if a.Literal != (len(a.Domain) > 0 && a.Domain[0] == '[' && a.Domain[len(a.Domain)-1] == ']') {
			t.Fatalf("ParseAddress(%q): Literal %v for domain %q", s, a.Literal, a.Domain)
		}
		_ = IsFQDNAddress(a)
		_, _, _ = MailDomainLookupName(a.Domain)
	})
}
