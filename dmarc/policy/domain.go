package policy

import (
	"fmt"
	"strings"

	"golang.org/x/net/idna"
)

// normalize returns domain as DMARC queries and compares it: A-labels
// (RFC 9989 §5.3.1: a U-label is converted, RFC 5890 §2.3), lower case
// (comparisons are case-insensitive, §4.4 and RFC 4343), no trailing dot.
// Labels are letters, digits, "-" and "_" (DKIM d= and SPF domains can
// hold underscores), 1 to 63 octets, 253 octets in all (RFC 1035 §2.3.4).
func normalize(domain string) (string, error) {
	d := strings.TrimSuffix(domain, ".")
	if d == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidDomain)
	}
	if !isASCII(d) {
		a, err := idna.Lookup.ToASCII(d)
		if err != nil {
			return "", fmt.Errorf("%w: %q: %v", ErrInvalidDomain, domain, err)
		}
		d = a
	}
	d = strings.ToLower(d)
	if len(d) > 253 {
		return "", fmt.Errorf("%w: %q: longer than 253 octets", ErrInvalidDomain, domain)
	}
	for l := range strings.SplitSeq(d, ".") {
		if l == "" || len(l) > 63 {
			return "", fmt.Errorf("%w: %q: empty label or label longer than 63 octets", ErrInvalidDomain, domain)
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("%w: %q: character %q", ErrInvalidDomain, domain, c)
			}
		}
	}
	return d, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// isSubdomainOrSelf reports whether d is parent or below it; both
// normalized.
func isSubdomainOrSelf(d, parent string) bool {
	return d == parent || strings.HasSuffix(d, "."+parent)
}

// lastLabels returns the last n labels of d.
func lastLabels(d string, n int) string {
	labels := strings.Split(d, ".")
	if n >= len(labels) {
		return d
	}
	return strings.Join(labels[len(labels)-n:], ".")
}

func labelCount(d string) int { return strings.Count(d, ".") + 1 }
