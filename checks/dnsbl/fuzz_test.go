package dnsbl_test

import (
	"strings"
	"testing"

	"github.com/mxguard/mxguard/checks/dnsbl"
)

// FuzzParseSpec: ParseSpec never panics, what it accepts prints back to
// an equivalent spec, and its errors wrap ErrSpec. The committed corpus
// is in testdata/fuzz/FuzzParseSpec.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"zen.spamhaus.org", "zen.spamhaus.org=127.0.0.[2..11]", "list.dnswl.org=127.0.[0..255].[1..3]*-4",
		"bl.example=127.0.0.0/24,127.0.1.2", "b.example=[127.0.0.[1;3;5..7]]*2", "x=127.0.0.[2..1]", "=",
		"a.b=127.0.0.1/8;127.0.0.[2;3]*0", "127.0.0.2", "a*", "a.b=[", "a.b=127.0.0.[]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := dnsbl.ParseSpec(s)
		if err != nil {
			if spec.Zone != "" || !strings.Contains(err.Error(), "dnsbl: bad list") {
				t.Fatalf("ParseSpec(%q) = %+v, %v", s, spec, err)
			}
			return
		}
		if spec.Zone == "" || spec.Weight > dnsbl.MaxWeight || spec.Weight < -dnsbl.MaxWeight {
			t.Fatalf("ParseSpec(%q) = %+v", s, spec)
		}
		again, err := dnsbl.ParseSpec(spec.String())
		if err != nil || again.String() != spec.String() || again.Zone != spec.Zone || again.Weight != spec.Weight {
			t.Fatalf("ParseSpec(%q).String() = %q, which parses to %+v, %v", s, spec.String(), again, err)
		}
	})
}

// FuzzParseTemplate: ParseTemplate never panics and what it accepts
// expands without panicking.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{dnsbl.DefaultTemplate, "$$", "${rbl_reason?{a}:{b}}", "$(rbl_code", "${rbl_txt:${rbl_domain}}", "$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := dnsbl.ParseTemplate(s)
		if err != nil {
			return
		}
		tmpl.Expand(func(name string) string { return name })
		tmpl.Expand(func(string) string { return "" })
	})
}
