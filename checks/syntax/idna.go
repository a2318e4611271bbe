package syntax

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ToASCII converts a domain name with non-ASCII labels to its A-label
// (Punycode, RFC 3492) form, approximating what Postfix's
// midna_domain_to_ascii() (src/util/midna_domain.c) gets from ICU
// uidna_nameToASCII_UTF8() with UTS #46 and UIDNA_DEFAULT options.
//
// What others do / what we do: golang.org/x/net/idna implements UTS #46
// fully, but mxguard's parsers use the standard library only. This
// approximation:
//
//   - rejects malformed UTF-8 (Postfix checks this before ICU);
//   - maps the ideographic full stops U+3002, U+FF0E and U+FF61 to "."
//     and lowercases with unicode.ToLower (UTS #46 uses case folding and
//     NFKC; NFKC is not applied here);
//   - in a non-ASCII label, allows only letters, marks, digits, "-" and
//     "_", rejects a leading combining mark, a leading or trailing "-",
//     and "--" in the third and fourth position (UTS #46 §4.1 criteria
//     that ICU reports as errors);
//   - fails for a name of more than 256 runes or a non-ASCII label of
//     more than 63 runes, whose A-label could not be valid anyway;
//   - leaves ASCII labels alone apart from lowercasing, without decoding
//     existing "xn--" labels, and does not apply the Bidi and CONTEXTJ
//     rules.
//
// The result is not checked with ValidHostname; ValidUTF8Hostname does
// that, as Postfix does.
func ToASCII(name string) (string, bool) {
	if !utf8.ValidString(name) {
		return "", false
	}
	// An A-label is never shorter than its U-label in runes, so a name or
	// label longer than the limits cannot convert to a valid host name
	// (ICU reports DOMAIN_NAME_TOO_LONG or LABEL_TOO_LONG). Failing early
	// also keeps the quadratic Punycode encoder cheap on hostile input.
	if utf8.RuneCountInString(name) > MaxHostnameLen+1 {
		return "", false
	}
	if isASCII(name) {
		return strings.ToLower(name), true
	}
	name = strings.Map(func(r rune) rune {
		switch r {
		case '\u3002', '\uff0e', '\uff61':
			return '.'
		}
		return unicode.ToLower(r)
	}, name)
	labels := strings.Split(name, ".")
	for i, l := range labels {
		if isASCII(l) {
			continue
		}
		a, ok := labelToASCII(l)
		if !ok {
			return "", false
		}
		labels[i] = a
	}
	return strings.Join(labels, "."), true
}

func labelToASCII(l string) (string, bool) {
	if utf8.RuneCountInString(l) > MaxLabelLen {
		return "", false
	}
	first, _ := utf8.DecodeRuneInString(l)
	if unicode.Is(unicode.M, first) {
		return "", false
	}
	if strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
		return "", false
	}
	if len(l) >= 4 && l[2:4] == "--" {
		return "", false
	}
	for _, r := range l {
		if r < 0x80 {
			if !isAlnum(byte(r)) && r != '-' && r != '_' {
				return "", false
			}
			continue
		}
		if !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsDigit(r) {
			return "", false
		}
	}
	p, ok := punycodeEncode(l)
	if !ok {
		return "", false
	}
	return "xn--" + p, true
}

// Punycode parameters, RFC 3492 §5.
const (
	pcBase        = 36
	pcTMin        = 1
	pcTMax        = 26
	pcSkew        = 38
	pcDamp        = 700
	pcInitialBias = 72
	pcInitialN    = 128
)

func pcAdapt(delta, numPoints int, first bool) int {
	if first {
		delta /= pcDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := 0
	for delta > ((pcBase-pcTMin)*pcTMax)/2 {
		delta /= pcBase - pcTMin
		k += pcBase
	}
	return k + (pcBase-pcTMin+1)*delta/(delta+pcSkew)
}

func pcDigit(d int) byte {
	if d < 26 {
		return byte('a' + d)
	}
	return byte('0' + d - 26)
}

// punycodeEncode is the RFC 3492 §6.3 encoder. It fails only on overflow,
// which cannot happen for the label lengths that matter here but is
// checked anyway because the input comes from the network.
func punycodeEncode(s string) (string, bool) {
	runes := []rune(s)
	var out strings.Builder
	b := 0
	for _, r := range runes {
		if r < 0x80 {
			out.WriteByte(byte(r))
			b++
		}
	}
	h := b
	if b > 0 {
		out.WriteByte('-')
	}
	n, delta, bias := pcInitialN, 0, pcInitialBias
	const maxInt = int(^uint32(0) >> 1)
	for h < len(runes) {
		m := maxInt
		for _, r := range runes {
			if int(r) >= n && int(r) < m {
				m = int(r)
			}
		}
		if (m - n) > (maxInt-delta)/(h+1) {
			return "", false
		}
		delta += (m - n) * (h + 1)
		n = m
		for _, r := range runes {
			if int(r) < n {
				delta++
				if delta > maxInt-1 {
					return "", false
				}
			}
			if int(r) != n {
				continue
			}
			q := delta
			for k := pcBase; ; k += pcBase {
				t := k - bias
				if t < pcTMin {
					t = pcTMin
				} else if t > pcTMax {
					t = pcTMax
				}
				if q < t {
					break
				}
				out.WriteByte(pcDigit(t + (q-t)%(pcBase-t)))
				q = (q - t) / (pcBase - t)
			}
			out.WriteByte(pcDigit(q))
			bias = pcAdapt(delta, h+1, h == b)
			delta = 0
			h++
		}
		delta++
		n++
	}
	return out.String(), true
}
