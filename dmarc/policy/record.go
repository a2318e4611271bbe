package policy

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Errors. Every error returned by this package wraps one of them.
var (
	// ErrNotDMARC: the TXT record does not start with v=DMARC1; it is not
	// a DMARC record and is ignored (RFC 9989 §4.7, v tag).
	ErrNotDMARC = errors.New("dmarc: not a DMARC record")
	// ErrSyntax: a DMARC record with a syntax error.
	ErrSyntax = errors.New("dmarc: malformed DMARC record")
	// ErrNoPolicy: a record without a valid p (or with an invalid sp or
	// np) and without a valid rua: no DMARC processing (RFC 9989 §4.10.1,
	// RFC 7489 §6.6.3 step 6). Reported as permerror.
	ErrNoPolicy = errors.New("dmarc: record without a valid policy")
	// ErrNoRecord: no DMARC record applies.
	ErrNoRecord = errors.New("dmarc: no DMARC record")
	// ErrMultipleRecords: several DMARC records at one name.
	ErrMultipleRecords = errors.New("dmarc: several DMARC records")
	// ErrDNS: a DNS lookup failed temporarily (or permanently: any
	// answer that is not NXDOMAIN or NODATA). Gives temperror.
	ErrDNS = errors.New("dmarc: dns lookup")
	// ErrInvalidDomain: a domain that is not a valid DNS name.
	ErrInvalidDomain = errors.New("dmarc: invalid domain")
	// ErrPublicSuffix: the domain is a public suffix, so it has no
	// organizational domain by the Public Suffix List (RFC 7489 §3.2).
	ErrPublicSuffix = errors.New("dmarc: domain is a public suffix")
)

// Policies (p, sp, np) and dispositions.
const (
	PolicyNone       = "none"
	PolicyQuarantine = "quarantine"
	PolicyReject     = "reject"
)

// Record is a parsed DMARC record. Absent tags have their default value,
// except the policies, which are "" when absent (or, in a lenient parse,
// invalid).
type Record struct {
	Version           string // v, always "DMARC1"
	Policy            string // p: none, quarantine, reject; "" when absent
	SubdomainPolicy   string // sp; "" when absent
	NonexistentPolicy string // np (RFC 9989); "" when absent
	PSD               string // psd (RFC 9989): "y", "n" or "u" (default)
	Testing           bool   // t=y (RFC 9989)
	ADKIM             string // adkim: "r" (default) or "s"
	ASPF              string // aspf: "r" (default) or "s"
	Percent           int    // pct (RFC 7489 only): 0..100, default 100
	RUA               []string
	RUF               []string
	FO                string // fo: colon-separated 0, 1, d, s; default "0"
	RF                string // rf (RFC 7489): default "afrf"
	RI                int    // ri (RFC 7489): seconds, default 86400

	// Ignored lists the tags a lenient parse (RFC 9989 §4.8) dropped for
	// a syntax error, as "tag: reason". ParseRecord never sets it.
	Ignored []string
	// Raw is the record text as published (TXT strings joined).
	Raw string
}

// problem is one syntax error. tag is the lower-case tag name, or "" for
// an error in the tag-list structure.
type problem struct {
	tag, msg string
}

func (p problem) String() string {
	if p.tag == "" {
		return p.msg
	}
	return p.tag + ": " + p.msg
}

// ParseRecord parses a DMARC record strictly (RFC 9989 §4.7 and §4.8,
// RFC 7489 §6.3 and §6.4): the first tag must be v=DMARC1 (else
// ErrNotDMARC), and a malformed tag-list, a duplicate tag, or an invalid
// value of a known tag (p, sp, np, psd, t, adkim, aspf, pct, rua, ruf,
// fo, rf, ri) is an error wrapping ErrSyntax. Unknown tags are ignored,
// tag names and keyword values are case-insensitive, an empty tag (";;",
// a trailing ";") is allowed. A missing p is not an error here: Policy is
// then "" and discovery decides (RFC 9989 §4.10.1).
//
// Discovery in ModeRFC9989 parses leniently instead: the faulty tags are
// dropped and listed in Record.Ignored (§4.8: "Syntax errors in the
// remainder of the record MUST be discarded in favor of default values").
func ParseRecord(s string) (*Record, error) {
	rec, probs, ok := parse(s)
	if !ok {
		return nil, ErrNotDMARC
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrSyntax, joinProblems(probs))
	}
	return rec, nil
}

func joinProblems(probs []problem) string {
	s := make([]string, len(probs))
	for i, p := range probs {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

// isDMARC reports whether a TXT record starts with the v=DMARC1 tag
// (RFC 9989 §4.10 step 2, RFC 7489 §6.6.3 step 2).
func isDMARC(s string) bool {
	first, _, _ := strings.Cut(s, ";")
	name, val, ok := strings.Cut(first, "=")
	return ok && strings.EqualFold(trimWSP(name), "v") && trimWSP(val) == "DMARC1"
}

// parse is the lenient core: rec holds every valid tag and the defaults,
// probs every syntax error, ok whether the record is a DMARC record.
func parse(s string) (rec *Record, probs []problem, ok bool) {
	if !isDMARC(s) {
		return nil, nil, false
	}
	rec = &Record{Version: "DMARC1", PSD: "u", ADKIM: "r", ASPF: "r", Percent: 100, FO: "0", RF: "afrf", RI: 86400, Raw: s}
	bad := func(tag, format string, args ...any) {
		probs = append(probs, problem{tag, fmt.Sprintf(format, args...)})
	}
	seen := map[string]bool{}
	tags := strings.Split(s, ";")
	for i, t := range tags {
		if i == 0 {
			seen["v"] = true
			continue
		}
		t = trimWSP(t)
		if t == "" {
			continue
		}
		rawName, val, found := strings.Cut(t, "=")
		name := strings.ToLower(trimWSP(rawName))
		val = trimWSP(val)
		switch {
		case !found:
			bad("", "tag %q without \"=\"", t)
			continue
		case !isTagName(name):
			bad("", "invalid tag name %q", trimWSP(rawName))
			continue
		case val == "":
			bad(name, "empty value")
			continue
		case !isValue(val):
			bad(name, "value with a character that is not printable ASCII")
			continue
		case seen[name]:
			bad(name, "duplicate tag")
			continue
		}
		seen[name] = true
		lval := strings.ToLower(val)
		switch name {
		case "v":
			// Not first (the first was consumed above): a duplicate.
			bad(name, "duplicate tag")
		case "p", "sp", "np":
			if !isPolicy(lval) {
				bad(name, "invalid policy %q", val)
				break
			}
			switch name {
			case "p":
				rec.Policy = lval
			case "sp":
				rec.SubdomainPolicy = lval
			case "np":
				rec.NonexistentPolicy = lval
			}
		case "psd":
			if lval != "y" && lval != "n" && lval != "u" {
				bad(name, "invalid value %q (y, n or u)", val)
				break
			}
			rec.PSD = lval
		case "t":
			if lval != "y" && lval != "n" {
				bad(name, "invalid value %q (y or n)", val)
				break
			}
			rec.Testing = lval == "y"
		case "adkim", "aspf":
			if lval != "r" && lval != "s" {
				bad(name, "invalid value %q (r or s)", val)
				break
			}
			if name == "adkim" {
				rec.ADKIM = lval
			} else {
				rec.ASPF = lval
			}
		case "pct":
			n, err := strconv.Atoi(val)
			if err != nil || !allDigits(val) || len(val) > 3 || n > 100 {
				bad(name, "invalid percentage %q (0 to 100)", val)
				break
			}
			rec.Percent = n
		case "ri":
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil || !allDigits(val) {
				bad(name, "invalid interval %q", val)
				break
			}
			rec.RI = int(n)
		case "rf":
			if !isKeywordList(lval, nil) {
				bad(name, "invalid format list %q", val)
				break
			}
			rec.RF = lval
		case "fo":
			if !isFO(lval) {
				bad(name, "invalid failure options %q (0, 1, d, s separated by \":\")", val)
				break
			}
			rec.FO = lval
		case "rua", "ruf":
			uris, err := parseURIs(val)
			if err != nil {
				bad(name, "%v", err)
			}
			if name == "rua" {
				rec.RUA = uris
			} else {
				rec.RUF = uris
			}
		default:
			// Unknown tags MUST be ignored (RFC 9989 §4.7).
		}
	}
	return rec, probs, true
}

// String returns the record in a canonical form: v first, then only the
// tags that differ from their defaults, in a fixed order. ParseRecord of
// it gives the same record (but Raw).
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString("v=DMARC1")
	add := func(tag, val string) {
		b.WriteString("; ")
		b.WriteString(tag)
		b.WriteString("=")
		b.WriteString(val)
	}
	if r.Policy != "" {
		add("p", r.Policy)
	}
	if r.SubdomainPolicy != "" {
		add("sp", r.SubdomainPolicy)
	}
	if r.NonexistentPolicy != "" {
		add("np", r.NonexistentPolicy)
	}
	if r.PSD != "" && r.PSD != "u" {
		add("psd", r.PSD)
	}
	if r.Testing {
		add("t", "y")
	}
	if r.ADKIM == "s" {
		add("adkim", "s")
	}
	if r.ASPF == "s" {
		add("aspf", "s")
	}
	if r.Percent != 100 {
		add("pct", strconv.Itoa(r.Percent))
	}
	if len(r.RUA) > 0 {
		add("rua", strings.Join(r.RUA, ","))
	}
	if len(r.RUF) > 0 {
		add("ruf", strings.Join(r.RUF, ","))
	}
	if r.FO != "" && r.FO != "0" {
		add("fo", r.FO)
	}
	if r.RF != "" && r.RF != "afrf" {
		add("rf", r.RF)
	}
	if r.RI != 86400 {
		add("ri", strconv.Itoa(r.RI))
	}
	return b.String()
}

func isPolicy(s string) bool {
	return s == PolicyNone || s == PolicyQuarantine || s == PolicyReject
}

// trimWSP trims the WSP of RFC 5234 (space and tab).
func trimWSP(s string) string { return strings.Trim(s, " \t") }

// isTagName: 1*ALPHA (RFC 9989 §4.8 dmarc-tag).
func isTagName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// isValue: 1*dmarc-value, any printing character but ";" (and space).
func isValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == ';' {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isKeywordList: Keyword *(":" Keyword), a Keyword being letters and
// digits (RFC 7489 §6.4 rf). allowed, when not nil, restricts the words.
func isKeywordList(s string, allowed func(string) bool) bool {
	for w := range strings.SplitSeq(s, ":") {
		w = trimWSP(w)
		if w == "" {
			return false
		}
		for i := 0; i < len(w); i++ {
			if c := w[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
				return false
			}
		}
		if allowed != nil && !allowed(w) {
			return false
		}
	}
	return true
}

// isFO: dmarc-fo, each of 0, 1, d, s at most once, 0 and 1 not together
// (RFC 9989 §4.7 fo and the ABNF of §4.8).
func isFO(s string) bool {
	seen := map[string]bool{}
	ok := isKeywordList(s, func(w string) bool {
		if seen[w] {
			return false
		}
		seen[w] = true
		return w == "0" || w == "1" || w == "d" || w == "s"
	})
	return ok && !(seen["0"] && seen["1"])
}

// parseURIs parses a dmarc-urilist (RFC 9989 §4.8): URIs separated by
// commas, each with an optional obsolete "!size" suffix, which is dropped.
// The valid URIs are returned; err describes the invalid ones.
func parseURIs(s string) ([]string, error) {
	var uris, bad []string
	for u := range strings.SplitSeq(s, ",") {
		u = trimWSP(u)
		if i := strings.IndexByte(u, '!'); i >= 0 {
			if !isSize(u[i+1:]) {
				bad = append(bad, u)
				continue
			}
			u = u[:i]
		}
		if !validURI(u) {
			bad = append(bad, u)
			continue
		}
		uris = append(uris, u)
	}
	if len(bad) > 0 {
		return uris, fmt.Errorf("invalid URI %q", strings.Join(bad, ","))
	}
	return uris, nil
}

// isSize: obs-dmarc-report-size without the "!": 1*DIGIT ["k"/"m"/"g"/"t"].
func isSize(s string) bool {
	s = strings.TrimRight(strings.ToLower(s), "kmgt")
	return allDigits(s)
}

// validURI accepts an absolute URI (RFC 3986) without white space; a
// mailto: URI must name an address with a domain.
func validURI(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return false
	}
	if strings.EqualFold(u.Scheme, "mailto") {
		addr := u.Opaque
		if addr == "" {
			return false
		}
		addr, _, _ = strings.Cut(addr, "?")
		at := strings.LastIndexByte(addr, '@')
		return at > 0 && at < len(addr)-1
	}
	return u.Opaque != "" || u.Host != "" || u.Path != ""
}
