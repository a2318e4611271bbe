package access

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// reRule is one rule of a regexp or pcre table (dict_regexp.c
// DICT_REGEXP_RULE, dict_pcre.c DICT_PCRE_RULE).
type reRule struct {
	op        int
	re        *regexp.Regexp
	positive  bool
	re2       *regexp.Regexp // regexp tables only: /pattern1/!/pattern2/
	positive2 bool
	repl      []replPart // opMatch
	maxSub    int
	end       int // opIf: index of the matching opEndif
}

// replPart is literal text or a $n reference in a result.
type replPart struct {
	lit string
	sub int // > 0 for $n
}

// parsedPat is one /pattern/flags before compilation.
type parsedPat struct {
	text     string // between the delimiters, backslashes kept
	flags    string
	positive bool
}

// parsePattern parses a regexp_table(5) (pcre false) or pcre_table(5)
// (pcre true) file.
func parsePattern(name string, data []byte, pcre bool) (*Table, error) {
	kind := "regexp"
	if pcre {
		kind = "pcre"
	}
	errs := &errList{file: name}
	var rules []reRule
	var warnings []string
	var stack, ifLines []int
	warn := func(line int, format string, args ...any) {
		warnings = append(warnings, fmt.Sprintf("%s:%d: ", name, line)+fmt.Sprintf(format, args...))
	}
	for _, ll := range readLogicalLines(name, data, errs) {
		p := trimSpace(ll.text)
		switch {
		case !isAlnum(p[0]):
			first, rest, perr := getPattern(p, pcre)
			if perr != nil {
				errs.add(ll.line, ErrSyntax, perr.hint, "%s", perr.msg)
				continue
			}
			var second *parsedPat
			if !pcre && strings.HasPrefix(rest, "!") {
				// "/pattern1/!/pattern2/": the '!' that joins them negates
				// the second pattern.
				second, rest, perr = getPattern(rest, false)
				if perr != nil {
					errs.add(ll.line, ErrSyntax, perr.hint, "%s", perr.msg)
					continue
				}
			}
			result := trimSpace(rest)
			if result == "" {
				warn(ll.line, "using empty replacement string, which an access map treats as OK")
			}
			repl, maxSub, msg := parseReplacement(result)
			if msg != "" {
				errs.add(ll.line, ErrSyntax, "use $1 to $9, ${n} or $(n) for matched text, and $$ for a literal $", "bad replacement syntax: %s", msg)
				continue
			}
			if maxSub > 0 && !first.positive {
				errs.add(ll.line, ErrSyntax, "a negated pattern matches nothing to substitute", "$number found in negative match replacement text")
				continue
			}
			re, w, cerr := compilePattern(first, pcre)
			if cerr != nil {
				errs.add(ll.line, cerr.sentinel, cerr.hint, "%s", cerr.msg)
				continue
			}
			for _, s := range w {
				warn(ll.line, "%s", s)
			}
			if maxSub > re.NumSubexp() {
				errs.add(ll.line, ErrSyntax, fmt.Sprintf("the pattern has %d (...) groups", re.NumSubexp()), "out of range replacement index \"%d\"", maxSub)
				continue
			}
			rule := reRule{op: opMatch, re: re, positive: first.positive, repl: repl, maxSub: maxSub}
			if second != nil {
				re2, w, cerr := compilePattern(second, pcre)
				if cerr != nil {
					errs.add(ll.line, cerr.sentinel, cerr.hint, "%s", cerr.msg)
					continue
				}
				for _, s := range w {
					warn(ll.line, "%s", s)
				}
				rule.re2, rule.positive2 = re2, second.positive
			}
			rules = append(rules, rule)
		case keyword(p, "if"):
			// A bad if still opens a block, so that its endif is not
			// reported too.
			stack = append(stack, len(rules))
			ifLines = append(ifLines, ll.line)
			rules = append(rules, reRule{op: opIf})
			pat, rest, perr := getPattern(trimLeftSpace(p[2:]), pcre)
			if perr != nil {
				errs.add(ll.line, ErrSyntax, perr.hint, "%s", perr.msg)
				continue
			}
			if r := trimSpace(rest); r != "" {
				errs.add(ll.line, ErrSyntax, "do not indent the rules between if and endif: a line that starts with whitespace continues the line before it",
					"text after the if pattern: %q (Postfix ignores it)", r)
				continue
			}
			re, w, cerr := compilePattern(pat, pcre)
			if cerr != nil {
				errs.add(ll.line, cerr.sentinel, cerr.hint, "%s", cerr.msg)
				continue
			}
			for _, s := range w {
				warn(ll.line, "%s", s)
			}
			rules[len(rules)-1].re, rules[len(rules)-1].positive = re, pat.positive
		case keyword(p, "endif"):
			if r := trimSpace(p[5:]); r != "" {
				errs.add(ll.line, ErrSyntax, "do not indent the line after endif: it continues the endif line", "text after endif: %q", r)
				continue
			}
			if len(stack) == 0 {
				errs.add(ll.line, ErrSyntax, "remove it, or add the missing if", "endif without if")
				continue
			}
			rules[stack[len(stack)-1]].end = len(rules)
			stack, ifLines = stack[:len(stack)-1], ifLines[:len(ifLines)-1]
			rules = append(rules, reRule{op: opEndif})
		default:
			errs.add(ll.line, ErrSyntax, "a rule starts with a delimiter such as /pattern/, or is if /pattern/ or endif",
				"unrecognized %s table line %q", kind, p)
		}
	}
	for i := range stack {
		errs.add(ifLines[i], ErrSyntax, "add endif; Postfix would skip the rest of the file when the if does not match", "if has no matching endif")
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return &Table{fixed: false, warnings: warnings, lookup: func(key string) (string, bool) { return reLookup(rules, key) }}, nil
}

func reLookup(rules []reRule, key string) (string, bool) {
	for i := 0; i < len(rules); i++ {
		r := &rules[i]
		switch r.op {
		case opMatch:
			var loc []int
			if r.maxSub > 0 {
				loc = r.re.FindStringSubmatchIndex(key)
				if loc == nil { // a positive rule; negated rules have no $n
					continue
				}
			} else if r.re.MatchString(key) != r.positive {
				continue
			}
			if r.re2 != nil && r.re2.MatchString(key) != r.positive2 {
				continue
			}
			if r.maxSub == 0 {
				return r.repl[0].lit, true
			}
			var b strings.Builder
			for _, part := range r.repl {
				if part.sub == 0 {
					b.WriteString(part.lit)
				} else if s, e := loc[2*part.sub], loc[2*part.sub+1]; s >= 0 {
					b.WriteString(key[s:e]) // an unmatched or empty group adds nothing
				}
			}
			return b.String(), true
		case opIf:
			if r.re.MatchString(key) != r.positive {
				i = r.end
			}
		}
	}
	return "", false
}

// getPattern extracts "[!...]<delim>pattern<delim>flags" from the start of
// p (dict_regexp_get_pat, dict_pcre_get_pattern) and returns the rest.
// Flags end at whitespace, and in regexp tables also at '!'.
func getPattern(p string, pcre bool) (*parsedPat, string, *patternError) {
	p, positive := negations(p)
	if p == "" {
		return nil, "", &patternError{msg: "no regexp", hint: "write /pattern/ result"}
	}
	delim := p[0]
	i := 1
	for i < len(p) && p[i] != delim {
		if p[i] == '\\' && i+1 < len(p) {
			i++
		}
		i++
	}
	if i >= len(p) {
		return nil, "", &patternError{msg: fmt.Sprintf("no closing regexp delimiter %q", string(delim)),
			hint: "escape the delimiter inside the pattern as \\" + string(delim)}
	}
	pat := &parsedPat{text: p[1:i], positive: positive}
	j := i + 1
	for j < len(p) && !isSpace(p[j]) && (pcre || p[j] != '!') {
		j++
	}
	pat.flags = p[i+1 : j]
	return pat, p[j:], nil
}

// parseReplacement splits a result into literal text and $n references
// (mac_parse.c): "$$" is a literal "$", "$name", "${name}" and "$(name)"
// are references whose name must be a number from 1.
func parseReplacement(s string) ([]replPart, int, string) {
	var parts []replPart
	var lit strings.Builder
	maxSub := 0
	for i := 0; i < len(s); {
		if s[i] != '$' {
			lit.WriteByte(s[i])
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			lit.WriteByte('$')
			i += 2
			continue
		}
		i++
		var name string
		if i < len(s) && (s[i] == '{' || s[i] == '(') {
			open, close := s[i], byte('}')
			if open == '(' {
				close = ')'
			}
			level, j := 1, i+1
			for ; j < len(s); j++ {
				if s[j] == open {
					level++
				} else if s[j] == close {
					level--
					if level == 0 {
						break
					}
				}
			}
			if j >= len(s) {
				return nil, 0, fmt.Sprintf("truncated macro reference %q", s)
			}
			name, i = s[i+1:j], j+1
		} else {
			j := i
			for j < len(s) && (isAlnum(s[j]) || s[j] == '_') {
				j++
			}
			name, i = s[i:j], j
		}
		if name == "" {
			return nil, 0, fmt.Sprintf("empty macro name in %q", s)
		}
		if strings.Trim(name, "0123456789") != "" {
			return nil, 0, fmt.Sprintf("non-numeric replacement index %q", name)
		}
		n, err := strconv.Atoi(name)
		if err != nil || n < 1 || n > 99 {
			return nil, 0, fmt.Sprintf("out of range replacement index %q", name)
		}
		if lit.Len() > 0 {
			parts = append(parts, replPart{lit: lit.String()})
			lit.Reset()
		}
		parts = append(parts, replPart{sub: n})
		maxSub = max(maxSub, n)
	}
	if lit.Len() > 0 || len(parts) == 0 {
		parts = append(parts, replPart{lit: lit.String()})
	}
	return parts, maxSub, ""
}

type compileError struct {
	msg, hint string
	sentinel  error
}

// compilePattern translates a regexp (POSIX) or pcre pattern with its flags
// to Go syntax and compiles it.
func compilePattern(p *parsedPat, pcre bool) (*regexp.Regexp, []string, *compileError) {
	var prefix, expr string
	var warnings []string
	var cerr *compileError
	if pcre {
		// dict_pcre.c: PCRE_CASELESS and PCRE_DOTALL are on by default;
		// each flag letter toggles one option.
		caseless, dotall, multiline, extended, anchored, ungreedy := true, true, false, false, false, false
		for _, f := range p.flags {
			switch f {
			case 'i':
				caseless = !caseless
			case 's':
				dotall = !dotall
			case 'm':
				multiline = !multiline
			case 'x':
				extended = !extended
			case 'A':
				anchored = !anchored
			case 'U':
				ungreedy = !ungreedy
			case 'E':
				// PCRE_DOLLAR_ENDONLY: Go's $ already matches only at the
				// end of the text (without m).
			case 'X':
				warnings = append(warnings, `ignoring obsolete regexp option "X"`)
			default:
				return nil, nil, &compileError{msg: fmt.Sprintf("unknown regexp option %q", string(f)), hint: "pcre flags are i, m, s, x, A, E, U and X", sentinel: ErrSyntax}
			}
		}
		prefix = goFlags(caseless, dotall, multiline, ungreedy)
		expr, cerr = pcreToRE2(p.text, extended)
		if cerr == nil && anchored {
			expr = `\A(?:` + expr + `)`
		}
	} else {
		// dict_regexp.c: REG_EXTENDED and REG_ICASE are on by default; i
		// toggles REG_ICASE, x toggles REG_EXTENDED, m toggles REG_NEWLINE.
		icase, extended, newline := true, true, false
		for _, f := range p.flags {
			switch f {
			case 'i':
				icase = !icase
			case 'x':
				extended = !extended
			case 'm':
				newline = !newline
			default:
				return nil, nil, &compileError{msg: fmt.Sprintf("unknown regexp option %q", string(f)), hint: "regexp flags are i, x and m", sentinel: ErrSyntax}
			}
		}
		// Without REG_NEWLINE, '.' matches a newline and ^ $ match only at
		// the ends of the text.
		prefix = goFlags(icase, !newline, newline, false)
		expr, warnings, cerr = posixToRE2(p.text, extended)
	}
	if cerr != nil {
		return nil, nil, cerr
	}
	re, err := regexp.Compile(prefix + expr)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		return nil, nil, &compileError{msg: fmt.Sprintf("bad pattern %q: %s", p.text, msg), sentinel: ErrSyntax}
	}
	if !pcre {
		re.Longest() // POSIX leftmost-longest
	}
	return re, warnings, nil
}

func goFlags(i, s, m, u bool) string {
	f := ""
	if i {
		f += "i"
	}
	if s {
		f += "s"
	}
	if m {
		f += "m"
	}
	if u {
		f += "U"
	}
	if f == "" {
		return ""
	}
	return "(?" + f + ")"
}
