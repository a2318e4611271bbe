package access

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// posixToRE2 translates a POSIX regular expression as Postfix's regexp:
// tables give it to regcomp(3) into Go syntax. ere is REG_EXTENDED (on
// unless the x flag toggles it off, which gives a basic regular
// expression).
//
// What differs between POSIX and Go and is handled here: a backslash is
// literal inside a bracket expression; "]" first in a bracket expression is
// literal; "\d"-style escapes of letters that glibc does not define are
// literal letters (with a warning); GNU's "\<", "\>", "\`" and "\'" become
// "\b", "\b", "\A" and "\z"; in a basic RE "\(" "\)" "\{" "\}" "\|" "\+"
// "\?" are the operators and the bare characters are literal. Backreferences
// are not supported by RE2 and are an error.
func posixToRE2(p string, ere bool) (string, []string, *compileError) {
	var b strings.Builder
	var warnings []string
	atStart := true // BRE: '*' is literal and '^' is an anchor here
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '[':
			cls, n, err := posixBracket(p, i)
			if err != nil {
				return "", nil, err
			}
			b.WriteString(cls)
			i += n
			atStart = false
			continue
		case c == '\\':
			if i+1 >= len(p) {
				return "", nil, &compileError{msg: fmt.Sprintf("bad pattern %q: trailing backslash", p), sentinel: ErrSyntax}
			}
			n := p[i+1]
			if !ere && strings.IndexByte("(){}|+?", n) >= 0 {
				b.WriteByte(n)
				i += 2
				atStart = n == '(' || n == '|'
				continue
			}
			atStart = false
			switch {
			case n >= '1' && n <= '9':
				return "", nil, unsupported(p, p[i:i+2], "the backreference", "RE2 cannot compare a group with later text; list the cases explicitly")
			case strings.IndexByte("wWsSbB", n) >= 0:
				b.WriteString(p[i : i+2])
			case n == '<' || n == '>':
				b.WriteString(`\b`)
			case n == '`':
				b.WriteString(`\A`)
			case n == '\'':
				b.WriteString(`\z`)
			case n >= utf8.RuneSelf:
				r, size := utf8.DecodeRuneInString(p[i+1:])
				b.WriteString(regexp.QuoteMeta(string(r)))
				i += 1 + size
				continue
			case isAlnum(n):
				warnings = append(warnings, fmt.Sprintf(`"\%c" in %q is a literal %q in a POSIX regular expression; use a bracket expression such as [0-9] or [[:space:]], or a pcre: table`, n, p, string(n)))
				b.WriteByte(n)
			default:
				b.WriteString(regexp.QuoteMeta(string(n)))
			}
			i += 2
			continue
		}
		if !ere {
			switch c {
			case '(', ')', '{', '}', '|', '+', '?':
				b.WriteByte('\\')
				b.WriteByte(c)
				i++
				atStart = false
				continue
			case '*':
				if atStart {
					b.WriteString(`\*`)
					i++
					atStart = false
					continue
				}
			case '^':
				if !atStart {
					b.WriteString(`\^`)
					i++
					continue
				}
				b.WriteByte('^')
				i++
				continue // a '*' right after a leading '^' is still literal
			case '$':
				if rest := p[i+1:]; rest != "" && !strings.HasPrefix(rest, `\)`) && !strings.HasPrefix(rest, `\|`) {
					b.WriteString(`\$`)
					i++
					atStart = false
					continue
				}
			}
		}
		b.WriteByte(c)
		i++
		atStart = false
	}
	return b.String(), warnings, nil
}

// posixBracket translates the bracket expression that starts at p[i] and
// returns it with the number of bytes it used.
func posixBracket(p string, i int) (string, int, *compileError) {
	var b strings.Builder
	b.WriteByte('[')
	j := i + 1
	if j < len(p) && p[j] == '^' {
		b.WriteByte('^')
		j++
	}
	if j < len(p) && p[j] == ']' {
		b.WriteString(`\]`)
		j++
	}
	for j < len(p) {
		c := p[j]
		switch {
		case c == ']':
			b.WriteByte(']')
			return b.String(), j + 1 - i, nil
		case c == '[' && j+1 < len(p) && strings.IndexByte(":.=", p[j+1]) >= 0:
			kind := p[j+1]
			end := strings.Index(p[j+2:], string(kind)+"]")
			if end < 0 {
				return "", 0, &compileError{msg: fmt.Sprintf("bad pattern %q: unterminated [%c in bracket expression", p, kind), sentinel: ErrSyntax}
			}
			content := p[j+2 : j+2+end]
			switch {
			case kind == ':':
				b.WriteString("[:" + content + ":]")
			case utf8.RuneCountInString(content) == 1:
				b.WriteString(classLiteral(content))
			default:
				return "", 0, unsupported(p, p[j:j+2+end+2], "the collating element", "write the characters themselves")
			}
			j += 2 + end + 2
		case c == '\\' || c == '[':
			b.WriteByte('\\')
			b.WriteByte(c)
			j++
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, &compileError{msg: fmt.Sprintf("bad pattern %q: unmatched [", p), sentinel: ErrSyntax}
}

func classLiteral(s string) string {
	if len(s) == 1 && strings.IndexByte(`\]^-[`, s[0]) >= 0 {
		return `\` + s
	}
	return s
}

func unsupported(pattern, construct, what, hint string) *compileError {
	return &compileError{
		msg:      fmt.Sprintf("%s %q in %q is not supported by RE2 (Go regexp)", what, construct, pattern),
		hint:     hint,
		sentinel: ErrUnsupportedRegexp,
	}
}

const lookaroundHint = "rewrite it with if !/pattern/ ... endif, or put a rule for the exception (e.g. DUNNO) before the general rule"

// pcreInterval is a counted repetition {n}, {n,} or {n,m}.
var pcreInterval = regexp.MustCompile(`^\{[0-9]+(,[0-9]*)?\}`)

// pcreToRE2 translates a PCRE pattern into Go syntax. RE2 runs most of
// PCRE; the constructs it lacks are reported as ErrUnsupportedRegexp with
// the construct named. extended is PCRE_EXTENDED (the x flag): whitespace
// and #comments outside character classes are dropped.
func pcreToRE2(p string, extended bool) (string, *compileError) {
	var b strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		if extended && isSpace(c) {
			i++
			continue
		}
		if extended && c == '#' {
			if j := strings.IndexByte(p[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(p)
			}
			continue
		}
		switch c {
		case '\\':
			n, err := pcreEscape(&b, p, i)
			if err != nil {
				return "", err
			}
			i += n
		case '[':
			n, err := pcreClass(&b, p, i)
			if err != nil {
				return "", err
			}
			i += n
		case '(':
			n, err := pcreGroup(&b, p, i)
			if err != nil {
				return "", err
			}
			i += n
		case '*', '+', '?':
			b.WriteByte(c)
			i++
			if i < len(p) && p[i] == '+' {
				return "", unsupported(p, p[i-1:i+1], "the possessive quantifier", "drop the second +: RE2 never backtracks, so it is not needed")
			}
		case '{':
			if m := pcreInterval.FindString(p[i:]); m != "" {
				b.WriteString(m)
				i += len(m)
				if i < len(p) && p[i] == '+' {
					return "", unsupported(p, m+"+", "the possessive quantifier", "drop the +: RE2 never backtracks, so it is not needed")
				}
				continue
			}
			b.WriteString(`\{`) // PCRE: a '{' that starts no quantifier is literal
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// pcreEscape translates the escape at p[i] (a backslash) and returns the
// bytes used.
func pcreEscape(b *strings.Builder, p string, i int) (int, *compileError) {
	if i+1 >= len(p) {
		return 0, &compileError{msg: fmt.Sprintf(`bad pattern %q: \ at end of pattern`, p), sentinel: ErrSyntax}
	}
	n := p[i+1]
	switch {
	case n >= '1' && n <= '9':
		j := i + 1
		for j < len(p) && isDigit(p[j]) {
			j++
		}
		return 0, unsupported(p, p[i:j], "the backreference", "RE2 cannot compare a group with later text; list the cases explicitly")
	case n == 'g' || n == 'k':
		return 0, unsupported(p, p[i:i+2], "the backreference", "RE2 cannot compare a group with later text; list the cases explicitly")
	case strings.IndexByte("GKRXhHvVNCo", n) >= 0:
		return 0, unsupported(p, p[i:i+2], "the escape", "use a character class such as [[:space:]] or [\\t ] instead")
	case n == 'Z':
		b.WriteString(`(?:\n?\z)`) // end of subject, or before a final newline
	case n == 'e':
		b.WriteString(`\x1b`)
	case n == 'E':
		// a \E without \Q is ignored
	case n == 'c':
		if i+2 >= len(p) || p[i+2] >= utf8.RuneSelf {
			return 0, &compileError{msg: fmt.Sprintf(`bad pattern %q: \c at end of pattern`, p), sentinel: ErrSyntax}
		}
		ch := p[i+2]
		if ch >= 'a' && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		fmt.Fprintf(b, `\x{%x}`, ch^0x40)
		return 3, nil
	case n == 'Q':
		end := strings.Index(p[i+2:], `\E`)
		if end < 0 {
			b.WriteString(regexp.QuoteMeta(p[i+2:]))
			return len(p) - i, nil
		}
		b.WriteString(regexp.QuoteMeta(p[i+2 : i+2+end]))
		return 2 + end + 2, nil
	case n >= utf8.RuneSelf:
		r, size := utf8.DecodeRuneInString(p[i+1:])
		b.WriteString(regexp.QuoteMeta(string(r)))
		return 1 + size, nil
	case (n == 'x' || n == 'p' || n == 'P') && i+2 < len(p) && p[i+2] == '{':
		end := strings.IndexByte(p[i+2:], '}')
		if end < 0 {
			return 0, &compileError{msg: fmt.Sprintf("bad pattern %q: missing } after %s{", p, p[i:i+2]), sentinel: ErrSyntax}
		}
		b.WriteString(p[i : i+2+end+1])
		return 2 + end + 1, nil
	default:
		b.WriteString(p[i : i+2])
	}
	return 2, nil
}

// pcreClass copies the character class at p[i] and returns the bytes used.
func pcreClass(b *strings.Builder, p string, i int) (int, *compileError) {
	b.WriteByte('[')
	j := i + 1
	if j < len(p) && p[j] == '^' {
		b.WriteByte('^')
		j++
	}
	if j < len(p) && p[j] == ']' {
		b.WriteString(`\]`)
		j++
	}
	for j < len(p) {
		c := p[j]
		switch {
		case c == ']':
			b.WriteByte(']')
			return j + 1 - i, nil
		case c == '\\':
			if j+1 >= len(p) {
				return 0, &compileError{msg: fmt.Sprintf(`bad pattern %q: \ at end of pattern`, p), sentinel: ErrSyntax}
			}
			n := p[j+1]
			if strings.IndexByte("hHvVRNXKGo", n) >= 0 {
				return 0, unsupported(p, p[j:j+2], "the escape", "list the characters in the class instead")
			}
			if n == 'e' {
				b.WriteString(`\x1b`)
				j += 2
				continue
			}
			if n >= utf8.RuneSelf {
				r, size := utf8.DecodeRuneInString(p[j+1:])
				b.WriteString(classLiteral(string(r)))
				j += 1 + size
				continue
			}
			if (n == 'x' || n == 'p' || n == 'P') && j+2 < len(p) && p[j+2] == '{' {
				if end := strings.IndexByte(p[j+2:], '}'); end >= 0 {
					b.WriteString(p[j : j+2+end+1])
					j += 2 + end + 1
					continue
				}
			}
			b.WriteString(p[j : j+2])
			j += 2
		case c == '[' && j+1 < len(p) && p[j+1] == ':':
			end := strings.Index(p[j+2:], ":]")
			if end < 0 {
				b.WriteString(`\[`)
				j++
				continue
			}
			b.WriteString(p[j : j+2+end+2])
			j += 2 + end + 2
		case c == '[':
			b.WriteString(`\[`)
			j++
		default:
			b.WriteByte(c)
			j++
		}
	}
	return 0, &compileError{msg: fmt.Sprintf("bad pattern %q: missing terminating ] for character class", p), sentinel: ErrSyntax}
}

// pcreGroup handles the '(' at p[i]: comments are dropped, "(?'name'" is
// rewritten to "(?P<name>", and the group kinds RE2 lacks are reported.
func pcreGroup(b *strings.Builder, p string, i int) (int, *compileError) {
	rest := p[i:]
	switch {
	case strings.HasPrefix(rest, "(?#"):
		j := strings.IndexByte(rest, ')')
		if j < 0 {
			return 0, &compileError{msg: fmt.Sprintf("bad pattern %q: missing ) after (?# comment", p), sentinel: ErrSyntax}
		}
		return j + 1, nil
	case strings.HasPrefix(rest, "(*"):
		j := strings.IndexByte(rest, ')')
		if j < 0 {
			j = len(rest) - 1
		}
		return 0, unsupported(p, rest[:j+1], "the backtracking control verb", "remove it")
	case !strings.HasPrefix(rest, "(?"):
		b.WriteByte('(')
		return 1, nil
	}
	q := rest[2:]
	type construct struct{ prefix, what, hint string }
	for _, c := range []construct{
		{"<=", "the lookbehind", lookaroundHint},
		{"<!", "the negative lookbehind", lookaroundHint},
		{"=", "the lookahead", lookaroundHint},
		{"!", "the negative lookahead", lookaroundHint},
		{">", "the atomic group", "use a plain (?:...) group: RE2 never backtracks"},
		{"|", "the branch reset group", "use a plain (?:...) group and renumber the $n in the result"},
		{"(", "the conditional group", "split the rule into several rules"},
		{"R", "the recursion", "RE2 has no recursion"},
		{"&", "the subroutine call", "repeat the group instead"},
		{"P>", "the subroutine call", "repeat the group instead"},
		{"P=", "the backreference", "RE2 cannot compare a group with later text; list the cases explicitly"},
		{"C", "the callout", "remove it"},
	} {
		if strings.HasPrefix(q, c.prefix) {
			return 0, unsupported(p, "(?"+c.prefix, c.what, c.hint)
		}
	}
	if q != "" && (isDigit(q[0]) || ((q[0] == '+' || q[0] == '-') && len(q) > 1 && isDigit(q[1]))) {
		return 0, unsupported(p, "(?"+q[:1], "the subroutine call", "repeat the group instead")
	}
	if strings.HasPrefix(q, "'") {
		if j := strings.IndexByte(q[1:], '\''); j >= 0 {
			b.WriteString("(?P<" + q[1:1+j] + ">")
			return 2 + 1 + j + 1, nil
		}
	}
	b.WriteByte('(')
	return 1, nil
}
