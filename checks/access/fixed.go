package access

import (
	"fmt"
	"strings"
)

// foldKey folds a key the way Postfix does for fixed tables opened with
// DICT_FLAG_FOLD_FIX: postmap stores keys in lower case (postmap -f is off
// by default), and smtpd folds the query the same way.
func foldKey(s string) string { return strings.ToLower(s) }

// parseFixed parses a postmap(1) source file (also texthash:): "key
// whitespace value" per logical line. Keys are folded to lower case; when a
// key repeats, the first value wins and a warning is kept, as postmap does
// ("duplicate entry"). A key without a value is an error (postmap warns
// "expected format: key whitespace value" and skips the line).
func parseFixed(name string, data []byte) (*Table, error) {
	errs := &errList{file: name}
	lines := readLogicalLines(name, data, errs)
	m := make(map[string]string, len(lines))
	var warnings []string
	for _, ll := range lines {
		text := trimSpace(ll.text)
		key, value := text, ""
		if i := strings.IndexAny(text, " \t\r\n"); i >= 0 {
			key, value = text[:i], trimSpace(text[i+1:])
		}
		if key == "" || value == "" {
			errs.add(ll.line, ErrSyntax, "every line is \"key whitespace value\", e.g. \"192.0.2.1 REJECT\"; postmap would skip this line",
				"expected format: key whitespace value, found only %q", text)
			continue
		}
		if strings.HasSuffix(key, ":") && !isIPv6Prefix(key) {
			warnings = append(warnings, fmt.Sprintf("%s:%d: record is in \"key: value\" format; is this an alias file?", name, ll.line))
		}
		key = foldKey(key)
		if _, dup := m[key]; dup {
			warnings = append(warnings, fmt.Sprintf("%s:%d: duplicate entry: %q (the first one wins, as with postmap)", name, ll.line, key))
			continue
		}
		m[key] = value
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return &Table{fixed: true, warnings: warnings, lookup: func(key string) (string, bool) {
		v, ok := m[foldKey(key)]
		return v, ok
	}}, nil
}

// isIPv6Prefix reports whether key looks like a shortened IPv6 address
// ("2001:db8:"), which postmap warns about as if it were an alias file
// entry; we do not.
func isIPv6Prefix(key string) bool {
	return strings.Count(key, ":") > 1 && strings.Trim(key, "0123456789abcdefABCDEF:.") == ""
}

// parseInline parses "inline:{key=value, { key = text with spaces }}"
// (dict_inline.c): the braces are required, entries are separated by commas
// or whitespace, an entry in braces may contain both, and "=" separates the
// key from the value with whitespace around either trimmed. A repeated key
// replaces the earlier one (dict_inline does no duplicate checks).
func parseInline(spec, body string) (*Table, error) {
	const hint = `write inline:{key=value, ...}; put an entry that has spaces or commas in braces: inline:{ { key = text with spaces } }`
	if len(body) < 2 || body[0] != '{' || matchBrace(body, 0) != len(body)-1 {
		return nil, &Error{File: spec, Msg: "bad inline table syntax", Hint: hint, Err: ErrSyntax}
	}
	tokens, err := splitQuoted(body[1:len(body)-1], ", \t\r\n")
	if err != nil {
		return nil, &Error{File: spec, Msg: err.Error(), Hint: hint, Err: ErrSyntax}
	}
	m := make(map[string]string, len(tokens))
	var warnings []string
	for _, tok := range tokens {
		if tok[0] == '{' {
			if matchBrace(tok, 0) != len(tok)-1 {
				return nil, &Error{File: spec, Msg: fmt.Sprintf("text after '}' in %q", tok), Hint: hint, Err: ErrSyntax}
			}
			tok = trimSpace(tok[1 : len(tok)-1])
		}
		k, v, ok := strings.Cut(tok, "=")
		k, v = trimSpace(k), trimSpace(v)
		if !ok {
			return nil, &Error{File: spec, Msg: fmt.Sprintf("missing '=' after attribute name in %q", tok), Hint: hint, Err: ErrSyntax}
		}
		if k == "" {
			return nil, &Error{File: spec, Msg: fmt.Sprintf("missing attribute name in %q", tok), Hint: hint, Err: ErrSyntax}
		}
		if v == "" {
			warnings = append(warnings, fmt.Sprintf("%s: key %q has an empty value, which an access map treats as OK", spec, k))
		}
		m[foldKey(k)] = v
	}
	if len(m) == 0 {
		return nil, &Error{File: spec, Msg: "empty table", Hint: hint, Err: ErrSyntax}
	}
	return &Table{typ: "inline", source: spec, fixed: true, warnings: warnings, lookup: func(key string) (string, bool) {
		v, ok := m[foldKey(key)]
		return v, ok
	}}, nil
}

// parseStatic parses "static:VALUE" or "static:{text with spaces}": every
// lookup returns the value.
func parseStatic(spec, body string) (*Table, error) {
	value := body
	if strings.HasPrefix(body, "{") {
		if matchBrace(body, 0) != len(body)-1 {
			return nil, &Error{File: spec, Msg: "unbalanced braces", Hint: "write static:{text with spaces}", Err: ErrSyntax}
		}
		value = trimSpace(body[1 : len(body)-1])
	}
	return &Table{typ: "static", source: spec, fixed: true, lookup: func(string) (string, bool) { return value, true }}, nil
}

// matchBrace returns the index of the '}' that closes the '{' at s[i], or
// -1.
func matchBrace(s string, i int) int {
	level := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '{':
			level++
		case '}':
			level--
			if level == 0 {
				return j
			}
		}
	}
	return -1
}

// splitQuoted splits s at any of seps, keeping text in balanced braces
// together (Postfix's mystrtokq with CHARS_BRACE). Empty tokens are
// dropped.
func splitQuoted(s, seps string) ([]string, error) {
	var out []string
	i := 0
	for i < len(s) {
		if strings.IndexByte(seps, s[i]) >= 0 {
			i++
			continue
		}
		start := i
		for i < len(s) && strings.IndexByte(seps, s[i]) < 0 {
			if s[i] == '{' {
				j := matchBrace(s, i)
				if j < 0 {
					return nil, fmt.Errorf("unbalanced '{' in %q", s[start:])
				}
				i = j + 1
				continue
			}
			if s[i] == '}' {
				return nil, fmt.Errorf("unbalanced '}' in %q", s[start:])
			}
			i++
		}
		out = append(out, s[start:i])
	}
	return out, nil
}
