package postfixcfg

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Severity grades a Finding.
type Severity string

// The severities, from worst to best. Only Problem makes HasProblems true
// (and "mxguard doctor" exit 1).
const (
	// Problem: mail is lost, unchecked or relayed; fix it.
	Problem Severity = "problem"
	// Warning: mxguard works, but something costs time, logs or money.
	Warning Severity = "warning"
	// Info: worth knowing, nothing to fix.
	Info Severity = "info"
	// OK: a check that passed.
	OK Severity = "ok"
)

// Finding is one result of Doctor.
type Finding struct {
	Severity Severity
	// Key is the main.cf parameter (smtpd_milters), "master.cf",
	// "resolv.conf" or "dns.servers" the finding is about.
	Key string
	// Message says what is wrong (or right) and why it matters.
	Message string
	// Fix says what to do; empty for OK and Info.
	Fix string
}

// String renders a finding on one line:
//
//	problem: smtpd_milters: mxguard (inet:127.0.0.1:8891) is not in smtpd_milters; fix: add "..." to main.cf and run "postfix reload"
func (f Finding) String() string {
	s := fmt.Sprintf("%s: %s: %s", f.Severity, f.Key, f.Message)
	if f.Fix != "" {
		s += "; fix: " + f.Fix
	}
	return s
}

// HasProblems reports whether any finding is a Problem.
func HasProblems(findings []Finding) bool {
	return slices.ContainsFunc(findings, func(f Finding) bool { return f.Severity == Problem })
}

// Write prints the findings, one per line.
func Write(w io.Writer, findings []Finding) error {
	for _, f := range findings {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return err
		}
	}
	return nil
}

// DoctorOptions describe the mxguard side and where to read the Postfix
// side.
type DoctorOptions struct {
	// Listen is mxguard's listen address; "" means DefaultListen.
	Listen string
	// CheckTimeout is mxguard's timeouts.check; 0 means
	// DefaultCheckTimeout.
	CheckTimeout time.Duration
	// DNSServers is mxguard's dns.servers; when empty, ResolvConf's
	// nameservers are checked.
	DNSServers []string
	// ResolvConf is the resolver configuration; "" means /etc/resolv.conf.
	ResolvConf string
	// Postfix says where and how to read Postfix's configuration.
	Postfix ReadOptions
}

// Doctor reads the Postfix configuration (see Read) and the resolver
// configuration and returns the findings of every check, in a fixed order,
// with an OK finding for each check that found nothing. The error is
// ErrNoConfig (wrapped) when the Postfix configuration cannot be read.
func Doctor(ctx context.Context, opts DoctorOptions) ([]Finding, error) {
	pc, err := Read(ctx, opts.Postfix)
	if err != nil {
		return nil, err
	}
	fs := Check(pc, opts)
	if len(opts.DNSServers) > 0 {
		fs = append(fs, CheckResolvers("dns.servers", opts.DNSServers)...)
	} else {
		fs = append(fs, CheckResolvConf(opts.ResolvConf)...)
	}
	return fs, nil
}

// Check runs the Postfix checks on a configuration already read.
func Check(pc *Postconf, opts DoctorOptions) []Finding {
	d := &doctor{pc: pc, opts: opts}
	if d.opts.Listen == "" {
		d.opts.Listen = DefaultListen
	}
	d.queueDir, _ = pc.Value("queue_directory")
	if d.queueDir == "" {
		d.queueDir = DefaultQueueDir
	}
	d.modes, d.modesKnown = d.chrootModes()
	d.checkSyntax()
	d.checkWired()
	d.checkDefaultAction()
	d.checkMacros()
	d.checkProtocol()
	d.checkTimeout()
	d.checkDuplicates()
	d.checkOtherMilters()
	d.checkRelay()
	d.checkMynetworks()
	return d.out
}

type doctor struct {
	pc         *Postconf
	opts       DoctorOptions
	queueDir   string
	modes      []bool // chroot settings of the smtpd services that receive mail
	modesKnown bool
	ours       *milterEntry // mxguard's entry in smtpd_milters, once found
	out        []Finding
}

func (d *doctor) add(sev Severity, key, msg, fix string) {
	d.out = append(d.out, Finding{Severity: sev, Key: key, Message: msg, Fix: fix})
}

func (d *doctor) reload() string {
	if d.pc.Dir != "" && d.pc.Dir != DefaultConfigDir {
		return fmt.Sprintf("run \"postfix -c %s reload\"", d.pc.Dir)
	}
	return "run \"postfix reload\""
}

// listParams are the parameters whose values are lists of milters or
// restrictions, where a stray "#" breaks Postfix.
var listParams = []string{
	"smtpd_milters", "non_smtpd_milters",
	"smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions",
	"smtpd_recipient_restrictions", "smtpd_relay_restrictions", "smtpd_data_restrictions",
	"smtpd_end_of_data_restrictions", "smtpd_etrn_restrictions",
}

// checkSyntax reports main.cf lines Postfix cannot read and values with a
// would-be trailing comment.
func (d *doctor) checkSyntax() {
	for _, n := range d.pc.BadLines {
		d.add(Problem, "main.cf", fmt.Sprintf("line %d is not \"name = value\" (Postfix stops with a fatal error)", n),
			fmt.Sprintf("correct line %d of %s", n, d.pc.Source))
	}
	names := make([]string, 0, len(d.pc.Explicit))
	for n := range d.pc.Explicit {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		v := d.pc.Explicit[n]
		i := strings.Index(v, "#")
		if i < 0 || (i > 0 && v[i-1] != ' ' && v[i-1] != '\t') {
			continue
		}
		sev := Warning
		if slices.Contains(listParams, n) || d.isClass(n) {
			sev = Problem
		}
		d.add(sev, n, fmt.Sprintf("the value %q has a \"#\": main.cf has no trailing comments, Postfix reads it as part of the value", v),
			fmt.Sprintf("move the comment to a line of its own: \"%s = %s\"", n, strings.TrimSpace(v[:i])))
	}
}

func (d *doctor) isClass(name string) bool {
	classes, _ := d.pc.Value("smtpd_restriction_classes")
	return slices.Contains(SplitList(classes), name)
}

// isReceiving reports whether a master.cf service is an smtpd that takes
// mail from the Internet: port 25 (smtp, or host:smtp, host:25) or
// postscreen's pass service.
func isReceiving(s Service) bool {
	if f := strings.Fields(s.Command); len(f) == 0 || f[0] != "smtpd" {
		return false
	}
	if s.Type == "pass" {
		return true
	}
	port := s.Name
	if i := strings.LastIndexByte(port, ':'); i >= 0 {
		port = port[i+1:]
	}
	return s.Type == "inet" && (port == "smtp" || port == "25")
}

// chrootModes returns the chroot settings of the receiving smtpd services
// (or of every smtpd service when none is recognisably receiving).
func (d *doctor) chrootModes() (modes []bool, known bool) {
	var smtpd, recv []Service
	for _, s := range d.pc.Services {
		if f := strings.Fields(s.Command); len(f) > 0 && f[0] == "smtpd" {
			smtpd = append(smtpd, s)
			if isReceiving(s) {
				recv = append(recv, s)
			}
		}
	}
	if len(recv) == 0 {
		recv = smtpd
	}
	if len(recv) == 0 {
		return []bool{true, false}, false
	}
	lvl, _ := d.pc.Value("compatibility_level")
	for _, s := range recv {
		c := s.Chroot == "y"
		if s.Chroot == "-" {
			// master(5): the default is n since Postfix 3.0, y with
			// compatibility_level 0.
			c = lvl == "0" || lvl == ""
		}
		if !slices.Contains(modes, c) {
			modes = append(modes, c)
		}
	}
	return modes, true
}

// serviceOverride returns the value of "-o name=value" in a master.cf
// command line.
func serviceOverride(command, name string) (string, bool) {
	f := strings.Fields(command)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "-o" {
			if v, ok := strings.CutPrefix(f[i+1], name+"="); ok {
				return v, true
			}
		}
	}
	return "", false
}

// entryStatus tells how a smtpd_milters entry relates to mxguard's listen
// address: not ours, ours and reachable, or ours but broken (with why and
// a fix).
type entryStatus struct {
	ours     bool
	sev      Severity // Problem or Warning when ours but broken; "" when fine
	why, fix string
}

func (d *doctor) matchEntry(listen endpoint, addr string) entryStatus {
	ep, ok := parseEndpoint(addr)
	if !ok || ep.unix != listen.unix {
		return entryStatus{}
	}
	want, _ := MilterAddress(d.opts.Listen, d.queueDir)
	if !listen.unix {
		if !inetMatches(listen, ep) {
			return entryStatus{}
		}
		if ep.bare {
			return entryStatus{ours: true, sev: Problem,
				why: fmt.Sprintf("%q has no \"inet:\": Postfix rejects it (\"invalid transport name\") and applies milter_default_action to every connection", addr),
				fix: fmt.Sprintf("write %q in smtpd_milters and %s", want, d.reload())}
		}
		return entryStatus{ours: true}
	}
	sock := path.Clean(listen.path)
	var good, bad []bool
	for _, chrooted := range d.modes {
		if resolveUnix(ep.path, d.queueDir, chrooted) == sock {
			good = append(good, chrooted)
		} else {
			bad = append(bad, chrooted)
		}
	}
	written := path.IsAbs(ep.path) && path.Clean(ep.path) == sock
	switch {
	case len(good) == 0 && !written:
		return entryStatus{}
	case len(bad) == 0:
		return entryStatus{ours: true}
	case len(good) == 0: // written as mxguard's path, but smtpd is chrooted
		return entryStatus{ours: true, sev: Problem,
			why: fmt.Sprintf("smtpd runs chrooted in %s and looks for %s, not mxguard's socket %s", d.queueDir, path.Join(d.queueDir, sock), sock),
			fix: d.chrootFix()}
	case !d.modesKnown:
		mode := "unchrooted"
		if good[0] {
			mode = "chrooted"
		}
		return entryStatus{ours: true, sev: Warning,
			why: fmt.Sprintf("%s reaches mxguard's socket only if smtpd runs %s, and master.cf could not be read", addr, mode),
			fix: d.chrootFix()}
	default:
		return entryStatus{ours: true, sev: Problem,
			why: fmt.Sprintf("some smtpd services run chrooted in %s and some do not; %s reaches mxguard's socket from only one kind", d.queueDir, addr),
			fix: d.chrootFix()}
	}
}

// chrootFix is the fix for a unix socket a chrooted smtpd cannot reach.
func (d *doctor) chrootFix() string {
	want, inChroot := MilterAddress(d.opts.Listen, d.queueDir)
	if inChroot {
		return fmt.Sprintf("write %q in smtpd_milters (relative to %s, it works chrooted or not) and %s", want, d.queueDir, d.reload())
	}
	return fmt.Sprintf("move mxguard's socket into Postfix's queue directory (mxguard.yml: \"listen: unix:%s\", main.cf: \"smtpd_milters = unix:mxguard/mxguard.sock\"), or keep \"smtpd_milters = %s\" and run smtpd unchrooted (\"postconf -Fe 'smtp/inet/chroot = n'\"), and %s",
		path.Join(d.queueDir, "mxguard/mxguard.sock"), want, d.reload())
}

// checkWired: mxguard's address must be in smtpd_milters, in a notation
// that reaches it from where smtpd runs.
func (d *doctor) checkWired() {
	const key = "smtpd_milters"
	listen, ok := parseEndpoint(d.opts.Listen)
	if !ok || listen.bare {
		d.add(Problem, "listen", fmt.Sprintf("mxguard's listen %q is not a milter address", d.opts.Listen),
			"set listen in mxguard.yml to inet:127.0.0.1:8891 or unix:/var/spool/postfix/mxguard/mxguard.sock")
		return
	}
	value, _ := d.pc.Value(key)
	entries := parseMilters(value)
	want, _ := MilterAddress(d.opts.Listen, d.queueDir)
	found := false
	for i, e := range entries {
		st := d.matchEntry(listen, e.Addr)
		if !st.ours {
			continue
		}
		found = true
		d.ours = &entries[i]
		if st.sev != "" {
			d.add(st.sev, key, fmt.Sprintf("mxguard (%s): %s", d.opts.Listen, st.why), st.fix)
		} else {
			d.add(OK, key, fmt.Sprintf("mxguard (%s) is in smtpd_milters as %s", d.opts.Listen, e.Addr), "")
		}
		break
	}
	if !found {
		fix := fmt.Sprintf("add \"smtpd_milters = %s\" to main.cf and %s", want, d.reload())
		if strings.TrimSpace(value) != "" {
			fix = fmt.Sprintf("add %s to smtpd_milters (\"smtpd_milters = %s, %s\") and %s", want, value, want, d.reload())
		}
		_, inChroot := MilterAddress(d.opts.Listen, d.queueDir)
		switch {
		case !listen.unix || inChroot || (d.modesKnown && !slices.Contains(d.modes, true)):
			d.add(Problem, key, fmt.Sprintf("mxguard (%s) is not in smtpd_milters", d.opts.Listen), fix)
		case d.modesKnown:
			d.add(Problem, key, fmt.Sprintf("mxguard (%s) is not in smtpd_milters, and smtpd runs chrooted in %s, where that socket cannot be reached", d.opts.Listen, d.queueDir), d.chrootFix())
		default:
			d.add(Problem, key, fmt.Sprintf("mxguard (%s) is not in smtpd_milters; that socket is outside %s, where a chrooted smtpd (Debian's default) cannot reach it", d.opts.Listen, d.queueDir), d.chrootFix())
		}
	}
	// master.cf: a receiving smtpd may override smtpd_milters.
	for _, s := range d.pc.Services {
		if !isReceiving(s) {
			continue
		}
		v, ok := serviceOverride(s.Command, key)
		if !ok {
			continue
		}
		ours := false
		for _, e := range parseMilters(v) {
			if d.matchEntry(listen, e.Addr).ours {
				ours = true
			}
		}
		if !ours {
			d.add(Problem, "master.cf", fmt.Sprintf("service %s/%s overrides smtpd_milters with %q, without mxguard", s.Name, s.Type, v),
				fmt.Sprintf("remove \"-o smtpd_milters=%s\" from %s/%s in master.cf and %s", v, s.Name, s.Type, d.reload()))
		}
	}
	// non_smtpd_milters: local submissions have no client to check.
	nv, _ := d.pc.Value("non_smtpd_milters")
	for _, e := range parseMilters(nv) {
		if d.matchEntry(listen, e.Addr).ours {
			d.add(Warning, "non_smtpd_milters", fmt.Sprintf("mxguard (%s) also filters locally submitted mail, which has no SMTP client to check (cron and bounce mail may be rejected)", d.opts.Listen),
				fmt.Sprintf("remove %s from non_smtpd_milters and %s", e.Addr, d.reload()))
		}
	}
}

// checkDefaultAction: milter_default_action (or our entry's
// default_action) must be tempfail.
func (d *doctor) checkDefaultAction() {
	const key = "milter_default_action"
	value, explicit := d.pc.Value(key)
	value = strings.ToLower(strings.TrimSpace(value))
	where := ""
	if d.ours != nil {
		if a, ok := d.ours.Attrs["default_action"]; ok {
			value, explicit = strings.ToLower(a), true
			where = fmt.Sprintf(" (default_action in mxguard's smtpd_milters entry %s)", d.ours.Raw)
		}
	}
	fix := fmt.Sprintf("set \"milter_default_action = tempfail\" in main.cf and %s", d.reload())
	if where != "" {
		fix = fmt.Sprintf("set default_action=tempfail in mxguard's smtpd_milters entry, or remove it, and %s", d.reload())
	}
	const changed = "Postfix 3.11 changed the default from tempfail to shutdown"
	version := d.pc.Effective["mail_version"]
	if version == "" {
		version = d.pc.Defaults["mail_version"]
	}
	if !explicit {
		if d.pc.Defaults == nil {
			d.add(Warning, key, fmt.Sprintf("not set, and postconf could not tell this Postfix's default (%s)", changed), fix)
			return
		}
		if value != "tempfail" {
			d.add(Problem, key, fmt.Sprintf("not set, and this Postfix's (%s) default is %q, not tempfail (%s): while mxguard is down, %s", version, value, changed, consequence(value)), fix)
			return
		}
		d.add(OK, key, fmt.Sprintf("not set; this Postfix's (%s) default is tempfail (%s: set it explicitly to keep it)", version, changed), "")
		return
	}
	if value != "tempfail" {
		d.add(Problem, key, fmt.Sprintf("%q%s: while mxguard is down or too slow, %s", value, where, consequence(value)), fix)
		return
	}
	d.add(OK, key, "tempfail: while mxguard is down, mail is deferred and retried", "")
}

func consequence(action string) string {
	switch action {
	case "accept":
		return "mail is accepted unchecked (protection is lost)"
	case "reject":
		return "every message is rejected with 5xx (mail is lost)"
	case "quarantine":
		return "every message is accepted and put on hold"
	case "shutdown":
		return "Postfix drops every SMTP session with 421 instead of answering each command"
	}
	return "Postfix does not do what mxguard expects (tempfail)"
}

// checkMacros: the queue id and the SASL login must reach mxguard.
func (d *doctor) checkMacros() {
	mail, _ := d.pc.Value("milter_mail_macros")
	rcpt, _ := d.pc.Value("milter_rcpt_macros")
	conn, _ := d.pc.Value("milter_connect_macros")
	has := func(list, m string) bool { return slices.Contains(SplitList(list), m) }
	bad := false
	if !has(mail, "{auth_authen}") {
		bad = true
		d.add(Problem, "milter_mail_macros", "lacks {auth_authen}: mxguard cannot tell SMTP AUTH clients and checks them like strangers (skip_authenticated does nothing)",
			fmt.Sprintf("set \"milter_mail_macros = %s\" and %s", MilterMailMacros, d.reload()))
	}
	if !has(mail, "i") {
		bad = true
		msg := "lacks i: mxguard's log lines for the MAIL FROM stage carry no queue id"
		if !has(rcpt, "i") {
			msg = "lacks i (and so does milter_rcpt_macros): mxguard's log lines carry no queue id, so grep QUEUEID does not find them"
		}
		d.add(Warning, "milter_mail_macros", msg, fmt.Sprintf("set \"milter_mail_macros = %s\" and %s", MilterMailMacros, d.reload()))
	}
	if !has(conn, "{daemon_name}") {
		d.add(Info, "milter_connect_macros", "lacks {daemon_name}: fine, mxguard does not need it", "")
	}
	if !bad {
		d.add(OK, "milter_mail_macros", "sends i and {auth_authen}", "")
	}
}

// checkProtocol: milter_protocol below 6 loses features.
func (d *doctor) checkProtocol() {
	const key = "milter_protocol"
	value, _ := d.pc.Value(key)
	if d.ours != nil {
		if p, ok := d.ours.Attrs["protocol"]; ok {
			value = p
		}
	}
	f := strings.Fields(strings.ReplaceAll(value, ",", " "))
	n := 0
	if len(f) > 0 {
		n, _ = strconv.Atoi(f[0])
	}
	if n < 6 {
		d.add(Warning, key, fmt.Sprintf("%q is below 6: Postfix offers mxguard fewer events and actions", value),
			fmt.Sprintf("set \"milter_protocol = 6\" and %s", d.reload()))
		return
	}
	d.add(OK, key, value, "")
}

// parseTime reads a Postfix time value: a number with an optional unit
// (s, m, h, d, w; seconds without one).
func parseTime(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	unit := time.Second
	switch s[len(s)-1] {
	case 's':
		s = s[:len(s)-1]
	case 'm':
		unit, s = time.Minute, s[:len(s)-1]
	case 'h':
		unit, s = time.Hour, s[:len(s)-1]
	case 'd':
		unit, s = 24*time.Hour, s[:len(s)-1]
	case 'w':
		unit, s = 7*24*time.Hour, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// checkTimeout: Postfix must wait longer than mxguard's own limit.
func (d *doctor) checkTimeout() {
	const key = "milter_command_timeout"
	value, _ := d.pc.Value(key)
	if d.ours != nil {
		if v, ok := d.ours.Attrs["command_timeout"]; ok {
			value = v
		}
	}
	t, ok := parseTime(value)
	if !ok {
		return
	}
	check := d.opts.CheckTimeout
	if check <= 0 {
		check = DefaultCheckTimeout
	}
	if t <= check {
		d.add(Warning, key, fmt.Sprintf("%s is not above mxguard's timeouts.check (%s): Postfix gives up on slow checks first and applies milter_default_action", value, check),
			fmt.Sprintf("set \"milter_command_timeout = %ds\" and %s", int(commandTimeout(check)/time.Second), d.reload()))
		return
	}
	d.add(OK, key, fmt.Sprintf("%s, above mxguard's timeouts.check (%s)", value, check), "")
}

// duplicates maps the Postfix restrictions mxguard does itself to
// mxguard's restriction.
var duplicates = map[string]string{
	"reject_unknown_client_hostname":         "client: unknown_client_hostname",
	"reject_unknown_client":                  "client: unknown_client_hostname",
	"reject_unknown_reverse_client_hostname": "client: unknown_reverse_client_hostname",
	"reject_invalid_helo_hostname":           "helo: invalid_helo_hostname",
	"reject_invalid_hostname":                "helo: invalid_helo_hostname",
	"reject_non_fqdn_helo_hostname":          "helo: non_fqdn_helo_hostname",
	"reject_non_fqdn_hostname":               "helo: non_fqdn_helo_hostname",
	"reject_unknown_helo_hostname":           "helo: unknown_helo_hostname",
	"reject_unknown_hostname":                "helo: unknown_helo_hostname",
	"reject_non_fqdn_sender":                 "sender: non_fqdn_sender",
	"reject_unknown_sender_domain":           "sender: unknown_sender_domain",
	"reject_non_fqdn_recipient":              "recipient: non_fqdn_recipient",
	"reject_unknown_recipient_domain":        "recipient: unknown_recipient_domain",
	"reject_rbl_client":                      "client: rbl",
	"reject_rhsbl_client":                    "client: rhsbl_client",
	"reject_rhsbl_reverse_client":            "client: rhsbl_reverse_client",
	"reject_rhsbl_helo":                      "helo: rhsbl_helo",
	"reject_rhsbl_sender":                    "sender: rhsbl_sender",
	"reject_rhsbl_recipient":                 "recipient: rhsbl_recipient",
	"permit_dnswl_client":                    "client: dnswl",
	"permit_rhswl_client":                    "client: rhswl",
}

var restrictionParams = []string{
	"smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions",
	"smtpd_recipient_restrictions", "smtpd_relay_restrictions",
}

// policyService names the policy server behind a check_policy_service
// argument, and what of mxguard it duplicates; ok is false when it is not
// recognised.
func policyService(arg string) (name, dup string, ok bool) {
	a := strings.ToLower(arg)
	switch {
	case strings.Contains(a, "spf"):
		return "policyd-spf", "SPF (auth.spf)", true
	case strings.Contains(a, "postgrey"), strings.HasSuffix(a, ":10023"):
		return "postgrey", "greylisting (greylist)", true
	case strings.Contains(a, "sqlgrey"), strings.HasSuffix(a, ":2501"):
		return "sqlgrey", "greylisting (greylist)", true
	case strings.Contains(a, "grey"), strings.Contains(a, "gray"):
		return "a greylisting policy server", "greylisting (greylist)", true
	case strings.Contains(a, "policyd-weight"), strings.HasSuffix(a, ":12525"):
		return "policyd-weight", "DNSBL, HELO and rDNS checks", true
	}
	return "", "", false
}

// checkDuplicates: restrictions that mxguard does too cost double lookups
// and reject twice, with two different texts.
func (d *doctor) checkDuplicates() {
	params := slices.Clone(restrictionParams)
	classes, _ := d.pc.Value("smtpd_restriction_classes")
	for _, c := range SplitList(classes) {
		if !strings.HasPrefix(c, "$") {
			params = append(params, c)
		}
	}
	found := false
	for _, p := range params {
		value, _ := d.pc.Value(p)
		for _, r := range parseRestrictions(value) {
			name := r.Name
			if strings.HasPrefix(name, "reject_rbl_client") {
				name = "reject_rbl_client"
			}
			if ours, ok := duplicates[name]; ok {
				found = true
				what := r.Name
				if r.Arg != "" {
					what += " " + r.Arg
				}
				stage, item, _ := strings.Cut(ours, ": ")
				if r.Arg != "" && (strings.Contains(item, "bl") || strings.Contains(item, "wl")) {
					item += ": " + r.Arg
				}
				d.add(Warning, p, fmt.Sprintf("%s duplicates mxguard's %s (double lookups, double rejects)", what, ours),
					fmt.Sprintf("remove it from %s and list \"- %s\" under %s: in mxguard.yml", p, item, stage))
				continue
			}
			if r.Name == "check_policy_service" {
				found = true
				if svc, dup, ok := policyService(r.Arg); ok {
					d.add(Warning, p, fmt.Sprintf("check_policy_service %s is %s, which duplicates mxguard's %s", r.Arg, svc, dup),
						fmt.Sprintf("remove it from %s, configure the same in mxguard.yml, and stop %s", p, svc))
				} else {
					d.add(Info, p, fmt.Sprintf("check_policy_service %s: not recognised; if it does SPF, greylisting or DNSBL lookups, it duplicates mxguard", r.Arg), "")
				}
			}
		}
	}
	if !found {
		d.add(OK, "restrictions", "no smtpd restriction duplicates mxguard's checks", "")
	}
}

// otherMilter names a milter recognisable by its socket or port that
// verifies what mxguard verifies.
func otherMilter(addr string) (name, does string, ok bool) {
	a := strings.ToLower(addr)
	port := ""
	if ep, ok := parseEndpoint(addr); ok && !ep.unix {
		port = ep.port
	}
	switch {
	case strings.Contains(a, "opendkim"), port == "8891", port == "12301":
		return "OpenDKIM", "DKIM verification (keep it only if it signs outgoing mail, with Mode s)", true
	case strings.Contains(a, "opendmarc"), port == "8893", port == "54321":
		return "OpenDMARC", "DMARC", true
	case strings.Contains(a, "rspamd"), port == "11332":
		return "rspamd", "SPF, DKIM, DMARC, DNSBL and greylisting", true
	case strings.Contains(a, "greylist"):
		return "milter-greylist", "greylisting", true
	case strings.Contains(a, "spf"):
		return "an SPF milter", "SPF", true
	}
	return "", "", false
}

// checkOtherMilters: other milters that verify what mxguard verifies.
func (d *doctor) checkOtherMilters() {
	value, _ := d.pc.Value("smtpd_milters")
	found := false
	for _, e := range parseMilters(value) {
		if d.ours != nil && e.Raw == d.ours.Raw {
			continue
		}
		if name, does, ok := otherMilter(e.Addr); ok {
			found = true
			d.add(Warning, "smtpd_milters", fmt.Sprintf("%s looks like %s, which duplicates mxguard's %s", e.Addr, name, does),
				fmt.Sprintf("remove %s from smtpd_milters (or turn its verification off) and %s", e.Addr, d.reload()))
		}
	}
	if !found {
		d.add(OK, "smtpd_milters", "no other milter verifies DKIM, DMARC or SPF", "")
	}
}

// closesRelay lists the restrictions that end relay access for strangers:
// the ones Postfix's smtpd accepts as relay control.
var closesRelay = []string{"reject_unauth_destination", "defer_unauth_destination", "reject", "defer", "defer_if_permit", "check_relay_domains"}

// checkRelay: smtpd_relay_restrictions (or, when empty, as before Postfix
// 2.10, smtpd_recipient_restrictions) must refuse unauthorised relaying.
func (d *doctor) checkRelay() {
	key := "smtpd_relay_restrictions"
	value, _ := d.pc.Value(key)
	if strings.TrimSpace(value) == "" {
		key = "smtpd_recipient_restrictions"
		value, _ = d.pc.Value(key)
	}
	rs := parseRestrictions(value)
	closed := ""
	for _, r := range rs {
		if r.Name == "permit" {
			d.add(Problem, key, fmt.Sprintf("\"permit\" comes before any reject_unauth_destination: an open relay, Postfix forwards mail for anyone (%s = %s)", key, value),
				fmt.Sprintf("set \"smtpd_relay_restrictions = %s\" and %s", defaultRelayRestrictions, d.reload()))
			return
		}
		if slices.Contains(closesRelay, r.Name) {
			closed = r.Name
			break
		}
	}
	if closed == "" {
		msg := fmt.Sprintf("neither reject_unauth_destination nor defer_unauth_destination: no relay control, an open relay (or, in Postfix ≥ 2.10, an smtpd that stops with a fatal error) (%s = %s)", key, value)
		if strings.TrimSpace(value) == "" {
			msg = "smtpd_relay_restrictions and smtpd_recipient_restrictions are both empty: no relay control, an open relay (or, in Postfix ≥ 2.10, an smtpd that stops with a fatal error)"
		}
		d.add(Problem, key, msg, fmt.Sprintf("set \"smtpd_relay_restrictions = %s\" and %s", defaultRelayRestrictions, d.reload()))
		return
	}
	d.add(OK, key, fmt.Sprintf("relay control: %s", closed), "")
}

// checkMynetworks: mynetworks is trusted to relay; 0.0.0.0/0 or a public
// /8 makes an open relay.
func (d *doctor) checkMynetworks() {
	const key = "mynetworks"
	value, _ := d.pc.Value(key)
	bad := false
	for _, item := range SplitList(value) {
		if strings.HasPrefix(item, "!") || (!strings.HasPrefix(item, "[") && strings.Count(item, ":") == 1) {
			continue // negation, or a type:table lookup
		}
		s := strings.NewReplacer("[", "", "]", "").Replace(item)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			continue // an address, a host name, a file or a table
		}
		p = p.Masked()
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		a := p.Addr()
		switch {
		case p.Bits() == 0:
		case a.Is4() && p.Bits() <= 8 && !a.IsPrivate() && !a.IsLoopback():
		case a.Is6() && p.Bits() <= 16 && !a.IsPrivate() && !a.IsLinkLocalUnicast():
		default:
			continue
		}
		bad = true
		d.add(Problem, key, fmt.Sprintf("%s trusts %s: clients there may relay through this server (an open relay)", item, describePrefix(p)),
			fmt.Sprintf("remove %s from mynetworks (list only your own networks) and %s", item, d.reload()))
	}
	if !bad {
		d.add(OK, key, fmt.Sprintf("no open network (%s)", value), "")
	}
}

func describePrefix(p netip.Prefix) string {
	if p.Bits() == 0 {
		return "the whole Internet"
	}
	return "a public network of millions of addresses"
}
