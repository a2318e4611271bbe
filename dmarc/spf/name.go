package spf

import (
	"net/netip"
	"strconv"
	"strings"
)

// Domain names inside this package are "raw": labels of arbitrary octets
// joined by dots, without the trailing dot, as they come out of a sender
// address or a macro expansion ("macro%percent  space.example.com" is a
// legal <target-name>, RFC 7208 §7.4). The resolver wants presentation
// format (RFC 1035 §5.1), and it matches the answer's question to ours by
// comparing strings, so fqdn escapes exactly as github.com/miekg/dns does
// when it unpacks a name; rawName goes the other way for names the
// resolver returns (PTR targets used in %{p}).

const (
	maxNameLen  = 253 // RFC 7208 §4.3, §7.3: the longest name in dotted form
	maxLabelLen = 63  // RFC 1035 §2.3.4
)

// nameSpecial are the octets miekg/dns escapes with a backslash inside a
// label (isDomainNameLabelSpecial).
func nameSpecial(b byte) bool {
	switch b {
	case '.', ' ', '\'', '@', ';', '(', ')', '"', '\\':
		return true
	}
	return false
}

// fqdn returns the absolute presentation-format form of a raw name.
func fqdn(name string) string {
	plain := true
	for i := 0; i < len(name); i++ {
		b := name[i]
		if b != '.' && (nameSpecial(b) || b < 0x21 || b > 0x7e) {
			plain = false
			break
		}
	}
	if plain {
		return name + "."
	}
	var sb strings.Builder
	sb.Grow(len(name) + 8)
	for i := 0; i < len(name); i++ {
		b := name[i]
		switch {
		case b == '.':
			sb.WriteByte('.')
		case nameSpecial(b):
			sb.WriteByte('\\')
			sb.WriteByte(b)
		case b < 0x20 || b > 0x7e:
			sb.WriteByte('\\')
			d := strconv.Itoa(int(b))
			sb.WriteString(strings.Repeat("0", 3-len(d)))
			sb.WriteString(d)
		default:
			sb.WriteByte(b)
		}
	}
	sb.WriteByte('.')
	return sb.String()
}

// rawName turns a presentation-format name from the resolver into a raw
// name, lower case and without the trailing dot. ok is false for a name
// that has no raw form (an escaped dot inside a label) or a bad escape.
func rawName(name string) (string, bool) {
	name = strings.TrimSuffix(name, ".")
	if !strings.Contains(name, `\`) {
		return strings.ToLower(name), true
	}
	var sb strings.Builder
	for i := 0; i < len(name); i++ {
		b := name[i]
		if b != '\\' {
			sb.WriteByte(b)
			continue
		}
		if i+1 >= len(name) {
			return "", false
		}
		if d := name[i+1:]; len(d) >= 3 && isDigit(d[0]) && isDigit(d[1]) && isDigit(d[2]) {
			n, _ := strconv.Atoi(d[:3])
			if n > 255 {
				return "", false
			}
			b = byte(n)
			i += 3
		} else {
			b = name[i+1]
			i++
		}
		if b == '.' {
			return "", false
		}
		sb.WriteByte(b)
	}
	return strings.ToLower(sb.String()), true
}

// validName reports whether a raw name can be asked in DNS: 1 to 253
// octets in dotted form, no empty label, labels of at most 63 octets
// (RFC 1035 §2.3.4). A trailing dot must have been removed.
func validName(name string) bool {
	if name == "" || len(name) > maxNameLen {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > maxLabelLen {
			return false
		}
	}
	return true
}

// identityDomain checks a <domain> given to check_host (RFC 7208 §4.3):
// a well-formed multi-label name of visible ASCII, not an address literal.
// It returns the name without a trailing dot, or a reason it is not one.
func identityDomain(d string) (string, string) {
	d = strings.TrimSuffix(d, ".")
	switch {
	case d == "":
		return "", "empty domain"
	case strings.HasPrefix(d, "["):
		return "", "address literal, not a domain"
	case !validName(d):
		return "", "malformed domain (empty or over-long label, or too long)"
	case !strings.Contains(d, "."):
		return "", "not a multi-label domain"
	}
	for i := 0; i < len(d); i++ {
		if d[i] < 0x21 || d[i] > 0x7e {
			return "", "domain has characters other than visible ASCII"
		}
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return "", "IP address, not a domain"
	}
	return d, ""
}

// truncateName applies RFC 7208 §7.3 to an expanded <target-name>: a
// trailing dot is dropped, and while the name is longer than 253
// characters its leftmost label is removed.
func truncateName(name string) string {
	name = strings.TrimSuffix(name, ".")
	for len(name) > maxNameLen {
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return name // one label, too long: validName rejects it
		}
		name = name[i+1:]
	}
	return name
}

// inDomain reports whether name is domain or a subdomain of it; both raw
// and lower case.
func inDomain(name, domain string) bool {
	return name == domain || strings.HasSuffix(name, "."+domain)
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }
func isAlpha(b byte) bool { return 'a' <= b|0x20 && b|0x20 <= 'z' }
