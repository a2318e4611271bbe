package postfixcfg

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseMainCF(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
		bad  []int
	}{
		{name: "plain", in: "a = b\nc=d\n", want: map[string]string{"a": "b", "c": "d"}},
		{name: "empty value", in: "non_smtpd_milters =\n", want: map[string]string{"non_smtpd_milters": ""}},
		{name: "continuation", in: "a = b,\n    c\n\td\ne = f\n", want: map[string]string{"a": "b, c d", "e": "f"}},
		{name: "comments", in: "# x = y\na = b\n  # indented comment inside a continued line\n  c\n\n", want: map[string]string{"a": "b c"}},
		{name: "no trailing comments", in: "a = b # c\n", want: map[string]string{"a": "b # c"}},
		{name: "last wins", in: "a = 1\na = 2\n", want: map[string]string{"a": "2"}},
		{name: "value with =", in: "a = {x, y = z}\n", want: map[string]string{"a": "{x, y = z}"}},
		{name: "crlf", in: "a = b\r\n  c\r\n", want: map[string]string{"a": "b c"}},
		{name: "bad lines", in: "  orphan\nno equals\na = b\nx y = z\n", want: map[string]string{"a": "b"}, bad: []int{1, 2, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, bad, err := ParseMainCF(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if !slices.Equal(bad, tc.bad) {
				t.Errorf("bad lines %v, want %v", bad, tc.bad)
			}
		})
	}
}

// TestParseMainCFAgreesWithPostconf: for every sample, parsing main.cf
// gives what postconf -n prints.
func TestParseMainCFAgreesWithPostconf(t *testing.T) {
	prog := postconfPath()
	if prog == "" {
		t.Skip("postconf not installed")
	}
	dirs, err := filepath.Glob("testdata/*/main.cf")
	if err != nil || len(dirs) == 0 {
		t.Fatal("no samples", err)
	}
	for _, mf := range dirs {
		dir, _ := filepath.Abs(filepath.Dir(mf))
		pc, err := Read(context.Background(), ReadOptions{Dir: dir, Postconf: prog})
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(mf)
		if err != nil {
			t.Fatal(err)
		}
		parsed, _, err := ParseMainCF(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		// postconf normalises whitespace inside a continued value.
		norm := func(m map[string]string) map[string]string {
			out := map[string]string{}
			for k, v := range m {
				out[k] = strings.Join(strings.Fields(v), " ")
			}
			return out
		}
		if got, want := norm(parsed), norm(pc.Explicit); !maps.Equal(got, want) {
			t.Errorf("%s:\nparsed   %q\npostconf %q", mf, got, want)
		}
	}
}

func TestSplitList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a b,c ,, d", []string{"a", "b", "c", "d"}},
		{"inet:127.0.0.1:8891, { unix:/x, default_action = accept }, c", []string{"inet:127.0.0.1:8891", "{ unix:/x, default_action = accept }", "c"}},
		{"check_policy_service { inet:h:1, timeout=10s, { nested } } permit", []string{"check_policy_service", "{ inet:h:1, timeout=10s, { nested } }", "permit"}},
		{"{ unclosed", []string{"{ unclosed"}},
	}
	for _, tc := range tests {
		if got := SplitList(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseMilters(t *testing.T) {
	got := parseMilters("inet:127.0.0.1:8891 { unix:mxguard/mxguard.sock , default_action = accept, command_timeout=10s }")
	if len(got) != 2 || got[0].Addr != "inet:127.0.0.1:8891" || got[0].Attrs != nil {
		t.Fatalf("got %+v", got)
	}
	if got[1].Addr != "unix:mxguard/mxguard.sock" || got[1].Attrs["default_action"] != "accept" || got[1].Attrs["command_timeout"] != "10s" {
		t.Errorf("got %+v", got[1])
	}
}

func TestParseRestrictions(t *testing.T) {
	got := parseRestrictions("permit_mynetworks, check_client_access hash:/etc/postfix/reject_unauth_destination, reject_rbl_client zen.spamhaus.org, check_policy_service { inet:h:1, timeout=1s }, reject_unauth_destination")
	want := []restriction{
		{"permit_mynetworks", ""},
		{"check_client_access", "hash:/etc/postfix/reject_unauth_destination"},
		{"reject_rbl_client", "zen.spamhaus.org"},
		{"check_policy_service", "{ inet:h:1, timeout=1s }"},
		{"reject_unauth_destination", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestParseMasterCF(t *testing.T) {
	in := "# comment\nsmtp inet n - y - - smtpd\n  -o smtpd_milters=\n  # comment inside\n  -o x=y\n" +
		"smtpd pass - - - - - smtpd\nshort line\n"
	got, err := parseMasterCF(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Service{
		{Name: "smtp", Type: "inet", Chroot: "y", Command: "smtpd -o smtpd_milters= -o x=y"},
		{Name: "smtpd", Type: "pass", Chroot: "-", Command: "smtpd"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if v, ok := serviceOverride(got[0].Command, "smtpd_milters"); !ok || v != "" {
		t.Errorf("override = %q, %v", v, ok)
	}
	if _, ok := serviceOverride(got[1].Command, "smtpd_milters"); ok {
		t.Error("override found where there is none")
	}
}

func TestMilterAddress(t *testing.T) {
	tests := []struct {
		listen, want string
		inChroot     bool
	}{
		{"", "inet:127.0.0.1:8891", true},
		{"inet:127.0.0.1:8891", "inet:127.0.0.1:8891", true},
		{"inet:0.0.0.0:8891", "inet:127.0.0.1:8891", true},
		{"inet:[::]:8891", "inet:[::1]:8891", true},
		{"inet:[::1]:8891", "inet:[::1]:8891", true},
		{"inet:localhost:8891", "inet:localhost:8891", true},
		{"unix:/var/spool/postfix/mxguard/mxguard.sock", "unix:mxguard/mxguard.sock", true},
		{"unix:/var/spool/postfix/../postfix/mxguard.sock", "unix:mxguard.sock", true},
		{"unix:/run/mxguard/mxguard.sock", "unix:/run/mxguard/mxguard.sock", false},
		{"unix:/var/spool/postfixx/m.sock", "unix:/var/spool/postfixx/m.sock", false},
	}
	for _, tc := range tests {
		got, in := MilterAddress(tc.listen, "")
		if got != tc.want || in != tc.inChroot {
			t.Errorf("MilterAddress(%q) = %q, %v; want %q, %v", tc.listen, got, in, tc.want, tc.inChroot)
		}
	}
}

func TestInetMatches(t *testing.T) {
	test := func(listen, entry string, want bool) {
		t.Helper()
		l, ok1 := parseEndpoint(listen)
		e, ok2 := parseEndpoint(entry)
		if !ok1 || !ok2 {
			t.Fatalf("parse %q %q", listen, entry)
		}
		if got := inetMatches(l, e); got != want {
			t.Errorf("inetMatches(%s, %s) = %v, want %v", listen, entry, got, want)
		}
	}
	test("inet:127.0.0.1:8891", "inet:127.0.0.1:8891", true)
	test("inet:127.0.0.1:8891", "inet:localhost:8891", true)
	test("inet:127.0.0.1:8891", "127.0.0.1:8891", true)
	test("inet:127.0.0.1:8891", "inet:127.0.0.1:8892", false)
	test("inet:127.0.0.1:8891", "inet:192.0.2.1:8891", false)
	test("inet:[::1]:8891", "inet:localhost:8891", true)
	test("inet:[::1]:8891", "inet:[::1]:8891", true)
	test("inet:localhost:8891", "inet:127.0.0.1:8891", true)
	test("inet:LocalHost:8891", "inet:localhost:8891", true)
	test("inet:0.0.0.0:8891", "inet:192.0.2.1:8891", true)
	test("inet:0.0.0.0:8891", "inet:mx.example.org:8891", false)
	test("inet:[::]:8891", "inet:127.0.0.1:8891", true)
	test("inet:192.0.2.1:8891", "inet:[::ffff:192.0.2.1]:8891", true)
}

func TestResolveUnix(t *testing.T) {
	const q = "/var/spool/postfix"
	tests := []struct {
		p        string
		chrooted bool
		want     string
	}{
		{"mxguard/mxguard.sock", true, "/var/spool/postfix/mxguard/mxguard.sock"},
		{"mxguard/mxguard.sock", false, "/var/spool/postfix/mxguard/mxguard.sock"},
		{"/mxguard/mxguard.sock", true, "/var/spool/postfix/mxguard/mxguard.sock"},
		{"/mxguard/mxguard.sock", false, "/mxguard/mxguard.sock"},
		{"/run/mxguard/mxguard.sock", false, "/run/mxguard/mxguard.sock"},
		{"/var/spool/postfix/mxguard/mxguard.sock", true, "/var/spool/postfix/var/spool/postfix/mxguard/mxguard.sock"},
	}
	for _, tc := range tests {
		if got := resolveUnix(tc.p, q, tc.chrooted); got != tc.want {
			t.Errorf("resolveUnix(%q, chroot=%v) = %q, want %q", tc.p, tc.chrooted, got, tc.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30s", 30 * time.Second, true}, {"30", 30 * time.Second, true}, {"2m", 2 * time.Minute, true},
		{"1h", time.Hour, true}, {"1d", 24 * time.Hour, true}, {"1w", 7 * 24 * time.Hour, true},
		{"", 0, false}, {"x", 0, false}, {"-1s", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseTime(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseTime(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMainCF(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		want    []string // lines that must be there
		notWant []string
	}{
		{name: "default", opts: Options{}, want: []string{
			"smtpd_milters = inet:127.0.0.1:8891",
			"non_smtpd_milters =",
			"milter_default_action = tempfail",
			"milter_protocol = 6",
			"milter_mail_macros = i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer} {client_addr} {client_name} {client_ptr}",
			"milter_connect_timeout = 10s",
			"milter_command_timeout = 30s",
			"smtpd_delay_reject = yes",
			"smtpd_helo_required = yes",
		}, notWant: []string{"chroot = n"}},
		{name: "socket in the spool", opts: Options{Listen: spoolSocket}, want: []string{
			"smtpd_milters = unix:mxguard/mxguard.sock",
		}, notWant: []string{"CAUTION"}},
		{name: "socket in /run", opts: Options{Listen: "unix:/run/mxguard/mxguard.sock"}, want: []string{
			"smtpd_milters = unix:/run/mxguard/mxguard.sock",
			"# CAUTION: mxguard's socket /run/mxguard/mxguard.sock is outside Postfix's queue directory",
			"#     main.cf:     smtpd_milters = unix:mxguard/mxguard.sock",
			"#     postconf -Fe 'smtp/inet/chroot = n' && postfix reload",
		}},
		{name: "other queue directory", opts: Options{Listen: "unix:/srv/postfix/m.sock", QueueDirectory: "/srv/postfix"}, want: []string{
			"smtpd_milters = unix:m.sock",
		}},
		{name: "slow checks", opts: Options{CheckTimeout: 45 * time.Second}, want: []string{
			"milter_command_timeout = 55s",
			"(timeouts.check: 45s)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := MainCF(tc.opts)
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			for _, w := range tc.want {
				if !slices.ContainsFunc(lines, func(l string) bool { return l == w || (strings.HasPrefix(w, "(") && strings.Contains(l, w)) }) {
					t.Errorf("no line %q in\n%s", w, got)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("%q in\n%s", w, got)
				}
			}
			// Every setting has a comment line right above it, and no
			// setting carries a trailing comment.
			for i, l := range lines {
				if l == "" || strings.HasPrefix(l, "#") {
					continue
				}
				if strings.Contains(l, "#") {
					t.Errorf("trailing comment: %q", l)
				}
				if i == 0 || !strings.HasPrefix(lines[i-1], "#") {
					t.Errorf("no comment above %q", l)
				}
			}
			// It parses as main.cf.
			params, bad, err := ParseMainCF(strings.NewReader(got))
			if err != nil || len(bad) > 0 || len(params) != 9 {
				t.Errorf("ParseMainCF: %d params, bad lines %v, %v", len(params), bad, err)
			}
		})
	}
}

func TestReadResolvConf(t *testing.T) {
	got, err := ReadResolvConf("testdata/resolv/local.conf")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"127.0.0.1", "::1"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if fs := CheckResolvConf("testdata/resolv/missing.conf"); len(fs) != 1 || fs[0].Severity != Warning {
		t.Errorf("missing resolv.conf: %v", fs)
	}
}

func FuzzParseMainCF(f *testing.F) {
	f.Add("a = b\n  c\n# d\n")
	f.Add("smtpd_milters = { inet:127.0.0.1:8891, default_action=accept }\n")
	f.Add("  orphan\n=\nx y = z\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		params, _, err := ParseMainCF(strings.NewReader(s))
		if err != nil {
			return // a line longer than the scanner's buffer
		}
		for k, v := range params {
			if k == "" || strings.ContainsAny(k, " \t") {
				t.Errorf("bad name %q", k)
			}
			_ = SplitList(v)
			_ = parseMilters(v)
			_ = parseRestrictions(v)
		}
	})
}
