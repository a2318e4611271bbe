package spf

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// RFC 7208 §12 (collected ABNF), the parts parsed here:
//
//	record           = version terms *SP
//	version          = "v=spf1"
//	terms            = *( 1*SP ( directive / modifier ) )
//	directive        = [ qualifier ] mechanism
//	qualifier        = "+" / "-" / "?" / "~"
//	mechanism        = ( all / include / a / mx / ptr / ip4 / ip6 / exists )
//	include          = "include"  ":" domain-spec
//	a                = "a"      [ ":" domain-spec ] [ dual-cidr-length ]
//	mx               = "mx"     [ ":" domain-spec ] [ dual-cidr-length ]
//	ptr              = "ptr"    [ ":" domain-spec ]
//	ip4              = "ip4"      ":" ip4-network   [ ip4-cidr-length ]
//	ip6              = "ip6"      ":" ip6-network   [ ip6-cidr-length ]
//	exists           = "exists"   ":" domain-spec
//	modifier         = redirect / explanation / unknown-modifier
//	redirect         = "redirect" "=" domain-spec
//	explanation      = "exp" "=" domain-spec
//	unknown-modifier = name "=" macro-string
//	name             = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
//	ip4-cidr-length  = "/" ("0" / %x31-39 0*1DIGIT) ; value range 0-32
//	ip6-cidr-length  = "/" ("0" / %x31-39 0*2DIGIT) ; value range 0-128
//	dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]

// mechKind is a mechanism name.
type mechKind uint8

const (
	mAll mechKind = iota + 1
	mInclude
	mA
	mMX
	mPTR
	mIP4
	mIP6
	mExists
)

var mechNames = map[string]mechKind{
	"all": mAll, "include": mInclude, "a": mA, "mx": mMX, "ptr": mPTR,
	"ip4": mIP4, "ip6": mIP6, "exists": mExists,
}

// lookups reports whether the mechanism counts against the limit of 10
// DNS-querying terms (RFC 7208 §4.6.4).
func (k mechKind) lookups() bool {
	switch k {
	case mInclude, mA, mMX, mPTR, mExists:
		return true
	}
	return false
}

// directive is one mechanism with its qualifier.
type directive struct {
	qual   Result
	kind   mechKind
	spec   *macroString // domain-spec; nil: the current <domain>
	prefix netip.Prefix // ip4, ip6
	cidr4  int          // a, mx
	cidr6  int
	text   string // as written, without the qualifier, for logs
}

// record is a parsed SPF record.
type record struct {
	directives []directive
	redirect   *macroString // nil when absent
	exp        *macroString // nil when absent
}

// isSPF reports whether a TXT record is an SPF record: it begins with
// "v=spf1" (without case) followed by a space or its end (RFC 7208 §4.5).
func isSPF(txt string) bool {
	return len(txt) >= 6 && strings.EqualFold(txt[:6], "v=spf1") && (len(txt) == 6 || txt[6] == ' ')
}

// parseRecord parses an SPF record completely: a syntax error anywhere,
// even after a term that would decide the result, is an error (RFC 7208
// §4.6: "if there are any syntax errors anywhere in the record,
// check_host() returns immediately with the result "permerror"").
func parseRecord(txt string) (*record, error) {
	if !isSPF(txt) {
		return nil, fmt.Errorf("not an spf record (no v=spf1)")
	}
	rec := &record{}
	// Terms are separated by SP only (§4.6.1); any other control
	// character stays inside a term and makes it invalid.
	for term := range strings.SplitSeq(txt[6:], " ") {
		if term == "" {
			continue
		}
		if err := rec.addTerm(term); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

func (rec *record) addTerm(term string) error {
	for i := 0; i < len(term); i++ {
		if c := term[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("term %q: character %q is not visible ASCII", term, c)
		}
	}
	// A modifier is name "=" with no ":" or "/" before the "=";
	// otherwise the term is a mechanism. Known modifier names are not
	// swallowed by unknown-modifier (errata to RFC 7208, see the
	// suite's redirect-syntax-error).
	if eq := strings.IndexByte(term, '='); eq >= 0 && !strings.ContainsAny(term[:eq], ":/") {
		return rec.addModifier(term, term[:eq], term[eq+1:])
	}
	d, err := parseDirective(term)
	if err != nil {
		return err
	}
	rec.directives = append(rec.directives, d)
	return nil
}

func (rec *record) addModifier(term, name, value string) error {
	if !validModifierName(name) {
		return fmt.Errorf("modifier %q: bad name", term)
	}
	switch strings.ToLower(name) {
	case "redirect", "exp":
		slot := &rec.redirect
		if strings.EqualFold(name, "exp") {
			slot = &rec.exp
		}
		// §6: "These two modifiers MUST NOT appear in a record more
		// than once each."
		if *slot != nil {
			return fmt.Errorf("modifier %q appears twice", strings.ToLower(name))
		}
		m, err := parseDomainSpec(value)
		if err != nil {
			return fmt.Errorf("modifier %q: %w", term, err)
		}
		*slot = m
	default:
		// §6: unknown modifiers are ignored, but they must be valid.
		if _, err := parseMacroString(value, false, true); err != nil {
			return fmt.Errorf("modifier %q: %w", term, err)
		}
	}
	return nil
}

// validModifierName: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
func validModifierName(name string) bool {
	if name == "" || !isAlpha(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func parseDomainSpec(s string) (*macroString, error) {
	m, err := parseMacroString(s, false, false)
	if err != nil {
		return nil, err
	}
	if err := validDomainSpec(m); err != nil {
		return nil, err
	}
	return m, nil
}

func parseDirective(term string) (directive, error) {
	d := directive{qual: Pass, cidr4: 32, cidr6: 128}
	switch term[0] {
	case '+':
		d.qual = Pass
	case '-':
		d.qual = Fail
	case '~':
		d.qual = Softfail
	case '?':
		d.qual = Neutral
	}
	if d.qual != Pass || term[0] == '+' {
		term = term[1:]
	}
	d.text = term
	end := strings.IndexAny(term, ":/")
	if end < 0 {
		end = len(term)
	}
	kind, ok := mechNames[strings.ToLower(term[:end])]
	if !ok {
		return d, fmt.Errorf("unknown mechanism %q", term)
	}
	d.kind = kind
	rest := term[end:]
	errf := func(format string, args ...any) (directive, error) {
		return d, fmt.Errorf("mechanism %q: %s", term, fmt.Sprintf(format, args...))
	}

	switch kind {
	case mAll:
		if rest != "" {
			return errf("takes no argument")
		}
	case mInclude, mExists, mPTR:
		if rest == "" && kind == mPTR {
			break
		}
		if !strings.HasPrefix(rest, ":") {
			return errf("needs \":\" domain-spec")
		}
		m, err := parseDomainSpec(rest[1:])
		if err != nil {
			return errf("%v", err)
		}
		d.spec = m
	case mA, mMX:
		spec := rest
		if strings.HasPrefix(rest, ":") {
			spec = rest[1:]
		} else if rest != "" && rest[0] != '/' {
			return errf("bad argument")
		}
		spec, c4, c6, err := cutDualCIDR(spec)
		if err != nil {
			return errf("%v", err)
		}
		d.cidr4, d.cidr6 = c4, c6
		if strings.HasPrefix(rest, ":") {
			m, err := parseDomainSpec(spec)
			if err != nil {
				return errf("%v", err)
			}
			d.spec = m
		} else if spec != "" {
			return errf("bad cidr-length")
		}
	case mIP4, mIP6:
		if !strings.HasPrefix(rest, ":") {
			return errf("needs \":\" network")
		}
		p, err := parseNetwork(rest[1:], kind == mIP6)
		if err != nil {
			return errf("%v", err)
		}
		d.prefix = p
	}
	return d, nil
}

// cutDualCIDR removes a trailing dual-cidr-length from s. A "/" followed
// by something other than digits is part of the domain-spec (a "/" is a
// legal macro-literal); digits out of range are an error.
func cutDualCIDR(s string) (rest string, c4, c6 int, err error) {
	c4, c6 = 32, 128
	if i := strings.LastIndex(s, "//"); i >= 0 && allDigits(s[i+2:]) {
		if c6, err = cidrLen(s[i+2:], 128); err != nil {
			return "", 0, 0, err
		}
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 && allDigits(s[i+1:]) {
		if c4, err = cidrLen(s[i+1:], 32); err != nil {
			return "", 0, 0, err
		}
		s = s[:i]
	}
	return s, c4, c6, nil
}

// cidrLen parses a cidr length: no leading zero and at most max, as the
// ABNF above says (the suites' cidr4-33, cidr4-032 and cidr6-129).
func cidrLen(s string, max int) (int, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || len(s) > 3 {
		return 0, fmt.Errorf("bad cidr-length %q", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > max {
		return 0, fmt.Errorf("bad cidr-length %q (0-%d)", s, max)
	}
	return n, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// parseNetwork parses ip4-network [ip4-cidr-length] or ip6-network
// [ip6-cidr-length].
func parseNetwork(s string, v6 bool) (netip.Prefix, error) {
	bits := 32
	if v6 {
		bits = 128
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		n, err := cidrLen(s[i+1:], bits)
		if err != nil {
			return netip.Prefix{}, err
		}
		s, bits = s[:i], n
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Prefix{}, fmt.Errorf("bad address %q", s)
	case a.Zone() != "":
		return netip.Prefix{}, fmt.Errorf("address %q has a zone", s)
	case v6 != a.Is6():
		return netip.Prefix{}, fmt.Errorf("address %q is of the wrong family", s)
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}
