package config

import (
	"bytes"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	osHostname = func() (string, error) { return "MX.Example.NET", nil }
	os.Exit(m.Run())
}

// load parses a test configuration without the environment.
func load(t *testing.T, text string) (*Config, error) {
	t.Helper()
	return parse("test.yml", []byte(text), false)
}

// lines renders the problems of err, one string each.
func lines(err error) []string {
	var e *Errors
	if !errors.As(err, &e) {
		if err == nil {
			return nil
		}
		return []string{"not *Errors: " + err.Error()}
	}
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Error()
	}
	return out
}

// checkProblems asserts that got holds exactly len(want) problems and that
// each want is a substring of a different one.
func checkProblems(t *testing.T, got []string, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n  %s", len(got), len(want), strings.Join(got, "\n  "))
		return
	}
	used := make([]bool, len(got))
outer:
	for _, w := range want {
		for i, g := range got {
			if !used[i] && strings.Contains(g, w) {
				used[i] = true
				continue outer
			}
		}
		t.Errorf("no problem contains %q; got:\n  %s", w, strings.Join(got, "\n  "))
	}
}

func TestDefaultLoads(t *testing.T) {
	c := Default() // panics if broken
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %v", c.Warnings)
	}
	if c.Listen != "inet:127.0.0.1:8891" || c.StateDir != "./var" || c.Store != "bolt" || len(c.DNS.Servers) != 0 {
		t.Errorf("default: listen %q state_dir %q store %q servers %v", c.Listen, c.StateDir, c.Store, c.DNS.Servers)
	}
	names := func(rs []Restriction) []string {
		var out []string
		for _, r := range rs {
			s := r.Name
			if r.Action != "" {
				s += "/" + r.Action
			}
			out = append(out, s)
		}
		return out
	}
	for _, tc := range []struct {
		list []Restriction
		want []string
	}{
		{c.Client, []string{"unknown_reverse_client_hostname", "unknown_client_hostname/warn"}},
		{c.Helo, []string{"invalid_helo_hostname", "non_fqdn_helo_hostname", "unknown_helo_hostname"}},
		{c.Sender, []string{"non_fqdn_sender", "unknown_sender_domain"}},
		{c.Recipient, []string{"non_fqdn_recipient", "unknown_recipient_domain"}},
	} {
		if got := names(tc.list); !slices.Equal(got, tc.want) {
			t.Errorf("got %v, want %v", got, tc.want)
		}
	}
	// Load("") is the same configuration when no MXGUARD_* is set.
	c2, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	y1, _ := c.YAML()
	y2, _ := c2.YAML()
	if !bytes.Equal(y1, y2) {
		t.Errorf("Load(\"\") differs from Default():\n%s\n---\n%s", y1, y2)
	}
	if !reflect.DeepEqual(c.Auth, defaultAuth()) {
		t.Errorf("default auth:\n got %+v\nwant %+v", c.Auth, defaultAuth())
	}
	if !bytes.Equal(DefaultYAML(), defaultYAML) {
		t.Error("DefaultYAML differs from the embedded file")
	}
}

func TestExampleLoads(t *testing.T) {
	c, err := Load("example.yml")
	if err != nil {
		t.Fatalf("example.yml:\n%v", err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %v", c.Warnings)
	}
	if c.StateDir != "/var/lib/mxguard" {
		t.Errorf("state_dir %q", c.StateDir)
	}
	if len(c.Classes["strict"]) != 2 {
		t.Errorf("classes: %v", c.Classes)
	}
	// The example documents every key: each one appears in it.
	text, _ := os.ReadFile("example.yml")
	for _, k := range schema {
		leaf := k.key[strings.LastIndex(k.key, ".")+1:]
		if !strings.Contains(string(text), "\n"+strings.Repeat(" ", 2*strings.Count(k.key, "."))+leaf+":") {
			t.Errorf("example.yml does not document %s", k.key)
		}
	}
}

// TestEmptyFile checks the built-in defaults, which apply to every key a
// file leaves out.
func TestEmptyFile(t *testing.T) {
	for _, text := range []string{"", "# nothing\n", "---\n", "~\n"} {
		c, err := load(t, text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		want := &Config{
			Listen:            "inet:127.0.0.1:8891",
			SocketMode:        "0660",
			Hostname:          "mx.example.net",
			LocalNames:        []string{},
			DNS:               DNS{Servers: []string{}, Timeout: 5 * time.Second, Attempts: 2, CacheSize: 10000},
			TrustedNetworks:   []string{"127.0.0.0/8", "::1/128"},
			SkipAuthenticated: true,
			DelayReject:       true,
			HeloRequired:      true,
			StateDir:          "/var/lib/mxguard",
			Store:             "bolt",
			Log:               Log{Format: "logfmt", Level: "info"},
			Timeouts:          Timeouts{Check: 20 * time.Second},
			Codes: Codes{
				UnknownClientReject: 450, UnknownHostnameReject: 450, UnknownAddressReject: 450,
				NonFQDNReject: 504, InvalidHostnameReject: 501, AccessMapReject: 554,
				AccessMapDefer: 450, MapsRBLReject: 554,
				UnknownHeloHostnameTempfailAction: "defer_if_permit",
				UnknownAddressTempfailAction:      "defer_if_permit",
			},
			Auth:   defaultAuth(),
			Client: []Restriction{}, Helo: []Restriction{}, Sender: []Restriction{}, Recipient: []Restriction{},
		}
		c.file, c.sources = "", nil
		if !reflect.DeepEqual(c, want) {
			t.Errorf("%q:\n got %+v\nwant %+v", text, c, want)
		}
	}
}

// defaultAuth is the auth section a configuration without one gets, with
// the test's hostname.
func defaultAuth() Auth {
	return Auth{
		AuthservID:      "mx.example.net",
		AuthservAliases: []string{},
		SPF: SPF{Fail: "reject", Softfail: "tag", Neutral: "accept", None: "accept",
			Temperror: "tempfail", Permerror: "accept", RejectAt: "eom"},
		DKIM: DKIM{MaxSignatures: 5, MinRSABits: 1024, MaxBuffer: 1 << 20},
		DMARC: DMARC{Mode: "rfc9989", Reject: "reject", Quarantine: "quarantine", None: "accept",
			Temperror: "tempfail", Permerror: "accept", RejectMultipleFrom: true,
			OverrideDomains: []string{}, OverrideNetworks: []string{}},
	}
}

// TestSchema checks that schema lists exactly the keys of Config, with
// defaults of the fields' types.
func TestSchema(t *testing.T) {
	var walk func(typ reflect.Type, prefix string, out map[string]reflect.Type)
	walk = func(typ reflect.Type, prefix string, out map[string]reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag := f.Tag.Get("mapstructure")
			if tag == "" || tag == "-" {
				continue
			}
			key := prefix + tag
			if f.Type.Kind() == reflect.Struct && f.Type != restrictionType {
				walk(f.Type, key+".", out)
				continue
			}
			out[key] = f.Type
		}
	}
	fields := map[string]reflect.Type{}
	walk(reflect.TypeOf(Config{}), "", fields)
	delete(fields, "classes")
	for _, k := range schema {
		typ, ok := fields[k.key]
		if !ok {
			t.Errorf("schema key %s is not in Config", k.key)
			continue
		}
		delete(fields, k.key)
		if k.kind == kindRestrictions {
			if typ != restrictionListType {
				t.Errorf("%s: kindRestrictions for %v", k.key, typ)
			}
			continue
		}
		if got := reflect.TypeOf(k.def); got != typ {
			t.Errorf("%s: default is a %v, field is a %v", k.key, got, typ)
		}
	}
	for k := range fields {
		t.Errorf("Config key %s is not in schema", k)
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		check    func(t *testing.T, c *Config)
		wantErrs []string
		warnings int
	}{
		{name: "listen unix", input: "listen: unix:/run/mxguard/mxguard.sock", check: func(t *testing.T, c *Config) {
			n, a, err := c.ListenAddr()
			if n != "unix" || a != "/run/mxguard/mxguard.sock" || err != nil {
				t.Errorf("got %s %s %v", n, a, err)
			}
		}},
		{name: "listen inet6", input: "listen: inet:[::1]:8891", check: func(t *testing.T, c *Config) {
			if n, a, _ := c.ListenAddr(); n != "tcp" || a != "[::1]:8891" {
				t.Errorf("got %s %s", n, a)
			}
		}},
		{name: "listen host name", input: "listen: inet:localhost:8891"},
		{name: "listen bad port", input: "listen: inet:127.0.0.1:0", wantErrs: []string{`listen: "inet:127.0.0.1:0": port "0" is not a number`}},
		{name: "listen port too big", input: "listen: inet:127.0.0.1:88910", wantErrs: []string{`port "88910"`}},
		{name: "listen sendmail notation", input: "listen: inet:8891@127.0.0.1", wantErrs: []string{"Sendmail's notation; write Postfix's: inet:127.0.0.1:8891"}},
		{name: "listen no scheme", input: "listen: 127.0.0.1:8891", wantErrs: []string{`"127.0.0.1:8891" is not a milter address`}},
		{name: "listen unbracketed ipv6", input: "listen: inet:::1:8891", wantErrs: []string{"is not inet:host:port"}},
		{name: "listen no host", input: "listen: inet::8891", wantErrs: []string{"has no host; write inet:0.0.0.0:8891"}},
		{name: "listen empty unix", input: "listen: 'unix:'", wantErrs: []string{"has no socket path"}},
		{name: "listen empty value is the default", input: "listen:", check: func(t *testing.T, c *Config) {
			if c.Listen != "inet:127.0.0.1:8891" {
				t.Errorf("listen %q", c.Listen)
			}
		}},

		{name: "socket_mode unquoted octal", input: "socket_mode: 0600", check: func(t *testing.T, c *Config) {
			if c.SocketMode != "0600" || c.SocketPerm() != 0o600 {
				t.Errorf("got %q %v", c.SocketMode, c.SocketPerm())
			}
		}},
		{name: "socket_mode 0o", input: "socket_mode: 0o660", check: func(t *testing.T, c *Config) {
			if c.SocketMode != "0660" {
				t.Errorf("got %q", c.SocketMode)
			}
		}},
		{name: "socket_mode three digits", input: `socket_mode: "660"`, check: func(t *testing.T, c *Config) {
			if c.SocketMode != "0660" {
				t.Errorf("got %q", c.SocketMode)
			}
		}},
		{name: "socket_mode bad", input: "socket_mode: 0999", wantErrs: []string{`socket_mode: "0999" is not an octal file mode`}},
		{name: "socket_mode too big", input: "socket_mode: 1777", wantErrs: []string{`"1777" is not an octal file mode`}},

		{name: "hostname", input: "hostname: MX1.Example.COM.", check: func(t *testing.T, c *Config) {
			if c.Hostname != "mx1.example.com" {
				t.Errorf("got %q", c.Hostname)
			}
		}},
		{name: "hostname default", input: "hostname: ''", check: func(t *testing.T, c *Config) {
			if c.Hostname != "mx.example.net" {
				t.Errorf("got %q", c.Hostname)
			}
		}},
		{name: "hostname bad", input: "hostname: mx_1.example.com", wantErrs: []string{`hostname: "mx_1.example.com" is not a valid host name`}},
		{name: "hostname address", input: "hostname: 192.0.2.1", wantErrs: []string{`"192.0.2.1" is an address, not a name`}},

		{name: "local_names", input: `local_names: [MX.example.net, "[192.0.2.1]", "2001:db8::1", "[IPv6:2001:DB8::2]"]`, check: func(t *testing.T, c *Config) {
			want := []string{"mx.example.net", "192.0.2.1", "2001:db8::1", "2001:db8::2"}
			if !slices.Equal(c.LocalNames, want) {
				t.Errorf("got %q", c.LocalNames)
			}
		}},
		{name: "local_names bad", input: "local_names: [ok.example, 'not a name']", wantErrs: []string{`local_names[1]: "not a name" is neither`}},
		{name: "local_names scalar", input: "local_names: a.example b.example", check: func(t *testing.T, c *Config) {
			if !slices.Equal(c.LocalNames, []string{"a.example", "b.example"}) {
				t.Errorf("got %q", c.LocalNames)
			}
		}},

		{name: "dns.servers", input: `dns: {servers: [192.0.2.53, "192.0.2.54:5353", "::1", "[2001:db8::1]:53", "[2001:db8::2]"]}`, check: func(t *testing.T, c *Config) {
			want := []string{"192.0.2.53:53", "192.0.2.54:5353", "[::1]:53", "[2001:db8::1]:53", "[2001:db8::2]:53"}
			if !slices.Equal(c.DNS.Servers, want) {
				t.Errorf("got %q", c.DNS.Servers)
			}
		}},
		{name: "dns.servers name", input: "dns: {servers: [dns.google]}", wantErrs: []string{`dns.servers[0]: "dns.google" is not an IP address`}},
		{name: "dns.servers port 0", input: "dns: {servers: ['192.0.2.1:0']}", wantErrs: []string{`dns.servers[0]`}},
		{name: "dns.servers mapping", input: "dns: {servers: {a: b}}", wantErrs: []string{"dns.servers: must be a single value or a list, not a mapping"}},
		{name: "dns.timeout", input: "dns: {timeout: 1500ms}", check: func(t *testing.T, c *Config) {
			if c.DNS.Timeout != 1500*time.Millisecond {
				t.Errorf("got %v", c.DNS.Timeout)
			}
		}},
		{name: "dns.timeout without unit", input: "dns:\n  timeout: 5\n", wantErrs: []string{`test.yml: dns.timeout: "5" is not a duration; write it with a unit, e.g. 5s`}},
		{name: "dns.timeout quoted without unit", input: `dns: {timeout: "5"}`, wantErrs: []string{`dns.timeout: "5" is not a duration; write it with a unit, e.g. 5s`}},
		{name: "dns.timeout garbage", input: `dns: {timeout: soon}`, wantErrs: []string{`dns.timeout: "soon" is not a duration; write a number with a unit`}},
		{name: "dns.timeout negative", input: `dns: {timeout: -1s}`, wantErrs: []string{`"-1s" is negative`}},
		{name: "dns.timeout zero", input: `dns: {timeout: 0s}`, wantErrs: []string{`dns.timeout: 0s must be more than 0`}},
		{name: "dns.attempts", input: "dns: {attempts: 3}", check: func(t *testing.T, c *Config) {
			if c.DNS.Attempts != 3 {
				t.Errorf("got %v", c.DNS.Attempts)
			}
		}},
		{name: "dns.attempts zero", input: "dns: {attempts: 0}", wantErrs: []string{"dns.attempts: 0 must be at least 1"}},
		{name: "dns.attempts not a number", input: "dns: {attempts: two}", wantErrs: []string{`dns.attempts: "two" is not a whole number`}},
		{name: "dns.attempts float", input: "dns: {attempts: 2.5}", wantErrs: []string{`dns.attempts: 2.5 is not a whole number`}},
		{name: "dns.cache_size off", input: "dns: {cache_size: 0}", check: func(t *testing.T, c *Config) {
			if c.DNS.CacheSize != 0 {
				t.Errorf("got %v", c.DNS.CacheSize)
			}
		}},
		{name: "dns.cache_size negative", input: "dns: {cache_size: -1}", wantErrs: []string{"dns.cache_size: -1 is negative"}},
		{name: "dns not a mapping", input: "dns: 192.0.2.1", wantErrs: []string{"dns: must be a mapping of keys, not a single value; its keys are servers, timeout, attempts, cache_size"}},

		{name: "trusted_networks", input: `trusted_networks: [192.0.2.0/24, 2001:db8::/32, 198.51.100.7, "[::1]/128", "2001:db8::1"]`, check: func(t *testing.T, c *Config) {
			want := []string{"192.0.2.0/24", "2001:db8::/32", "198.51.100.7/32", "::1/128", "2001:db8::1/128"}
			if !slices.Equal(c.TrustedNetworks, want) {
				t.Errorf("got %q", c.TrustedNetworks)
			}
			if p := c.TrustedPrefixes(); len(p) != 5 || !p[2].Contains(mustAddr("198.51.100.7")) {
				t.Errorf("prefixes %v", p)
			}
		}},
		{name: "trusted_networks empty", input: "trusted_networks: []", check: func(t *testing.T, c *Config) {
			if len(c.TrustedNetworks) != 0 {
				t.Errorf("got %q", c.TrustedNetworks)
			}
		}},
		{name: "trusted_networks bad CIDR", input: "trusted_networks: [10.0.0.0/33]", wantErrs: []string{`trusted_networks[0]: "10.0.0.0/33" is not a CIDR prefix`}},
		{name: "trusted_networks host bits", input: "trusted_networks: [10.1.2.3/8]", wantErrs: []string{`"10.1.2.3/8" has host bits set (did you mean "10.0.0.0/8"?)`}},
		{name: "trusted_networks name", input: "trusted_networks: [localhost]", wantErrs: []string{`"localhost" is not an address or CIDR prefix`}},

		{name: "booleans yes/no", input: "skip_authenticated: no\ndelay_reject: off\nhelo_required: yes", check: func(t *testing.T, c *Config) {
			if c.SkipAuthenticated || c.DelayReject || !c.HeloRequired {
				t.Errorf("got %v %v %v", c.SkipAuthenticated, c.DelayReject, c.HeloRequired)
			}
		}},
		{name: "boolean bad", input: "helo_required: maybe", wantErrs: []string{`helo_required: "maybe" is not a boolean; write true or false`}},

		{name: "store memory", input: "store: memory\nstate_dir: ''"},
		{name: "store redis", input: "store: redis://user:secret@localhost:6379/2", check: func(t *testing.T, c *Config) {
			y, _ := c.YAML()
			if strings.Contains(string(y), "secret") || !strings.Contains(string(y), "redis://user:xxxxx@localhost:6379/2") {
				t.Errorf("YAML does not mask the password:\n%s", y)
			}
			if c.Store != "redis://user:secret@localhost:6379/2" {
				t.Errorf("store %q", c.Store)
			}
		}},
		{name: "store rediss", input: "store: rediss://redis.example.net"},
		{name: "store redis bad db", input: "store: redis://localhost/x", wantErrs: []string{"store: \"redis://localhost/x\": the path must be a database number"}},
		{name: "store redis no host", input: "store: redis:///0", wantErrs: []string{"has no host"}},
		{name: "store unknown", input: "store: bbolt", wantErrs: []string{`store: "bbolt" is not a store (did you mean "bolt"?)`}},
		{name: "state_dir empty with bolt", input: "state_dir: ''", wantErrs: []string{"state_dir: is empty, but store: bolt keeps its file there"}},

		{name: "log", input: "log: {format: JSON, level: DEBUG}", check: func(t *testing.T, c *Config) {
			if c.Log.Format != "json" || c.Log.Level != "debug" {
				t.Errorf("got %+v", c.Log)
			}
		}},
		{name: "log bad", input: "log: {format: text, level: warning}", wantErrs: []string{
			`log.format: "text" is not one of logfmt, json`,
			`log.level: "warning" is not one of debug, info, warn, error (did you mean "warn"?)`}},
		{name: "metrics.listen", input: "metrics: {listen: '127.0.0.1:9100'}"},
		{name: "metrics.listen any address", input: "metrics: {listen: ':9100'}"},
		{name: "metrics.listen bad", input: "metrics: {listen: '9100'}", wantErrs: []string{`metrics.listen: "9100" is not host:port`}},

		{name: "timeouts.check", input: "timeouts: {check: 10s}", check: func(t *testing.T, c *Config) {
			if c.Timeouts.Check != 10*time.Second {
				t.Errorf("got %v", c.Timeouts.Check)
			}
		}},
		{name: "timeouts.check too long is a warning", input: "timeouts: {check: 30s}", warnings: 1, check: func(t *testing.T, c *Config) {
			if !strings.Contains(c.Warnings[0].Error(), "test.yml: warning: timeouts.check: 30s is not below Postfix's milter_command_timeout") {
				t.Errorf("warning: %v", c.Warnings[0])
			}
		}},
		{name: "timeouts.check zero", input: "timeouts: {check: 0s}", wantErrs: []string{"timeouts.check: 0s must be more than 0"}},
		{name: "dns slower than timeouts.check", input: "dns: {timeout: 8s, attempts: 3}", warnings: 1},

		{name: "codes", input: "codes: {unknown_client_reject_code: 550, non_fqdn_reject_code: '554', unknown_address_tempfail_action: defer}", check: func(t *testing.T, c *Config) {
			if c.Codes.UnknownClientReject != 550 || c.Codes.NonFQDNReject != 554 || c.Codes.UnknownAddressTempfailAction != "defer" {
				t.Errorf("got %+v", c.Codes)
			}
		}},
		{name: "codes bad", input: "codes: {maps_rbl_reject_code: 250, access_map_defer_code: 550, unknown_helo_hostname_tempfail_action: dunno}", wantErrs: []string{
			"codes.maps_rbl_reject_code: 250 is not a 4xx or 5xx reply code",
			"codes.access_map_defer_code: 550 is not a 4xx reply code",
			`codes.unknown_helo_hostname_tempfail_action: "dunno" is not one of defer_if_permit, defer`}},

		{name: "mapping for a value", input: "listen: {inet: x}", wantErrs: []string{"listen: must be a single value or a list, not a mapping"}},
		{name: "list for a value", input: "listen: [a, b]", wantErrs: []string{"listen: must be a single value, not a list"}},
		{name: "keys are case-insensitive", input: "Listen: unix:/tmp/s\nDNS: {Timeout: 1s}", check: func(t *testing.T, c *Config) {
			if c.Listen != "unix:/tmp/s" || c.DNS.Timeout != time.Second {
				t.Errorf("got %q %v", c.Listen, c.DNS.Timeout)
			}
		}},

		{name: "unknown key", input: "dns:\n  servrs: [192.0.2.1]\n", wantErrs: []string{`test.yml: unknown key "dns.servrs" (did you mean "dns.servers"?)`}},
		{name: "unknown key at the wrong level", input: "servers: [192.0.2.1]", wantErrs: []string{`unknown key "servers" (did you mean "dns.servers"?)`}},
		{name: "code outside codes", input: "unknown_client_reject_code: 550", wantErrs: []string{`unknown key "unknown_client_reject_code" (did you mean "codes.unknown_client_reject_code"?)`}},
		{name: "postfix parameter name", input: "smtpd_helo_restrictions: [invalid_helo_hostname]\nmynetworks: [127.0.0.0/8]", wantErrs: []string{
			`unknown key "smtpd_helo_restrictions" (did you mean "helo"?); smtpd_helo_restrictions is Postfix's name`,
			`unknown key "mynetworks" (did you mean "trusted_networks"?)`}},
		{name: "planned key", input: "greylist: {delay: 300s}\nauth: {spf: {fail: reject}}", wantErrs: []string{
			`unknown key "greylist"; greylist is planned but not implemented in this version`}},
		{name: "planned key, empty", input: "greylist: {}", wantErrs: []string{`unknown key "greylist"; greylist is planned`}},
		{name: "unknown key, empty mapping", input: "frobnicate: {}\ndns: {servrs: {}}", wantErrs: []string{
			`test.yml: unknown key "frobnicate"`,
			`test.yml: unknown key "dns.servrs" (did you mean "dns.servers"?)`}},
		{name: "unknown key, mappings without values", input: "frobnicate: {a: {b: ~}}", wantErrs: []string{`test.yml: unknown key "frobnicate"`}},
		{name: "unknown key, empty value", input: "frobnicate:\ndns: {servrs: }", wantErrs: []string{
			`test.yml: unknown key "frobnicate"`,
			`test.yml: unknown key "dns.servrs" (did you mean "dns.servers"?)`}},
		{name: "empty sections are the defaults", input: "dns:\nlog: {}\nclasses:\n", check: func(t *testing.T, c *Config) {
			if c.DNS.Timeout != 5*time.Second || c.Log.Level != "info" || len(c.Classes) != 0 {
				t.Errorf("got %+v %+v %v", c.DNS, c.Log, c.Classes)
			}
		}},
		{name: "unknown key with no suggestion", input: "frobnicate: 1", wantErrs: []string{`test.yml: unknown key "frobnicate"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.input)
			checkProblems(t, lines(err), tc.wantErrs)
			if err != nil {
				return
			}
			if len(c.Warnings) != tc.warnings {
				t.Errorf("warnings: %v", c.Warnings)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestYAMLSyntaxErrors(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		wantLine int
		wantMsg  string
	}{
		{name: "bad indentation", input: "listen: a\n dns: b\n", wantLine: 2, wantMsg: "mapping values are not allowed"},
		{name: "unclosed flow", input: "listen: a\nclient: [x,\n", wantLine: 2, wantMsg: "YAML: "},
		{name: "duplicate key", input: "listen: a\nstore: bolt\nlisten: b\n", wantLine: 3, wantMsg: `mapping key "listen" already defined at line 1`},
		{name: "tab", input: "dns:\n\ttimeout: 1s\n", wantLine: 2, wantMsg: "YAML: "},
		{name: "top level list", input: "- listen: a\n", wantLine: 1, wantMsg: "the configuration must be a mapping of keys to values"},
		{name: "top level scalar", input: "hello\n", wantLine: 1, wantMsg: "the configuration must be a mapping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.input)
			var p Problem
			if !errors.As(err, &p) {
				t.Fatalf("want a Problem, got %v", err)
			}
			if p.Line != tc.wantLine || p.File != "test.yml" || !strings.Contains(p.Message, tc.wantMsg) {
				t.Errorf("got %+v", p)
			}
			if want := "test.yml:" + strconv.Itoa(tc.wantLine) + ": "; !strings.HasPrefix(p.Error(), want) {
				t.Errorf("%q does not start with %q", p.Error(), want)
			}
		})
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestManyProblems checks that every problem is reported at once, in the
// order of the file, and that the *Errors unwraps to them.
func TestManyProblems(t *testing.T) {
	input := `listen: inet:127.0.0.1:99999
dns:
  servrs: [192.0.2.1]
  timeout: 5
trusted_networks: [10.0.0.0/33]
log: {level: loud}
client:
  - unknwon_client_hostname
  - rbl
  - unknown_client_hostname: {code: 550, enhanced: 4.7.1}
`
	_, err := load(t, input)
	want := []string{
		`test.yml: listen: "inet:127.0.0.1:99999": port "99999" is not a number from 1 to 65535`,
		`test.yml: unknown key "dns.servrs" (did you mean "dns.servers"?)`,
		`test.yml: dns.timeout: "5" is not a duration; write it with a unit, e.g. 5s`,
		`test.yml: trusted_networks[0]: "10.0.0.0/33" is not a CIDR prefix`,
		`test.yml: log.level: "loud" is not one of debug, info, warn, error`,
		`test.yml: client[0]: unknown restriction "unknwon_client_hostname" (did you mean "unknown_client_hostname"?); known restrictions: access, `,
		`test.yml: client[1]: rbl needs a DNS list zone`,
		`test.yml: client[2].enhanced: "4.7.1" does not match code 550`,
	}
	got := lines(err)
	checkProblems(t, got, want)
	for i := range min(len(got), len(want)) {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d out of order: %q", i, got[i])
		}
	}
	var e *Errors
	if !errors.As(err, &e) || len(e.Unwrap()) != len(want) {
		t.Fatalf("not an *Errors with %d problems: %T", len(want), err)
	}
	if e.Error() != strings.Join(got, "\n") {
		t.Errorf("Error() is not one problem per line:\n%s", e.Error())
	}
}

func TestEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mxguard.yml")
	if err := os.WriteFile(file, []byte("listen: unix:/run/mxguard.sock\ndns: {attempts: 3}\nclasses: {strict: [reject]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		env      map[string]string
		check    func(t *testing.T, c *Config)
		wantErrs []string
	}{
		{name: "listen over the default", env: map[string]string{"MXGUARD_LISTEN": "inet:[::1]:9999"}, check: func(t *testing.T, c *Config) {
			if c.Listen != "inet:[::1]:9999" {
				t.Errorf("got %q", c.Listen)
			}
		}},
		{name: "listen over a file", path: file, env: map[string]string{"MXGUARD_LISTEN": "inet:127.0.0.1:1"}, check: func(t *testing.T, c *Config) {
			if c.Listen != "inet:127.0.0.1:1" || c.DNS.Attempts != 3 {
				t.Errorf("got %q %d", c.Listen, c.DNS.Attempts)
			}
		}},
		{name: "key only in the defaults, with a file", path: file, env: map[string]string{"MXGUARD_DNS_TIMEOUT": "2s", "MXGUARD_STATE_DIR": "/tmp/x"}, check: func(t *testing.T, c *Config) {
			if c.DNS.Timeout != 2*time.Second || c.StateDir != "/tmp/x" {
				t.Errorf("got %v %q", c.DNS.Timeout, c.StateDir)
			}
		}},
		{name: "list split on spaces", env: map[string]string{"MXGUARD_DNS_SERVERS": "127.0.0.2:53 127.0.0.3:53"}, check: func(t *testing.T, c *Config) {
			if !slices.Equal(c.DNS.Servers, []string{"127.0.0.2:53", "127.0.0.3:53"}) {
				t.Errorf("got %q", c.DNS.Servers)
			}
		}},
		{name: "list split on commas", path: file, env: map[string]string{"MXGUARD_TRUSTED_NETWORKS": "10.0.0.0/8,192.0.2.1, ::1"}, check: func(t *testing.T, c *Config) {
			if !slices.Equal(c.TrustedNetworks, []string{"10.0.0.0/8", "192.0.2.1/32", "::1/128"}) {
				t.Errorf("got %q", c.TrustedNetworks)
			}
		}},
		{name: "booleans and numbers", env: map[string]string{"MXGUARD_DELAY_REJECT": "false", "MXGUARD_HELO_REQUIRED": "no", "MXGUARD_CODES_UNKNOWN_CLIENT_REJECT_CODE": "550", "MXGUARD_DNS_CACHE_SIZE": "0"}, check: func(t *testing.T, c *Config) {
			if c.DelayReject || c.HeloRequired || c.Codes.UnknownClientReject != 550 || c.DNS.CacheSize != 0 {
				t.Errorf("got %v %v %d %d", c.DelayReject, c.HeloRequired, c.Codes.UnknownClientReject, c.DNS.CacheSize)
			}
		}},
		{name: "restriction list in main.cf style", env: map[string]string{"MXGUARD_CLIENT": "permit_mynetworks, reject_rbl_client zen.spamhaus.org=127.0.0.[2..11] warn_if_reject reject_unknown_client_hostname"}, check: func(t *testing.T, c *Config) {
			var got []string
			for _, r := range c.Client {
				got = append(got, r.String()+"/"+r.Action)
			}
			want := []string{"mynetworks/", "rbl zen.spamhaus.org=127.0.0.[2..11]/", "unknown_client_hostname/warn"}
			if !slices.Equal(got, want) {
				t.Errorf("got %q", got)
			}
		}},
		{name: "class from the environment", path: file, env: map[string]string{"MXGUARD_CLASSES_STRICT": "reject_unknown_client_hostname"}, check: func(t *testing.T, c *Config) {
			if len(c.Classes["strict"]) != 1 || c.Classes["strict"][0].Name != "unknown_client_hostname" {
				t.Errorf("got %v", c.Classes)
			}
		}},
		{name: "a variable named after a section", env: map[string]string{"MXGUARD_DNS": "x", "MXGUARD_LOG": "y"}, check: func(t *testing.T, c *Config) {
			if c.DNS.Timeout != 5*time.Second || c.Log.Level != "info" {
				t.Errorf("got %+v %+v", c.DNS, c.Log)
			}
		}},
		{name: "empty variable is ignored", env: map[string]string{"MXGUARD_LISTEN": ""}, check: func(t *testing.T, c *Config) {
			if c.Listen != "inet:127.0.0.1:8891" {
				t.Errorf("got %q", c.Listen)
			}
		}},
		{name: "bad values name the variable", path: file, env: map[string]string{"MXGUARD_DNS_TIMEOUT": "5", "MXGUARD_LISTEN": "tcp:1", "MXGUARD_HELO": "reject_unknown_helo"}, wantErrs: []string{
			`$MXGUARD_LISTEN: listen: "tcp:1" is not a milter address`,
			`$MXGUARD_DNS_TIMEOUT: dns.timeout: "5" is not a duration; write it with a unit, e.g. 5s`,
			`$MXGUARD_HELO: helo[0]: unknown restriction "reject_unknown_helo" (did you mean "unknown_helo_hostname"?)`}},
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
	// Default ignores the environment.
	t.Setenv("MXGUARD_LISTEN", "unix:/x")
	if c := Default(); c.Listen != "inet:127.0.0.1:8891" {
		t.Errorf("Default() read the environment: %q", c.Listen)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v", err)
	}
}

// TestYAMLRoundTrip checks that the effective configuration printed by
// YAML loads back to itself.
func TestYAMLRoundTrip(t *testing.T) {
	for _, input := range []string{
		string(defaultYAML),
		mustRead(t, "example.yml"),
		`listen: unix:/run/m.sock
socket_mode: 0600
local_names: ["[192.0.2.1]", Mx.Example]
dns: {servers: ["::1", 192.0.2.1], timeout: 1m30s}
trusted_networks: [192.0.2.7]
store: memory
classes:
  strict: [helo_impersonation, "reject"]
client:
  - check_client_access hash:/etc/postfix/a
  - rbl: {zone: "zen.spamhaus.org=127.0.0.[2..11]", action: tag, temperror: tempfail, code: 554, enhanced: 5.7.1, text: "Listed: see https://example.org/?q=1", weight: "2"}
  - warn_if_reject
  - strict
  - fcrdns:
      text: "yes"
recipient: [permit]
`,
		`auth:
  authserv_id: Auth.Example.
  authserv_aliases: [old.example]
  spf: {fail: TEMPFAIL, softfail: off, reject_at: rcpt}
  dkim: {max_signatures: "7", max_buffer: 65536}
  dmarc: {mode: rfc7489, quarantine: tag, reject_multiple_from: no, override_domains: [Lists.Example.], override_networks: ["[::1]", 192.0.2.0/24]}
`,
	} {
		c, err := load(t, input)
		if err != nil {
			t.Fatalf("%v\n%s", err, input)
		}
		out, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := parse("effective.yml", out, false)
		if err != nil {
			t.Fatalf("effective configuration does not load: %v\n%s", err, out)
		}
		out2, _ := c2.YAML()
		if !bytes.Equal(out, out2) {
			t.Errorf("round trip differs:\n%s\n---\n%s", out, out2)
		}
	}
}

func mustRead(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProblemError(t *testing.T) {
	tests := []struct {
		name string
		p    Problem
		want string
	}{
		{name: "key and hint", p: Problem{File: "/etc/mxguard/mxguard.yml", Key: "dns.timeout", Message: `"5" is not a duration`, Hint: "write it with a unit, e.g. 5s"},
			want: `/etc/mxguard/mxguard.yml: dns.timeout: "5" is not a duration; write it with a unit, e.g. 5s`},
		{name: "key in the message", p: Problem{File: "f", Key: "dns.servrs", Message: `unknown key "dns.servrs"`, Hint: `did you mean "dns.servers"?`},
			want: `f: unknown key "dns.servrs" (did you mean "dns.servers"?)`},
		{name: "suggestion and more", p: Problem{File: "f", Key: "client[0]", Message: `unknown restriction "x"`, Hint: `did you mean "y"? known restrictions: a, b`},
			want: `f: client[0]: unknown restriction "x" (did you mean "y"?); known restrictions: a, b`},
		{name: "line", p: Problem{File: "f", Line: 7, Message: "YAML: bad"}, want: "f:7: YAML: bad"},
		{name: "warning", p: Problem{File: "f", Key: "k", Message: "m", Warning: true}, want: "f: warning: k: m"},
		{name: "no file", p: Problem{Key: "k", Message: "m"}, want: "k: m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Error(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
