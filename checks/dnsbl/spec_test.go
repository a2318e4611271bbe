package dnsbl_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/mxguard/mxguard/checks/dnsbl"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		name, in        string
		zone, filter    string
		weight          int
		errContains     string
		matches, misses []string
	}{
		{name: "zone only", in: "zen.spamhaus.org", zone: "zen.spamhaus.org", weight: 1,
			matches: []string{"127.0.0.2", "127.0.0.1", "127.1.2.3"}},
		{name: "case and trailing dot", in: " Zen.Spamhaus.ORG. ", zone: "zen.spamhaus.org", weight: 1},
		{name: "single address", in: "zen.spamhaus.org=127.0.0.2", zone: "zen.spamhaus.org", filter: "127.0.0.2", weight: 1,
			matches: []string{"127.0.0.2"}, misses: []string{"127.0.0.3"}},
		{name: "octet range", in: "zen.spamhaus.org=127.0.0.[2..11]", zone: "zen.spamhaus.org", filter: "127.0.0.[2..11]", weight: 1,
			matches: []string{"127.0.0.2", "127.0.0.11"}, misses: []string{"127.0.0.1", "127.0.0.12", "127.0.1.2"}},
		{name: "two ranges", in: "list.dnswl.org=127.0.[0..255].[1..3]*-4", zone: "list.dnswl.org", filter: "127.0.[0..255].[1..3]", weight: -4,
			matches: []string{"127.0.10.1", "127.0.255.3"}, misses: []string{"127.0.10.0", "127.1.10.1"}},
		{name: "postscreen list", in: "zen.spamhaus.org=127.0.0.[10;11]*8", zone: "zen.spamhaus.org", filter: "127.0.0.[10;11]", weight: 8,
			matches: []string{"127.0.0.10", "127.0.0.11"}, misses: []string{"127.0.0.12"}},
		{name: "list and range mixed", in: "b.example=127.0.0.[1;3;5..7]", zone: "b.example", filter: "127.0.0.[1;3;5..7]", weight: 1,
			matches: []string{"127.0.0.1", "127.0.0.6"}, misses: []string{"127.0.0.2", "127.0.0.8"}},
		{name: "outer brackets stripped", in: "b.example=[127.0.0.2]", zone: "b.example", filter: "127.0.0.2", weight: 1},
		{name: "outer brackets around a bracketed field", in: "b.example=[127.0.0.[2..3]]", zone: "b.example", filter: "127.0.0.[2..3]", weight: 1},
		{name: "weight only", in: "bl.spamcop.net*2", zone: "bl.spamcop.net", weight: 2},
		{name: "zero weight", in: "bl.example*0", zone: "bl.example", weight: 0},
		{name: "cidr list", in: "bl.example=127.0.0.0/24,127.0.1.2", zone: "bl.example", filter: "127.0.0.0/24,127.0.1.2", weight: 1,
			matches: []string{"127.0.0.200", "127.0.1.2"}, misses: []string{"127.0.1.3"}},
		{name: "cidr semicolons, unmasked", in: "bl.example=127.0.0.9/24; 127.0.2.0/23", zone: "bl.example", filter: "127.0.0.0/24,127.0.2.0/23", weight: 1,
			matches: []string{"127.0.3.1"}, misses: []string{"127.0.4.1"}},
		{name: "cidr and pattern", in: "bl.example=127.0.0.0/30;127.0.1.[2..3]*3", zone: "bl.example", filter: "127.0.0.0/30,127.0.1.[2..3]", weight: 3,
			matches: []string{"127.0.0.3", "127.0.1.3"}, misses: []string{"127.0.0.4"}},
		{name: "leading zeros", in: "bl.example=127.0.0.002", zone: "bl.example", filter: "127.0.0.2", weight: 1},
		{name: "dqs zone", in: "abcdefghijklmnopqrstuvwx12.zen.dq.spamhaus.net=127.0.0.[2..255]", zone: "abcdefghijklmnopqrstuvwx12.zen.dq.spamhaus.net", filter: "127.0.0.[2..255]", weight: 1},

		{name: "empty", in: " ", errContains: "want zone[=filter][*weight]"},
		{name: "no zone", in: "=127.0.0.2", errContains: "no zone"},
		{name: "address as zone", in: "127.0.0.2", errContains: "looks like an address"},
		{name: "bad zone", in: "zen..spamhaus.org", errContains: "not a valid domain name"},
		{name: "zone with space", in: "zen spamhaus.org", errContains: "not a valid domain name"},
		{name: "bad weight", in: "bl.example*x", errContains: "not an integer"},
		{name: "weight before filter", in: "bl.example*3=127.0.0.2", errContains: "not an integer"},
		{name: "huge weight", in: "bl.example*99999999", errContains: "out of range"},
		{name: "empty filter", in: "bl.example=", errContains: "empty filter"},
		{name: "empty item", in: "bl.example=127.0.0.2,,127.0.0.3", errContains: "empty item"},
		{name: "three fields", in: "bl.example=127.0.0", errContains: "need 4 fields"},
		{name: "five fields", in: "bl.example=127.0.0.2.1", errContains: "garbage after pattern"},
		{name: "octet too big", in: "bl.example=127.0.0.256", errContains: "need decimal number 0..255"},
		{name: "reversed range", in: "bl.example=127.0.0.[11..2]", errContains: "reversed"},
		{name: "comma inside brackets", in: "bl.example=127.0.0.[2,3]", errContains: `need ";" or "]"`},
		{name: "unclosed bracket", in: "bl.example=[127.0.0.2", errContains: `missing "]"`},
		{name: "range spanning fields", in: "bl.example=127.0.[0.1]", errContains: `need ";" or "]"`},
		{name: "ipv6 prefix", in: "bl.example=::1/128", errContains: "not IPv4"},
		{name: "bad prefix", in: "bl.example=127.0.0.0/33", errContains: "not a CIDR prefix"},
		{name: "filter outside 127/8", in: "bl.example=10.0.0.0/8", errContains: "matches no listing"},
		{name: "pattern outside 127/8", in: "bl.example=10.0.0.2", errContains: "matches no listing"},
		{name: "filter only refusals", in: "bl.example=127.255.255.[252..255]", errContains: "matches no listing"},
		{name: "prefix only refusals", in: "bl.example=127.255.255.252/30", errContains: "matches no listing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := dnsbl.ParseSpec(tc.in)
			if tc.errContains != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errContains) || !errors.Is(err, dnsbl.ErrSpec) {
					t.Fatalf("ParseSpec(%q) = %v, %v; want error containing %q", tc.in, s, err, tc.errContains)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tc.in, err)
			}
			if s.Zone != tc.zone || s.Filter.String() != tc.filter || s.Weight != tc.weight {
				t.Errorf("ParseSpec(%q) = zone %q filter %q weight %d; want %q %q %d", tc.in, s.Zone, s.Filter, s.Weight, tc.zone, tc.filter, tc.weight)
			}
			for _, m := range tc.matches {
				if !s.Filter.Match(netip.MustParseAddr(m)) {
					t.Errorf("%q does not match %s", tc.in, m)
				}
			}
			for _, m := range tc.misses {
				if s.Filter.Match(netip.MustParseAddr(m)) {
					t.Errorf("%q matches %s", tc.in, m)
				}
			}
			// String round-trips.
			again, err := dnsbl.ParseSpec(s.String())
			if err != nil || again.String() != s.String() {
				t.Errorf("ParseSpec(%q).String() = %q, which parses to %q, %v", tc.in, s.String(), again.String(), err)
			}
		})
	}
}

// TestSpecStringPublicName: a spec with a public name prints it, never
// the zone.
func TestSpecStringPublicName(t *testing.T) {
	s, err := dnsbl.ParseSpec("abcdefghijklmnopqrstuvwx12.zen.dq.spamhaus.net=127.0.0.[2..11]*3")
	if err != nil {
		t.Fatal(err)
	}
	s.Name = "zen.spamhaus.org"
	if got, want := s.String(), "zen.spamhaus.org=127.0.0.[2..11]*3"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if s.Display() != "zen.spamhaus.org" {
		t.Errorf("Display() = %q", s.Display())
	}
}

func TestQueryName(t *testing.T) {
	test := func(zone string, target dnsbl.Target, want string, wantErr error) {
		t.Helper()
		got, err := dnsbl.QueryName(zone, target)
		if got != want || !errors.Is(err, wantErr) {
			t.Errorf("QueryName(%q, %v) = %q, %v; want %q, %v", zone, target, got, err, want, wantErr)
		}
	}
	a := func(s string) dnsbl.Target { return dnsbl.AddrTarget(netip.MustParseAddr(s)) }
	d := dnsbl.DomainTarget
	test("zen.example", a("192.0.2.1"), "1.2.0.192.zen.example.", nil)
	test("zen.example", a("::ffff:192.0.2.1"), "1.2.0.192.zen.example.", nil)
	// RFC 5782 §2.4's example.
	test("bad.example.com", a("2001:db8:1:2:3:4:567:89ab"),
		"b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bad.example.com.", nil)
	test("zen.example", a("2001:db8::1"), "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.example.", nil)
	test("dbl.example", d("Mail.Example.COM."), "mail.example.com.dbl.example.", nil)
	test("dbl.example", d("exämple.test"), "xn--exmple-cua.test.dbl.example.", nil)
	test("dbl.example", d("_dmarc.example"), "_dmarc.example.dbl.example.", nil)
	// Postfix's valid_hostname and numeric-suffix rules: not looked up.
	test("dbl.example", d("[192.0.2.1]"), "", dnsbl.ErrQueryName)
	test("dbl.example", d("192.0.2.1"), "", dnsbl.ErrQueryName)
	test("dbl.example", d("host.123"), "", dnsbl.ErrQueryName)
	test("dbl.example", d("bad name.example"), "", dnsbl.ErrQueryName)
	test("dbl.example", d("a..b"), "", dnsbl.ErrQueryName)
	test("dbl.example", dnsbl.Target{}, "", dnsbl.ErrQueryName)
	// 253 characters is the most a name can have.
	label := strings.Repeat("a", 63)
	long := label + "." + label + "." + label + "." + strings.Repeat("b", 50) // 242 characters
	test("dbl.example", d(long), "", dnsbl.ErrQueryName)
	test("x.ex", d(long[:241]+"c"), long[:241]+"c.x.ex.", nil) // 242 + 5 = 247
	test(strings.Repeat("z", 60)+"."+strings.Repeat("z", 60)+"."+strings.Repeat("z", 60)+".example", a("2001:db8::1"), "", dnsbl.ErrQueryName)
}

func TestTemplate(t *testing.T) {
	vals := map[string]string{"rbl_code": "554", "rbl_class": "Client host", "rbl_what": "192.0.2.1",
		"rbl_domain": "bl.test", "rbl_reason": "", "helo_name": "hé\x01lo", "sender": "<>"}
	lookup := func(n string) string { return vals[n] }
	test := func(tmpl, want string) {
		t.Helper()
		p, err := dnsbl.ParseTemplate(tmpl)
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", tmpl, err)
			return
		}
		if got := p.Expand(lookup); got != want {
			t.Errorf("Expand(%q) = %q, want %q", tmpl, got, want)
		}
	}
	test(dnsbl.DefaultTemplate, "554 Service unavailable; Client host [192.0.2.1] blocked using bl.test")
	vals["rbl_reason"] = "see https://bl.test/q"
	test(dnsbl.DefaultTemplate, "554 Service unavailable; Client host [192.0.2.1] blocked using bl.test; see https://bl.test/q")
	test("${rbl_code} $(rbl_domain) $$5 ${rbl_reason:none}", "554 bl.test $5 ")
	test("${rbl_txt:none}|${rbl_reason?{yes}:{no}}|${rbl_txt?{yes} : {no}}", "none|yes|no")
	test("${rbl_reason?{[$rbl_reason]}}${rbl_txt:{(empty)}}", "[see https://bl.test/q](empty)")
	test("${rbl_reason?${rbl_domain?nested $rbl_domain}}", "nested bl.test")
	// Values pass through the expansion filter; the template's own text
	// does not.
	test("é $helo_name $sender", "é h___lo <>")

	for _, bad := range []struct{ tmpl, err string }{
		{"$rbl_code $nosuch", "unknown variable $nosuch"},
		{"${nosuch?x}", "unknown variable $nosuch"},
		{"$rbl_code ${rbl_domain", "no closing bracket"},
		{"$rbl_code costs 5$", `"$" at the end`},
		{"$rbl_code $-", `"$" followed by '-'`},
		{"${}", "no variable name"},
		{"${rbl_domain!x}", "unexpected"},
	} {
		if _, err := dnsbl.ParseTemplate(bad.tmpl); err == nil || !strings.Contains(err.Error(), bad.err) || !errors.Is(err, dnsbl.ErrTemplate) {
			t.Errorf("ParseTemplate(%q) = %v, want error containing %q", bad.tmpl, err, bad.err)
		}
	}
}
