package syntax

import (
	"errors"
	"strings"
	"testing"
)

// TestParseAddressPostfixLab replays MAIL FROM arguments accepted by
// Postfix 3.7.11 with smtpd_sender_restrictions = reject_non_fqdn_sender.
// internal is the address Postfix printed in "<...>" (or that it would
// print, for accepted ones); fqdn is whether the restriction let it pass.
// Each input is parsed both as sent and as go-milter hands it over
// (strings.Trim(s, "<>")).
func TestParseAddressPostfixLab(t *testing.T) {
	test := func(arg, internal, local, domain string, null, literal, fqdn bool) {
		t.Helper()
		for _, in := range []string{arg, strings.Trim(arg, "<>")} {
			a, err := ParseAddress(in)
			if err != nil {
				t.Errorf("ParseAddress(%q): %v", in, err)
				continue
			}
			if a.String() != internal || a.Local != local || a.Domain != domain ||
				a.Null != null || a.Literal != literal {
				t.Errorf("ParseAddress(%q) = %+v (%q), want internal %q local %q domain %q null %v literal %v",
					in, a, a.String(), internal, local, domain, null, literal)
			}
			if got := IsFQDNAddress(a); got != fqdn {
				t.Errorf("IsFQDNAddress(%q) = %v, Postfix said %v", in, got, fqdn)
			}
		}
	}
	test("<>", "", "", "", true, false, true)
	test("<user>", "user", "user", "", false, false, false)
	test("<user@localhost>", "user@localhost", "user", "localhost", false, false, false)
	test("<user@example.com>", "user@example.com", "user", "example.com", false, false, true)
	test("<user@EXAMPLE.COM>", "user@EXAMPLE.COM", "user", "EXAMPLE.COM", false, false, true)
	test("<user@example.com.>", "user@example.com.", "user", "example.com.", false, false, true)
	test("<user@com.>", "user@com.", "user", "com.", false, false, false)
	test("<user@localhost.>", "user@localhost.", "user", "localhost.", false, false, false)
	test("<user@[192.0.2.1]>", "user@[192.0.2.1]", "user", "[192.0.2.1]", false, true, true)
	test("<user@[IPv6:::1]>", "user@[IPv6:::1]", "user", "[IPv6:::1]", false, true, true)
	test("<user@[ipv6:::1]>", "user@[ipv6:::1]", "user", "[ipv6:::1]", false, true, true)
	test("<user@[1.2.3.4].>", "user@[1.2.3.4].", "user", "[1.2.3.4].", false, false, false)
	test("<user@[1.2.3.4]@localhost>", "user@[1.2.3.4]@localhost", "user@[1.2.3.4]", "localhost", false, false, false)
	test(`<"a b"@example.com>`, "a b@example.com", "a b", "example.com", false, false, true)
	test(`<"a b"@localhost>`, "a b@localhost", "a b", "localhost", false, false, false)
	test("<@a.test,@b.test:user@localhost>", "user@localhost", "user", "localhost", false, false, false)
	test("<@a.test:user@example.com>", "user@example.com", "user", "example.com", false, false, true)
	test(`<"a@b"@localhost>`, "a@b@localhost", "a@b", "localhost", false, false, false)
	test("<a@b@localhost>", "a@b@localhost", "a@b", "localhost", false, false, false)
	test(`<a\@b@localhost>`, "a@b@localhost", "a@b", "localhost", false, false, false)
	test(`<"a\"b"@localhost>`, `a"b@localhost`, `a"b`, "localhost", false, false, false)
	test(`<"user@example.com">`, "user@example.com", "user", "example.com", false, false, true)
	test(`<"user@localhost">`, "user@localhost", "user", "localhost", false, false, false)
	test(`<"user@example.com"@localhost>`, "user@example.com@localhost", "user@example.com", "localhost", false, false, false)
	test(`<"user@localhost"@example.com>`, "user@localhost@example.com", "user@localhost", "example.com", false, false, true)
	test("<user@ex_ample.com>", "user@ex_ample.com", "user", "ex_ample.com", false, false, true)
	test("<user@exämple.com>", "user@exämple.com", "user", "exämple.com", false, false, true)
	test("<üser@localhost>", "üser@localhost", "üser", "localhost", false, false, false)
	test("user@localhost", "user@localhost", "user", "localhost", false, false, false)
	test("<user(comment)@localhost>", "user@localhost", "user", "localhost", false, false, false)
	test("<@x:>", "", "", "", true, false, true)
	test("<@a.b:>", "", "", "", true, false, true)
	test(`<"">`, "", "", "", true, false, true)
	test(`<""@example.com>`, "@example.com", "", "example.com", false, false, true)
	test("<@localhost>", "@localhost", "", "localhost", false, false, false)
	test("<user@@example.com>", "user@@example.com", "user@", "example.com", false, false, true)
	test("<x@y.z@>", "x@y.z@", "x@y.z", "", false, false, false)
	test("<@a:b@c.d>", "b@c.d", "b", "c.d", false, false, true)
	test("<user@1-2.3>", "user@1-2.3", "user", "1-2.3", false, false, true)
	test("<user@x.123>", "user@x.123", "user", "x.123", false, false, true)
	test("<user@xn--exmple-cua.test>", "user@xn--exmple-cua.test", "user", "xn--exmple-cua.test", false, false, true)
}

func TestParseAddressPhrase(t *testing.T) {
	test := func(in, internal string) {
		t.Helper()
		a, err := ParseAddress(in)
		if err != nil {
			t.Errorf("ParseAddress(%q): %v", in, err)
			return
		}
		if a.String() != internal {
			t.Errorf("ParseAddress(%q) = %q, want %q", in, a.String(), internal)
		}
	}
	// Postfix 3.7.11 accepted MAIL FROM:<Name <x@y.z>> as x@y.z.
	test("<Name <x@y.z>>", "x@y.z")
	test("Name <x@y.z>", "x@y.z")
	test("Name <x@y.z", "x@y.z") // go-milter trimmed the last ">"
	test(`"Some One" <x@y.z>`, "x@y.z")
	test("<<@a:x@y.z>>", "x@y.z")
	test(" <user@example.com> ", "user@example.com")
	test("user @ example . com", "user@example.com")
	test("user@example.com (comment)", "user@example.com")
	test("user@example.com (nested (comment) \\) x)", "user@example.com")
	test(`"a\\b"@example.com`, `a\b@example.com`)
	test("user@[1.2.3.4]", "user@[1.2.3.4]")
	test(`user@[1.2\].3.4]`, "user@[1.2].3.4]")
}

func TestParseAddressErrors(t *testing.T) {
	test := func(in string) {
		t.Helper()
		a, err := ParseAddress(in)
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseAddress(%q) = %+v, %v, want ErrSyntax", in, a, err)
		}
	}
	// Postfix answered 501 5.1.7 Bad sender address syntax.
	test(`<"unterminated@x.y>`)
	test("<user@[1.2.3.4>")
	test("<user(unterminated@x.y>")
	test("a b@c.d")
	test("a@b, c@d")
	test("a@b; c@d")
	test("grp: a@b;")
	test("a@b>")
	test("a@b]")
}

func TestIsFQDNAddressSMTPUTF8(t *testing.T) {
	test := func(in string, smtputf8, want bool) {
		t.Helper()
		a, err := ParseAddress(in)
		if err != nil {
			t.Fatalf("ParseAddress(%q): %v", in, err)
		}
		if got := IsFQDNAddressSMTPUTF8(a, smtputf8); got != want {
			t.Errorf("IsFQDNAddressSMTPUTF8(%q, %v) = %v, want %v", in, smtputf8, got, want)
		}
	}
	test("u@exämple.com", true, true)
	test("u@exämple.com", false, false)
	test("u@exämple", true, false)
	test("u@example.com", false, true)
	test("u@[garbage]", false, true) // literals are not validated here
	test("u@1.2.3.4", true, false)   // numeric: not a host name
	test("u@a.b..", true, false)     // dot-dot is not stripped
	// The zero Address (no domain) is not fully qualified.
	if IsFQDNAddress(Address{}) {
		t.Error("IsFQDNAddress(Address{}) = true")
	}
}

func TestMailDomainLookupName(t *testing.T) {
	test := func(domain, wantName string, wantSkip, wantNotFound bool) {
		t.Helper()
		name, skip, notFound := MailDomainLookupName(domain)
		if name != wantName || skip != wantSkip || notFound != wantNotFound {
			t.Errorf("MailDomainLookupName(%q) = %q, %v, %v, want %q, %v, %v",
				domain, name, skip, notFound, wantName, wantSkip, wantNotFound)
		}
	}
	// Lab: u@snd-a.test. was looked up as snd-a.test; u@exämple.test as
	// xn--exmple-cua.test; u@x.123 and u@bad_name.test were queried.
	test("snd-a.test", "snd-a.test", false, false)
	test("snd-a.test.", "snd-a.test", false, false)
	test("SND-A.TEST", "snd-a.test", false, false)
	test("exämple.test", "xn--exmple-cua.test", false, false)
	test("x.123", "x.123", false, false)
	test("bad_name.test", "bad_name.test", false, false)
	test("[192.0.2.1]", "", true, false)
	test("1.2.3.4", "", false, true)
	test("-bad.test", "", false, true)
	test("ä b.test", "", false, true)
	test("", "", false, true)
}

func TestAddressString(t *testing.T) {
	test := func(a Address, want string) {
		t.Helper()
		if got := a.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", a, got, want)
		}
	}
	test(Address{Null: true}, "")
	test(Address{Local: "u"}, "u")
	test(Address{Local: "u", Domain: "example.com"}, "u@example.com")
	test(Address{}, "")
}
