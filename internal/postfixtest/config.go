package postfixtest

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// RecommendedMainCF holds the main.cf lines the README recommends for
// running Postfix with mxguard (DESIGN.md §3 "Postfix side"). The suite
// writes exactly these into the private instance, with smtpd_milters
// replaced by Options.Milter, so what the README says is what the
// end-to-end tests run.
const RecommendedMainCF = `# mxguard as Postfix's milter
smtpd_milters = inet:127.0.0.1:8891
non_smtpd_milters =
milter_default_action = tempfail
milter_protocol = 6
milter_mail_macros = i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer} {client_addr} {client_name} {client_ptr}
smtpd_delay_reject = yes
smtpd_helo_required = yes
`

// param is one main.cf line.
type param struct{ name, value string }

// paramList is an ordered main.cf: setting a name again replaces its value
// in place, so the file never has duplicates (Postfix would warn and take
// the last one).
type paramList []param

func (l *paramList) set(name, value string) {
	for i := range *l {
		if (*l)[i].name == name {
			(*l)[i].value = value
			return
		}
	}
	*l = append(*l, param{name, value})
}

func (l paramList) get(name string) string {
	for _, p := range l {
		if p.name == name {
			return p.value
		}
	}
	return ""
}

func (l paramList) String() string {
	var b strings.Builder
	for _, p := range l {
		fmt.Fprintf(&b, "%s = %s\n", p.name, p.value)
	}
	return b.String()
}

// parseMainCF reads "name = value" lines; comments and blank lines are
// skipped. Continuation lines (leading white space) are not used by
// RecommendedMainCF and are not supported.
func parseMainCF(text string) (paramList, error) {
	var l paramList
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: no '=' in %q", n, line)
		}
		l.set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return l, sc.Err()
}

// layout is where an instance keeps its files; everything lives under dir.
type layout struct {
	dir       string
	configDir string // main.cf, master.cf
	queueDir  string
	dataDir   string
	maillog   string
	resolv    string // bind-mounted over /etc/resolv.conf
	hosts     string // bind-mounted over /etc/hosts
	nsswitch  string // bind-mounted over /etc/nsswitch.conf
}

func newLayout(dir string) layout {
	return layout{
		dir:       dir,
		configDir: filepath.Join(dir, "etc"),
		queueDir:  filepath.Join(dir, "spool"),
		dataDir:   filepath.Join(dir, "data"),
		maillog:   filepath.Join(dir, "maillog"),
		resolv:    filepath.Join(dir, "resolv.conf"),
		hosts:     filepath.Join(dir, "hosts"),
		nsswitch:  filepath.Join(dir, "nsswitch.conf"),
	}
}

// mainCF builds the instance's main.cf: our isolation settings, then
// RecommendedMainCF, then the test's milter, then opts.ExtraMainCF.
func mainCF(l layout, opts Options, listenIP string) (paramList, error) {
	var p paramList
	for _, kv := range [][2]string{
		{"compatibility_level", "3.6"},
		// A private instance: own directories, nothing under /etc/postfix
		// or /var/spool/postfix.
		{"config_directory", l.configDir},
		{"queue_directory", l.queueDir},
		{"data_directory", l.dataDir},
		{"mail_owner", "postfix"},
		{"setgid_group", "postdrop"},
		{"multi_instance_enable", "no"},
		{"maillog_file", l.maillog},
		{"maillog_file_prefixes", l.dir},
		{"syslog_name", "postfix"},
		// Loopback only; the smtpd services are defined in master.cf.
		{"inet_interfaces", listenIP},
		{"inet_protocols", "ipv4"},
		{"myhostname", opts.Hostname},
		{"mydestination", ""},
		{"mynetworks", "127.0.0.1/32"},
		{"smtpd_banner", "$myhostname ESMTP"},
		// Accept any recipient under .test and throw the mail away.
		{"relay_domains", "test"},
		{"relay_transport", "discard:"},
		{"default_transport", "discard:"},
		{"local_transport", "discard:"},
		{"virtual_transport", "discard:"},
		{"local_recipient_maps", ""},
		{"alias_maps", ""},
		{"alias_database", ""},
		{"biff", "no"},
		{"append_dot_mydomain", "no"},
		// The SMTP/LMTP clients look names up in DNS only. smtpd's client
		// lookups go through getnameinfo/getaddrinfo, that is nsswitch:
		// the bind-mounted hosts file (localhost only), then DNS.
		{"smtp_host_lookup", "dns"},
		{"lmtp_host_lookup", "dns"},
		// No restrictions of Postfix's own but the relay check: mxguard
		// does the rest.
		{"smtpd_client_restrictions", ""},
		{"smtpd_helo_restrictions", ""},
		{"smtpd_sender_restrictions", ""},
		{"smtpd_recipient_restrictions", ""},
		{"smtpd_data_restrictions", ""},
		{"smtpd_relay_restrictions", "permit_mynetworks, reject_unauth_destination"},
		{"smtpd_tls_security_level", "none"},
		{"smtp_tls_security_level", "none"},
		{"smtpd_sasl_auth_enable", "no"},
		// Tests open many connections from the same address.
		{"smtpd_client_connection_count_limit", "0"},
		{"smtpd_client_connection_rate_limit", "0"},
		// A test's abandoned session should not keep an smtpd for 300s.
		// The milter timeouts stay Postfix's defaults, as in production.
		{"smtpd_timeout", "60s"},
		{"in_flow_delay", "0s"},
		{"delay_warning_time", "0h"},
	} {
		p.set(kv[0], kv[1])
	}
	rec, err := parseMainCF(RecommendedMainCF)
	if err != nil {
		return nil, fmt.Errorf("parsing RecommendedMainCF: %w", err)
	}
	for _, kv := range rec {
		p.set(kv.name, kv.value)
	}
	p.set("smtpd_milters", opts.Milter)
	for _, name := range slices.Sorted(maps.Keys(opts.ExtraMainCF)) {
		if strings.ContainsAny(name, " =\n") || strings.Contains(opts.ExtraMainCF[name], "\n") {
			return nil, fmt.Errorf("bad ExtraMainCF parameter %q = %q", name, opts.ExtraMainCF[name])
		}
		p.set(name, opts.ExtraMainCF[name])
	}
	return p, nil
}

// masterCF builds master.cf: chroot is "n" on every line, so the daemons
// see the (bind-mounted) /etc files of the mount namespace directly.
func masterCF(opts Options, smtpAddr, xclientAddr string) string {
	var b strings.Builder
	b.WriteString(`# service type  private unpriv  chroot  wakeup  maxproc command + args
` + smtpAddr + ` inet n - n - - smtpd
` + xclientAddr + ` inet n - n - - smtpd
  -o syslog_name=postfix/xclient
  -o smtpd_authorized_xclient_hosts=127.0.0.0/8
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_sasl_type=cyrus
  -o smtpd_sasl_path=smtpd
  -o smtpd_sasl_security_options=noanonymous
  -o smtpd_relay_restrictions=permit_sasl_authenticated,permit_mynetworks,reject_unauth_destination
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
anvil     unix - - n - 1 anvil
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
postlog   unix-dgram n - n - 1 postlogd
`)
	for _, line := range opts.ExtraMasterCF {
		b.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// mkQueueDirs creates the queue and data directories with the owners and
// modes of Postfix's postfix-files, which is what "postfix check" would do
// (post-install create-missing) in about 0.6s of shell and postconf calls.
func mkQueueDirs(l layout) error {
	pu, err := user.Lookup("postfix")
	if err != nil {
		return err
	}
	pg, err := user.LookupGroup("postdrop")
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(pu.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	type d struct {
		path     string
		uid, gid int
		mode     os.FileMode
	}
	dirs := []d{
		{l.queueDir, 0, 0, 0o755},
		{l.dataDir, uid, 0, 0o700},
		{filepath.Join(l.queueDir, "pid"), 0, 0, 0o755},
		{filepath.Join(l.queueDir, "maildrop"), uid, gid, 0o730},
		{filepath.Join(l.queueDir, "public"), uid, gid, 0o710},
	}
	for _, name := range []string{"active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "private", "saved", "trace"} {
		dirs = append(dirs, d{filepath.Join(l.queueDir, name), uid, 0, 0o700})
	}
	for _, d := range dirs {
		if err := os.Mkdir(d.path, d.mode); err != nil {
			return err
		}
		if err := os.Chown(d.path, d.uid, d.gid); err != nil {
			return err
		}
		if err := os.Chmod(d.path, d.mode); err != nil { // past the umask
			return err
		}
	}
	return nil
}
