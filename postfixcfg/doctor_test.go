package postfixcfg

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/good*/main.cf from MainCF")

// relayLine is the relay restriction the good samples add to MainCF's
// lines.
const relayLine = "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination\n"

const spoolSocket = "unix:/var/spool/postfix/mxguard/mxguard.sock"

// goodSamples are the sample configurations made of exactly the lines
// MainCF prints, plus a sane relay restriction.
var goodSamples = []struct {
	dir    string
	opts   Options
	master string
}{
	{dir: "good", opts: Options{}},
	{dir: "good-unix", opts: Options{Listen: spoolSocket}, master: "" +
		"smtp      inet  n       -       y       -       -       smtpd\n" +
		"cleanup   unix  n       -       y       -       0       cleanup\n"},
}

func TestGoodSamplesAreMainCF(t *testing.T) {
	for _, g := range goodSamples {
		path := filepath.Join("testdata", g.dir, "main.cf")
		want := MainCF(g.opts) + relayLine
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			if g.master != "" {
				if err := os.WriteFile(filepath.Join("testdata", g.dir, "master.cf"), []byte(g.master), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s is not MainCF's output plus the relay line (go test -update rewrites it):\n%s", path, got)
		}
	}
}

// postconfPath is the postconf program, or "" when Postfix is not
// installed.
func postconfPath() string {
	if p, err := exec.LookPath("postconf"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/postconf"); err == nil {
		return "/usr/sbin/postconf"
	}
	return ""
}

// readers are the two ways Doctor reads a configuration directory: by
// parsing main.cf and master.cf, and, where Postfix is installed, with
// postconf -c DIR. Both must find the same.
func readers(t *testing.T) map[string]func(dir string) ReadOptions {
	t.Helper()
	m := map[string]func(string) ReadOptions{
		"files": func(dir string) ReadOptions { return ReadOptions{Dir: dir, NoPostconf: true} },
	}
	if p := postconfPath(); p != "" {
		m["postconf"] = func(dir string) ReadOptions { return ReadOptions{Dir: dir, Postconf: p} }
	} else {
		t.Log("postconf not installed: reading main.cf only")
	}
	return m
}

type want struct {
	sev  Severity
	key  string
	text string // a substring of Message
}

func TestDoctor(t *testing.T) {
	cases := []struct {
		name, dir, listen, resolv string
		want                      []want
		problems                  bool // HasProblems
		clean                     bool // no problem and no warning
	}{
		{name: "good", dir: "good", resolv: "local.conf", clean: true, want: []want{
			{OK, "smtpd_milters", "inet:127.0.0.1:8891"},
			{OK, "milter_default_action", "tempfail"},
			{OK, "milter_mail_macros", "{auth_authen}"},
			{OK, "milter_protocol", "6"},
			{OK, "milter_command_timeout", "30s"},
			{OK, "restrictions", "no smtpd restriction"},
			{OK, "smtpd_milters", "no other milter"},
			{OK, "smtpd_relay_restrictions", "reject_unauth_destination"},
			{OK, "mynetworks", "no open network"},
			{OK, "resolv.conf", "no public resolver"},
		}},
		{name: "good unix socket in the chroot", dir: "good-unix", listen: spoolSocket, resolv: "local.conf", clean: true, want: []want{
			{OK, "smtpd_milters", "unix:mxguard/mxguard.sock"},
		}},
		{name: "not wired", dir: "not-wired", problems: true, want: []want{
			{Problem, "smtpd_milters", "mxguard (inet:127.0.0.1:8891) is not in smtpd_milters"},
		}},
		{name: "not wired, unix socket", dir: "not-wired", listen: spoolSocket, problems: true, want: []want{
			{Problem, "smtpd_milters", "is not in smtpd_milters"},
		}},
		{name: "localhost is 127.0.0.1", dir: "default-action-entry", want: []want{
			{OK, "smtpd_milters", "inet:localhost:8891"},
		}, problems: true},
		{name: "wildcard listen", dir: "default-action", listen: "inet:0.0.0.0:8891", problems: true, want: []want{
			{OK, "smtpd_milters", "inet:127.0.0.1:8891"},
		}},
		{name: "other port", dir: "default-action", listen: "inet:127.0.0.1:9999", problems: true, want: []want{
			{Problem, "smtpd_milters", "not in smtpd_milters"},
		}},
		{name: "bare host:port", dir: "bare-address", problems: true, want: []want{
			{Problem, "smtpd_milters", "has no \"inet:\""},
		}},
		{name: "socket outside the chroot", dir: "chroot-socket", listen: "unix:/run/mxguard/mxguard.sock", problems: true, want: []want{
			{Problem, "smtpd_milters", "smtpd runs chrooted in /var/spool/postfix and looks for /var/spool/postfix/run/mxguard/mxguard.sock"},
		}},
		{name: "chroot-relative socket", dir: "other-milters", listen: spoolSocket, want: []want{
			{OK, "smtpd_milters", "unix:mxguard/mxguard.sock"},
		}},
		{name: "chroot-absolute socket", dir: "chroot-socket", listen: "unix:/var/spool/postfix/run/mxguard/mxguard.sock", want: []want{
			{OK, "smtpd_milters", "unix:/run/mxguard/mxguard.sock"},
		}},
		{name: "default action accept", dir: "default-action", problems: true, want: []want{
			{Problem, "milter_default_action", "\"accept\": while mxguard is down or too slow, mail is accepted unchecked"},
		}},
		{name: "default action of the entry", dir: "default-action-entry", problems: true, want: []want{
			{Problem, "milter_default_action", "\"reject\" (default_action in mxguard's smtpd_milters entry"},
			{OK, "milter_command_timeout", "40s"},
		}},
		{name: "macros", dir: "macros", problems: true, want: []want{
			{Problem, "milter_mail_macros", "lacks {auth_authen}"},
			{Warning, "milter_mail_macros", "lacks i (and so does milter_rcpt_macros)"},
			{Info, "milter_connect_macros", "lacks {daemon_name}: fine"},
		}},
		{name: "protocol", dir: "protocol", want: []want{
			{Warning, "milter_protocol", "below 6"},
		}},
		{name: "duplicates", dir: "duplicates", want: []want{
			{Warning, "smtpd_client_restrictions", "reject_rbl_client zen.spamhaus.org=127.0.0.[2..11] duplicates mxguard's client: rbl"},
			{Warning, "smtpd_client_restrictions", "permit_dnswl_client list.dnswl.org=127.0.[0..255].[1..3] duplicates"},
			{Warning, "smtpd_client_restrictions", "reject_unknown_reverse_client_hostname duplicates"},
			{Warning, "smtpd_helo_restrictions", "reject_invalid_helo_hostname duplicates"},
			{Warning, "smtpd_helo_restrictions", "reject_non_fqdn_helo_hostname duplicates"},
			{Warning, "smtpd_helo_restrictions", "reject_unknown_helo_hostname duplicates"},
			{Warning, "smtpd_helo_restrictions", "reject_rhsbl_helo dbl.spamhaus.org duplicates"},
			{Warning, "smtpd_sender_restrictions", "reject_non_fqdn_sender duplicates"},
			{Warning, "smtpd_sender_restrictions", "reject_unknown_sender_domain duplicates"},
			{Warning, "smtpd_sender_restrictions", "reject_rhsbl_sender dbl.spamhaus.org duplicates"},
			{Warning, "smtpd_recipient_restrictions", "reject_non_fqdn_recipient duplicates"},
			{Warning, "smtpd_recipient_restrictions", "reject_unknown_recipient_domain duplicates"},
			{Warning, "smtpd_recipient_restrictions", "unix:private/policyd-spf is policyd-spf"},
			{Warning, "smtpd_recipient_restrictions", "inet:127.0.0.1:10023 is postgrey"},
			{Info, "smtpd_recipient_restrictions", "dovecot-quota, default_action=DUNNO }: not recognised"},
			{Warning, "strict", "reject_unknown_client_hostname duplicates"},
		}},
		{name: "other milters", dir: "other-milters", listen: spoolSocket, want: []want{
			{Warning, "smtpd_milters", "unix:opendkim/opendkim.sock looks like OpenDKIM"},
			{Warning, "smtpd_milters", "inet:127.0.0.1:8893 looks like OpenDMARC"},
			{Warning, "smtpd_milters", "inet:127.0.0.1:8891 looks like OpenDKIM"},
		}},
		{name: "our 8891 is not OpenDKIM", dir: "other-milters", listen: "inet:127.0.0.1:8891", want: []want{
			{OK, "smtpd_milters", "mxguard (inet:127.0.0.1:8891) is in smtpd_milters"},
		}},
		{name: "open relay", dir: "open-relay", problems: true, want: []want{
			{Problem, "smtpd_relay_restrictions", "neither reject_unauth_destination nor defer_unauth_destination"},
		}},
		{name: "open relay before 2.10", dir: "open-relay-recipient", problems: true, want: []want{
			{Problem, "smtpd_recipient_restrictions", "neither reject_unauth_destination nor defer_unauth_destination"},
		}},
		{name: "permit relays", dir: "permit-relay", problems: true, want: []want{
			{Problem, "smtpd_relay_restrictions", "\"permit\" comes before"},
		}},
		{name: "mynetworks", dir: "mynetworks", problems: true, want: []want{
			{Problem, "mynetworks", "0.0.0.0/0 trusts the whole Internet"},
			{Problem, "mynetworks", "44.0.0.0/8 trusts a public network"},
		}},
		{name: "trailing comment", dir: "trailing-comment", problems: true, want: []want{
			{Problem, "smtpd_milters", "main.cf has no trailing comments"},
		}},
		{name: "master.cf override", dir: "master-override", problems: true, want: []want{
			{Problem, "master.cf", "service smtpd/pass overrides smtpd_milters with \"inet:127.0.0.1:8893\""},
		}},
		{name: "public resolver", dir: "good", resolv: "public.conf", problems: true, want: []want{
			{Problem, "resolv.conf", "nameserver 8.8.8.8 is Google Public DNS"},
			{Problem, "resolv.conf", "nameserver 2606:4700:4700::1111 is Cloudflare"},
		}},
		{name: "resolved stub", dir: "good", resolv: "stub.conf", want: []want{
			{Info, "resolv.conf", "systemd-resolved"},
		}},
		{name: "all at once", dir: "all", resolv: "public.conf", problems: true, want: []want{
			{Problem, "smtpd_milters", "main.cf has no trailing comments"},
			{Problem, "smtpd_milters", "has no \"inet:\""},
			{Problem, "milter_default_action", "\"accept\""},
			{Problem, "milter_mail_macros", "lacks {auth_authen}"},
			{Warning, "milter_mail_macros", "lacks i"},
			{Warning, "milter_protocol", "below 6"},
			{Warning, "smtpd_client_restrictions", "reject_rbl_client zen.spamhaus.org duplicates"},
			{Warning, "smtpd_client_restrictions", "reject_unknown_client_hostname duplicates"},
			{Warning, "smtpd_recipient_restrictions", "is policyd-spf"},
			{Warning, "smtpd_milters", "unix:/run/opendkim/opendkim.sock looks like OpenDKIM"},
			{Warning, "smtpd_milters", "inet:localhost:8893 looks like OpenDMARC"},
			{Problem, "smtpd_relay_restrictions", "neither reject_unauth_destination"},
			{Problem, "mynetworks", "0.0.0.0/0"},
			{Problem, "resolv.conf", "8.8.8.8"},
		}},
	}
	for rname, read := range readers(t) {
		for _, tc := range cases {
			t.Run(rname+"/"+tc.name, func(t *testing.T) {
				dir, err := filepath.Abs(filepath.Join("testdata", tc.dir))
				if err != nil {
					t.Fatal(err)
				}
				resolv := "local.conf"
				if tc.resolv != "" {
					resolv = tc.resolv
				}
				fs, err := Doctor(context.Background(), DoctorOptions{
					Listen:     tc.listen,
					ResolvConf: filepath.Join("testdata", "resolv", resolv),
					Postfix:    read(dir),
				})
				if err != nil {
					t.Fatal(err)
				}
				var out strings.Builder
				if err := Write(&out, fs); err != nil {
					t.Fatal(err)
				}
				for _, w := range tc.want {
					if !hasFinding(fs, w) {
						t.Errorf("no %s finding for %s containing %q in:\n%s", w.sev, w.key, w.text, out.String())
					}
				}
				if got := HasProblems(fs); got != tc.problems {
					t.Errorf("HasProblems = %v, want %v:\n%s", got, tc.problems, out.String())
				}
				if tc.clean {
					for _, f := range fs {
						if f.Severity == Problem || f.Severity == Warning {
							t.Errorf("good configuration: %s", f)
						}
					}
				}
				for _, f := range fs {
					if (f.Severity == Problem || f.Severity == Warning) && f.Fix == "" && f.Key != "dns.servers" {
						t.Errorf("no fix: %s", f)
					}
				}
			})
		}
	}
}

func hasFinding(fs []Finding, w want) bool {
	for _, f := range fs {
		if f.Severity == w.sev && f.Key == w.key && strings.Contains(f.Message, w.text) {
			return true
		}
	}
	return false
}

// TestDefaultActionUnset: without milter_default_action in main.cf, the
// running Postfix's default (postconf -d) decides.
func TestDefaultActionUnset(t *testing.T) {
	base := map[string]string{
		"smtpd_milters":            "inet:127.0.0.1:8891",
		"smtpd_relay_restrictions": defaultRelayRestrictions,
	}
	test := func(name string, defaults map[string]string, sev Severity, text string) {
		t.Helper()
		pc := &Postconf{Explicit: base, Defaults: defaults}
		fs := Check(pc, DoctorOptions{})
		w := want{sev, "milter_default_action", text}
		if !hasFinding(fs, w) {
			t.Errorf("%s: no %s finding containing %q in %v", name, sev, text, fs)
		}
		if !hasFinding(fs, want{sev, "milter_default_action", "Postfix 3.11 changed the default"}) {
			t.Errorf("%s: the message does not mention Postfix 3.11's new default: %v", name, fs)
		}
	}
	test("3.11", map[string]string{"milter_default_action": "shutdown", "mail_version": "3.11.0"}, Problem, "this Postfix's (3.11.0) default is \"shutdown\"")
	test("3.7", map[string]string{"milter_default_action": "tempfail", "mail_version": "3.7.11"}, OK, "default is tempfail")
	test("no postconf", nil, Warning, "not set")
}

// TestDoctorPostconfDefaultDir runs Doctor on the machine's own Postfix,
// as "mxguard doctor" does without --postfix-config: it must read it
// without error, whatever it finds.
func TestDoctorPostconfDefaultDir(t *testing.T) {
	if postconfPath() == "" {
		t.Skip("postconf not installed")
	}
	if _, err := os.Stat(filepath.Join(DefaultConfigDir, "main.cf")); err != nil {
		t.Skip("no", DefaultConfigDir)
	}
	fs, err := Doctor(context.Background(), DoctorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) < 9 {
		t.Errorf("only %d findings: %v", len(fs), fs)
	}
}

func TestDoctorNoConfig(t *testing.T) {
	dir := t.TempDir()
	for rname, read := range readers(t) {
		_, err := Doctor(context.Background(), DoctorOptions{Postfix: read(dir)})
		if err == nil || !strings.Contains(err.Error(), "no postfix configuration") {
			t.Errorf("%s: err = %v, want ErrNoConfig", rname, err)
		}
	}
}

func TestDNSServers(t *testing.T) {
	fs := CheckResolvers("dns.servers", []string{"127.0.0.1:53", "[2620:fe::fe]:53", "9.9.9.9"})
	if !hasFinding(fs, want{Problem, "dns.servers", "[2620:fe::fe]:53 is Quad9"}) || !hasFinding(fs, want{Problem, "dns.servers", "9.9.9.9 is Quad9"}) {
		t.Errorf("public resolvers in dns.servers not found: %v", fs)
	}
	for _, f := range fs {
		if f.Severity == Problem && !strings.Contains(f.Fix, "dns.servers") {
			t.Errorf("fix does not name dns.servers: %s", f)
		}
	}
	if fs := CheckResolvers("dns.servers", []string{"127.0.0.1:53", "10.0.0.53"}); HasProblems(fs) {
		t.Errorf("local resolvers reported: %v", fs)
	}
}

func TestFindingString(t *testing.T) {
	f := Finding{Problem, "smtpd_milters", "mxguard (inet:127.0.0.1:8891) is not in smtpd_milters",
		`add "smtpd_milters = inet:127.0.0.1:8891" to main.cf and run "postfix reload"`}
	want := `problem: smtpd_milters: mxguard (inet:127.0.0.1:8891) is not in smtpd_milters; fix: add "smtpd_milters = inet:127.0.0.1:8891" to main.cf and run "postfix reload"`
	if got := f.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := (Finding{OK, "milter_protocol", "6", ""}).String(); got != "ok: milter_protocol: 6" {
		t.Errorf("got %s", got)
	}
}

// TestChrootModes: where master.cf is unknown or its smtpd services
// disagree, a unix socket path is judged for every way smtpd may run.
func TestChrootModes(t *testing.T) {
	const sock = "unix:/var/spool/postfix/mxguard/mxguard.sock"
	chrooted := Service{Name: "smtp", Type: "inet", Chroot: "y", Command: "smtpd"}
	unchrooted := Service{Name: "smtpd", Type: "pass", Chroot: "n", Command: "smtpd"}
	dflt := Service{Name: "smtp", Type: "inet", Chroot: "-", Command: "smtpd"}
	test := func(name, listen, milters string, services []Service, compat string, w want) {
		t.Helper()
		explicit := map[string]string{"smtpd_milters": milters, "compatibility_level": compat}
		fs := Check(&Postconf{Explicit: explicit, Services: services}, DoctorOptions{Listen: listen})
		if !hasFinding(fs, w) {
			t.Errorf("%s: no %s %s finding containing %q in %v", name, w.sev, w.key, w.text, fs)
		}
	}
	test("relative, mixed", sock, "unix:mxguard/mxguard.sock", []Service{chrooted, unchrooted}, "3.6",
		want{OK, "smtpd_milters", "is in smtpd_milters"})
	test("chroot-absolute, mixed", sock, "unix:/mxguard/mxguard.sock", []Service{chrooted, unchrooted}, "3.6",
		want{Problem, "smtpd_milters", "some smtpd services run chrooted"})
	test("chroot-absolute, chrooted", sock, "unix:/mxguard/mxguard.sock", []Service{chrooted}, "3.6",
		want{OK, "smtpd_milters", "is in smtpd_milters"})
	test("full path, chrooted", sock, "unix:/var/spool/postfix/mxguard/mxguard.sock", []Service{chrooted}, "3.6",
		want{Problem, "smtpd_milters", "looks for /var/spool/postfix/var/spool/postfix/mxguard/mxguard.sock"})
	test("full path, unchrooted", sock, "unix:/var/spool/postfix/mxguard/mxguard.sock", []Service{unchrooted}, "3.6",
		want{OK, "smtpd_milters", "is in smtpd_milters"})
	test("full path, master.cf unknown", sock, "unix:/var/spool/postfix/mxguard/mxguard.sock", nil, "3.6",
		want{Warning, "smtpd_milters", "only if smtpd runs unchrooted, and master.cf could not be read"})
	test("default chroot, compatibility 3.6", "unix:/run/mxguard/mxguard.sock", "unix:/run/mxguard/mxguard.sock", []Service{dflt}, "3.6",
		want{OK, "smtpd_milters", "is in smtpd_milters"})
	test("default chroot, compatibility 0", "unix:/run/mxguard/mxguard.sock", "unix:/run/mxguard/mxguard.sock", []Service{dflt}, "0",
		want{Problem, "smtpd_milters", "smtpd runs chrooted"})
	test("not wired, chrooted", "unix:/run/mxguard/mxguard.sock", "", []Service{chrooted}, "3.6",
		want{Problem, "smtpd_milters", "where that socket cannot be reached"})
	test("not wired, unknown", "unix:/run/mxguard/mxguard.sock", "", nil, "3.6",
		want{Problem, "smtpd_milters", "a chrooted smtpd (Debian's default) cannot reach it"})
	test("not wired, unchrooted", "unix:/run/mxguard/mxguard.sock", "", []Service{unchrooted}, "3.6",
		want{Problem, "smtpd_milters", "is not in smtpd_milters"})
}
