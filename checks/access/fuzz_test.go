package access

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzTypes = []string{"hash", "cidr", "regexp", "pcre"}

// FuzzParseTable parses arbitrary text as each table type and, when that
// works, looks a few keys up.
func FuzzParseTable(f *testing.F) {
	for _, name := range []string{"client_access", "helo_access", "sender_access", "recipient_access", "rbl_override", "client.cidr", "sender.regexp", "sender.pcre", "lookbehind.pcre"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		for i := range fuzzTypes {
			f.Add(uint8(i), string(data))
		}
	}
	f.Add(uint8(1), "if !10.0.0.0/8\nif [2001:db8::]/32\n!::/0 x\nendif\nendif\n")
	f.Add(uint8(2), "/^(a)(b)?$/!/c/ $1${2}$(1)$$\nif !/x/m\n/y/x z\nendif\n")
	f.Add(uint8(3), "/(?<=a)b/ x\n/a++/ y\n/\\Qa(b\\E(?#c)/A z\n/[\\x{41}-\\p{L}]/U q\n")
	f.Fuzz(func(t *testing.T, typ uint8, src string) {
		tab, err := ParseTable(fuzzTypes[int(typ)%len(fuzzTypes)], "fuzz", []byte(src))
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz") {
				t.Errorf("error without the file name: %v", err)
			}
			return
		}
		ip := netip.MustParseAddr("192.0.2.1")
		LookupClient([]*Table{tab}, "mail.example.com", ip)
		Options{RecipientDelimiter: "+"}.LookupMail([]*Table{tab}, src)
		for line := range strings.Lines(src) {
			tab.Lookup(trimSpace(line))
		}
	})
}

// FuzzParseResult checks that any value parses to a Result whose reply is
// well-formed.
func FuzzParseResult(f *testing.F) {
	for _, s := range []string{
		"OK", "REJECT", "REJECT 5.7.1 Go away", "DEFER", "DEFER_IF_PERMIT 4.7.0 x", "DEFER_IF_REJECT",
		"550 5.7.1 Listed", "450 Greylisted", "550 4.7.1 x", "123", "", "DUNNO", "WARN x", "INFO",
		"HOLD", "DISCARD", "PREPEND X-A: b", "FILTER smtp:[::1]:10025", "REDIRECT a@b", "BCC a@b",
		"HANGUP", "permit_mynetworks, reject", "restrictive {a b}", "hash:/x", "REJECT 5.1.1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r, err := ParseResult(value)
		if err != nil && r.Kind != KindDunno && r.Kind != KindConfigError {
			t.Errorf("ParseResult(%q) = %v with error %v", value, r.Kind, err)
		}
		for _, class := range []string{ClassClient, ClassSender, ClassRecipient} {
			code, enh, text := r.Reply("x@example.com", class)
			if code == 0 {
				continue
			}
			line := strings.Join([]string{enh, text}, " ")
			if code < 400 || code > 599 || dsnValid(enh) != len(enh) || enh[0] != byte('0'+code/100) {
				t.Errorf("ParseResult(%q).Reply = %d %q", value, code, enh)
			}
			if len(line)+4 > 510 || strings.ContainsAny(text, "\r\n\x00") {
				t.Errorf("ParseResult(%q).Reply text %q", value, text)
			}
			if utf8.ValidString(value) && !utf8.ValidString(text) && len(line)+4 < 510 {
				t.Errorf("ParseResult(%q).Reply: invalid UTF-8 %q", value, text)
			}
		}
	})
}

// FuzzLookupMail looks arbitrary addresses up in the tutorial tables and
// checks that pattern tables only ever see full keys.
func FuzzLookupMail(f *testing.F) {
	for _, s := range []string{
		"user@example.com", "<User+Ext@Sub.Example.COM>", `"john smith"@example.com`, `"a\"b"@x`, "<>", "",
		"@relay:joe@example.com", "postmaster", "joe@[192.0.2.1]", "owner-list@d", "a@b@c", `"@"@x`, "\\", "\"",
	} {
		f.Add(s)
	}
	var tables []*Table
	for _, spec := range []string{"hash:testdata/sender_access", "regexp:testdata/sender.regexp", "pcre:testdata/sender.pcre", "inline:{a=b}"} {
		tab, err := Open(spec)
		if err != nil {
			f.Fatal(err)
		}
		tables = append(tables, tab)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		for _, o := range []Options{{}, {RecipientDelimiter: "+-"}, {DotParentDomains: true, MyOrigin: "example.com"}} {
			keys := o.mailKeys(addr)
			for i, k := range keys {
				if k.partial && i == 0 {
					t.Errorf("mailKeys(%q): first key %q is partial", addr, k.s)
				}
				if !k.partial && i > 1 {
					t.Errorf("mailKeys(%q): key %d %q is full", addr, i, k.s)
				}
			}
			for _, m := range o.LookupMail(tables, addr) {
				if !m.Table.Fixed() && m.Key != keys[0].s && (len(keys) < 2 || keys[1].partial || m.Key != keys[1].s) {
					t.Errorf("LookupMail(%q): pattern table %s matched partial key %q", addr, m.Table.Source(), m.Key)
				}
			}
		}
	})
}
