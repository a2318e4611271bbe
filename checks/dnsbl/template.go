package dnsbl

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/access"
)

// DefaultTemplate is Postfix's default_rbl_reply (mail_params.h
// DEF_DEF_RBL_REPLY, unchanged since Postfix 2.0): with maps_rbl_reject_code
// 554 it gives
//
//	554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; <TXT>
const DefaultTemplate = "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}"

// Variables are the names a reply template may use, with the meaning
// Postfix gives them (smtpd_check.c rbl_expand_lookup, smtpd_expand.c):
//
//	rbl_code             the reply code (maps_rbl_reject_code, default 554)
//	rbl_domain           the list: its public name, else its zone (without filter)
//	rbl_reason, rbl_txt  the listing's TXT records joined with " / " ("" when none)
//	rbl_class            Client host, Unverified Client host, Helo command,
//	                     Sender address or Recipient address
//	rbl_what             what was looked up: the client address (reject_rbl_client),
//	                     the client name or PTR name, the HELO name, the sender or
//	                     recipient address
//	client_address       the client address (IPv6 without "IPv6:")
//	client_name          the verified client name, or "unknown"
//	reverse_client_name  the PTR name, or "unknown"
//	client_port          the client port
//	client               name[address]
//	helo_name            the HELO argument ("" before HELO)
//	sender, recipient    the address, "<>" when null
//	sender_name, recipient_name      the local part ("<>" when null)
//	sender_domain, recipient_domain  the domain ("" when none)
var Variables = []string{
	"rbl_code", "rbl_domain", "rbl_reason", "rbl_txt", "rbl_class", "rbl_what",
	"client_address", "client_name", "reverse_client_name", "client_port", "client",
	"helo_name", "sender", "sender_name", "sender_domain", "recipient", "recipient_name", "recipient_domain",
}

// ErrTemplate is wrapped by ParseTemplate errors.
var ErrTemplate = errors.New("dnsbl: bad reply template")

// Template is a parsed reply template in Postfix's $name syntax
// (mac_expand(3)):
//
//	$name, ${name}, $(name)  the value of name
//	${name?text}             text when name's value is not empty
//	${name:text}             text when name's value is empty
//	${name?{text}:{text2}}   text when not empty, else text2 (Postfix 3.0)
//	$$                       a literal "$"
//
// text is itself expanded. Values (not the template's own text) pass
// through Postfix's default smtpd_expansion_filter: any byte other than
// tab and printable ASCII becomes "_". The expansion must begin with a
// 4xx or 5xx code and a space; an enhanced status code may follow
// ("$rbl_code 5.7.1 text"), else 4.7.1 is used with its class digit set
// from the code, as rbl_reject_reply does.
type Template struct {
	src   string
	nodes []tnode
}

type tnode struct {
	lit      string
	name     string // a variable, or the variable tested by a condition
	cond     bool
	ifSet    []tnode // for cond: expanded when the value is not empty
	ifEmpty  []tnode // for cond: expanded when it is empty
	hasSet   bool
	hasEmpty bool
}

// ParseTemplate parses s and checks that it names only Variables.
func ParseTemplate(s string) (*Template, error) {
	nodes, err := parseNodes(s)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrTemplate, s, err)
	}
	return &Template{src: s, nodes: nodes}, nil
}

// String returns the template's source.
func (t *Template) String() string { return t.src }

// Uses reports whether the template refers to variable name.
func (t *Template) Uses(name string) bool { return uses(t.nodes, name) }

func (t *Template) usesTXT() bool { return t.Uses("rbl_reason") || t.Uses("rbl_txt") }

func uses(ns []tnode, name string) bool {
	for _, n := range ns {
		if n.name == name || uses(n.ifSet, name) || uses(n.ifEmpty, name) {
			return true
		}
	}
	return false
}

func isNameByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// closing returns the index of the bracket that closes the one at s[i].
func closing(s string, i int) int {
	open, close := s[i], byte('}')
	if open == '(' {
		close = ')'
	}
	level := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case open:
			level++
		case close:
			level--
			if level == 0 {
				return j
			}
		}
	}
	return -1
}

func parseNodes(s string) ([]tnode, error) {
	var nodes []tnode
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			nodes = append(nodes, tnode{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			lit.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return nil, errors.New(`"$" at the end (write $$ for a literal "$")`)
		}
		switch n := s[i+1]; {
		case n == '$':
			lit.WriteByte('$')
			i += 2
		case isNameByte(n):
			j := i + 1
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			name := s[i+1 : j]
			if !slices.Contains(Variables, name) {
				return nil, unknownName(name)
			}
			flush()
			nodes = append(nodes, tnode{name: name})
			i = j
		case n == '{' || n == '(':
			end := closing(s, i+1)
			if end < 0 {
				return nil, fmt.Errorf("no closing bracket for %q", s[i:i+2])
			}
			node, err := parseBraced(s[i+2 : end])
			if err != nil {
				return nil, err
			}
			flush()
			nodes = append(nodes, node)
			i = end + 1
		default:
			return nil, fmt.Errorf(`"$" followed by %q (write $name, ${name}, or $$ for a literal "$")`, n)
		}
	}
	flush()
	return nodes, nil
}

func unknownName(name string) error {
	return fmt.Errorf("unknown variable $%s (known: %s)", name, strings.Join(Variables, ", "))
}

// parseBraced parses what is inside ${...}.
func parseBraced(in string) (tnode, error) {
	j := 0
	for j < len(in) && isNameByte(in[j]) {
		j++
	}
	name := in[:j]
	if name == "" {
		return tnode{}, fmt.Errorf("no variable name in ${%s}", in)
	}
	if !slices.Contains(Variables, name) {
		return tnode{}, unknownName(name)
	}
	rest := in[j:]
	if rest == "" {
		return tnode{name: name}, nil
	}
	n := tnode{name: name, cond: true}
	op, text := rest[0], rest[1:]
	if op != '?' && op != ':' {
		return tnode{}, fmt.Errorf("unexpected %q after ${%s (want }, ? or :)", rest[:1], name)
	}
	// Postfix 3.0 forms: ${name?{text}}, ${name:{text}}, ${name?{t}:{f}}.
	var other string
	hasOther := false
	if strings.HasPrefix(text, "{") {
		if end := closing(text, 0); end >= 0 {
			after := strings.TrimLeft(text[end+1:], " \t")
			switch {
			case after == "":
				text = text[1:end]
			case op == '?' && strings.HasPrefix(after, ":"):
				after = strings.TrimLeft(after[1:], " \t")
				if strings.HasPrefix(after, "{") && closing(after, 0) == len(after)-1 {
					text, other, hasOther = text[1:end], after[1:len(after)-1], true
				}
			}
		}
	}
	first, err := parseNodes(text)
	if err != nil {
		return tnode{}, err
	}
	if op == '?' {
		n.ifSet, n.hasSet = first, true
		if hasOther {
			if n.ifEmpty, err = parseNodes(other); err != nil {
				return tnode{}, err
			}
			n.hasEmpty = true
		}
	} else {
		n.ifEmpty, n.hasEmpty = first, true
	}
	return n, nil
}

// Expand expands the template with the values lookup gives.
func (t *Template) Expand(lookup func(name string) string) string {
	var b strings.Builder
	expand(&b, t.nodes, lookup)
	return b.String()
}

func expand(b *strings.Builder, ns []tnode, lookup func(string) string) {
	for _, n := range ns {
		switch {
		case n.name == "":
			b.WriteString(n.lit)
		case !n.cond:
			b.WriteString(filterValue(lookup(n.name)))
		case lookup(n.name) != "":
			expand(b, n.ifSet, lookup)
		default:
			expand(b, n.ifEmpty, lookup)
		}
	}
}

// filterValue applies Postfix's default smtpd_expansion_filter (tab,
// space and printable ASCII) to a value: any other byte becomes "_".
func filterValue(v string) string {
	ok := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; c != '\t' && (c < 0x20 || c > 0x7e) {
			ok = false
			break
		}
	}
	if ok {
		return v
	}
	b := []byte(v)
	for i, c := range b {
		if c != '\t' && (c < 0x20 || c > 0x7e) {
			b[i] = '_'
		}
	}
	return string(b)
}

// genericReply is what Postfix sends when a template expands to something
// that does not start with a 4xx or 5xx code ("rbl response code
// configuration error").
var genericReply = checks.Reply{Code: 450, Enhanced: "4.7.1", Text: "Service unavailable"}

// replyFrom turns an expanded template into a reply as Postfix's
// rbl_reject_reply and smtpd_check_reject do: code from the first three
// digits, an optional enhanced code (default 4.7.1) mapped for the reply
// class by smtpd_dsn_fix, "Service unavailable" for an empty text, the
// line cut at 510 bytes, non-printable characters made spaces, and the
// enhanced code's class digit set to the code's. ok is false when the
// expansion had no valid code and the generic 450 was used.
func replyFrom(why, class string) (r checks.Reply, ok bool) {
	if len(why) < 4 || (why[0] != '4' && why[0] != '5') || !isDigit(why[1]) || !isDigit(why[2]) || why[3] != ' ' {
		return genericReply, false
	}
	code, _ := strconv.Atoi(why[:3])
	dsn, text := access.DSNSplit("4.7.1", why[4:])
	if text == "" {
		text = "Service unavailable"
	}
	dsn = access.DSNFix(dsn, class)
	if prefix := 3 + 1 + len(dsn) + 1; prefix+len(text) > 510 {
		text = text[:max(0, 510-prefix)]
	}
	return checks.Reply{Code: code, Enhanced: dsn, Text: access.Printable(text)}.WithCode(code), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
