package access

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Rule operations shared by cidr, regexp and pcre tables.
const (
	opMatch = iota
	opIf
	opEndif
)

// cidrRule is one line of a cidr table (cidr_match.c CIDR_MATCH).
type cidrRule struct {
	op       int
	prefix   netip.Prefix
	positive bool   // false for "!network": matches addresses of the same family outside it
	value    string // opMatch
	end      int    // opIf: index of the matching opEndif
}

// cidrMatches is cidr_match_entry plus the family test of
// cidr_match_execute: an address of the other family never matches, not
// even a negated rule.
func (r *cidrRule) matches(a netip.Addr) bool {
	if r.prefix.Addr().Is6() != a.Is6() {
		return false
	}
	return r.prefix.Contains(a) == r.positive
}

// parseCIDR parses a cidr_table(5) file: "network/prefix result",
// "address result", "!pattern result" (Postfix 3.2), and "if pattern" ...
// "endif" blocks that nest (Postfix 3.2). The first matching rule wins.
func parseCIDR(name string, data []byte) (*Table, error) {
	errs := &errList{file: name}
	var rules []cidrRule
	var stack []int // indexes of open opIf rules
	var ifLines []int
	for _, ll := range readLogicalLines(name, data, errs) {
		p := trimSpace(ll.text)
		switch {
		case keyword(p, "if"):
			// A bad if still opens a block, so that its endif is not
			// reported too.
			stack = append(stack, len(rules))
			ifLines = append(ifLines, ll.line)
			rules = append(rules, cidrRule{op: opIf})
			rest, positive := negations(trimLeftSpace(p[2:]))
			if rest == "" {
				errs.add(ll.line, ErrSyntax, "write \"if 192.0.2.0/24\"", "no address pattern after if")
				continue
			}
			if strings.IndexFunc(rest, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) }) >= 0 {
				errs.add(ll.line, ErrSyntax, "do not indent the rules between if and endif: a line that starts with whitespace continues the line before it",
					"text after the address pattern of if: %q", rest)
				continue
			}
			pfx, err := parseCIDRPattern(rest)
			if err != nil {
				errs.add(ll.line, ErrSyntax, err.hint, "%s", err.msg)
				continue
			}
			rules[len(rules)-1].prefix, rules[len(rules)-1].positive = pfx, positive
		case keyword(p, "endif"):
			if trimSpace(p[5:]) != "" {
				errs.add(ll.line, ErrSyntax, "do not indent the line after endif: it continues the endif line", "text after endif: %q", trimSpace(p[5:]))
				continue
			}
			if len(stack) == 0 {
				errs.add(ll.line, ErrSyntax, "remove it, or add the missing if", "endif without if")
				continue
			}
			rules[stack[len(stack)-1]].end = len(rules)
			stack, ifLines = stack[:len(stack)-1], ifLines[:len(ifLines)-1]
			rules = append(rules, cidrRule{op: opEndif})
		default:
			rest, positive := negations(p)
			pattern, value := rest, ""
			if i := strings.IndexAny(rest, " \t\r\n\v\f"); i >= 0 {
				pattern, value = rest[:i], trimSpace(rest[i:])
			}
			if pattern == "" {
				errs.add(ll.line, ErrSyntax, "", "no address pattern")
				continue
			}
			if value == "" {
				errs.add(ll.line, ErrSyntax, "write \"network/prefix result\", e.g. \"192.0.2.0/24 REJECT\"", "no lookup result after %q", pattern)
				continue
			}
			pfx, err := parseCIDRPattern(pattern)
			if err != nil {
				errs.add(ll.line, ErrSyntax, err.hint, "%s", err.msg)
				continue
			}
			rules = append(rules, cidrRule{op: opMatch, prefix: pfx, positive: positive, value: value})
		}
	}
	for i := range stack {
		errs.add(ifLines[i], ErrSyntax, "add endif; Postfix would skip the rest of the file when the if does not match", "if has no matching endif")
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return &Table{fixed: false, lookup: func(key string) (string, bool) { return cidrLookup(rules, key) }}, nil
}

func cidrLookup(rules []cidrRule, key string) (string, bool) {
	a, ok := parseStrictAddr(key)
	if !ok {
		return "", false
	}
	for i := 0; i < len(rules); i++ {
		r := &rules[i]
		switch r.op {
		case opMatch:
			if r.matches(a) {
				return r.value, true
			}
		case opIf:
			if !r.matches(a) {
				i = r.end
			}
		}
	}
	return "", false
}

// keyword reports whether p starts with word, in any case, not followed by
// a letter or digit (dict_cidr/dict_regexp: strncasecmp and !ISALNUM).
func keyword(p, word string) bool {
	return len(p) >= len(word) && strings.EqualFold(p[:len(word)], word) && (len(p) == len(word) || !isAlnum(p[len(word)]))
}

// negations strips leading '!' characters and whitespace, returning the
// rest and whether the match is positive (an even number of '!').
func negations(p string) (string, bool) {
	positive := true
	for len(p) > 0 && (p[0] == '!' || isSpace(p[0])) {
		if p[0] == '!' {
			positive = !positive
		}
		p = p[1:]
	}
	return p, positive
}

// parseStrictAddr parses an address the way inet_pton does: the family is
// IPv6 when the text has a ':', and zones are not addresses.
func parseStrictAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	if strings.Contains(s, ":") != a.Is6() {
		return netip.Addr{}, false
	}
	return a, true
}

type patternError struct{ msg, hint string }

// parseCIDRPattern parses "address", "address/len", "[address]/len" or
// "[address/len]" (cidr_match_parse).
func parseCIDRPattern(pattern string) (netip.Prefix, *patternError) {
	p := pattern
	maskSearch := ""
	if strings.HasPrefix(p, "[") {
		inner, after, ok := strings.Cut(p[1:], "]")
		if !ok {
			return netip.Prefix{}, &patternError{msg: fmt.Sprintf("missing ']' character after %q", p)}
		}
		if after != "" && after[0] != '/' {
			return netip.Prefix{}, &patternError{msg: fmt.Sprintf("garbage after %q", "["+inner+"]")}
		}
		p, maskSearch = inner, after
	}
	addr, mask, hasMask := strings.Cut(p, "/")
	if maskSearch != "" {
		if hasMask {
			return netip.Prefix{}, &patternError{msg: fmt.Sprintf("bad net/mask pattern %q", pattern)}
		}
		mask, hasMask = maskSearch[1:], true
	}
	bits := 32
	if strings.Contains(addr, ":") {
		bits = 128
	}
	a, ok := parseStrictAddr(addr)
	if !hasMask {
		if !ok {
			return netip.Prefix{}, &patternError{msg: fmt.Sprintf("bad address pattern: %q", addr)}
		}
		return netip.PrefixFrom(a, bits), nil
	}
	n, err := strconv.Atoi(mask)
	switch {
	case mask == "" || strings.Trim(mask, "0123456789") != "" || err != nil:
		return netip.Prefix{}, &patternError{msg: fmt.Sprintf("bad mask value in \"%s/%s\"", addr, mask)}
	case n > bits:
		return netip.Prefix{}, &patternError{msg: fmt.Sprintf("bad mask length in \"%s/%s\"", addr, mask)}
	case !ok:
		return netip.Prefix{}, &patternError{msg: fmt.Sprintf("bad network value in \"%s/%s\"", addr, mask)}
	}
	pfx := netip.PrefixFrom(a, n)
	if m := pfx.Masked(); m.Addr() != a {
		return netip.Prefix{}, &patternError{
			msg:  fmt.Sprintf("non-null host address bits in \"%s/%s\", perhaps you should use \"%s\" instead", addr, mask, m),
			hint: "Postfix would skip this rule",
		}
	}
	return pfx, nil
}
