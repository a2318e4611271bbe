// Package access reads Postfix access tables and answers lookups the way
// Postfix's check_client_access, check_helo_access, check_sender_access and
// check_recipient_access do.
//
// The goal is that the table files Postfix tutorials tell people to write
// (client_access, helo_access, sender_access, recipient_access,
// rbl_override, *.cidr, *.regexp, *.pcre) give the same answers here as in
// Postfix. The references are the manual pages access(5), cidr_table(5),
// regexp_table(5), pcre_table(5) and postmap(1), and the Postfix sources
// src/smtpd/smtpd_check.c (check_table_result, check_access,
// check_domain_access, check_addr_access, check_namadr_access,
// check_mail_access, smtpd_check_reject), src/global/mail_addr_find.c,
// src/global/quote_822_local.c, src/global/dsn_util.c,
// src/smtpd/smtpd_dsn_fix.c, src/util/readlline.c, src/util/dict_thash.c,
// src/util/dict_cidr.c, src/util/cidr_match.c, src/util/dict_regexp.c,
// src/util/dict_pcre.c, src/util/dict_inline.c and src/util/mac_parse.c.
//
// # Tables
//
// Open takes a Postfix table spec, "type:name":
//
//   - hash:, btree:, lmdb:, cdb:, dbm:, sdbm: and texthash: read the postmap(1)
//     source text file (the path as written, without .db). There is no
//     Berkeley DB, LMDB or CDB reader in the Go standard library, the source
//     file is what people edit, and a hash: user runs postmap on it anyway,
//     so the source and the indexed file say the same thing.
//   - cidr: (cidr_table(5)), regexp: (regexp_table(5)) and pcre:
//     (pcre_table(5)) read pattern files. regexp: patterns are POSIX
//     extended regular expressions and pcre: patterns are Perl-like; both are
//     translated to Go's RE2 syntax, and PCRE constructs that RE2 cannot run
//     (lookaround, backreferences, atomic groups, possessive quantifiers,
//     recursion) make the table fail to load with the file, line and
//     construct named.
//   - inline:{key=value, { key = text with spaces }} and static:VALUE or
//     static:{text with spaces} need no file.
//   - proxy:type:name is read as type:name. Any other type (mysql:, ldap:,
//     pgsql:, socketmap:, ...) is an error that lists the supported types.
//
// Translating to RE2 is exact for what access tables use; the remaining
// differences are: regexp: tables use leftmost-longest matching (as POSIX)
// but a bracket expression like [^a] also matches a newline with the m
// flag, GNU's \< and \> become \b, and collating elements ([[.x.]] with
// more than one character) are rejected; in pcre: tables $ does not match
// before a final newline, and \h, \v, \R, \X and \K are rejected. Lookup
// keys never contain newlines, so only the rejected constructs matter.
//
// Where Postfix logs a warning and skips a rule (a cidr network with host
// bits set, a regexp without its closing delimiter, an unknown flag, a key
// without a value, an unbalanced if/endif) Open fails instead, naming the
// file and line: a silently skipped rule changes the policy without anyone
// noticing. Where Postfix keeps the entry with a warning (a duplicate key in
// a postmap source file, where the first entry wins) Open keeps it too and
// reports the warning in Table.Warnings.
//
// A Table is immutable: to reload, Open the spec again and swap the pointer.
// Table.Changed tells whether the file changed since it was read.
//
// # Lookups
//
// Postfix only sends partial keys (parent domains, user@, truncated IP
// addresses, user@domain without the address extension) to fixed-string
// tables (hash and the other postmap types, texthash, inline, static);
// pattern tables (cidr, regexp, pcre) see only the full key. Table.Fixed
// tells which kind a table is, and the Lookup functions (LookupDomain,
// LookupAddr, LookupClient, LookupMail) apply the rule.
//
// In Postfix every check_*_access restriction names exactly one table
// (smtpd_check.c registers each "type:name" token as its own MAPS), so
// "check_sender_access hash:/a, check_sender_access hash:/b" is two
// restrictions: every key is tried in /a before /b is consulted, and /b is
// consulted only when /a decided nothing (no match, DUNNO, WARN, ...). The
// Lookup functions therefore take a list of tables and return at most one
// Match per table, in table order: the first key that matched in that
// table. The caller evaluates the matches in order as successive
// restrictions and stops at the first one that decides.
//
// # Results
//
// ParseResult turns a table value into a Result (access(5) ACCEPT ACTIONS,
// REJECT ACTIONS and OTHER ACTIONS, in the order check_table_result tests
// them), and Result.Reply formats the SMTP reply Postfix would send.
package access

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// Errors returned by Open, ParseTable and ParseResult. Each is wrapped (see
// Error), so test with errors.Is.
var (
	// ErrSyntax means a table file does not follow its format.
	ErrSyntax = errors.New("access: table syntax error")
	// ErrUnsupportedType means the table type is not one this package reads.
	ErrUnsupportedType = errors.New("access: unsupported table type")
	// ErrUnsupportedRegexp means a regexp or pcre pattern uses a construct
	// that Go's RE2 engine does not have.
	ErrUnsupportedRegexp = errors.New("access: regular expression construct not supported by RE2")
	// ErrResult means an access table value is malformed. Postfix logs a
	// warning and uses the Result that ParseResult returns with the error.
	ErrResult = errors.New("access: bad access table result")
)

// Error describes one problem in a table or a table value. Its text is
// "file:line: message (hint: ...)"; Line is 0 when the problem is not on a
// line (an unreadable file, a bad spec).
type Error struct {
	File string // the file name, or the table spec for inline: and static:
	Line int    // the first physical line of the logical line, from 1
	Msg  string // what is wrong
	Hint string // how to fix it, may be empty
	Err  error  // one of the package's sentinel errors
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (hint: ")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// maxErrors bounds how many problems one Open reports, so that feeding it a
// binary .db file does not produce a million errors.
const maxErrors = 20

// errList collects the problems of one table.
type errList struct {
	file string
	errs []error
}

func (l *errList) add(line int, sentinel error, hint, format string, args ...any) {
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, &Error{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...), Hint: hint, Err: sentinel})
	}
}

func (l *errList) err() error { return errors.Join(l.errs...) }

// Table is one opened lookup table, made by Open or ParseTable. It is
// immutable and safe for concurrent use.
type Table struct {
	typ      string
	source   string
	path     string
	modTime  time.Time
	size     int64
	fixed    bool
	warnings []string
	lookup   func(key string) (string, bool)
}

// Lookup returns the value for key exactly as the table type does: fixed
// tables compare the key in lower case (Postfix opens access maps with
// DICT_FLAG_FOLD_FIX), pattern tables match the key as given. It does not
// try parent domains or partial addresses; the Lookup functions do.
func (t *Table) Lookup(key string) (string, bool) { return t.lookup(key) }

// Fixed reports whether t is a fixed-string table (hash and the other
// postmap types, texthash, inline, static), to which Postfix also sends
// partial keys. It is false for pattern tables (cidr, regexp, pcre).
func (t *Table) Fixed() bool { return t.fixed }

// Type is the table type as read ("hash", "cidr", ...), without "proxy:".
func (t *Table) Type() string { return t.typ }

// Source is the spec the table was opened with, as given to Open.
func (t *Table) Source() string { return t.source }

// Path is the file that was read, or "" for inline: and static:.
func (t *Table) Path() string { return t.path }

// ModTime is the modification time the file had when it was read (zero for
// inline: and static:).
func (t *Table) ModTime() time.Time { return t.modTime }

// Warnings are the problems Postfix would also only warn about, such as
// duplicate keys in a postmap source file, each "file:line: text".
func (t *Table) Warnings() []string { return slices.Clone(t.warnings) }

// Changed reports whether the file behind t has a different modification
// time or size than when it was read, so that the caller can Open it again.
// It is always false for inline: and static: tables.
func (t *Table) Changed() (bool, error) {
	if t.path == "" {
		return false, nil
	}
	fi, err := os.Stat(t.path)
	if err != nil {
		return true, err
	}
	return !fi.ModTime().Equal(t.modTime) || fi.Size() != t.size, nil
}

func (t *Table) String() string { return t.source }

// postmapTypes are the indexed types whose postmap source file we read.
var postmapTypes = []string{"hash", "btree", "lmdb", "cdb", "dbm", "sdbm"}

var supportedTypes = []string{"hash", "btree", "lmdb", "cdb", "dbm", "sdbm", "texthash", "cidr", "regexp", "pcre", "inline", "static"}

// SupportedTypes lists the table types Open accepts (besides the proxy:
// prefix, which is ignored).
func SupportedTypes() []string { return slices.Clone(supportedTypes) }

// Open opens the table named by a Postfix table spec such as
// "hash:/etc/postfix/client_access" or "cidr:/etc/postfix/client.cidr".
// For the postmap types it reads the source text file: the path as written,
// without ".db". Every problem found is reported, each as an *Error joined
// with errors.Join.
func Open(spec string) (*Table, error) {
	typ, name, err := splitSpec(spec)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "inline":
		return parseInline(spec, name)
	case "static":
		return parseStatic(spec, name)
	}
	path := name
	fi, err := os.Stat(path)
	if err != nil {
		return nil, openError(spec, typ, path, err)
	}
	if fi.IsDir() {
		return nil, &Error{File: path, Msg: "is a directory", Err: ErrSyntax}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, openError(spec, typ, path, err)
	}
	t, err := ParseTable(typ, path, data)
	if err != nil {
		return nil, err
	}
	t.source = spec
	t.path = path
	t.modTime = fi.ModTime()
	t.size = fi.Size()
	return t, nil
}

func openError(spec, typ, path string, err error) error {
	msg := err.Error()
	if pe, ok := err.(*fs.PathError); ok {
		msg = pe.Err.Error()
	}
	e := &Error{File: path, Msg: msg, Err: err}
	if slices.Contains(postmapTypes, typ) {
		for _, ext := range []string{".db", ".lmdb", ".cdb", ".dir", ".pag"} {
			if strings.HasSuffix(path, ext) {
				e.Hint = fmt.Sprintf("write %q as %s:%s: mxguard reads the postmap source file, not the %s file", spec, typ, strings.TrimSuffix(path, ext), ext)
			}
		}
		if e.Hint == "" {
			e.Hint = "mxguard reads the postmap source text file, the one you run postmap on"
		}
	}
	return e
}

// splitSpec splits "type:name", dropping any "proxy:" prefixes.
func splitSpec(spec string) (typ, name string, err error) {
	rest := spec
	for {
		t, n, ok := strings.Cut(rest, ":")
		if !ok || t == "" {
			return "", "", &Error{File: spec, Msg: "not a table spec", Hint: `write "type:name", for example "hash:/etc/postfix/access"`, Err: ErrUnsupportedType}
		}
		if t == "proxy" {
			rest = n
			continue
		}
		typ, name = t, n
		break
	}
	if !slices.Contains(supportedTypes, typ) {
		hint := "supported types: " + strings.Join(supportedTypes, ", ") + " (a proxy: prefix is ignored)"
		if slices.Contains(supportedTypes, strings.ToLower(typ)) {
			hint = "table types are lower case: " + strings.ToLower(typ) + ":" + name
		}
		return "", "", &Error{File: spec, Msg: fmt.Sprintf("table type %q is not supported", typ), Hint: hint, Err: ErrUnsupportedType}
	}
	if name == "" {
		return "", "", &Error{File: spec, Msg: "missing table name after " + typ + ":", Err: ErrSyntax}
	}
	return typ, name, nil
}

// ParseTable parses the contents of a table file of the given type (one of
// SupportedTypes other than inline and static; for the postmap types and
// texthash the contents are the postmap source format). name is used in
// messages. The result has no ModTime and Changed is always false.
func ParseTable(typ, name string, data []byte) (*Table, error) {
	var t *Table
	var err error
	switch {
	case typ == "texthash" || slices.Contains(postmapTypes, typ):
		t, err = parseFixed(name, data)
	case typ == "cidr":
		t, err = parseCIDR(name, data)
	case typ == "regexp":
		t, err = parsePattern(name, data, false)
	case typ == "pcre":
		t, err = parsePattern(name, data, true)
	default:
		return nil, &Error{File: name, Msg: fmt.Sprintf("table type %q has no file to parse", typ), Err: ErrUnsupportedType}
	}
	if err != nil {
		return nil, err
	}
	t.typ = typ
	t.source = typ + ":" + name
	return t, nil
}
