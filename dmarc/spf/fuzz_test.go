package spf

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/mxguard/mxguard/resolver"
)

// FuzzParseRecord parses a record, expands every domain-spec in it, and
// evaluates it as the record of example.com. Nothing may panic; a parsed
// record's names must be valid DNS names or rejected; every outcome must
// follow the Outcome contract. The seed corpus (testdata/fuzz/) holds the
// SPF and TXT strings of both OpenSPF suites.
//
//	go test ./dmarc/spf -run '^$' -fuzz FuzzParseRecord -fuzztime 20s
func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"v=spf1",
		"v=spf1 -all",
		"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx/24//64 ptr ?all",
		"v=spf1 include:_spf.example.net exists:%{ir}.%{l1r+-}._spf.%{d} ~all",
		"v=spf1 redirect=_spf.%{d2} exp=exp.%{d}",
		"v=spf1 a:%{H}.bar mx:%{p}.example.com foo=%{c}%%%_%- -all",
		"v=spf1 a:foo:bar/baz.example.com/24//64",
		"v=spf1 include:example.com",
	} {
		f.Add(s)
	}
	ctx := context.Background()
	buf := make([]byte, 512)
	f.Fuzz(func(t *testing.T, txt string) {
		rec, err := parseRecord(txt)
		if err == nil {
			c := &checker{r: &resolver.Fake{}, ip: netip.MustParseAddr("192.0.2.1"), sender: "a-b+c@example.com",
				local: "a-b+c", senderDomain: "example.com", helo: "helo.example", opts: Options{}.withDefaults()}
			specs := []*macroString{rec.redirect, rec.exp}
			for _, d := range rec.directives {
				if d.text == "" || d.kind == 0 {
					t.Fatalf("%q: empty directive %+v", txt, d)
				}
				specs = append(specs, d.spec)
			}
			for _, spec := range specs {
				if spec == nil {
					continue
				}
				name, ok := c.targetName(ctx, spec, "example.com")
				if !ok {
					continue
				}
				if _, err := dns.PackDomainName(fqdn(name), buf, 0, nil, false); err != nil {
					t.Fatalf("%q: target %q as %q does not pack: %v", txt, name, fqdn(name), err)
				}
			}
		}
		if m, err := parseMacroString(txt, true, true); err == nil {
			c := &checker{r: &resolver.Fake{}, ip: netip.MustParseAddr("2001:db8::1"), opts: Options{}.withDefaults()}
			c.expand(ctx, m, "example.com")
		}

		r := &resolver.Fake{
			TXT: map[string][]string{"example.com.": {txt}, "inc.example.com.": {"v=spf1 ip4:192.0.2.0/24"}},
			A:   map[string][]string{"example.com.": {"192.0.2.1"}},
			MX:  map[string][]*net.MX{"example.com.": {{Host: "example.com.", Pref: 1}}},
			PTR: map[string][]string{"192.0.2.1": {"example.com."}},
		}
		out := CheckHost(ctx, r, netip.MustParseAddr("192.0.2.1"), "example.com", "joe@example.com", "helo.example", Options{})
		if !slices.Contains([]Result{Pass, Fail, Softfail, Neutral, None, Temperror, Permerror}, out.Result) {
			t.Fatalf("%q: result %q", txt, out.Result)
		}
		if (out.Result == Permerror || out.Result == Temperror) != (out.Err != nil) {
			t.Fatalf("%q: result %s with err %v", txt, out.Result, out.Err)
		}
		if out.Result == Permerror && err == nil && isSPF(txt) && out.Err != nil && rec != nil && len(rec.directives) == 0 && rec.redirect == nil {
			t.Fatalf("%q: permerror for an empty record: %v", txt, out.Err)
		}
		for i := 0; i < len(out.Explanation); i++ {
			if b := out.Explanation[i]; b < 0x20 || b > 0x7e {
				t.Fatalf("%q: explanation %q", txt, out.Explanation)
			}
		}
	})
}
