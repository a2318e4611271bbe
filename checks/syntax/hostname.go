package syntax

import "strings"

// Limits from src/util/valid_hostname.h.
const (
	// MaxHostnameLen is VALID_HOSTNAME_LEN: the longest accepted name, in
	// bytes, without a trailing dot (RFC 1035 §2.3.4).
	MaxHostnameLen = 255
	// MaxLabelLen is VALID_LABEL_LEN: the longest accepted label, in bytes.
	MaxLabelLen = 63
)

// ipv6Tag is IPV6_COL from src/global/valid_mailhost_addr.h, the RFC 5321
// §4.1.3 tag of an IPv6 address literal. Postfix compares it without
// regard to case.
const ipv6Tag = "IPv6:"

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isAlnum is Postfix's ISALNUM(): ASCII letters and digits only.
func isAlnum(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isHexDigit(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// ValidHostname reports whether name passes Postfix's valid_hostname()
// (src/util/valid_hostname.c), compiled without SLOPPY_VALID_HOSTNAME as
// in every Postfix package. The rules, in the order Postfix applies them:
//
//   - The name must not be empty.
//   - Only ASCII letters, digits, "_", "." and "-" are allowed; any other
//     byte (space, "@", ":", "[", non-ASCII, NUL) makes it invalid. "_" is
//     allowed anywhere in a label ("grr.." says the source), so
//     "_dmarc.example" and "a_b" are valid host names for Postfix.
//   - A "." must not start the name, follow another ".", or end the name:
//     there are no empty labels and a trailing dot is invalid here (callers
//     strip one first, see StripTrailingDot).
//   - A "-" must not start a label, end a label or end the name. Adjacent
//     hyphens inside a label are allowed ("xn--").
//   - A label must not be longer than MaxLabelLen (63) bytes.
//   - The name must contain at least one byte that is not a digit or a
//     ".": "123" and "1.2.3.4" are "numeric hostnames" and are invalid,
//     while "1-2.3" and "1_2" are valid (a hyphen counts as non-numeric
//     since Postfix 3.x; the Postfix 2.x code did not count it, so the
//     check was verified against the 3.7.11 binary).
//   - The whole name must not be longer than MaxHostnameLen (255) bytes.
//
// A label may start with a digit (RFC 1123 §2.1). Case is not checked.
func ValidHostname(name string) bool {
	if name == "" {
		return false
	}
	labelLen := 0
	nonNumeric := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		last := i+1 == len(name)
		switch {
		case isAlnum(c) || c == '_':
			labelLen++
			if labelLen > MaxLabelLen {
				return false // "hostname label too long"
			}
			if !isDigit(c) {
				nonNumeric = true
			}
		case c == '.':
			if labelLen == 0 || last {
				return false // "misplaced delimiter"
			}
			labelLen = 0
		case c == '-':
			nonNumeric = true
			labelLen++
			if labelLen == 1 || last || name[i+1] == '.' {
				return false // "misplaced hyphen"
			}
		default:
			return false // "invalid character"
		}
	}
	if !nonNumeric {
		return false // "numeric hostname"
	}
	return len(name) <= MaxHostnameLen // "bad length"
}

// ValidHostAddr reports whether s passes Postfix's valid_hostaddr()
// (src/util/valid_hostname.c): a string that contains ":" must be a valid
// IPv6 address (ValidIPv6HostAddr, without "IPv6:" tag and without
// brackets); any other string must be a valid dotted quad
// (ValidIPv4HostAddr). The empty string is invalid.
func ValidHostAddr(s string) bool {
	if s == "" {
		return false
	}
	if strings.IndexByte(s, ':') >= 0 {
		return ValidIPv6HostAddr(s)
	}
	return ValidIPv4HostAddr(s)
}

// ValidIPv4HostAddr reports whether s passes valid_ipv4_hostaddr()
// (src/util/valid_hostname.c):
//
//   - exactly four decimal octets separated by single dots, no leading or
//     trailing dot;
//   - each octet at most 255; leading zeros are allowed ("01.2.3.4");
//   - a first octet of 0 is allowed only if the whole address consists of
//     zeros and dots ("0.0.0.0" yes, "0.1.2.3" no);
//   - nothing but digits and dots.
func ValidIPv4HostAddr(s string) bool {
	inByte := false
	byteCount := 0
	byteVal := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			if !inByte {
				inByte = true
				byteVal = 0
				byteCount++
			}
			byteVal = byteVal*10 + int(c-'0')
			if byteVal > 255 {
				return false // "invalid octet value"
			}
		case c == '.':
			if !inByte || i+1 == len(s) {
				return false // "misplaced dot"
			}
			// "XXX Allow 0.0.0.0 but not 0.1.2.3"
			if byteCount == 1 && byteVal == 0 && strings.Trim(s, "0.") != "" {
				return false // "bad initial octet value"
			}
			inByte = false
		default:
			return false // "invalid character"
		}
	}
	return byteCount == 4 // "invalid octet count"
}

// ValidIPv6HostAddr reports whether s passes valid_ipv6_hostaddr()
// (src/util/valid_hostname.c). Postfix does not call inet_pton here; it
// scans the string itself and accepts:
//
//   - up to eight groups of 1-4 hex digits separated by ":" (at most seven
//     ":" in all), at least two ":" in all;
//   - at most one "::", which may start or end the address ("::", "::1",
//     "1::");
//   - a leading single ":" only when it is followed by a non-alphanumeric
//     byte (so ":1" is invalid but "::1" is valid);
//   - an embedded IPv4 dotted quad as the last part, after two to six
//     ":" ("::ffff:192.0.2.1"), checked with ValidIPv4HostAddr;
//   - no "IPv6:" tag, no brackets, no zone ("%eth0"), nothing else.
//
// Postfix does not verify that a form without "::" has exactly eight
// groups: "1:2:3" is accepted, as valid_ipv6_hostaddr() does.
func ValidIPv6HostAddr(s string) bool {
	nullField := 0
	field := 0
	length := 0
	i := 0
	for {
		if i >= len(s) { // end of string
			if field < 2 {
				return false // "too few `:'"
			}
			if length == 0 && nullField != field-1 {
				return false // "bad null last field"
			}
			return true
		}
		switch c := s[i]; c {
		case '.':
			if field < 2 || field > 6 {
				return false // "malformed IPv4-in-IPv6 address"
			}
			return ValidIPv4HostAddr(s[i-length:])
		case ':':
			if field == 0 && length == 0 && i+1 < len(s) && isAlnum(s[i+1]) {
				return false // "bad null first field"
			}
			field++
			if field > 7 {
				return false // "too many `:'"
			}
			i++
			length = 0
			if i < len(s) && s[i] == ':' {
				if nullField > 0 {
					return false // "too many `::'"
				}
				nullField = field
			}
		default:
			n := 0
			for i+n < len(s) && isHexDigit(s[i+n]) {
				n++
			}
			if n > 4 {
				return false // "malformed IPv6 address"
			}
			if n == 0 {
				return false // "invalid character"
			}
			length = n
			i += n
		}
	}
}

// ValidMailhostAddr reports whether s is a valid RFC 5321 address literal
// body (without brackets), as Postfix's valid_mailhost_addr()
// (src/global/valid_mailhost_addr.c) decides: a string with the "IPv6:"
// tag (any case) must be followed by a ValidIPv6HostAddr address; any
// other string must be a ValidIPv4HostAddr dotted quad. A bare IPv6
// address without the tag is invalid. The returned bare address has the
// tag removed.
func ValidMailhostAddr(s string) (bare string, ok bool) {
	if len(s) >= len(ipv6Tag) && strings.EqualFold(s[:len(ipv6Tag)], ipv6Tag) {
		bare = s[len(ipv6Tag):]
		return bare, ValidIPv6HostAddr(bare)
	}
	return s, ValidIPv4HostAddr(s)
}

// ValidAddressLiteral reports whether a HELO argument that starts with
// "[" is accepted by Postfix's reject_invalid_hostaddr()
// (src/smtpd/smtpd_check.c). Postfix uses that function, not
// valid_hostname(), for a bracketed HELO name in reject_invalid_helo_hostname,
// reject_non_fqdn_helo_hostname and reject_unknown_helo_hostname alike.
//
// The brackets are removed only if the string is longer than two bytes and
// ends in "]"; otherwise the whole string, bracket included, is checked
// and fails. The inside must pass ValidMailhostAddr: "[192.0.2.1]" and
// "[IPv6:2001:db8::1]" are valid, "[2001:db8::1]" (no tag), "[]",
// "[192.0.2.1" and "[example.com]" are not. A string that does not start
// with "[" is not an address literal and returns false.
func ValidAddressLiteral(s string) bool {
	if s == "" || s[0] != '[' {
		return false
	}
	test := s
	if len(s) > 2 && s[len(s)-1] == ']' {
		test = s[1 : len(s)-1]
	}
	_, ok := ValidMailhostAddr(test)
	return ok
}

// StripTrailingDot removes one trailing dot the way Postfix's
// dup_if_truncate() (src/smtpd/smtpd_check.c) does before
// reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname and
// reject_non_fqdn_sender/recipient validate a name: exactly one dot is
// removed, and only if the name is longer than one byte and does not end
// in "..". So "example.com." becomes "example.com", while "example.com.."
// and "." are returned unchanged (and then fail ValidHostname).
//
// reject_unknown_helo_hostname does NOT strip the dot: it hands the HELO
// name as sent to the DNS code, whose valid_hostname() precheck fails for
// a trailing dot (see HeloLookupName).
func StripTrailingDot(name string) string {
	n := len(name)
	if n > 1 && name[n-1] == '.' && name[n-2] != '.' {
		return name[:n-1]
	}
	return name
}

// isASCII reports whether s has only 7-bit bytes (Postfix allascii()).
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// ValidUTF8Hostname reports whether name passes Postfix's
// valid_utf8_hostname() (src/util/valid_utf8_hostname.c), which
// reject_non_fqdn_helo_hostname and reject_non_fqdn_sender/recipient use:
// an all-ASCII name must pass ValidHostname; a non-ASCII name is invalid
// unless the client requested SMTPUTF8 (smtputf8 true), in which case it
// is converted to its A-label form (ToASCII) and that must pass
// ValidHostname.
//
// Postfix converts with ICU's UTS #46 nameToASCII; this package has only
// an approximation of that (see ToASCII), exact for the common case of
// letters and digits in Unicode labels.
func ValidUTF8Hostname(name string, smtputf8 bool) bool {
	if name == "" {
		return false
	}
	if isASCII(name) {
		return ValidHostname(name)
	}
	if !smtputf8 {
		return false
	}
	a, ok := ToASCII(name)
	return ok && ValidHostname(a)
}
