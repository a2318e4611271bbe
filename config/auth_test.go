package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestAuth covers every key of the auth section: its default, the values
// it takes, and the problems it reports.
func TestAuth(t *testing.T) {
	// is returns a check that got(c) equals want.
	is := func(got func(c *Config) any, want any) func(t *testing.T, c *Config) {
		return func(t *testing.T, c *Config) {
			t.Helper()
			if g := got(c); !reflect.DeepEqual(g, want) {
				t.Errorf("got %#v, want %#v", g, want)
			}
		}
	}
	auth := func(c *Config) any { return c.Auth }
	spf := func(c *Config) any { return c.Auth.SPF }
	dkim := func(c *Config) any { return c.Auth.DKIM }
	dmarc := func(c *Config) any { return c.Auth.DMARC }
	withSPF := func(f func(*SPF)) SPF { a := defaultAuth(); f(&a.SPF); return a.SPF }
	withDMARC := func(f func(*DMARC)) DMARC { a := defaultAuth(); f(&a.DMARC); return a.DMARC }

	tests := []struct {
		name     string
		input    string
		check    func(t *testing.T, c *Config)
		wantErrs []string
	}{
		// The section as a whole.
		{name: "absent", input: "", check: is(auth, defaultAuth())},
		{name: "empty value", input: "auth:", check: is(auth, defaultAuth())},
		{name: "empty mapping", input: "auth: {}", check: is(auth, defaultAuth())},
		{name: "empty subsections", input: "auth: {spf: {}, dkim: {}, dmarc: {}}", check: is(auth, defaultAuth())},
		{name: "empty subsection values", input: "auth:\n  spf:\n  dkim:\n  dmarc:\n", check: is(auth, defaultAuth())},
		{name: "DESIGN.md's example", input: "auth:\n  spf: {fail: reject, softfail: tag, temperror: tempfail}\n  dkim: {}\n  dmarc: {reject: reject, quarantine: quarantine, mode: rfc9989}\n",
			check: is(auth, defaultAuth())},
		{name: "keys and actions are case-insensitive", input: "AUTH: {SPF: {Fail: TempFail, Reject_At: RCPT}, DMARC: {Mode: RFC7489}}", check: func(t *testing.T, c *Config) {
			if c.Auth.SPF.Fail != "tempfail" || c.Auth.SPF.RejectAt != "rcpt" || c.Auth.DMARC.Mode != "rfc7489" {
				t.Errorf("got %+v %+v", c.Auth.SPF, c.Auth.DMARC)
			}
		}},
		{name: "not a mapping", input: "auth: reject", wantErrs: []string{
			"auth: must be a mapping of keys, not a single value; its keys are authserv_id, authserv_aliases, spf, dkim, dmarc"}},
		{name: "subsection not a mapping", input: "auth: {spf: [fail, reject]}", wantErrs: []string{
			"auth.spf: must be a mapping of keys, not a list; its keys are fail, softfail, neutral, none, temperror, permerror, reject_at"}},
		{name: "subsection a scalar", input: "auth: {dkim: 5}", wantErrs: []string{
			"auth.dkim: must be a mapping of keys, not a single value; its keys are max_signatures, min_rsa_bits, max_buffer"}},
		{name: "mapping for a value two levels down", input: "auth: {spf: {fail: {action: reject}}}", wantErrs: []string{
			"auth.spf.fail: must be a single value or a list, not a mapping"}},
		{name: "list for a value two levels down", input: "auth: {spf: {fail: [reject]}}", wantErrs: []string{
			"auth.spf.fail: must be a single value, not a list"}},
		{name: "string keys two levels down stay as written", input: "auth: {spf: {fail: 1e3}}", wantErrs: []string{
			`auth.spf.fail: "1e3" is not one of reject, tempfail, quarantine, tag, warn, accept, off`}},

		// Unknown keys, with their full path.
		{name: "unknown key two levels down", input: "auth:\n  spf:\n    fial: reject\n", wantErrs: []string{
			`test.yml: unknown key "auth.spf.fial" (did you mean "auth.spf.fail"?)`}},
		{name: "unknown key one level down", input: "auth: {authserv: mx.example.net}", wantErrs: []string{
			`unknown key "auth.authserv" (did you mean "auth.authserv_id"?)`}},
		{name: "unknown subsection", input: "auth: {dmark: {reject: reject}}", wantErrs: []string{
			`unknown key "auth.dmark" (did you mean "auth.dmarc"?)`}},
		{name: "unknown empty subsection", input: "auth: {dmark: {}}", wantErrs: []string{
			`unknown key "auth.dmark" (did you mean "auth.dmarc"?)`}},
		{name: "unknown empty key two levels down", input: "auth: {spf: {fial: }}", wantErrs: []string{
			`unknown key "auth.spf.fial" (did you mean "auth.spf.fail"?)`}},
		{name: "key in the wrong subsection", input: "auth: {dkim: {fail: reject}}", wantErrs: []string{
			`unknown key "auth.dkim.fail" (did you mean "auth.spf.fail"?)`}},
		{name: "key one level too high", input: "auth: {reject_at: rcpt}", wantErrs: []string{
			`unknown key "auth.reject_at" (did you mean "auth.spf.reject_at"?)`}},
		{name: "subsection at the top level", input: "spf: {fail: reject}\ndmarc: {}", wantErrs: []string{
			`unknown key "spf" (did you mean "auth.spf"?)`,
			`unknown key "dmarc" (did you mean "auth.dmarc"?)`}},

		// auth.authserv_id and auth.authserv_aliases.
		{name: "authserv_id default is hostname", input: "hostname: MX1.Example.COM", check: func(t *testing.T, c *Config) {
			if c.Auth.AuthservID != "mx1.example.com" {
				t.Errorf("got %q", c.Auth.AuthservID)
			}
		}},
		{name: "authserv_id", input: "auth: {authserv_id: Auth.Example.NET.}", check: func(t *testing.T, c *Config) {
			if c.Auth.AuthservID != "auth.example.net" || c.Hostname != "mx.example.net" {
				t.Errorf("got %q, hostname %q", c.Auth.AuthservID, c.Hostname)
			}
		}},
		{name: "authserv_id stays a string", input: "auth: {authserv_id: 1e3}", check: func(t *testing.T, c *Config) {
			if c.Auth.AuthservID != "1e3" {
				t.Errorf("got %q", c.Auth.AuthservID)
			}
		}},
		{name: "authserv_id bad", input: "auth: {authserv_id: mx_1.example.net}", wantErrs: []string{
			`auth.authserv_id: "mx_1.example.net" is not a valid host name; write the name of this MX host`}},
		{name: "authserv_id address", input: "auth: {authserv_id: '[192.0.2.1]'}", wantErrs: []string{
			`auth.authserv_id: "[192.0.2.1]" is an address, not a name`}},
		{name: "authserv_aliases", input: "auth: {authserv_aliases: [Old.Example.NET., mx0.example.net]}", check: is(
			func(c *Config) any { return c.Auth.AuthservAliases }, []string{"old.example.net", "mx0.example.net"})},
		{name: "authserv_aliases scalar", input: "auth: {authserv_aliases: 'a.example, b.example'}", check: is(
			func(c *Config) any { return c.Auth.AuthservAliases }, []string{"a.example", "b.example"})},
		{name: "authserv_aliases bad", input: "auth: {authserv_aliases: [ok.example, 'not a name', 192.0.2.1]}", wantErrs: []string{
			`auth.authserv_aliases[1]: "not a name" is not a valid host name`,
			`auth.authserv_aliases[2]: "192.0.2.1" is an address, not a name`}},
		{name: "authserv_aliases mapping", input: "auth: {authserv_aliases: {a: b}}", wantErrs: []string{
			"auth.authserv_aliases: must be a single value or a list, not a mapping"}},

		// auth.spf.
		{name: "spf.fail", input: "auth: {spf: {fail: tempfail}}", check: is(spf, withSPF(func(s *SPF) { s.Fail = "tempfail" }))},
		{name: "spf.softfail", input: "auth: {spf: {softfail: quarantine}}", check: is(spf, withSPF(func(s *SPF) { s.Softfail = "quarantine" }))},
		{name: "spf.neutral", input: "auth: {spf: {neutral: tag}}", check: is(spf, withSPF(func(s *SPF) { s.Neutral = "tag" }))},
		{name: "spf.none", input: "auth: {spf: {none: warn}}", check: is(spf, withSPF(func(s *SPF) { s.None = "warn" }))},
		{name: "spf.temperror", input: "auth: {spf: {temperror: accept}}", check: is(spf, withSPF(func(s *SPF) { s.Temperror = "accept" }))},
		{name: "spf.permerror", input: "auth: {spf: {permerror: reject}}", check: is(spf, withSPF(func(s *SPF) { s.Permerror = "reject" }))},
		{name: "spf.reject_at", input: "auth: {spf: {reject_at: rcpt}}", check: is(spf, withSPF(func(s *SPF) { s.RejectAt = "rcpt" }))},
		{name: "spf off", input: "auth: {spf: {fail: off, softfail: off}}", check: is(spf, withSPF(func(s *SPF) { s.Fail, s.Softfail = "off", "off" }))},
		{name: "spf every action", input: "auth:\n  spf:\n    fail: reject\n    softfail: tempfail\n    neutral: quarantine\n    none: tag\n    temperror: warn\n    permerror: accept\n",
			check: is(spf, SPF{Fail: "reject", Softfail: "tempfail", Neutral: "quarantine", None: "tag", Temperror: "warn", Permerror: "accept", RejectAt: "eom"})},
		{name: "spf bad actions", input: "auth: {spf: {fail: rejct, softfail: header, neutral: '', permerror: discard}}", wantErrs: []string{
			`auth.spf.fail: "rejct" is not one of reject, tempfail, quarantine, tag, warn, accept, off (did you mean "reject"?)`,
			`auth.spf.softfail: "header" is not one of`,
			`auth.spf.neutral: "" is not one of`,
			`auth.spf.permerror: "discard" is not one of`}},
		{name: "spf defer_if_permit", input: "auth: {spf: {fail: defer_if_permit}}", wantErrs: []string{
			`auth.spf.fail: "defer_if_permit" is not one of reject, tempfail, quarantine, tag, warn, accept, off; defer_if_permit is a restriction's action; at end of data write tempfail`}},
		{name: "spf.temperror reject", input: "auth: {spf: {temperror: reject}}", wantErrs: []string{
			"auth.spf.temperror: a temporary DNS failure must not be answered with a permanent rejection; write tempfail, warn or accept"}},
		{name: "spf.temperror REJECT", input: "auth: {spf: {temperror: REJECT}}", wantErrs: []string{"auth.spf.temperror: a temporary DNS failure"}},
		{name: "spf.reject_at bad", input: "auth: {spf: {reject_at: eod}}", wantErrs: []string{
			`auth.spf.reject_at: "eod" is not one of eom, rcpt (did you mean "eom"?)`}},
		{name: "spf.reject_at mail", input: "auth: {spf: {reject_at: mail}}", wantErrs: []string{`auth.spf.reject_at: "mail" is not one of eom, rcpt`}},

		// auth.dkim.
		{name: "dkim", input: "auth: {dkim: {max_signatures: 10, min_rsa_bits: 2048, max_buffer: 262144}}",
			check: is(dkim, DKIM{MaxSignatures: 10, MinRSABits: 2048, MaxBuffer: 262144})},
		{name: "dkim lower bounds", input: "auth: {dkim: {max_signatures: 1, min_rsa_bits: 1024, max_buffer: 65536}}",
			check: is(dkim, DKIM{MaxSignatures: 1, MinRSABits: 1024, MaxBuffer: 65536})},
		{name: "dkim upper bounds", input: "auth: {dkim: {max_signatures: 50, min_rsa_bits: 8192, max_buffer: 67108864}}",
			check: is(dkim, DKIM{MaxSignatures: 50, MinRSABits: 8192, MaxBuffer: 64 << 20})},
		{name: "dkim quoted numbers", input: "auth: {dkim: {max_signatures: '3'}}", check: is(
			func(c *Config) any { return c.Auth.DKIM.MaxSignatures }, 3)},
		{name: "dkim.max_signatures too small", input: "auth: {dkim: {max_signatures: 0}}", wantErrs: []string{
			"auth.dkim.max_signatures: 0 is not from 1 to 50"}},
		{name: "dkim.max_signatures too big", input: "auth: {dkim: {max_signatures: 51}}", wantErrs: []string{
			"auth.dkim.max_signatures: 51 is not from 1 to 50"}},
		{name: "dkim.max_signatures not a number", input: "auth: {dkim: {max_signatures: five}}", wantErrs: []string{
			`auth.dkim.max_signatures: "five" is not a whole number`}},
		{name: "dkim.min_rsa_bits too small", input: "auth: {dkim: {min_rsa_bits: 512}}", wantErrs: []string{
			"auth.dkim.min_rsa_bits: 512 is not from 1024 to 8192; RFC 8301 §3.2: verifiers must not accept keys under 1024 bits"}},
		{name: "dkim.min_rsa_bits too big", input: "auth: {dkim: {min_rsa_bits: 16384}}", wantErrs: []string{
			"auth.dkim.min_rsa_bits: 16384 is not from 1024 to 8192"}},
		{name: "dkim.max_buffer too small", input: "auth: {dkim: {max_buffer: 1024}}", wantErrs: []string{
			"auth.dkim.max_buffer: 1024 is not from 65536 to 67108864; it is a number of bytes, e.g. 1048576 for 1 MiB"}},
		{name: "dkim.max_buffer too big", input: "auth: {dkim: {max_buffer: 1073741824}}", wantErrs: []string{
			"auth.dkim.max_buffer: 1073741824 is not from 65536 to 67108864"}},
		{name: "dkim.max_buffer with a unit", input: "auth: {dkim: {max_buffer: 1MiB}}", wantErrs: []string{
			`auth.dkim.max_buffer: "1MiB" is not a whole number`}},

		// auth.dmarc.
		{name: "dmarc.mode", input: "auth: {dmarc: {mode: rfc7489}}", check: is(dmarc, withDMARC(func(d *DMARC) { d.Mode = "rfc7489" }))},
		{name: "dmarc.mode bad", input: "auth: {dmarc: {mode: dmarcbis}}", wantErrs: []string{
			`auth.dmarc.mode: "dmarcbis" is not one of rfc9989, rfc7489`}},
		{name: "dmarc.mode typo", input: "auth: {dmarc: {mode: rfc7498}}", wantErrs: []string{
			`auth.dmarc.mode: "rfc7498" is not one of rfc9989, rfc7489 (did you mean "rfc7489"?)`}},
		{name: "dmarc.reject", input: "auth: {dmarc: {reject: quarantine}}", check: is(dmarc, withDMARC(func(d *DMARC) { d.Reject = "quarantine" }))},
		{name: "dmarc.quarantine", input: "auth: {dmarc: {quarantine: tag}}", check: is(dmarc, withDMARC(func(d *DMARC) { d.Quarantine = "tag" }))},
		{name: "dmarc.quarantine reject", input: "auth: {dmarc: {quarantine: reject}}", check: is(dmarc, withDMARC(func(d *DMARC) { d.Quarantine = "reject" }))},
		{name: "dmarc.none", input: "auth: {dmarc: {none: warn}}", check: is(dmarc, withDMARC(func(d *DMARC) { d.None = "warn" }))},
		{name: "dmarc.temperror", input: "auth: {dmarc: {temperror: warn}}", check: is(dmarc, withDMARC(func(d *DMARC) { d.Temperror = "warn" }))},
		{name: "dmarc.permerror", input: "auth: {dmarc: {permerror: tag}}", check: is(dmarc, withDMARC(func(d *DMARC) { d.Permerror = "tag" }))},
		{name: "dmarc.reject_multiple_from", input: "auth: {dmarc: {reject_multiple_from: no}}", check: is(dmarc, withDMARC(func(d *DMARC) { d.RejectMultipleFrom = false }))},
		{name: "dmarc.reject_multiple_from bad", input: "auth: {dmarc: {reject_multiple_from: sometimes}}", wantErrs: []string{
			`auth.dmarc.reject_multiple_from: "sometimes" is not a boolean`}},
		{name: "dmarc bad actions", input: "auth: {dmarc: {reject: bounce, quarantine: qurantine, none: defer_if_permit, permerror: ''}}", wantErrs: []string{
			`auth.dmarc.reject: "bounce" is not one of reject, tempfail, quarantine, tag, warn, accept, off`,
			`auth.dmarc.quarantine: "qurantine" is not one of reject, tempfail, quarantine, tag, warn, accept, off (did you mean "quarantine"?)`,
			`auth.dmarc.none: "defer_if_permit" is not one of`,
			`auth.dmarc.permerror: "" is not one of`}},
		{name: "dmarc.temperror reject", input: "auth: {dmarc: {temperror: reject}}", wantErrs: []string{
			"auth.dmarc.temperror: a temporary DNS failure must not be answered with a permanent rejection; write tempfail, warn or accept"}},
		{name: "dmarc.override_domains", input: "auth: {dmarc: {override_domains: [Lists.Example.ORG., forwarder.example]}}", check: is(
			func(c *Config) any { return c.Auth.DMARC.OverrideDomains }, []string{"lists.example.org", "forwarder.example"})},
		{name: "dmarc.override_domains bad", input: "auth: {dmarc: {override_domains: [.lists.example, 192.0.2.1, 'bad name', ok.example, '[2001:db8::1]']}}", wantErrs: []string{
			`auth.dmarc.override_domains[0]: ".lists.example" starts with a dot; write lists.example: its subdomains are always included`,
			`auth.dmarc.override_domains[1]: "192.0.2.1" is an address, not a domain; put addresses in auth.dmarc.override_networks`,
			`auth.dmarc.override_domains[2]: "bad name" is not a valid domain name`,
			`auth.dmarc.override_domains[4]: "[2001:db8::1]" is an address`}},
		{name: "dmarc.override_networks", input: `auth: {dmarc: {override_networks: [192.0.2.0/24, 198.51.100.7, "2001:db8::/32", "[::1]"]}}`, check: func(t *testing.T, c *Config) {
			want := []string{"192.0.2.0/24", "198.51.100.7/32", "2001:db8::/32", "::1/128"}
			if !slices.Equal(c.Auth.DMARC.OverrideNetworks, want) {
				t.Errorf("got %q", c.Auth.DMARC.OverrideNetworks)
			}
			p := c.Auth.DMARC.OverridePrefixes()
			if len(p) != 4 || !p[1].Contains(mustAddr("198.51.100.7")) || p[1].Contains(mustAddr("198.51.100.8")) {
				t.Errorf("prefixes %v", p)
			}
		}},
		{name: "dmarc.override_networks bad", input: "auth: {dmarc: {override_networks: [10.0.0.0/33, 10.1.2.3/8, forwarder.example]}}", wantErrs: []string{
			`auth.dmarc.override_networks[0]: "10.0.0.0/33" is not a CIDR prefix`,
			`auth.dmarc.override_networks[1]: "10.1.2.3/8" has host bits set (did you mean "10.0.0.0/8"?)`,
			`auth.dmarc.override_networks[2]: "forwarder.example" is not an address or CIDR prefix`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.input)
			checkProblems(t, lines(err), tc.wantErrs)
			if err != nil {
				return
			}
			if len(c.Warnings) != 0 {
				t.Errorf("warnings: %v", c.Warnings)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestAuthProblemsInFileOrder checks that problems two levels down are
// reported in the order of the file, among the others.
func TestAuthProblemsInFileOrder(t *testing.T) {
	input := `listen: inet:127.0.0.1:0
auth:
  dmarc:
    mode: rfc1234
  spf:
    temperror: reject
    fial: reject
  authserv_id: bad_name
store: bbolt
`
	_, err := load(t, input)
	want := []string{
		`test.yml: listen: "inet:127.0.0.1:0"`,
		`test.yml: auth.dmarc.mode: "rfc1234" is not one of rfc9989, rfc7489`,
		`test.yml: auth.spf.temperror: a temporary DNS failure`,
		`test.yml: unknown key "auth.spf.fial" (did you mean "auth.spf.fail"?)`,
		`test.yml: auth.authserv_id: "bad_name" is not a valid host name`,
		`test.yml: store: "bbolt" is not a store`,
	}
	got := lines(err)
	checkProblems(t, got, want)
	for i := range min(len(got), len(want)) {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d out of order: %q", i, got[i])
		}
	}
}

func TestAuthEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mxguard.yml")
	if err := os.WriteFile(file, []byte("auth:\n  spf: {fail: tag, softfail: warn}\n  dkim: {max_signatures: 7}\n  dmarc: {override_domains: [lists.example]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		env      map[string]string
		check    func(t *testing.T, c *Config)
		wantErrs []string
	}{
		{name: "two levels down", env: map[string]string{"MXGUARD_AUTH_SPF_FAIL": "tempfail"}, check: func(t *testing.T, c *Config) {
			if c.Auth.SPF.Fail != "tempfail" || c.Auth.SPF.Softfail != "tag" {
				t.Errorf("got %+v", c.Auth.SPF)
			}
		}},
		{name: "over a file", path: file, env: map[string]string{"MXGUARD_AUTH_SPF_FAIL": "Reject"}, check: func(t *testing.T, c *Config) {
			if c.Auth.SPF.Fail != "reject" || c.Auth.SPF.Softfail != "warn" || c.Auth.DKIM.MaxSignatures != 7 {
				t.Errorf("got %+v %+v", c.Auth.SPF, c.Auth.DKIM)
			}
		}},
		{name: "network list split on spaces", env: map[string]string{"MXGUARD_AUTH_DMARC_OVERRIDE_NETWORKS": "192.0.2.0/24 198.51.100.7"}, check: func(t *testing.T, c *Config) {
			if !slices.Equal(c.Auth.DMARC.OverrideNetworks, []string{"192.0.2.0/24", "198.51.100.7/32"}) {
				t.Errorf("got %q", c.Auth.DMARC.OverrideNetworks)
			}
			if p := c.Auth.DMARC.OverridePrefixes(); !slices.Equal(p, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.7/32")}) {
				t.Errorf("prefixes %v", p)
			}
		}},
		{name: "domain list over a file, split on commas", path: file, env: map[string]string{"MXGUARD_AUTH_DMARC_OVERRIDE_DOMAINS": "Fwd.Example,lists.example.org"}, check: func(t *testing.T, c *Config) {
			if !slices.Equal(c.Auth.DMARC.OverrideDomains, []string{"fwd.example", "lists.example.org"}) {
				t.Errorf("got %q", c.Auth.DMARC.OverrideDomains)
			}
		}},
		{name: "every kind of key", env: map[string]string{
			"MXGUARD_AUTH_AUTHSERV_ID":                "auth.example.net",
			"MXGUARD_AUTH_AUTHSERV_ALIASES":           "old.example.net older.example.net",
			"MXGUARD_AUTH_SPF_REJECT_AT":              "rcpt",
			"MXGUARD_AUTH_SPF_TEMPERROR":              "accept",
			"MXGUARD_AUTH_DKIM_MAX_SIGNATURES":        "10",
			"MXGUARD_AUTH_DKIM_MIN_RSA_BITS":          "2048",
			"MXGUARD_AUTH_DKIM_MAX_BUFFER":            "524288",
			"MXGUARD_AUTH_DMARC_MODE":                 "rfc7489",
			"MXGUARD_AUTH_DMARC_QUARANTINE":           "tag",
			"MXGUARD_AUTH_DMARC_REJECT_MULTIPLE_FROM": "no",
			"MXGUARD_AUTH_DMARC_TEMPERROR":            "warn",
			"MXGUARD_AUTH_DMARC_PERMERROR":            "tag",
			"MXGUARD_AUTH_DMARC_NONE":                 "tag",
			"MXGUARD_AUTH_DMARC_REJECT":               "quarantine",
			"MXGUARD_AUTH_SPF_NEUTRAL":                "tag",
			"MXGUARD_AUTH_SPF_NONE":                   "warn",
			"MXGUARD_AUTH_SPF_PERMERROR":              "reject",
			"MXGUARD_AUTH_SPF_SOFTFAIL":               "quarantine",
			"MXGUARD_AUTH_DMARC_OVERRIDE_DOMAINS":     "lists.example",
			"MXGUARD_AUTH_DMARC_OVERRIDE_NETWORKS":    "2001:db8::/32",
		}, check: func(t *testing.T, c *Config) {
			want := Auth{
				AuthservID:      "auth.example.net",
				AuthservAliases: []string{"old.example.net", "older.example.net"},
				SPF: SPF{Fail: "reject", Softfail: "quarantine", Neutral: "tag", None: "warn",
					Temperror: "accept", Permerror: "reject", RejectAt: "rcpt"},
				DKIM: DKIM{MaxSignatures: 10, MinRSABits: 2048, MaxBuffer: 524288},
				DMARC: DMARC{Mode: "rfc7489", Reject: "quarantine", Quarantine: "tag", None: "tag",
					Temperror: "warn", Permerror: "tag", RejectMultipleFrom: false,
					OverrideDomains: []string{"lists.example"}, OverrideNetworks: []string{"2001:db8::/32"}},
			}
			if !reflect.DeepEqual(c.Auth, want) {
				t.Errorf("\n got %+v\nwant %+v", c.Auth, want)
			}
		}},
		{name: "variables named after sections do not hide the file", path: file, env: map[string]string{"MXGUARD_AUTH": "x", "MXGUARD_AUTH_SPF": "y", "MXGUARD_AUTH_DKIM": "z"}, check: func(t *testing.T, c *Config) {
			if c.Auth.SPF.Fail != "tag" || c.Auth.SPF.Neutral != "accept" || c.Auth.DKIM.MaxSignatures != 7 || c.Auth.DKIM.MinRSABits != 1024 {
				t.Errorf("got %+v %+v", c.Auth.SPF, c.Auth.DKIM)
			}
		}},
		{name: "bad values name the variable", path: file, env: map[string]string{
			"MXGUARD_AUTH_SPF_TEMPERROR":           "reject",
			"MXGUARD_AUTH_SPF_FAIL":                "bounce",
			"MXGUARD_AUTH_DKIM_MAX_SIGNATURES":     "many",
			"MXGUARD_AUTH_DMARC_OVERRIDE_NETWORKS": "192.0.2.0/24 10.0.0.0/33",
		}, wantErrs: []string{
			`$MXGUARD_AUTH_SPF_FAIL: auth.spf.fail: "bounce" is not one of`,
			`$MXGUARD_AUTH_SPF_TEMPERROR: auth.spf.temperror: a temporary DNS failure must not be answered with a permanent rejection`,
			`$MXGUARD_AUTH_DKIM_MAX_SIGNATURES: auth.dkim.max_signatures: "many" is not a whole number`,
			`$MXGUARD_AUTH_DMARC_OVERRIDE_NETWORKS: auth.dmarc.override_networks[1]: "10.0.0.0/33" is not a CIDR prefix`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := Load(tc.path)
			checkProblems(t, lines(err), tc.wantErrs)
			if err == nil && tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestAuthActions(t *testing.T) {
	a := defaultAuth()
	a.SPF.Neutral = "tag"
	a.DMARC.None = "warn"
	for _, tc := range []struct {
		got, want string
	}{
		{a.SPF.Action("pass"), "accept"},
		{a.SPF.Action("fail"), "reject"},
		{a.SPF.Action("SoftFail"), "tag"},
		{a.SPF.Action("neutral"), "tag"},
		{a.SPF.Action("none"), "accept"},
		{a.SPF.Action("temperror"), "tempfail"},
		{a.SPF.Action("permerror"), "accept"},
		{a.SPF.Action("policy"), "accept"},
		{a.DMARC.Action("pass"), "accept"},
		{a.DMARC.Action("reject"), "reject"},
		{a.DMARC.Action("quarantine"), "quarantine"},
		{a.DMARC.Action("none"), "warn"},
		{a.DMARC.Action("temperror"), "tempfail"},
		{a.DMARC.Action("permerror"), "accept"},
		{a.DMARC.Action(""), "accept"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestAuthYAML checks that the effective configuration prints the auth
// section, with the effective authserv-id, and loads back to itself.
func TestAuthYAML(t *testing.T) {
	c, err := load(t, `auth:
  authserv_aliases: [Old.Example.NET]
  spf: {fail: TAG, reject_at: rcpt}
  dkim: {max_signatures: 3}
  dmarc: {mode: rfc7489, reject_multiple_from: false, override_domains: [lists.example], override_networks: [192.0.2.7]}
`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nauth:\n  authserv_id: mx.example.net\n  authserv_aliases:\n    - old.example.net\n  spf:\n    fail: tag\n    softfail: tag\n",
		"\n    reject_at: rcpt\n  dkim:\n    max_signatures: 3\n    min_rsa_bits: 1024\n    max_buffer: 1048576\n  dmarc:\n    mode: rfc7489\n",
		"\n    reject_multiple_from: false\n    override_domains:\n      - lists.example\n    override_networks:\n      - 192.0.2.7/32\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("YAML lacks %q:\n%s", want, out)
		}
	}
	c2, err := parse("effective.yml", out, false)
	if err != nil {
		t.Fatalf("effective configuration does not load: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(c2.Auth, c.Auth) {
		t.Errorf("round trip:\n got %+v\nwant %+v", c2.Auth, c.Auth)
	}
}

// TestSections checks the sections derived from the schema.
func TestSections(t *testing.T) {
	want := []string{"auth", "auth.dkim", "auth.dmarc", "auth.spf", "classes", "codes", "dns", "log", "metrics", "timeouts"}
	if got := sortedKeys(sections); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, tc := range []struct{ section, want string }{
		{"dns", "its keys are servers, timeout, attempts, cache_size"},
		{"auth", "its keys are authserv_id, authserv_aliases, spf, dkim, dmarc"},
		{"auth.dkim", "its keys are max_signatures, min_rsa_bits, max_buffer"},
		{"classes", ""},
	} {
		if got := sectionHint(tc.section); got != tc.want {
			t.Errorf("sectionHint(%q) = %q, want %q", tc.section, got, tc.want)
		}
	}
}

func TestSuggestKey(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"auth.spf.fial", `did you mean "auth.spf.fail"?`},
		{"auth.dmarc.overide_networks", `did you mean "auth.dmarc.override_networks"?`},
		{"auth.dkim.max_signature", `did you mean "auth.dkim.max_signatures"?`},
		{"auth.dkim.fail", `did you mean "auth.spf.fail"?`},
		{"auth.reject_at", `did you mean "auth.spf.reject_at"?`},
		{"auth.dmark", `did you mean "auth.dmarc"?`},
		{"dmarc", `did you mean "auth.dmarc"?`},
		{"auth.spf.myhostname", `did you mean "hostname"? myhostname is Postfix's name`},
		// A key inside a section is never told to be the section.
		{"codes.frobnicate", ""},
		{"auth.spf.frobnicate", ""},
		{"greylist.delay", "greylist is planned but not implemented in this version"},
	} {
		if got := suggestKey(tc.key); got != tc.want {
			t.Errorf("suggestKey(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}
