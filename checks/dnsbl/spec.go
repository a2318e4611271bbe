package dnsbl

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mxguard/mxguard/checks/syntax"
)

// ErrSpec is wrapped by every ParseSpec error.
var ErrSpec = errors.New("dnsbl: bad list")

// MaxWeight bounds a weight's absolute value, so that no sum of weights
// can overflow and a typo (a missing "=" turning an address into a
// weight) is caught.
const MaxWeight = 1_000_000

// Spec is one configured DNS list: its zone, the answers that count as a
// listing, and its weight in score mode. It is written
//
//	zone[=filter][*weight]
//
// as Postfix's reject_rbl_client and postscreen_dnsbl_sites do (see
// ParseSpec). The zero Filter accepts every answer in 127.0.0.0/8 (minus
// the refusal codes, see Lookup).
type Spec struct {
	// Zone is the list's DNS zone, lower case, without a trailing dot. It
	// may contain a secret (a Spamhaus DQS key: "KEY.zen.dq.spamhaus.net"):
	// set Name, and the zone is never shown.
	Zone string
	// Filter selects the answers that count as a listing.
	Filter Filter
	// Weight is the list's weight in score mode (Scorer): added to the
	// score when an answer is in Filter. Negative for allowlists. 1 when
	// not written.
	Weight int
	// Name is the public name shown instead of Zone in replies, results
	// and logs (postscreen_dnsbl_reply_map's "safe name"), e.g.
	// "zen.spamhaus.org" for a DQS zone. Empty: Zone is shown.
	Name string
	// Domain marks a list keyed by domain names (RHSBL, RHSWL) rather
	// than addresses; Health then tests it with the names TEST and
	// INVALID instead of 127.0.0.2 and 127.0.0.1 (RFC 5782 §5). The
	// RHSBL constructors set it.
	Domain bool
}

// Display is the name shown for the list: Name, or Zone when no public
// name is set.
func (s Spec) Display() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Zone
}

// String renders s in ParseSpec's syntax, with the public name in place
// of the zone: it is safe to log.
func (s Spec) String() string {
	var b strings.Builder
	b.WriteString(s.Display())
	if !s.Filter.IsZero() {
		b.WriteByte('=')
		b.WriteString(s.Filter.String())
	}
	if s.Weight != 1 {
		b.WriteByte('*')
		b.WriteString(strconv.Itoa(s.Weight))
	}
	return b.String()
}

// minSecretLabel is the length from which a label of a zone with a public
// name, that is not itself part of the public name, is taken to be a key
// (Spamhaus DQS keys are 26 characters) and removed from any text shown.
const minSecretLabel = 12

// redact replaces the zone, and any label of it that looks like a key,
// with the public name in text that may be shown or logged. It is a
// no-op without a public name.
func (s Spec) redact(text string) string {
	if s.Name == "" || text == "" {
		return text
	}
	text = replaceFold(text, s.Zone, s.Name)
	public := map[string]bool{}
	for _, l := range strings.Split(strings.ToLower(s.Name), ".") {
		public[l] = true
	}
	for _, l := range strings.Split(s.Zone, ".") {
		if len(l) >= minSecretLabel && !public[l] {
			text = replaceFold(text, l, "[redacted]")
		}
	}
	return text
}

// replaceFold replaces every ASCII-case-insensitive occurrence of old in
// s with repl.
func replaceFold(s, old, repl string) string {
	if old == "" {
		return s
	}
	lower, old := asciiLower(s), asciiLower(old) // same byte lengths as s and old
	var b strings.Builder
	for {
		i := strings.Index(lower, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s, lower = s[i+len(old):], lower[i+len(old):]
	}
}

// asciiLower lowercases ASCII letters only, so that byte offsets stay.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ParseSpec parses a list in Postfix's syntax, zone[=filter][*weight]:
//
//	zen.spamhaus.org
//	zen.spamhaus.org=127.0.0.[2..11]
//	zen.spamhaus.org=127.0.0.[10;11]*8
//	list.dnswl.org=127.0.[0..255].[1..3]*-4
//	bl.example=127.0.0.0/24,127.0.1.2
//
// The zone is a domain name (case and one trailing dot do not matter).
//
// The filter, after "=", is one or more items separated by "," or ";"
// outside square brackets; an answer counts when any item matches it. An
// item is
//
//   - an IPv4 address pattern in Postfix's ip_match syntax (as in
//     reject_rbl_client and postscreen_dnsbl_sites): four fields
//     separated by ".", each a decimal octet or a "[...]" list of octets
//     and ranges separated by ";": 127.0.0.2, 127.0.0.[2..11],
//     127.0.[0..255].[1;3;5..7]; the whole pattern may be enclosed in
//     one more pair of brackets, as Postfix allows;
//   - or an IPv4 prefix in CIDR notation: 127.0.0.0/24 (an item with a
//     "/" is a prefix, anything else a pattern; a plain address is both).
//
// Mixing is allowed: "127.0.0.0/24;127.0.1.[2..3]". Postfix's own syntax
// is a single pattern, so every filter Postfix accepts means the same
// here. A filter that can match no answer in 127.0.0.0/8 outside the
// refusal block 127.255.255.0/24 is refused, since such answers are never
// listings (see Lookup).
//
// The weight, after "*", is a decimal integer, negative for allowlists
// (postscreen_dnsbl_sites); 1 when absent. It only matters in score mode.
//
// Errors wrap ErrSpec and say what is wrong, with a hint.
func ParseSpec(s string) (Spec, error) {
	orig := s
	bad := func(format string, args ...any) (Spec, error) {
		return Spec{}, fmt.Errorf("%w %q: %s", ErrSpec, orig, fmt.Sprintf(format, args...))
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return bad("empty; want zone[=filter][*weight], e.g. zen.spamhaus.org=127.0.0.[2..11]*3")
	}
	spec := Spec{Weight: 1}
	// As postscreen: the weight is split off first, then the filter.
	if i := strings.IndexByte(s, '*'); i >= 0 {
		w := strings.TrimSpace(s[i+1:])
		n, err := strconv.Atoi(w)
		if err != nil {
			return bad("weight %q after \"*\" is not an integer (write zone=filter*weight, e.g. list.example*-2)", w)
		}
		if n > MaxWeight || n < -MaxWeight {
			return bad("weight %d is out of range (-%d..%d)", n, MaxWeight, MaxWeight)
		}
		spec.Weight = n
		s = strings.TrimSpace(s[:i])
	}
	zone, filter, hasFilter := strings.Cut(s, "=")
	zone = strings.ToLower(strings.TrimSpace(zone))
	if zone == "" {
		return bad("no zone before %q (write zone=filter, e.g. zen.spamhaus.org=127.0.0.2)", "="+filter)
	}
	zone = syntax.StripTrailingDot(zone)
	if _, err := netip.ParseAddr(zone); err == nil || allDigitsDots(zone) {
		return bad("zone %q looks like an address, not a domain (write zone=filter, e.g. zen.spamhaus.org=%s)", zone, zone)
	}
	if !syntax.ValidHostname(zone) || len(zone) > maxNameLen {
		return bad("zone %q is not a valid domain name (letters, digits, \"-\" and \"_\" in labels of at most 63 characters)", zone)
	}
	spec.Zone = zone
	if hasFilter {
		f, err := ParseFilter(filter)
		if err != nil {
			return bad("%v", err)
		}
		spec.Filter = f
	}
	return spec, nil
}

func allDigitsDots(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

// Filter selects the DNS list answers that count as a listing. The zero
// Filter matches every address. Build one with ParseFilter.
type Filter struct {
	items []filterItem
}

// filterItem is one prefix or one ip_match pattern.
type filterItem struct {
	prefix  netip.Prefix // valid for a CIDR item
	pattern *pattern
}

// pattern is a Postfix ip_match IPv4 pattern: per octet, a set of values
// (a bitmap) and the members as written, to print it back.
type pattern struct {
	set     [4][4]uint64
	members [4][]octetRange
	bracket [4]bool
}

type octetRange struct{ lo, hi uint8 }

func (p *pattern) add(field int, r octetRange) {
	for v := int(r.lo); v <= int(r.hi); v++ {
		p.set[field][v/64] |= 1 << (v % 64)
	}
	p.members[field] = append(p.members[field], r)
}

func (p *pattern) has(field int, v uint8) bool {
	return p.set[field][v/64]&(1<<(v%64)) != 0
}

func (p *pattern) match(a [4]byte) bool {
	for i := range 4 {
		if !p.has(i, a[i]) {
			return false
		}
	}
	return true
}

func (p *pattern) String() string {
	var b strings.Builder
	for i := range 4 {
		if i > 0 {
			b.WriteByte('.')
		}
		if p.bracket[i] {
			b.WriteByte('[')
		}
		for j, m := range p.members[i] {
			if j > 0 {
				b.WriteByte(';')
			}
			b.WriteString(strconv.Itoa(int(m.lo)))
			if m.hi != m.lo {
				b.WriteString("..")
				b.WriteString(strconv.Itoa(int(m.hi)))
			}
		}
		if p.bracket[i] {
			b.WriteByte(']')
		}
	}
	return b.String()
}

// IsZero reports whether f is the zero Filter, which matches everything.
func (f Filter) IsZero() bool { return len(f.items) == 0 }

// Match reports whether a is selected by f.
func (f Filter) Match(a netip.Addr) bool {
	if f.IsZero() {
		return true
	}
	a = a.Unmap()
	if !a.Is4() {
		return false
	}
	b := a.As4()
	for _, it := range f.items {
		if it.pattern != nil {
			if it.pattern.match(b) {
				return true
			}
		} else if it.prefix.Contains(a) {
			return true
		}
	}
	return false
}

// String renders f in ParseFilter's syntax, items separated by ",".
func (f Filter) String() string {
	parts := make([]string, len(f.items))
	for i, it := range f.items {
		if it.pattern != nil {
			parts[i] = it.pattern.String()
		} else if it.prefix.Bits() == 32 {
			parts[i] = it.prefix.Addr().String()
		} else {
			parts[i] = it.prefix.String()
		}
	}
	return strings.Join(parts, ",")
}

var (
	loopback8 = netip.MustParsePrefix("127.0.0.0/8")
	refused24 = netip.MustParsePrefix("127.255.255.0/24")
)

// ParseFilter parses the filter part of a list (see ParseSpec).
func ParseFilter(s string) (Filter, error) {
	if strings.TrimSpace(s) == "" {
		return Filter{}, errors.New(`empty filter after "=" (remove the "=", or write e.g. 127.0.0.2 or 127.0.0.0/24)`)
	}
	var f Filter
	for _, item := range splitItems(s) {
		item = strings.TrimSpace(item)
		if item == "" {
			return Filter{}, fmt.Errorf("empty item in filter %q (items are separated by \",\" or \";\")", s)
		}
		var it filterItem
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return Filter{}, fmt.Errorf("filter item %q is not a CIDR prefix (write e.g. 127.0.0.0/24)", item)
			}
			if !p.Addr().Is4() {
				return Filter{}, fmt.Errorf("filter item %q is not IPv4: DNS lists answer with A records (write e.g. 127.0.0.0/24)", item)
			}
			it.prefix = p.Masked()
			if !it.prefix.Overlaps(loopback8) || (it.prefix.Bits() >= 24 && refused24.Contains(it.prefix.Addr())) {
				return Filter{}, fmt.Errorf("filter item %q matches no listing: only answers in 127.0.0.0/8 outside 127.255.255.0/24 can be listings", item)
			}
		} else {
			p, err := parsePattern(item)
			if err != nil {
				return Filter{}, err
			}
			if !p.has(0, 127) || (p.onlyValue(1, 255) && p.onlyValue(2, 255)) {
				return Filter{}, fmt.Errorf("filter item %q matches no listing: only answers in 127.0.0.0/8 outside 127.255.255.0/24 can be listings", item)
			}
			it.pattern = p
		}
		f.items = append(f.items, it)
	}
	return f, nil
}

// onlyValue reports whether field matches v and nothing else.
func (p *pattern) onlyValue(field int, v uint8) bool {
	for _, m := range p.members[field] {
		if m.lo != v || m.hi != v {
			return false
		}
	}
	return true
}

// splitItems splits at "," and ";" outside square brackets.
func splitItems(s string) []string {
	var out []string
	level, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			level++
		case ']':
			level--
		case ',', ';':
			if level <= 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// parsePattern parses one ip_match pattern (Postfix src/util/ip_match.c
// grammar): v4field "." v4field "." v4field "." v4field, where v4field is
// an octet or "[" octet-or-range { ";" octet-or-range } "]".
func parsePattern(item string) (*pattern, error) {
	s := item
	// Postfix strips one pair of brackets around the whole pattern.
	if s[0] == '[' {
		level, end := 0, -1
		for i := 0; i < len(s); i++ {
			if s[i] == '[' {
				level++
			} else if s[i] == ']' {
				level--
				if level == 0 {
					end = i
					break
				}
			}
		}
		if end < 0 {
			return nil, fmt.Errorf("filter item %q: missing \"]\"", item)
		}
		if end == len(s)-1 {
			s = s[1:end]
			if s == "" {
				return nil, fmt.Errorf("filter item %q: empty address pattern", item)
			}
		}
	}
	bad := func(at int, format string, args ...any) (*pattern, error) {
		return nil, fmt.Errorf("filter item %q: %s at %q (write an address like 127.0.0.2, a pattern like 127.0.0.[2..11] or [1;3;5], or a prefix like 127.0.0.0/24)",
			item, fmt.Sprintf(format, args...), s[:at]+">"+s[at:])
	}
	p := &pattern{}
	i := 0
	for field := range 4 {
		if field > 0 {
			if i >= len(s) || s[i] != '.' {
				if i >= len(s) {
					return bad(i, "need 4 fields, got %d", field)
				}
				return bad(i, "need \".\" between fields")
			}
			i++
		}
		if i < len(s) && s[i] == '[' {
			p.bracket[field] = true
			i++
			for {
				lo, n, ok := octet(s[i:])
				if !ok {
					return bad(i, "need decimal number 0..255")
				}
				i += n
				r := octetRange{lo, lo}
				if strings.HasPrefix(s[i:], "..") {
					i += 2
					hi, n, ok := octet(s[i:])
					if !ok {
						return bad(i, "need decimal number 0..255 after \"..\"")
					}
					if hi < lo {
						return bad(i, "range %d..%d is reversed (write %d..%d)", lo, hi, hi, lo)
					}
					i += n
					r.hi = hi
				}
				p.add(field, r)
				if i < len(s) && s[i] == ';' {
					i++
					continue
				}
				if i < len(s) && s[i] == ']' {
					i++
					break
				}
				return bad(i, "need \";\" or \"]\"")
			}
			continue
		}
		v, n, ok := octet(s[i:])
		if !ok {
			return bad(i, "need decimal number 0..255 or \"[\"")
		}
		i += n
		p.add(field, octetRange{v, v})
	}
	if i != len(s) {
		return bad(i, "garbage after pattern")
	}
	return p, nil
}

// octet parses a decimal number 0..255 at the start of s (leading zeros
// allowed, as in Postfix) and returns it and its length.
func octet(s string) (uint8, int, bool) {
	n, v := 0, 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		v = v*10 + int(s[n]-'0')
		if v > 255 {
			return 0, 0, false
		}
		n++
	}
	if n == 0 {
		return 0, 0, false
	}
	return uint8(v), n, true
}
