package syntax

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSyntax is returned, wrapped with detail, when ParseAddress cannot
// extract one address from its input. Postfix answers such input with
// "501 5.1.7 Bad sender address syntax" or "501 5.1.3 Bad recipient
// address syntax" before any restriction or milter runs.
var ErrSyntax = errors.New("syntax: bad address syntax")

// Address is an envelope address in Postfix's internal form: quotes,
// backslash escapes, comments, angle brackets and source routes removed
// (src/smtpd/smtpd.c extract_addr, tok822_internalize with
// TOK822_STR_DEFL). This is the form Postfix's restrictions see and the
// form they print inside "<...>" in a reply: MAIL FROM:<"a b"@example.com>
// is rejected as "<a b@example.com>: Sender address rejected: ...".
type Address struct {
	// Local is everything before the last "@" of the internal form
	// (unquoted, may itself contain "@" or spaces), or the whole address
	// when it has no "@".
	Local string
	// Domain is everything after the last "@" of the internal form, as
	// sent: case and a trailing dot are kept, Unicode stays UTF-8, an
	// address literal keeps its brackets. It is "" when there is no "@"
	// or nothing after it.
	Domain string
	// Null is true for the null sender: "<>", "", or anything whose
	// internal form is empty (such as `""` or the route-only "<@a:>").
	Null bool
	// Literal is true when Domain starts with "[" and ends with "]",
	// Postfix's test for an address literal (it does not validate the
	// inside here; see ValidAddressLiteral).
	Literal bool

	hasAt bool
}

// String returns the internal form, as Postfix logs it and prints it in
// reply texts: Local, and "@" Domain if the address had an "@". The null
// address is "".
func (a Address) String() string {
	if a.Null {
		return ""
	}
	if a.hasAt || a.Domain != "" {
		return a.Local + "@" + a.Domain
	}
	return a.Local
}

type tokKind int

const (
	tokWord    tokKind = iota // atom or quoted string
	tokDomLit                 // [domain literal]
	tokSpecial                // one of tok822 specials
)

type token struct {
	kind tokKind
	text string // internal (unescaped) text; the character for specials
	// spaceBefore is true when white space or a comment separated this
	// token from the previous one.
	spaceBefore bool
}

// tok822Specials are the RFC 822 specials of Postfix's
// src/global/tok822_parse.c, except "(", "\"", "[" and "\\", which start
// comments, quoted strings, domain literals and escapes.
const tok822Specials = ")<>@,;:.]"

func isSpaceTabCRLF(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// tokenize splits s the way tok822_parse() does for one address:
// backslash escapes a byte (the backslash is dropped), "..." is a quoted
// string, "(...)" a comment (nested, dropped), "[...]" a domain literal
// kept with its brackets, white space separates tokens.
func tokenize(s string) ([]token, error) {
	var toks []token
	space := false
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case isSpaceTabCRLF(c):
			space = true
			i++
		case c == '(':
			depth := 0
			for ; i < len(s); i++ {
				switch s[i] {
				case '\\':
					i++
				case '(':
					depth++
				case ')':
					depth--
				}
				if depth == 0 {
					break
				}
			}
			if depth != 0 {
				return nil, fmt.Errorf("%w: unterminated comment", ErrSyntax)
			}
			i++ // past ")"
			space = true
		case c == '"':
			text, next, closed := scanEscaped(s, i+1, '"')
			if !closed {
				return nil, fmt.Errorf("%w: unterminated quoted string", ErrSyntax)
			}
			i = next
			toks = append(toks, token{kind: tokWord, text: text, spaceBefore: space})
			space = false
		case c == '[':
			text, next, closed := scanEscaped(s, i+1, ']')
			if !closed {
				return nil, fmt.Errorf("%w: unterminated address literal", ErrSyntax)
			}
			i = next
			toks = append(toks, token{kind: tokDomLit, text: "[" + text + "]", spaceBefore: space})
			space = false
		case strings.IndexByte(tok822Specials, c) >= 0:
			toks = append(toks, token{kind: tokSpecial, text: s[i : i+1], spaceBefore: space})
			space = false
			i++
		default: // atom; a backslash escapes the next byte
			var b strings.Builder
			for i < len(s) {
				d := s[i]
				if d == '\\' {
					if i+1 < len(s) {
						b.WriteByte(s[i+1])
					}
					i += 2
					continue
				}
				if isSpaceTabCRLF(d) || d == '(' || d == '"' || d == '[' ||
					strings.IndexByte(tok822Specials, d) >= 0 {
					break
				}
				b.WriteByte(d)
				i++
			}
			toks = append(toks, token{kind: tokWord, text: b.String(), spaceBefore: space})
			space = false
		}
	}
	return toks, nil
}

func isSpecial(t token, c string) bool { return t.kind == tokSpecial && t.text == c }

// stripRoute removes an RFC 5321 source route ("@a,@b:") from the front
// of s, as extract_addr() does: only when s starts with "@" and contains
// a ":".
func stripRoute(s string) string {
	if strings.HasPrefix(s, "@") {
		if i := strings.IndexByte(s, ':'); i >= 0 {
			return s[i+1:]
		}
	}
	return s
}

// ParseAddress parses a MAIL FROM or RCPT TO address the way Postfix's
// smtpd extract_addr() (src/smtpd/smtpd.c) and tok822_parse()
// (src/global/tok822_parse.c) do, and returns its internal form.
//
// The input is what a milter receives: the command argument with or
// without its angle brackets (go-milter removes them with
// strings.Trim(s, "<>")). The steps:
//
//  1. Surrounding white space is ignored; one pair of enclosing "<" ">" is
//     removed.
//  2. A source route is dropped: if the text starts with "@" and contains
//     ":", everything up to the first ":" goes ("@a,@b:u@example.com"
//     becomes "u@example.com"; "@a:" becomes the null address).
//  3. The rest is tokenized: backslash escapes, quoted strings, comments
//     (dropped), domain literals, specials.
//  4. A phrase followed by "<addr>" (`Name <u@example.com>`) yields addr,
//     as Postfix accepts it. An unclosed "<" takes the rest of the text,
//     because go-milter's Trim can eat the final ">".
//  5. The internal form is the concatenation of the tokens' unquoted text.
//     It is split at its LAST "@", as Postfix's reject_non_fqdn_address,
//     reject_unknown_address and check_*_access do with strrchr(). This is
//     the last "@" outside quotes for every address that has one; for a
//     wholly quoted `"user@example.com"` Postfix, and this function, also
//     split at the quoted "@" (verified with Postfix 3.7.11).
//
// An empty internal form is the null sender (Null true). ParseAddress
// returns an error wrapping ErrSyntax for an unterminated quoted string,
// comment or address literal, for two words separated by white space
// ("a b@c"), and for "," ";" ":" or a stray ">" outside a route-addr
// (several addresses or a group), which Postfix rejects with 501.
//
// ParseAddress does not validate the domain: Postfix has already
// rejected an invalid or numeric domain, an invalid address literal and,
// without SMTPUTF8, a non-ASCII domain with 501 before a milter sees the
// address (smtpd_check_addr). Use IsFQDNAddress and ValidAddressLiteral
// for the restriction semantics.
func ParseAddress(s string) (Address, error) {
	s = strings.Trim(s, " \t\r\n")
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = s[1 : len(s)-1]
	}
	s = stripRoute(s)
	toks, err := tokenize(s)
	if err != nil {
		return Address{}, err
	}
	// Route-addr: keep what is inside the first "<" and its ">".
	for i, t := range toks {
		if !isSpecial(t, "<") {
			continue
		}
		end := len(toks)
		for j := i + 1; j < len(toks); j++ {
			if isSpecial(toks[j], ">") {
				end = j
				break
			}
		}
		inner := toks[i+1 : end]
		// A source route inside the brackets: "<@a,@b:u@example.com>".
		if len(inner) > 0 && isSpecial(inner[0], "@") {
			for j := range inner {
				if isSpecial(inner[j], ":") {
					inner = inner[j+1:]
					break
				}
			}
		}
		toks = inner
		break
	}
	var b strings.Builder
	prevWord := false
	for _, t := range toks {
		switch t.kind {
		case tokSpecial:
			switch t.text {
			case ".", "@":
			default:
				return Address{}, fmt.Errorf("%w: unexpected %q", ErrSyntax, t.text)
			}
			prevWord = false
		default:
			if prevWord && t.spaceBefore {
				return Address{}, fmt.Errorf("%w: more than one address", ErrSyntax)
			}
			prevWord = true
		}
		b.WriteString(t.text)
	}
	internal := b.String()
	if internal == "" {
		return Address{Null: true}, nil
	}
	a := Address{Local: internal}
	if at := strings.LastIndexByte(internal, '@'); at >= 0 {
		a.Local, a.Domain, a.hasAt = internal[:at], internal[at+1:], true
	}
	a.Literal = isLiteralDomain(a.Domain)
	return a, nil
}

// isLiteralDomain is Postfix's address-literal test in
// reject_non_fqdn_address and reject_unknown_address: first byte "[",
// last byte "]".
func isLiteralDomain(d string) bool {
	return d != "" && d[0] == '[' && d[len(d)-1] == ']'
}

// IsFQDNAddress reports whether reject_non_fqdn_sender or
// reject_non_fqdn_recipient (src/smtpd/smtpd_check.c
// reject_non_fqdn_address) lets a through, assuming SMTPUTF8 was
// requested whenever the domain is not ASCII (without SMTPUTF8, Postfix
// rejects a non-ASCII domain with 501 before the restrictions run). The
// rules:
//
//   - the null sender is never checked (Postfix skips the restriction when
//     the sender is empty), so it passes;
//   - an address literal domain ("[...]", see Address.Literal) passes
//     without validation ("forms that we can't handle yet");
//   - otherwise one trailing dot is removed (StripTrailingDot) and the
//     domain must be non-empty, pass ValidUTF8Hostname and contain a ".".
//     So "user", "user@localhost", "user@com." and "x@y.z@" fail, while
//     "user@example.com." passes.
//
// A failure is answered with non_fqdn_reject_code (504) 5.5.2
// "<addr>: Sender address rejected: need fully-qualified address" (or
// "Recipient address rejected").
func IsFQDNAddress(a Address) bool {
	return IsFQDNAddressSMTPUTF8(a, true)
}

// IsFQDNAddressSMTPUTF8 is IsFQDNAddress with an explicit SMTPUTF8 flag:
// when smtputf8 is false a non-ASCII domain fails, as in Postfix.
func IsFQDNAddressSMTPUTF8(a Address, smtputf8 bool) bool {
	if a.Null || a.Literal {
		return true
	}
	d := StripTrailingDot(a.Domain)
	return d != "" && ValidUTF8Hostname(d, smtputf8) && containsDot(d)
}

// MailDomainLookupName prepares reject_unknown_sender_domain and
// reject_unknown_recipient_domain (src/smtpd/smtpd_check.c
// reject_unknown_address and reject_unknown_mailhost, and the input
// checks of dns_lookup_x() in src/dns/dns_lookup.c) for the domain of a
// resolved address. The caller must already have skipped domains that
// Postfix delivers locally (mydestination, virtual domains:
// RESOLVE_CLASS_FINAL) and addresses without a domain; trivial-rewrite
// appends $myorigin to those, which is normally local.
//
//   - An address literal is skipped: skip is true, no lookup, no reject.
//   - One trailing dot is removed and ASCII letters are lowercased, as
//     trivial-rewrite does before smtpd sees the resolved address.
//   - A non-ASCII domain is converted with ToASCII; if that fails the
//     UTF-8 name goes on and fails the next test.
//   - A numeric or syntactically invalid name is never queried: notFound
//     is true and Postfix answers "Domain not found" with
//     unknown_address_reject_code.
//   - Otherwise name is what to query: MX first, then A, then AAAA.
func MailDomainLookupName(domain string) (name string, skip, notFound bool) {
	if isLiteralDomain(domain) {
		return "", true, false
	}
	// trivial-rewrite has already removed one trailing dot and
	// lowercased the domain (verified with Postfix 3.7.11).
	name = strings.ToLower(StripTrailingDot(domain))
	if !isASCII(name) {
		if a, ok := ToASCII(name); ok && ValidHostname(a) {
			name = a
		}
	}
	if ValidHostAddr(name) || (name != "." && !ValidHostname(name)) {
		return "", false, true
	}
	return name, false, false
}

// scanEscaped reads s from i up to the first unescaped end byte (a
// backslash escapes the next byte and is dropped), as RFC 822 quoted
// strings and domain literals are read. It returns the text without the
// end byte, the index past it, and whether end was found.
func scanEscaped(s string, i int, end byte) (text string, next int, closed bool) {
	var b strings.Builder
	for i < len(s) {
		d := s[i]
		if d == '\\' {
			if i+1 < len(s) {
				b.WriteByte(s[i+1])
			}
			i += 2
			continue
		}
		if d == end {
			return b.String(), i + 1, true
		}
		b.WriteByte(d)
		i++
	}
	return b.String(), i, false
}
