package postfixcfg

import (
	"bufio"
	"io"
	"regexp"
	"strings"
)

// ParseMainCF reads main.cf syntax (postconf(5), "Syntax"): a logical line
// starts with non-whitespace text and is "name = value" (whitespace around
// "=" optional); a line that starts with whitespace continues the logical
// line before it; empty lines and lines whose first non-whitespace
// character is "#" are ignored, also inside a continued line. There are no
// trailing comments: "name = value # text" has the value "value # text",
// as Postfix reads it. The last definition of a name wins. $name is not
// expanded. Lines that are not "name = value" are returned as bad, by line
// number, and otherwise ignored (Postfix stops with a fatal error on them).
func ParseMainCF(r io.Reader) (params map[string]string, bad []int, err error) {
	params = map[string]string{}
	var cur strings.Builder
	curLine := 0
	flush := func() {
		if curLine == 0 {
			return
		}
		name, value, ok := strings.Cut(cur.String(), "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			bad = append(bad, curLine)
		} else {
			params[name] = strings.TrimSpace(value)
		}
		cur.Reset()
		curLine = 0
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		if trimmed != line { // continuation
			if curLine == 0 {
				bad = append(bad, n) // continues nothing
				continue
			}
			cur.WriteByte(' ')
			cur.WriteString(trimmed)
			continue
		}
		flush()
		cur.WriteString(line)
		curLine = n
	}
	flush()
	return params, bad, sc.Err()
}

// parsePostconfOutput reads the "name = value" lines postconf prints.
func parsePostconfOutput(out string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(out, "\n") {
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			continue
		}
		m[name] = strings.TrimSpace(value)
	}
	return m
}

// SplitList splits a Postfix list value the way Postfix does
// (mystrtokq with CHARS_COMMA_SP and CHARS_BRACE): items are separated by
// commas and whitespace, and a "{ ... }" group, possibly nested, is one
// item.
func SplitList(s string) []string {
	var out []string
	depth := 0
	start := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{':
			if start < 0 {
				start = i
			}
			depth++
		case c == '}':
			if depth > 0 {
				depth--
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

var spaceAroundEq = regexp.MustCompile(`\s*=\s*`)

// milterEntry is one item of smtpd_milters: an address and, in the
// Postfix ≥ 3.0 form "{ address, name=value, ... }", per-milter settings
// (default_action, command_timeout, protocol, macros, ...).
type milterEntry struct {
	Raw   string
	Addr  string
	Attrs map[string]string
}

func parseMilters(value string) []milterEntry {
	var out []milterEntry
	for _, item := range SplitList(value) {
		e := milterEntry{Raw: item, Addr: item}
		if strings.HasPrefix(item, "{") {
			inner := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(item, "{"), "}"))
			inner = spaceAroundEq.ReplaceAllString(inner, "=")
			parts := SplitList(inner)
			e.Addr = ""
			if len(parts) > 0 {
				e.Addr = parts[0]
				parts = parts[1:]
			}
			e.Attrs = map[string]string{}
			for _, p := range parts {
				if k, v, ok := strings.Cut(p, "="); ok {
					e.Attrs[k] = v
				}
			}
		}
		out = append(out, e)
	}
	return out
}

// restriction is one item of a restriction list with its argument, if the
// restriction takes one.
type restriction struct {
	Name string
	Arg  string
}

// takesArg lists the restrictions (postconf(5)) whose next list item is
// their argument, so that an argument is never mistaken for a
// restriction.
func takesArg(name string) bool {
	switch {
	case name == "check_relay_domains": // obsolete, no argument
		return false
	case strings.HasPrefix(name, "check_"), // check_*_access, check_policy_service
		strings.HasPrefix(name, "reject_rbl_client"),
		strings.HasPrefix(name, "reject_rhsbl_"),
		name == "permit_dnswl_client", name == "permit_rhswl_client":
		return true
	}
	return false
}

func parseRestrictions(value string) []restriction {
	items := SplitList(value)
	var out []restriction
	for i := 0; i < len(items); i++ {
		r := restriction{Name: strings.ToLower(items[i])}
		if takesArg(r.Name) && i+1 < len(items) {
			r.Arg = items[i+1]
			i++
		}
		out = append(out, r)
	}
	return out
}

// Service is one master.cf entry, as far as Doctor needs it.
type Service struct {
	Name    string // "smtp", "submission", "smtpd" (postscreen's pass service)
	Type    string // "inet", "unix", "pass"
	Chroot  string // "y", "n" or "-" (the default)
	Command string // "smtpd -o ..." (command and arguments)
}

// parseMasterCF reads master.cf (master(5)): one service per logical line
// with the fields service, type, private, unpriv, chroot, wakeup, maxproc
// and the command with its arguments; continuation lines start with
// whitespace, "#" lines are comments.
func parseMasterCF(r io.Reader) ([]Service, error) {
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		if trimmed != line && len(lines) > 0 {
			lines[len(lines)-1] += " " + trimmed
			continue
		}
		lines = append(lines, line)
	}
	var out []Service
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 8 {
			continue
		}
		out = append(out, Service{Name: f[0], Type: f[1], Chroot: f[4], Command: strings.Join(f[7:], " ")})
	}
	return out, sc.Err()
}

// parsePostconfF reads "postconf -F" output: "service/type/field = value".
func parsePostconfF(out string) []Service {
	var order []string
	byKey := map[string]*Service{}
	for line := range strings.SplitSeq(out, "\n") {
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		parts := strings.Split(strings.TrimSpace(key), "/")
		if len(parts) != 3 {
			continue
		}
		id := parts[0] + "/" + parts[1]
		s, ok := byKey[id]
		if !ok {
			s = &Service{Name: parts[0], Type: parts[1]}
			byKey[id] = s
			order = append(order, id)
		}
		value = strings.TrimSpace(value)
		switch parts[2] {
		case "chroot":
			s.Chroot = value
		case "command":
			s.Command = value
		}
	}
	out2 := make([]Service, 0, len(order))
	for _, id := range order {
		out2 = append(out2, *byKey[id])
	}
	return out2
}
