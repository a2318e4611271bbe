package access

import (
	"errors"
	"strings"
	"testing"
)

func TestCIDR(t *testing.T) {
	tab := mustOpen(t, "cidr:testdata/client.cidr")
	if tab.Fixed() || tab.Type() != "cidr" {
		t.Errorf("Fixed %v Type %q", tab.Fixed(), tab.Type())
	}
	test := lookupTest(t, tab)
	test("192.168.1.1", "OK") // first match wins
	test("192.168.7.7", "REJECT Private network")
	test("2001:db8::1", "OK")
	test("2001:db8::2", "REJECT Documentation space")
	test("2001:db8:ffff::1", "DUNNO") // "[addr]/len" form
	test("2001:db9::1", "WARN IPv6 client")
	test("203.0.113.5", "OK")
	test("203.0.113.200", "REJECT Upper half") // negation: in the /24 but not in the lower /25
	test("203.0.113.6", "")                    // lower half: no rule
	test("100.64.1.1", "REJECT    Carrier-grade NAT")
	test("10.100.64.1", "") // "if !10.0.0.0/8" skips the block
	test("198.51.100.1", "")
	// Lookups are by address only: names and partial keys never match, and
	// an IPv4 rule never matches an IPv6 address, not even "!" rules.
	test("mail.example.com", "")
	test("192.168", "")
	test("::ffff:192.168.1.1", "WARN IPv6 client")
	test("fe80::1%eth0", "")

	neg := mustOpenSrc(t, "cidr", "!192.0.2.0/24 not-in-net\n")
	lookupTest(t, neg)("192.0.2.1", "")
	lookupTest(t, neg)("198.51.100.1", "not-in-net")
	lookupTest(t, neg)("2001:db8::1", "") // other family: no match either way

	errTest := errorTest(t, "cidr")
	errTest("192.0.2.1/24 REJECT\n", ErrSyntax,
		`t:1: non-null host address bits in "192.0.2.1/24", perhaps you should use "192.0.2.0/24" instead`, "Postfix would skip this rule")
	errTest("# c\n2001:db8::1/32 REJECT\n", ErrSyntax, `t:2: non-null host address bits in "2001:db8::1/32", perhaps you should use "2001:db8::/32" instead`)
	errTest("192.0.2.0/33 REJECT\n", ErrSyntax, `t:1: bad mask length in "192.0.2.0/33"`)
	errTest("192.0.2.0/x REJECT\n", ErrSyntax, `bad mask value in "192.0.2.0/x"`)
	errTest("192.0.2/24 REJECT\n", ErrSyntax, `bad network value in "192.0.2/24"`)
	errTest("mail.example.com REJECT\n", ErrSyntax, `bad address pattern: "mail.example.com"`)
	errTest("192.0.2.0/24\n", ErrSyntax, `t:1: no lookup result after "192.0.2.0/24"`)
	errTest("[192.0.2.0/24 OK\n", ErrSyntax, "missing ']'")
	errTest("endif\n", ErrSyntax, "t:1: endif without if")
	errTest("if 192.0.2.0/24\n192.0.2.1 OK\n", ErrSyntax, "t:1: if has no matching endif")
	errTest("if 192.0.2.0/24\n  192.0.2.1 OK\nendif\n", ErrSyntax, "t:1: text after the address pattern of if", "do not indent")
	errTest("if\nendif\n", ErrSyntax, "no address pattern after if")
	errTest("endif x\n", ErrSyntax, "text after endif")
}

func mustOpenSrc(t *testing.T, typ, src string) *Table {
	t.Helper()
	tab, err := ParseTable(typ, "t", []byte(src))
	if err != nil {
		t.Fatalf("ParseTable(%s, %q): %v", typ, src, err)
	}
	return tab
}

func TestRegexp(t *testing.T) {
	tab := mustOpen(t, "regexp:testdata/sender.regexp")
	if tab.Fixed() || tab.Type() != "regexp" {
		t.Errorf("Fixed %v Type %q", tab.Fixed(), tab.Type())
	}
	if w := tab.Warnings(); len(w) != 0 {
		t.Errorf("Warnings = %q", w)
	}
	test := lookupTest(t, tab)
	test("a%b@example.com", "550 Sender-specified routing rejected")
	test("postmaster@example.org", "OK")
	test("list-outgoing@lists.example", "550 Use list@lists.example instead")
	test("owner-list-outgoing@lists.example", "") // /pattern1/!/pattern2/
	test("joe@local.example", "PREPEND X-Local-User: joe")
	test("12345@example.net", "REJECT Numeric local part $5 fee")
	test("admin@example.org", "OK")
	test("someone@example.org", "REJECT example.org only takes mail from admin")
	test("POSTMASTER@EXAMPLE.COM", "OK") // case-insensitive by default
	test("Bob@example.net", "REJECT Bob with a capital B")
	test("bob@example.net", "") // the i flag made that rule case-sensitive
	test("eve+@example.net", "REJECT eve again")
	test("eve@example.net", "") // in a basic RE "+" is literal
	test("nobody@example.com", "")

	r := mustOpenSrc(t, "regexp", `/^(a)|(b)$/ x${1}y${2}z`+"\n")
	lookupTest(t, r)("b", "xybz") // an unmatched group adds nothing
	r = mustOpenSrc(t, "regexp", "/^(.*)@(.*)$/ ${2}:$(1)\n")
	lookupTest(t, r)("u@d", "d:u")
	// POSIX leftmost-longest, not Perl's leftmost-first.
	lookupTest(t, mustOpenSrc(t, "regexp", "/(a|ab)/ [$1]\n"))("ab", "[ab]")
	// POSIX bracket expressions: a backslash is literal, "]" first is literal.
	lookupTest(t, mustOpenSrc(t, "regexp", `/^[\]+$/ backslash`+"\n"))(`\\`, "backslash")
	lookupTest(t, mustOpenSrc(t, "regexp", `/^[]a]+$/ bracket`+"\n"))("]a]", "bracket")
	lookupTest(t, mustOpenSrc(t, "regexp", `/^[^]a]+$/ notbracket`+"\n"))("bcd", "notbracket")
	lookupTest(t, mustOpenSrc(t, "regexp", `/^[[:alpha:][.-.]]+$/ alpha`+"\n"))("a-b", "alpha")
	lookupTest(t, mustOpenSrc(t, "regexp", `~^a/b$~ slash`+"\n"))("a/b", "slash")
	lookupTest(t, mustOpenSrc(t, "regexp", `/^a\/b$/ escaped`+"\n"))("a/b", "escaped")
	lookupTest(t, mustOpenSrc(t, "regexp", `/\<ab\>/ word`+"\n"))("x ab y", "word")
	lookupTest(t, mustOpenSrc(t, "regexp", "! /^ok/ not-ok\n"))("bad", "not-ok")
	lookupTest(t, mustOpenSrc(t, "regexp", "!/^ok/ not-ok\n"))("ok", "")
	lookupTest(t, mustOpenSrc(t, "regexp", "IF /x/\n/y/ xy\nENDIF\n"))("xy", "xy")
	// Without the m flag '.' matches a newline; with it, it does not.
	lookupTest(t, mustOpenSrc(t, "regexp", "/^a.b$/ dot\n"))("a\nb", "dot")
	lookupTest(t, mustOpenSrc(t, "regexp", "/^a.b$/m dot\n"))("a\nb", "")
	lookupTest(t, mustOpenSrc(t, "regexp", "/^b$/m line\n"))("a\nb", "line")
	// "\d" is a literal "d" in POSIX, as with glibc: Postfix's answer.
	d := mustOpenSrc(t, "regexp", `/^\d+$/ digits`+"\n")
	lookupTest(t, d)("123", "")
	lookupTest(t, d)("ddd", "digits")
	if w := d.Warnings(); len(w) != 1 || !strings.Contains(w[0], `t:1: "\d" in "^\\d+$" is a literal "d"`) {
		t.Errorf("Warnings = %q", w)
	}
	if w := mustOpenSrc(t, "regexp", "/x/\n").Warnings(); len(w) != 1 || !strings.Contains(w[0], "empty replacement") {
		t.Errorf("Warnings = %q", w)
	}

	errTest := errorTest(t, "regexp")
	errTest("/abc REJECT\n", ErrSyntax, `t:1: no closing regexp delimiter "/"`)
	errTest("/abc/q REJECT\n", ErrSyntax, `t:1: unknown regexp option "q"`, "regexp flags are i, x and m")
	errTest("/abc/s REJECT\n", ErrSyntax, `unknown regexp option "s"`)
	errTest("/(a)/ $2\n", ErrSyntax, `out of range replacement index "2"`, "1 (...) groups")
	errTest("/a/ $0\n", ErrSyntax, `out of range replacement index "0"`)
	errTest("/a/ $x\n", ErrSyntax, `non-numeric replacement index "x"`)
	errTest("/(a)/ $1y\n", ErrSyntax, `non-numeric replacement index "1y"`) // mac_parse reads "$1y" as one name
	errTest("/a/ ${1\n", ErrSyntax, "truncated macro reference")
	errTest("/a/ cost $\n", ErrSyntax, "empty macro name")
	errTest("!/(a)/ $1\n", ErrSyntax, "$number found in negative match")
	errTest("/(a)\\1/ REJECT\n", ErrUnsupportedRegexp, `the backreference "\\1"`, "not supported by RE2")
	errTest("/[[.hyphen.]b]/ REJECT\n", ErrUnsupportedRegexp, "the collating element")
	lookupTest(t, mustOpenSrc(t, "regexp", "/^[[=a=]b]+$/ equivalence\n"))("ab", "equivalence")
	errTest("/a[b/ REJECT\n", ErrSyntax, "unmatched [")
	errTest("/a(b/ REJECT\n", ErrSyntax, `t:1: bad pattern "a(b"`)
	errTest("if /a/ REJECT\nendif\n", ErrSyntax, `t:1: text after the if pattern: "REJECT"`)
	errTest("if /a/\n  /b/ REJECT\nendif\n", ErrSyntax, "do not indent")
	_, err := ParseTable("regexp", "t", []byte("if /a/\n  /b/ REJECT\nendif\n"))
	if strings.Contains(err.Error(), "endif without if") {
		t.Errorf("a bad if makes its endif an error too: %v", err)
	}
	errTest("endif\n", ErrSyntax, "t:1: endif without if")
	errTest("if /a/\n/b/ x\n", ErrSyntax, "t:1: if has no matching endif")
	errTest("reject everything\n", ErrSyntax, `t:1: unrecognized regexp table line "reject everything"`)
	errTest("ok 1\n/a/ b\nbad 2\n", ErrSyntax, "t:1:", "t:3:")
}

func TestPCRE(t *testing.T) {
	tab := mustOpen(t, "pcre:testdata/sender.pcre")
	if tab.Fixed() || tab.Type() != "pcre" {
		t.Errorf("Fixed %v Type %q", tab.Fixed(), tab.Type())
	}
	test := lookupTest(t, tab)
	test("friend@example.com", "REJECT")
	test("friend@mail.example.com", "REJECT")
	test("Friend@Example.COM", "REJECT") // caseless by default
	test("john.smith@corp.example", "PREPEND X-Person: smith, john")
	test("1234567@example.net", "REJECT Too many digits")
	test("12345@example.net", "")
	test("noddy@my.domain", "550 This user is a funny one. You really don't want to send mail to them as it only makes their head spin.")
	test("CASE@example.com", "REJECT case-sensitive match")
	test("case@example.com", "")
	test("x.example.net", "REJECT extended syntax")

	// Perl leftmost-first, not POSIX leftmost-longest.
	lookupTest(t, mustOpenSrc(t, "pcre", "/(a|ab)/ [$1]\n"))("ab", "[a]")
	lookupTest(t, mustOpenSrc(t, "pcre", "/^a.b$/ dotall\n"))("a\nb", "dotall")
	lookupTest(t, mustOpenSrc(t, "pcre", "/^a.b$/s not-dotall\n"))("a\nb", "")
	lookupTest(t, mustOpenSrc(t, "pcre", "/b/A anchored\n"))("ab", "")
	lookupTest(t, mustOpenSrc(t, "pcre", "/(a+)/U ungreedy $1\n"))("aaa", "ungreedy a")
	lookupTest(t, mustOpenSrc(t, "pcre", "/^a\\Z/ endz\n"))("a\n", "endz")
	lookupTest(t, mustOpenSrc(t, "pcre", "/^\\Qa.b\\E$/ quoted\n"))("a.b", "quoted")
	lookupTest(t, mustOpenSrc(t, "pcre", "/^\\Qa.b\\E$/ quoted\n"))("axb", "")
	lookupTest(t, mustOpenSrc(t, "pcre", "/^a(?#comment)b$/ comment\n"))("ab", "comment")
	lookupTest(t, mustOpenSrc(t, "pcre", "/^(?'user'\\w+)@/ named $1\n"))("joe@x", "named joe")
	lookupTest(t, mustOpenSrc(t, "pcre", "/^\\x{263a}\\p{L}{2}$/ unicode\n"))("☺ab", "unicode")
	lookupTest(t, mustOpenSrc(t, "pcre", "/^a{x}$/ brace\n"))("a{x}", "brace")
	lookupTest(t, mustOpenSrc(t, "pcre", "/^[\\]a]+$/ class\n"))("]a", "class")
	lookupTest(t, mustOpenSrc(t, "pcre", "if !/@example\\.com$/\n/^admin@/ REJECT\nendif\n"))("admin@example.net", "REJECT")
	lookupTest(t, mustOpenSrc(t, "pcre", "if !/@example\\.com$/\n/^admin@/ REJECT\nendif\n"))("admin@example.com", "")
	lookupTest(t, mustOpenSrc(t, "pcre", "/^\\e\\ca[\\e[:digit:]]$/ ctrl\n"))("\x1b\x01\x1b", "ctrl")
	lookupTest(t, mustOpenSrc(t, "pcre", "/^[\\x{263a}\\p{Greek}é]+\\é$/ class\n"))("☺αéé", "class")
	lookupTest(t, mustOpenSrc(t, "pcre", "/^a\\E\\Qb/ stray\n"))("ab", "stray")
	if w := mustOpenSrc(t, "pcre", "/a/X x\n").Warnings(); len(w) != 1 || !strings.Contains(w[0], `obsolete regexp option "X"`) {
		t.Errorf("Warnings = %q", w)
	}

	// The lookbehind file names the file, the lines and the constructs.
	_, err := Open("pcre:testdata/lookbehind.pcre")
	if !errors.Is(err, ErrUnsupportedRegexp) {
		t.Fatalf("lookbehind.pcre: %v, want ErrUnsupportedRegexp", err)
	}
	for _, w := range []string{
		`testdata/lookbehind.pcre:5: the lookbehind "(?<=" in "(?<=@)spam\\.example$" is not supported by RE2 (Go regexp)`,
		`testdata/lookbehind.pcre:6: the negative lookbehind "(?<!"`,
		"hint: rewrite it with if !/pattern/ ... endif",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("lookbehind.pcre error %q does not contain %q", err, w)
		}
	}

	errTest := errorTest(t, "pcre")
	unsupported := func(pattern, construct string) {
		t.Helper()
		errTest("/"+pattern+"/ REJECT\n", ErrUnsupportedRegexp, construct, "t:1:")
	}
	unsupported(`^(?!owner-)(.*)-outgoing@`, `negative lookahead "(?!"`)
	unsupported(`^friend@(?=x)`, `lookahead "(?="`)
	unsupported(`(a)\1`, `backreference "\\1"`)
	unsupported(`(a)\g1`, `backreference "\\g"`)
	unsupported(`(?<n>a)\k<n>`, `backreference "\\k"`)
	unsupported(`(?P<n>a)(?P=n)`, `backreference "(?P="`)
	unsupported(`(?>a+)b`, `atomic group "(?>"`)
	unsupported(`a++b`, `possessive quantifier "++"`)
	unsupported(`a{2,}+b`, `possessive quantifier "{2,}+"`)
	unsupported(`\((?:[^()]|(?R))*\)`, `recursion "(?R"`)
	unsupported(`(a)(?1)`, `subroutine call "(?1"`)
	unsupported(`(?(1)a|b)`, `conditional group "(?("`)
	unsupported(`(*UTF8)a`, `backtracking control verb "(*UTF8)"`)
	unsupported(`a\Kb`, `escape "\\K"`)
	unsupported(`a\hb`, `escape "\\h"`)
	errTest("/a/ $0\n", ErrSyntax, `out of range replacement index "0"`)
	errTest("/a/q x\n", ErrSyntax, `unknown regexp option "q"`, "pcre flags are")
	errTest("/a(/ x\n", ErrSyntax, `bad pattern "a("`)
	errTest("/(a)/ $2\n", ErrSyntax, "out of range replacement index")
}
