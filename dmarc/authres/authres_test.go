package authres

import (
	"strings"
	"testing"
)

func TestClaims(t *testing.T) {
	ids := []string{"mx.example.net", "old.example.net"}
	test := func(v string, want bool) {
		t.Helper()
		if got := Claims(v, ids); got != want {
			t.Errorf("Claims(%q) = %v, want %v", v, got, want)
		}
	}
	// Forged shapes that must be recognised.
	test("mx.example.net; spf=pass smtp.mailfrom=example.org", true)
	test("MX.Example.NET; dkim=pass", true)
	test("mx.example.net.; dmarc=pass", true)
	test("  mx.example.net;spf=pass", true)
	test("\r\n\tmx.example.net;\r\n\tspf=pass", true)
	test("(forged) mx.example.net; spf=pass", true)
	test("(nested (comment) here)mx.example.net; spf=pass", true)
	test(`(with \) escaped paren) mx.example.net; spf=pass`, true)
	test(`"mx.example.net"; spf=pass`, true)
	test(`"mx.example.net; spf=pass`, true)
	test("mx.example.net 1; spf=pass", true)
	test("mx.example.net(comment); spf=pass", true)
	test("old.example.net; spf=pass", true)
	test("mx.example.net", true)
	// Other servers' headers stay.
	test("mx.example.org; spf=pass", false)
	test("mx.example.net.evil; spf=pass", false)
	test("mx.example.network; spf=pass", false)
	test("sub.mx.example.net; spf=pass", false)
	test("", false)
	test("(only a comment)", false)
	test("example.net; spf=pass", false)
}

func TestAuthServID(t *testing.T) {
	test := func(v, want string, wantOK bool) {
		t.Helper()
		got, ok := AuthServID(v)
		if got != want || ok != wantOK {
			t.Errorf("AuthServID(%q) = %q, %v; want %q, %v", v, got, ok, want, wantOK)
		}
	}
	test("mx.example.net; none", "mx.example.net", true)
	test(`"quoted \"id\""; none`, `quoted "id"`, true)
	test("(c) id 1; spf=pass", "id", true)
	test(";", "", false)
}

func TestFormat(t *testing.T) {
	got := Format("mx.example.net", []Result{
		{Method: "iprev", Result: "pass", Props: []Prop{{"policy", "iprev", "192.0.2.1"}}, Comment: "mail.example.org"},
		{Method: "spf", Result: "pass", Props: []Prop{{"smtp", "mailfrom", "user@example.org"}, {"smtp", "helo", ""}}},
		{Method: "dkim", Result: "pass", Props: []Prop{{"header", "d", "example.org"}, {"header", "s", "s1"}, {"header", "a", "ed25519-sha256"}, {"header", "b", "abcd/+ef"}}},
		{Method: "dmarc", Result: "fail", Reason: `From "spoofed"`, Props: []Prop{{"header", "from", "example.org"}, {"policy", "dmarc", "reject"}}},
	})
	want := "mx.example.net;\r\n\tiprev=pass policy.iprev=192.0.2.1 (mail.example.org);\r\n\tspf=pass smtp.mailfrom=user@example.org;\r\n\t" +
		`dkim=pass header.d=example.org header.s=s1 header.a=ed25519-sha256 header.b="abcd/+ef";` + "\r\n\t" +
		`dmarc=fail reason="From \"spoofed\"" header.from=example.org policy.dmarc=reject`
	if got != want {
		t.Errorf("Format:\n got  %q\n want %q", got, want)
	}
	if got := Format("mx.example.net", nil); got != "mx.example.net; none" {
		t.Errorf("no results: %q", got)
	}
	// What we write, we recognise.
	if !Claims(got, []string{"mx.example.net"}) || strings.Contains(Format("x", []Result{{Method: "spf", Result: "pass", Comment: "a)(b"}}), "a)(b") {
		t.Error("round trip")
	}
}

func FuzzClaims(f *testing.F) {
	for _, s := range []string{"mx.example.net; spf=pass", `"x`, "(((", `(\`, "mx.example.net(", "\"\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		id, ok := AuthServID(v)
		if ok && strings.Trim(id, ".") != "" && !Claims(v, []string{id}) && !strings.ContainsFunc(id, func(r rune) bool { return r <= 0x20 || r == 0x7f }) {
			t.Errorf("AuthServID(%q) = %q but Claims does not match it", v, id)
		}
	})
}
