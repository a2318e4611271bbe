// Package authres builds mxguard's Authentication-Results header (RFC 8601)
// and recognises the ones that claim our authserv-id, so that the milter
// removes them before adding its own (RFC 8601 §5: a border MTA "MUST
// remove" such headers, else downstream filters trust forged results:
// CVE-2019-20790, CVE-2020-12272).
//
// Why our own code and not go-msgauth/authres: its Parse rejects header
// values it does not fully understand, and a forged header is exactly the
// value a parser must not give up on. Recognition here needs only the
// authserv-id, read past any comments and folding (RFC 8601 §2.2, CFWS of
// RFC 5322 §3.2.2), in either token or quoted-string form.
package authres

import (
	"strings"
)

// HeaderName is the field name, as written by us.
const HeaderName = "Authentication-Results"

// Prop is one property of a result: ptype.property=value
// (smtp.mailfrom=example.org, header.d=example.org).
type Prop struct {
	Type, Name, Value string
}

// Result is one method's result: method=result [reason] props... [(comment)].
type Result struct {
	Method  string // spf, dkim, dmarc, iprev
	Result  string // pass, fail, ...
	Reason  string // optional reason= text
	Props   []Prop
	Comment string // optional trailing comment
}

// Format renders the header value (without the field name) for
// authservID: "mx.example.net; spf=pass smtp.mailfrom=example.org; ...",
// folded before each result. With no results it is "id; none".
func Format(authservID string, results []Result) string {
	var b strings.Builder
	b.WriteString(value(authservID))
	if len(results) == 0 {
		b.WriteString("; none")
		return b.String()
	}
	for _, r := range results {
		b.WriteString(";\r\n\t")
		b.WriteString(r.Method)
		b.WriteByte('=')
		b.WriteString(r.Result)
		if r.Reason != "" {
			b.WriteString(" reason=")
			b.WriteString(quoted(r.Reason))
		}
		for _, p := range r.Props {
			if p.Value == "" {
				continue
			}
			b.WriteByte(' ')
			b.WriteString(p.Type)
			b.WriteByte('.')
			b.WriteString(p.Name)
			b.WriteByte('=')
			b.WriteString(value(p.Value))
		}
		if r.Comment != "" {
			b.WriteString(" (")
			b.WriteString(commentText(r.Comment))
			b.WriteByte(')')
		}
	}
	return b.String()
}

// isTSpecial reports the RFC 2045 tspecials, which end a token.
func isTSpecial(c byte) bool { return strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 }

// value writes v as a token when it is one, else as a quoted string. An
// address (local@domain) is left bare: RFC 8601's pvalue allows it.
func value(v string) string {
	ok := v != ""
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || (isTSpecial(c) && c != '@') {
			ok = false
			break
		}
	}
	if ok && strings.Count(v, "@") <= 1 {
		return v
	}
	return quoted(v)
}

func quoted(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func commentText(s string) string {
	r := strings.NewReplacer("(", "[", ")", "]", "\\", "/", "\r", " ", "\n", " ")
	return r.Replace(s)
}

// AuthServID returns the authserv-id of an Authentication-Results value:
// the first token or quoted string after any comments and folding white
// space. ok is false when the value has none.
func AuthServID(v string) (id string, ok bool) {
	i := skipCFWS(v, 0)
	if i >= len(v) {
		return "", false
	}
	if v[i] == '"' {
		var b strings.Builder
		for i++; i < len(v); i++ {
			switch v[i] {
			case '\\':
				if i+1 < len(v) {
					i++
					b.WriteByte(v[i])
				}
			case '"':
				return b.String(), true
			default:
				b.WriteByte(v[i])
			}
		}
		return b.String(), b.Len() > 0 // unterminated: still a claim
	}
	j := i
	for j < len(v) && v[j] > ' ' && v[j] < 0x7f && !isTSpecial(v[j]) {
		j++
	}
	if j == i {
		return "", false
	}
	return v[i:j], true
}

// skipCFWS skips white space, folding and (nested) comments from i.
func skipCFWS(v string, i int) int {
	depth := 0
	for i < len(v) {
		c := v[i]
		switch {
		case depth > 0 && c == '\\':
			i += 2
			continue
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		default:
			return i
		}
		i++
	}
	return i
}

// Claims reports whether an Authentication-Results value claims one of ids
// (compared case-insensitively, a trailing dot ignored). A value whose
// authserv-id cannot be read is reported as claiming when its text starts,
// past comments and white space, with one of ids: a forged header is
// removed rather than kept on a parsing technicality.
func Claims(v string, ids []string) bool {
	id, ok := AuthServID(v)
	if ok && matches(id, ids) {
		return true
	}
	rest := strings.TrimPrefix(strings.ToLower(v[skipCFWS(v, 0):]), `"`)
	for _, want := range ids {
		w := strings.ToLower(strings.TrimSuffix(want, "."))
		if w != "" && strings.HasPrefix(rest, w) {
			next := rest[len(w):]
			if next == "" || !isNameChar(next[0]) {
				return true
			}
		}
	}
	return false
}

func isNameChar(c byte) bool {
	return c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
}

func matches(id string, ids []string) bool {
	id = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(id)), ".")
	for _, want := range ids {
		if id == strings.TrimSuffix(strings.ToLower(want), ".") && id != "" {
			return true
		}
	}
	return false
}

// P is a Prop: P("smtp", "mailfrom", "user@example.org").
func P(ptype, name, value string) Prop { return Prop{Type: ptype, Name: name, Value: value} }
