package config

import (
	"errors"
	"fmt"
	"github.com/mxguard/mxguard/checks/dnsbl"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// File is the configuration file, or the environment variable
	// ("$MXGUARD_DNS_TIMEOUT") the value came from.
	File string
	// Line is the line in File, when known (YAML syntax errors); 0
	// otherwise.
	Line int
	// Key is the key path: "dns.timeout", "client[2]",
	// "classes.greylisted[0].action". Empty for problems with the whole
	// file.
	Key string
	// Message says what is wrong.
	Message string
	// Hint says how to fix it; may be empty.
	Hint string
	// Warning marks a problem that does not stop mxguard from running.
	Warning bool
}

// Error renders the problem on one line:
//
//	/etc/mxguard/mxguard.yml: dns.timeout: "5" is not a duration; write it with a unit, e.g. 5s
//	/etc/mxguard/mxguard.yml: unknown key "dns.servrs" (did you mean "dns.servers"?)
//	/etc/mxguard/mxguard.yml:7: YAML: mapping values are not allowed in this context
//	/etc/mxguard/mxguard.yml: warning: timeouts.check: 30s is not below ...
//
// The key is left out when the message already quotes it.
func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Warning {
		b.WriteString("warning: ")
	}
	if p.Key != "" && !strings.Contains(p.Message, strconv.Quote(p.Key)) {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	hint := p.Hint
	if rest, ok := strings.CutPrefix(hint, "did you mean "); ok {
		q, after, _ := strings.Cut(rest, "?")
		fmt.Fprintf(&b, " (did you mean %s?)", q)
		hint = strings.TrimSpace(after)
	}
	if hint != "" {
		b.WriteString("; ")
		b.WriteString(hint)
	}
	return b.String()
}

// Errors is the error Load returns for an invalid configuration: every
// problem found, warnings included, in the order of the file.
type Errors struct {
	Problems []Problem
}

// Error renders the problems one per line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so errors.As finds a Problem.
func (e *Errors) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// sourceFor is the file or environment variable that set key.
func sourceFor(file string, sources map[string]string, key string) string {
	k := key
	if i := strings.IndexByte(k, '['); i >= 0 {
		k = k[:i]
	}
	for {
		if s, ok := sources[k]; ok {
			return s
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			return file
		}
		k = k[:i]
	}
}

type validator struct {
	c        *Config
	problems []Problem
}

func (v *validator) add(key, msg, hint string) {
	v.problems = append(v.problems, Problem{File: sourceFor(v.c.file, v.c.sources, key), Key: key, Message: msg, Hint: hint})
}

func (v *validator) warn(key, msg, hint string) {
	v.problems = append(v.problems, Problem{File: sourceFor(v.c.file, v.c.sources, key), Key: key, Message: msg, Hint: hint, Warning: true})
}

// Validate checks the meaning of every value and returns every problem,
// warnings included (Problem.Warning), in the order of the keys. It does
// not modify c.
func (c *Config) Validate() []Problem {
	v := &validator{c: c}
	v.server()
	v.dns()
	v.networks()
	v.state()
	v.logging()
	v.timeouts()
	v.codes()
	v.auth()
	v.restrictions()
	return v.problems
}

func (v *validator) server() {
	c := v.c
	if _, _, msg, hint := parseListen(c.Listen); msg != "" {
		v.add("listen", msg, hint)
	}
	if _, ok := parseMode(c.SocketMode); !ok {
		v.add("socket_mode", fmt.Sprintf("%q is not an octal file mode", c.SocketMode), `write it quoted, e.g. "0660"`)
	}
	if c.Hostname != "" {
		if isAddress(c.Hostname) {
			v.add("hostname", fmt.Sprintf("%q is an address, not a name", c.Hostname), "write the name of this MX host, e.g. mx.example.net")
		} else if !validHostname(c.Hostname) {
			v.add("hostname", fmt.Sprintf("%q is not a valid host name", c.Hostname), "write the name of this MX host, e.g. mx.example.net")
		}
	}
	for i, n := range c.LocalNames {
		if _, ok := parseAddrLiteral(n); ok || validHostname(n) {
			continue
		}
		v.add(fmt.Sprintf("local_names[%d]", i), fmt.Sprintf("%q is neither a host name nor an address", n),
			"write a name (mx.example.net) or an address (192.0.2.1 or [192.0.2.1])")
	}
	if c.Metrics.Listen != "" {
		if msg := checkHostPort(c.Metrics.Listen); msg != "" {
			v.add("metrics.listen", msg, `write host:port, e.g. 127.0.0.1:9100, or "" for no metrics`)
		}
	}
}

func (v *validator) dns() {
	c := v.c
	for i, s := range c.DNS.Servers {
		if _, ok := parseServer(s); !ok {
			v.add(fmt.Sprintf("dns.servers[%d]", i), fmt.Sprintf("%q is not an IP address with an optional port", s),
				"write 192.0.2.53, 192.0.2.53:53 or [2001:db8::53]:53 (names cannot be used: the resolver would need itself to find them)")
		}
	}
	if c.DNS.Timeout <= 0 {
		v.add("dns.timeout", fmt.Sprintf("%s must be more than 0", c.DNS.Timeout), "write e.g. 5s")
	}
	if c.DNS.Attempts < 1 {
		v.add("dns.attempts", fmt.Sprintf("%d must be at least 1", c.DNS.Attempts), "")
	}
	if c.DNS.CacheSize < 0 {
		v.add("dns.cache_size", fmt.Sprintf("%d is negative", c.DNS.CacheSize), "write 0 to disable the cache")
	}
}

func (v *validator) networks() {
	for i, s := range v.c.TrustedNetworks {
		if _, msg, hint := parseNetwork(s); msg != "" {
			v.add(fmt.Sprintf("trusted_networks[%d]", i), msg, hint)
		}
	}
}

func (v *validator) state() {
	c := v.c
	switch {
	case c.Store == "bolt":
		if strings.TrimSpace(c.StateDir) == "" {
			v.add("state_dir", "is empty, but store: bolt keeps its file there", "write a directory, e.g. /var/lib/mxguard")
		}
	case c.Store == "memory":
	case strings.HasPrefix(c.Store, "redis://") || strings.HasPrefix(c.Store, "rediss://"):
		if msg := checkRedisURL(c.Store); msg != "" {
			v.add("store", msg, "write redis://host:6379/0 (rediss:// for TLS)")
		}
	default:
		hint := "write bolt, memory or redis://host:6379/0"
		if near, ok := nearest(strings.ToLower(c.Store), []string{"bolt", "memory", "redis"}); ok {
			hint = fmt.Sprintf("did you mean %q? %s", near, hint)
		}
		v.add("store", fmt.Sprintf("%q is not a store", c.Store), hint)
	}
}

func (v *validator) logging() {
	v.oneOf("log.format", v.c.Log.Format, []string{"logfmt", "json"})
	v.oneOf("log.level", v.c.Log.Level, []string{"debug", "info", "warn", "error"})
}

// oneOf checks that val (case-insensitive) is one of allowed.
func (v *validator) oneOf(key, val string, allowed []string) bool {
	lv := strings.ToLower(val)
	for _, a := range allowed {
		if lv == a {
			return true
		}
	}
	hint := ""
	if near, ok := nearest(lv, allowed); ok {
		hint = fmt.Sprintf("did you mean %q?", near)
	}
	v.add(key, fmt.Sprintf("%q is not one of %s", val, strings.Join(allowed, ", ")), hint)
	return false
}

// milterCommandTimeout is Postfix's default milter_command_timeout.
const milterCommandTimeout = 30 * time.Second

func (v *validator) timeouts() {
	c := v.c
	switch {
	case c.Timeouts.Check <= 0:
		v.add("timeouts.check", fmt.Sprintf("%s must be more than 0", c.Timeouts.Check), "write e.g. 20s")
	case c.Timeouts.Check >= milterCommandTimeout:
		v.warn("timeouts.check", fmt.Sprintf("%s is not below Postfix's milter_command_timeout (30s by default)", c.Timeouts.Check),
			"Postfix would give up on mxguard first and apply milter_default_action; write e.g. 20s, or raise milter_command_timeout in main.cf")
	}
	if c.DNS.Timeout > 0 && c.DNS.Attempts > 0 && c.Timeouts.Check > 0 &&
		c.DNS.Timeout*time.Duration(c.DNS.Attempts) > c.Timeouts.Check {
		v.warn("dns.timeout", fmt.Sprintf("%d attempts of %s exceed timeouts.check (%s)", c.DNS.Attempts, c.DNS.Timeout, c.Timeouts.Check),
			"a slow DNS server then turns into a tempfail before the resolver gives up")
	}
}

func (v *validator) codes() {
	c := v.c.Codes
	for _, x := range []struct {
		key  string
		code int
	}{
		{"unknown_client_reject_code", c.UnknownClientReject},
		{"unknown_hostname_reject_code", c.UnknownHostnameReject},
		{"unknown_address_reject_code", c.UnknownAddressReject},
		{"non_fqdn_reject_code", c.NonFQDNReject},
		{"invalid_hostname_reject_code", c.InvalidHostnameReject},
		{"access_map_reject_code", c.AccessMapReject},
		{"maps_rbl_reject_code", c.MapsRBLReject},
	} {
		if x.code < 400 || x.code > 599 {
			v.add("codes."+x.key, fmt.Sprintf("%d is not a 4xx or 5xx reply code", x.code), "")
		}
	}
	if c.AccessMapDefer < 400 || c.AccessMapDefer > 499 {
		v.add("codes.access_map_defer_code", fmt.Sprintf("%d is not a 4xx reply code", c.AccessMapDefer), "")
	}
	// postconf(5), reject_tempfail_action: "defer" or "defer_if_permit".
	v.oneOf("codes.unknown_helo_hostname_tempfail_action", c.UnknownHeloHostnameTempfailAction, []string{"defer_if_permit", "defer"})
	v.oneOf("codes.unknown_address_tempfail_action", c.UnknownAddressTempfailAction, []string{"defer_if_permit", "defer"})
}

// actions are the values of a restriction's action and temperror options
// (DESIGN.md §2).
var actions = []string{"reject", "tempfail", "defer_if_permit", "quarantine", "tag", "warn", "accept", "off"}

// authActions are the values of the SPF and DMARC action keys
// (DESIGN.md §2). defer_if_permit, a restriction's action, has no meaning
// at end of data: there is no later stage to permit.
var authActions = []string{"reject", "tempfail", "quarantine", "tag", "warn", "accept", "off"}

func (v *validator) auth() {
	a := v.c.Auth
	if a.AuthservID != "" {
		v.authservID("auth.authserv_id", a.AuthservID)
	}
	for i, n := range a.AuthservAliases {
		v.authservID(fmt.Sprintf("auth.authserv_aliases[%d]", i), n)
	}

	for _, x := range []struct{ key, val string }{
		{"fail", a.SPF.Fail},
		{"softfail", a.SPF.Softfail},
		{"neutral", a.SPF.Neutral},
		{"none", a.SPF.None},
		{"temperror", a.SPF.Temperror},
		{"permerror", a.SPF.Permerror},
	} {
		v.authAction("auth.spf."+x.key, x.val, x.key == "temperror")
	}
	v.oneOf("auth.spf.reject_at", a.SPF.RejectAt, []string{"eom", "rcpt"})

	d := a.DKIM
	v.inRange("auth.dkim.max_signatures", d.MaxSignatures, 1, 50, "")
	hint := ""
	if d.MinRSABits < 1024 {
		hint = "RFC 8301 §3.2: verifiers must not accept keys under 1024 bits"
	}
	v.inRange("auth.dkim.min_rsa_bits", d.MinRSABits, 1024, 8192, hint)
	v.inRange("auth.dkim.max_buffer", d.MaxBuffer, 64<<10, 64<<20,
		"it is a number of bytes, e.g. 1048576 for 1 MiB")

	m := a.DMARC
	v.oneOf("auth.dmarc.mode", m.Mode, []string{"rfc9989", "rfc7489"})
	for _, x := range []struct{ key, val string }{
		{"reject", m.Reject},
		{"quarantine", m.Quarantine},
		{"none", m.None},
		{"temperror", m.Temperror},
		{"permerror", m.Permerror},
	} {
		v.authAction("auth.dmarc."+x.key, x.val, x.key == "temperror")
	}
	for i, n := range m.OverrideDomains {
		key := fmt.Sprintf("auth.dmarc.override_domains[%d]", i)
		switch {
		case strings.HasPrefix(n, "."):
			v.add(key, fmt.Sprintf("%q starts with a dot", n),
				fmt.Sprintf("write %s: its subdomains are always included", strings.TrimLeft(n, ".")))
		case isAddress(n):
			v.add(key, fmt.Sprintf("%q is an address, not a domain", n), "put addresses in auth.dmarc.override_networks")
		case !validHostname(n):
			v.add(key, fmt.Sprintf("%q is not a valid domain name", n), "write e.g. lists.example.org")
		}
	}
	for i, s := range m.OverrideNetworks {
		if _, msg, hint := parseNetwork(s); msg != "" {
			v.add(fmt.Sprintf("auth.dmarc.override_networks[%d]", i), msg, hint)
		}
	}
}

// authservID checks an authserv-id: a host name (RFC 8601 §2.5 allows
// any token, but a name is what others recognise).
func (v *validator) authservID(key, id string) {
	switch {
	case isAddress(id):
		v.add(key, fmt.Sprintf("%q is an address, not a name", id), "write the name of this MX host, e.g. mx.example.net")
	case !validHostname(id):
		v.add(key, fmt.Sprintf("%q is not a valid host name", id), "write the name of this MX host, e.g. mx.example.net")
	}
}

// authAction checks an SPF or DMARC action; temp marks a temperror key,
// which must not reject.
func (v *validator) authAction(key, val string, temp bool) {
	if strings.EqualFold(val, "defer_if_permit") {
		v.add(key, fmt.Sprintf("%q is not one of %s", val, strings.Join(authActions, ", ")),
			"defer_if_permit is a restriction's action; at end of data write tempfail")
		return
	}
	if v.oneOf(key, val, authActions) && temp && strings.EqualFold(val, "reject") {
		v.add(key, "a temporary DNS failure must not be answered with a permanent rejection",
			"write tempfail, warn or accept")
	}
}

// inRange checks that n is in [lo, hi].
func (v *validator) inRange(key string, n, lo, hi int, hint string) {
	if n < lo || n > hi {
		v.add(key, fmt.Sprintf("%d is not from %d to %d", n, lo, hi), hint)
	}
}

// isAddress says whether s is an IP address, bare or in brackets.
func isAddress(s string) bool {
	_, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return err == nil
}

func (v *validator) restrictions() {
	c := v.c
	// The earliest stage each class is evaluated in, for the placement
	// check: a class runs in the context of the list that names it.
	classStage := map[string]stage{}
	var visit func(name string, st stage)
	visit = func(name string, st stage) {
		if cur, ok := classStage[name]; ok && cur <= st {
			return
		}
		classStage[name] = st
		for _, r := range c.Classes[name] {
			if v.isClassRef(r) {
				visit(strings.ToLower(r.Name), st)
			}
		}
	}
	for _, list := range restrictionLists {
		for _, r := range *c.list(list) {
			if v.isClassRef(r) {
				visit(strings.ToLower(r.Name), listStage[list])
			}
		}
	}

	for _, list := range restrictionLists {
		for i, r := range *c.list(list) {
			v.restriction(itemKey(r, list, i), r, listStage[list], list, false)
		}
	}
	for _, name := range sortedKeys(c.Classes) {
		key := "classes." + name
		if !classNameRE.MatchString(name) {
			v.add(key, fmt.Sprintf("%q is not a valid class name", name), "use lower-case letters, digits, _ and -")
		}
		if d, ok := lookupName(name); ok {
			v.add(key, fmt.Sprintf("class name %q is also the name of a restriction", name),
				fmt.Sprintf("rename the class; %q would always mean %s", name, d.name))
		}
		st, used := classStage[name]
		if !used {
			st = stageRecipient // only access tables name it: RCPT at the latest
		}
		where := fmt.Sprintf("%s (through class %s)", restrictionLists[st-stageClient], name)
		for i, r := range c.Classes[name] {
			v.restriction(itemKey(r, key, i), r, st, where, true)
		}
	}
	v.cycles()
}

func itemKey(r Restriction, list string, i int) string {
	if r.Key != "" {
		return r.Key
	}
	return fmt.Sprintf("%s[%d]", list, i)
}

// isClassRef says whether r names a class rather than a restriction.
func (v *validator) isClassRef(r Restriction) bool {
	if r.Class {
		return true
	}
	if _, ok := lookupName(r.Name); ok {
		return false
	}
	_, ok := v.c.Classes[strings.ToLower(r.Name)]
	return ok
}

// restriction checks one item; st is the stage of the list it is
// evaluated in, where names that list ("client") for messages.
func (v *validator) restriction(key string, r Restriction, st stage, where string, inClass bool) {
	c := v.c
	name := strings.ToLower(r.Name)
	label := r.label()
	if v.isClassRef(r) {
		if _, ok := c.Classes[name]; !ok {
			v.add(key, fmt.Sprintf("class %q is not defined", r.Name), "define it under classes:")
		}
		if r.Arg != "" {
			v.add(key, fmt.Sprintf("class %s takes no argument, but has %q", label, r.Arg), "")
		}
		v.options(key, r)
		return
	}
	d, ok := lookupName(name)
	if !ok {
		switch {
		case name == "":
			v.add(key, "names no restriction", "")
		case postfixOnly[name]:
			v.add(key, fmt.Sprintf("%s is a Postfix restriction that mxguard does not implement", label),
				"keep it in main.cf, in the smtpd_*_restrictions list it came from")
		case planned[name]:
			v.add(key, fmt.Sprintf("%s is planned but not implemented in this version", label), "")
		default:
			v.add(key, fmt.Sprintf("unknown restriction %q", label), suggestName(name, c.Classes))
		}
		return
	}
	if d.name == "warn_if_reject" {
		v.add(key, "warn_if_reject is last in its list, but applies to the restriction after it",
			"put the restriction it should soften after it, or remove it")
		return
	}
	switch d.arg {
	case argNone:
		if r.Arg != "" {
			v.add(key, fmt.Sprintf("%s takes no argument, but has %q", label, r.Arg),
				"put the next restriction in its own list item")
		}
	case argTable:
		if r.Arg == "" {
			v.add(key, fmt.Sprintf("%s needs a table", label), fmt.Sprintf(`write - %s: hash:/etc/postfix/%s`, r.Name, tableFile(d.name)))
		} else if msg, hint := checkTable(r.Arg); msg != "" {
			v.add(key, msg, hint)
		}
	case argDNSList:
		if r.Arg == "" {
			v.add(key, fmt.Sprintf("%s needs a DNS list zone", label), fmt.Sprintf("write - %s: zen.spamhaus.org=127.0.0.[2..11]", r.Name))
		} else {
			// dnsbl_score takes several lists (postscreen_dnsbl_sites),
			// each with an optional *weight.
			args := []string{r.Arg}
			if d.name == "dnsbl_score" {
				args = strings.Fields(strings.ReplaceAll(r.Arg, ",", " "))
			}
			for _, a := range args {
				if msg, hint := checkDNSList(a); msg != "" {
					v.add(key, msg, hint)
				}
			}
		}
	}
	if d.name == "access" && inClass {
		v.add(key, "a class cannot use plain access: it does not know which address to look up",
			"write client_access, helo_access, sender_access or recipient_access")
	}
	if !c.DelayReject && d.stage != stageAny && d.stage != stageOwn && d.stage > st {
		v.add(key, fmt.Sprintf("%s needs %s, which is not known yet in %s with delay_reject: false", label, d.stage.needs(), where),
			fmt.Sprintf("move it to %s, or set delay_reject: true", d.stage.lists()))
	}
	v.options(key, r)
}

func tableFile(name string) string {
	if name == "access" {
		return "access"
	}
	return name
}

var enhancedRE = regexp.MustCompile(`^([245])\.(\d{1,3})\.(\d{1,3})$`)

// options checks the options every restriction takes.
func (v *validator) options(key string, r Restriction) {
	if r.Action != "" {
		v.oneOf(key+".action", r.Action, actions)
	}
	if r.TempAction != "" && v.oneOf(key+".temperror", r.TempAction, actions) && strings.EqualFold(r.TempAction, "reject") {
		v.add(key+".temperror", "a temporary DNS failure must not be answered with a permanent rejection",
			"write tempfail or defer_if_permit")
	}
	if r.Code != 0 {
		switch {
		case r.Code < 400 || r.Code > 599:
			v.add(key+".code", fmt.Sprintf("%d is not a 4xx or 5xx reply code", r.Code), "")
		case r.Code >= 500 && (strings.EqualFold(r.Action, "tempfail") || strings.EqualFold(r.Action, "defer_if_permit")):
			v.add(key+".code", fmt.Sprintf("%d is a permanent code, but action: %s is temporary", r.Code, r.Action), "write a 4xx code")
		}
	}
	if r.Enhanced != "" {
		m := enhancedRE.FindStringSubmatch(r.Enhanced)
		switch {
		case m == nil || m[1] == "2":
			v.add(key+".enhanced", fmt.Sprintf("%q is not an RFC 3463 status code for a rejection", r.Enhanced),
				"write class.subject.detail with class 4 or 5, e.g. 5.7.1")
		case r.Code >= 400 && r.Code <= 599 && m[1][0] != strconv.Itoa(r.Code)[0]:
			v.add(key+".enhanced", fmt.Sprintf("%q does not match code %d", r.Enhanced, r.Code),
				fmt.Sprintf("the first digits must agree, e.g. %d with %c.%s.%s", r.Code, strconv.Itoa(r.Code)[0], m[2], m[3]))
		}
	}
	for _, ch := range r.Text {
		if ch < 0x20 || ch > 0x7e {
			v.add(key+".text", "the reply text must be printable ASCII on one line", "")
			break
		}
	}
}

// cycles reports classes that reach themselves.
func (v *validator) cycles() {
	c := v.c
	const (
		unseen = iota
		onStack
		done
	)
	state := map[string]int{}
	var stack []string
	var walk func(name string)
	walk = func(name string) {
		state[name] = onStack
		stack = append(stack, name)
		for _, r := range c.Classes[name] {
			if !v.isClassRef(r) {
				continue
			}
			next := strings.ToLower(r.Name)
			if _, defined := c.Classes[next]; !defined {
				continue
			}
			switch state[next] {
			case unseen:
				walk(next)
			case onStack:
				i := len(stack) - 1
				for stack[i] != next {
					i--
				}
				cycle := append(append([]string(nil), stack[i:]...), next)
				v.add("classes."+next, "classes refer to each other in a cycle: "+strings.Join(cycle, " → "),
					"a class must not use itself, directly or through others")
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for _, name := range sortedKeys(c.Classes) {
		if state[name] == unseen {
			walk(name)
		}
	}
}

// ParseListen parses a listen address in Postfix's milter notation
// (inet:host:port, inet:[::1]:port, unix:/path) into a network ("tcp" or
// "unix") and address for net.Listen.
func ParseListen(s string) (network, address string, err error) {
	network, address, msg, hint := parseListen(s)
	if msg != "" {
		if hint != "" {
			msg += "; " + hint
		}
		return "", "", errors.New(msg)
	}
	return network, address, nil
}

const listenHint = "write inet:127.0.0.1:8891, inet:[::1]:8891 or unix:/run/mxguard/mxguard.sock"

func parseListen(s string) (network, address, msg, hint string) {
	switch {
	case strings.HasPrefix(s, "unix:"):
		p := strings.TrimPrefix(s, "unix:")
		if p == "" {
			return "", "", fmt.Sprintf("%q has no socket path", s), listenHint
		}
		return "unix", p, "", ""
	case strings.HasPrefix(s, "inet:"):
		hp := strings.TrimPrefix(s, "inet:")
		if port, host, ok := strings.Cut(hp, "@"); ok {
			return "", "", fmt.Sprintf("%q is Sendmail's notation", s), fmt.Sprintf("write Postfix's: inet:%s:%s", host, port)
		}
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			return "", "", fmt.Sprintf("%q is not inet:host:port", s), listenHint
		}
		if host == "" {
			return "", "", fmt.Sprintf("%q has no host", s), "write inet:0.0.0.0:" + port + " to listen on every IPv4 address, inet:[::]:" + port + " on every address"
		}
		if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
			return "", "", fmt.Sprintf("%q: %q is neither an address nor a host name", s, host), listenHint
		}
		if msg := checkPort(port); msg != "" {
			return "", "", fmt.Sprintf("%q: %s", s, msg), listenHint
		}
		return "tcp", net.JoinHostPort(host, port), "", ""
	}
	if strings.HasPrefix(s, "local:") {
		return "", "", fmt.Sprintf("%q: write unix: instead of local:", s), listenHint
	}
	return "", "", fmt.Sprintf("%q is not a milter address", s), listenHint
}

func checkPort(port string) string {
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("port %q is not a number from 1 to 65535", port)
	}
	return ""
}

// checkHostPort checks a host:port listen address; the host may be empty
// (every address).
func checkHostPort(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", s)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
			return fmt.Sprintf("%q: %q is neither an address nor a host name", s, host)
		}
	}
	if msg := checkPort(port); msg != "" {
		return fmt.Sprintf("%q: %s", s, msg)
	}
	return ""
}

// parseServer parses a DNS server: an address, optionally with a port
// (default 53); IPv6 with a port goes in brackets.
func parseServer(s string) (netip.AddrPort, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		if a.Zone() != "" && !strings.HasPrefix(s, "[") && strings.Count(s, ":") < 2 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(a, 53), true
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return netip.AddrPort{}, false
	}
	return ap, true
}

// parseNetwork parses a trusted network: a CIDR prefix or a bare address
// (a /32 or /128), brackets around IPv6 allowed as in Postfix's
// mynetworks.
func parseNetwork(s string) (p netip.Prefix, msg, hint string) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "[") {
		if i := strings.IndexByte(t, ']'); i > 0 {
			t = t[1:i] + t[i+1:]
		}
	}
	if !strings.Contains(t, "/") {
		a, err := netip.ParseAddr(t)
		if err != nil {
			return netip.Prefix{}, fmt.Sprintf("%q is not an address or CIDR prefix", s), "write e.g. 192.0.2.0/24, 2001:db8::/32 or 192.0.2.1"
		}
		return netip.PrefixFrom(a.WithZone(""), a.BitLen()), "", ""
	}
	p, err := netip.ParsePrefix(t)
	if err != nil {
		return netip.Prefix{}, fmt.Sprintf("%q is not a CIDR prefix", s), "write e.g. 192.0.2.0/24 or 2001:db8::/32"
	}
	if m := p.Masked(); m != p {
		// Postfix refuses these too ("non-null host address bits").
		return netip.Prefix{}, fmt.Sprintf("%q has host bits set", s), fmt.Sprintf("did you mean %q?", m.String())
	}
	return p, "", ""
}

// parseAddrLiteral parses an address, bare or as an SMTP address literal
// ([192.0.2.1], [IPv6:2001:db8::1]).
func parseAddrLiteral(s string) (netip.Addr, bool) {
	t := s
	if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
		t = t[1 : len(t)-1]
		if len(t) > 5 && strings.EqualFold(t[:5], "ipv6:") {
			t = t[5:]
		}
	}
	a, err := netip.ParseAddr(t)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// validHostname checks host name syntax (RFC 1123 §2.1): letters, digits
// and hyphens, labels of 1-63 characters not starting or ending with a
// hyphen, 253 characters at most; one trailing dot allowed.
func validHostname(s string) bool {
	return validDomain(s, false)
}

// validDomain is validHostname, with underscores allowed when underscore
// is set (DNS list zones are not host names).
func validDomain(s string, underscore bool) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			switch {
			case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '-':
			case ch == '_' && underscore:
			default:
				return false
			}
		}
	}
	return true
}

var tableRE = regexp.MustCompile(`^[a-z][a-z0-9_]*:\S.*$`)

// checkTable checks a Postfix table name: type:name.
func checkTable(s string) (msg, hint string) {
	if !tableRE.MatchString(s) {
		return fmt.Sprintf("%q is not a table", s), "name it as Postfix does, type:name, e.g. hash:/etc/postfix/client_access"
	}
	return "", ""
}

// checkDNSList checks a DNS list argument, zone[=filter], where the filter
// is Postfix's d.d.d.d: each d a number, or a pattern in brackets of
// ";"-separated numbers and n..m ranges (postconf(5), reject_rbl_client).
func checkDNSList(s string) (msg, hint string) {
	zone, filter, hasFilter := strings.Cut(s, "=")
	zone, _, _ = strings.Cut(zone, "*")
	if !validDomain(zone, true) || !strings.Contains(strings.TrimSuffix(zone, "."), ".") {
		return fmt.Sprintf("%q is not a DNS list zone", zone), "write e.g. zen.spamhaus.org or zen.spamhaus.org=127.0.0.[2..11]"
	}
	// The full syntax (CIDR filters, *weights) is the DNS list package's.
	_, perr := dnsbl.ParseSpec(s)
	if perr == nil {
		return "", ""
	}
	if !hasFilter || strings.ContainsAny(filter, "/*,;") {
		return perr.Error(), "write zone[=filter][*weight], e.g. zen.spamhaus.org=127.0.0.[2..11] or zen.spamhaus.org=127.0.0.0/24*2"
	}
	hint = "write four dot-separated parts, each a number or a [n;n..m] pattern, e.g. 127.0.0.[2..11]"
	parts := splitOutsideBrackets(filter)
	if len(parts) != 4 {
		return fmt.Sprintf("reply filter %q does not have four parts", filter), hint
	}
	for _, p := range parts {
		if !validOctetPattern(p) {
			return fmt.Sprintf("reply filter %q: %q is not a number from 0 to 255 or a [n;n..m] pattern", filter, p), hint
		}
	}
	return perr.Error(), hint
}

// splitOutsideBrackets splits a reply filter at the dots that are not
// inside [...], so that 127.0.0.[2..11] has four parts.
func splitOutsideBrackets(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '.':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

func validOctetPattern(p string) bool {
	octet := func(s string) (int, bool) {
		if s == "" || len(s) > 3 {
			return 0, false
		}
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= 0 && n <= 255
	}
	if _, ok := octet(p); ok {
		return true
	}
	if len(p) < 3 || p[0] != '[' || p[len(p)-1] != ']' {
		return false
	}
	for _, item := range strings.Split(p[1:len(p)-1], ";") {
		lo, hi, isRange := strings.Cut(item, "..")
		a, ok := octet(lo)
		if !ok {
			return false
		}
		if isRange {
			b, ok := octet(hi)
			if !ok || b < a {
				return false
			}
		}
	}
	return true
}

var redisDBRE = regexp.MustCompile(`^/?[0-9]*$`)

func checkRedisURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("%q is not a URL", redactStore(s))
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Sprintf("%q has no host", redactStore(s))
	}
	if p := u.Port(); p != "" {
		if msg := checkPort(p); msg != "" {
			return fmt.Sprintf("%q: %s", redactStore(s), msg)
		}
	}
	if !redisDBRE.MatchString(u.Path) {
		return fmt.Sprintf("%q: the path must be a database number, e.g. /0", redactStore(s))
	}
	return ""
}

// redactStore masks the password of a redis:// URL.
func redactStore(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}
