package spf

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// RFC 7208 §7.1:
//
//	macro-string  = *( macro-expand / macro-literal )
//	macro-expand  = ( "%{" macro-letter transformers *delimiter "}" )
//	                / "%%" / "%_" / "%-"
//	macro-literal = %x21-24 / %x26-7E ; visible characters except "%"
//	macro-letter  = "s" / "l" / "o" / "d" / "i" / "p" / "h" / "c" / "r" / "t" / "v"
//	transformers  = *DIGIT [ "r" ]
//	delimiter     = "." / "-" / "+" / "," / "/" / "_" / "="
//	explain-string = *( macro-string / SP )

// macroString is a parsed macro-string or explain-string.
type macroString struct {
	raw   string
	parts []macroPart
	// endsWithMacro: the last element is a macro-expand (for the
	// domain-end rule of domain-spec).
	endsWithMacro bool
	hasMacro      bool // any %{...}: expansion needs the environment
}

// macroPart is a literal (letter == 0) or one %{...}.
type macroPart struct {
	lit     string
	letter  byte // lower case
	upper   bool // URL-escape the expansion (RFC 7208 §7.3)
	digits  int  // keep this many right-hand parts; 0: all
	reverse bool
	delims  string // "" means "."
}

// maxDigits bounds the DIGIT transformer: more parts than any name has.
const maxDigits = 128

// parseMacroString parses s. explain selects the explain-string grammar
// (spaces allowed) and the exp-only letters c, r and t (RFC 7208 §7.3:
// "The following macro letters are allowed only in "exp" text: c, r, t").
// allLetters accepts c, r and t outside exp text too, for unknown
// modifiers, which are checked but never expanded.
func parseMacroString(s string, explain, allLetters bool) (*macroString, error) {
	m := &macroString{raw: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			m.parts = append(m.parts, macroPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if (c < 0x21 || c > 0x7e) && !(explain && c == ' ') {
				return nil, fmt.Errorf("character %q not allowed in %q", c, s)
			}
			lit.WriteByte(c)
			m.endsWithMacro = false
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("%q ends in a lone %%", s)
		}
		i++
		m.endsWithMacro = true
		switch s[i] {
		case '%':
			lit.WriteByte('%')
			continue
		case '_':
			lit.WriteByte(' ')
			continue
		case '-':
			lit.WriteString("%20")
			continue
		case '{':
		default:
			return nil, fmt.Errorf("%%%c is not a macro in %q", s[i], s)
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unterminated macro in %q", s)
		}
		p, err := parseMacroExpand(s[i+1:i+end], explain || allLetters)
		if err != nil {
			return nil, fmt.Errorf("%w in %q", err, s)
		}
		i += end
		flush()
		m.parts = append(m.parts, p)
		m.hasMacro = true
	}
	flush()
	return m, nil
}

// parseMacroExpand parses the inside of %{...}.
func parseMacroExpand(body string, expLetters bool) (macroPart, error) {
	var p macroPart
	if body == "" {
		return p, fmt.Errorf("empty macro %%{}")
	}
	l := body[0]
	p.letter = l | 0x20
	p.upper = 'A' <= l && l <= 'Z'
	switch p.letter {
	case 's', 'l', 'o', 'd', 'i', 'p', 'h', 'v':
	case 'c', 'r', 't':
		if !expLetters {
			return p, fmt.Errorf("macro letter %q allowed in exp text only", l)
		}
	default:
		return p, fmt.Errorf("unknown macro letter %q", l)
	}
	i := 1
	for ; i < len(body) && isDigit(body[i]); i++ {
		p.digits = min(p.digits*10+int(body[i]-'0'), maxDigits+1)
	}
	if i > 1 && p.digits == 0 {
		// RFC 7208 §7.3: a DIGIT transformer must be nonzero.
		return p, fmt.Errorf("zero DIGIT transformer in %%{%s}", body)
	}
	if i < len(body) && body[i]|0x20 == 'r' {
		p.reverse = true
		i++
	}
	p.delims = body[i:]
	for j := 0; j < len(p.delims); j++ {
		if strings.IndexByte(".-+,/_=", p.delims[j]) < 0 {
			return p, fmt.Errorf("bad delimiter %q in %%{%s}", p.delims[j], body)
		}
	}
	return p, nil
}

// validDomainSpec applies the domain-end rule (RFC 7208 §7.1):
//
//	domain-spec = macro-string domain-end
//	domain-end  = ( "." toplabel [ "." ] ) / macro-expand
func validDomainSpec(m *macroString) error {
	if m.raw == "" {
		return fmt.Errorf("empty domain-spec")
	}
	if m.endsWithMacro {
		return nil
	}
	s := strings.TrimSuffix(m.raw, ".")
	i := strings.LastIndexByte(s, '.')
	if i < 0 || !validToplabel(s[i+1:]) {
		return fmt.Errorf("domain-spec %q does not end in a macro or a valid top label", m.raw)
	}
	return nil
}

// validToplabel (RFC 7208 §7.1):
//
//	toplabel = ( *alphanum ALPHA *alphanum ) /
//	           ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
//
// that is: letters, digits and dashes, starting and ending with a letter
// or digit, and not all digits.
func validToplabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	numeric := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlpha(c), c == '-':
			numeric = false
		case isDigit(c):
		default:
			return false
		}
	}
	return !numeric
}

// expand expands m for the record of domain. It needs the checker for
// %{p} (DNS lookups, memoized) and the other values of the check.
func (c *checker) expand(ctx context.Context, m *macroString, domain string) string {
	if !m.hasMacro {
		if len(m.parts) == 1 {
			return m.parts[0].lit
		}
		if len(m.parts) == 0 {
			return ""
		}
	}
	var sb strings.Builder
	for _, p := range m.parts {
		if p.letter == 0 {
			sb.WriteString(p.lit)
			continue
		}
		v := c.macroValue(ctx, p.letter, domain)
		if p.digits > 0 || p.reverse || p.delims != "" {
			v = transform(v, p)
		}
		if p.upper {
			v = urlEscape(v)
		}
		sb.WriteString(v)
	}
	return sb.String()
}

// macroValue is the value of a macro letter (RFC 7208 §7.3).
func (c *checker) macroValue(ctx context.Context, letter byte, domain string) string {
	switch letter {
	case 's':
		return c.sender
	case 'l':
		return c.local
	case 'o':
		return c.senderDomain
	case 'd':
		return domain
	case 'i':
		if c.ip.Is4() {
			return c.ip.String()
		}
		return nibbles(c.ip.As16())
	case 'p':
		return c.validatedName(ctx, domain)
	case 'v':
		if c.ip.Is4() {
			return "in-addr"
		}
		return "ip6"
	case 'h':
		return c.helo
	case 'c':
		return c.ip.String() // dotted quad, or RFC 5952 text
	case 'r':
		return c.opts.Receiver
	case 't':
		return strconv.FormatInt(c.opts.Now().Unix(), 10)
	}
	return ""
}

// nibbles is the dot-format of an IPv6 address for %{i}: 32 hexadecimal
// nibbles, most significant first. Lower case, as in the RFC 7208 §7.4
// example ("1.0.b.c.0.0.0.0...").
func nibbles(a [16]byte) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, 63)
	for i, x := range a {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, hex[x>>4], '.', hex[x&0xf])
	}
	return string(b)
}

// transform splits v on the delimiters, reverses if asked, keeps the
// right-hand digits parts and joins with dots (RFC 7208 §7.3).
func transform(v string, p macroPart) string {
	delims := p.delims
	if delims == "" {
		delims = "."
	}
	parts := splitKeepEmpty(v, delims)
	if p.reverse {
		slices.Reverse(parts)
	}
	if p.digits > 0 && p.digits < len(parts) {
		parts = parts[len(parts)-p.digits:]
	}
	return strings.Join(parts, ".")
}

func splitKeepEmpty(v, delims string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(v); i++ {
		if strings.IndexByte(delims, v[i]) >= 0 {
			parts = append(parts, v[start:i])
			start = i + 1
		}
	}
	return append(parts, v[start:])
}

// urlEscape escapes every octet outside the RFC 3986 "unreserved" set
// (ALPHA / DIGIT / "-" / "." / "_" / "~") as %XX with upper-case hex.
func urlEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~' {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&0xf])
	}
	return sb.String()
}
