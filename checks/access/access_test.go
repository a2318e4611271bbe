package access

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func mustOpen(t *testing.T, spec string) *Table {
	t.Helper()
	tab, err := Open(spec)
	if err != nil {
		t.Fatalf("Open(%q): %v", spec, err)
	}
	return tab
}

// lookupTest returns a closure that checks tab.Lookup(key).
func lookupTest(t *testing.T, tab *Table) func(key, want string) {
	return func(key, want string) {
		t.Helper()
		got, ok := tab.Lookup(key)
		if want == "" {
			if ok {
				t.Errorf("%s: Lookup(%q) = %q, want no match", tab.Source(), key, got)
			}
			return
		}
		if !ok || got != want {
			t.Errorf("%s: Lookup(%q) = %q, %v, want %q", tab.Source(), key, got, ok, want)
		}
	}
}

// errorTest returns a closure that parses src as a table of type typ named
// "t" and checks that the error wraps sentinel and contains each of wants.
func errorTest(t *testing.T, typ string) func(src string, sentinel error, wants ...string) {
	return func(src string, sentinel error, wants ...string) {
		t.Helper()
		_, err := ParseTable(typ, "t", []byte(src))
		if err == nil {
			t.Errorf("%s %q: no error, want %v", typ, src, sentinel)
			return
		}
		if !errors.Is(err, sentinel) {
			t.Errorf("%s %q: error %q does not wrap %v", typ, src, err, sentinel)
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s %q: error %q does not contain %q", typ, src, err, w)
			}
		}
	}
}

func TestLogicalLines(t *testing.T) {
	test := func(src string, want []logicalLine, wantErr string) {
		t.Helper()
		errs := &errList{file: "f"}
		got := readLogicalLines("f", []byte(src), errs)
		if !slices.Equal(got, want) {
			t.Errorf("readLogicalLines(%q) = %+v, want %+v", src, got, want)
		}
		err := errs.err()
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("readLogicalLines(%q): unexpected error %v", src, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("readLogicalLines(%q): error %v, want %q", src, err, wantErr)
		}
	}
	// The cases of readlline.c's own test program.
	test("#abc\ndef", []logicalLine{{"def", 2}}, "")
	test("\nabc\n", []logicalLine{{"abc", 2}}, "")
	test(" \nabc\n", []logicalLine{{"abc", 2}}, "")
	test("abc def", []logicalLine{{"abc def", 1}}, "")
	test("#abc def", nil, "")
	test("abc\n def\n", []logicalLine{{"abc def", 1}}, "")
	test("abc\n #def\n ghi", []logicalLine{{"abc ghi", 1}}, "")
	test("abc\n#def\n ghi", []logicalLine{{"abc ghi", 1}}, "")
	test("abc\n \n ghi", []logicalLine{{"abc ghi", 1}}, "")
	test("abc\n\n ghi", []logicalLine{{"abc ghi", 1}}, "")
	test("abc\n #def\n", []logicalLine{{"abc", 1}}, "")
	test("abc\n \n", []logicalLine{{"abc", 1}}, "")
	test("a 1\r\nb 2\r\n", []logicalLine{{"a 1\r", 1}, {"b 2\r", 2}}, "")
	test("a 1\n\tcontinued\nb 2\n", []logicalLine{{"a 1\tcontinued", 1}, {"b 2", 3}}, "")
	// Postfix warns and ignores these; they are errors here.
	test(" abcde\nfghij\n", []logicalLine{{"fghij", 2}}, "f:1: text starts with whitespace")
	test("abc\x00def\nok 1\n", []logicalLine{{"ok 1", 2}}, "f:1: NUL byte")
}

func TestHashTable(t *testing.T) {
	tab := mustOpen(t, "hash:testdata/client_access")
	if !tab.Fixed() || tab.Type() != "hash" || tab.Source() != "hash:testdata/client_access" || tab.Path() != "testdata/client_access" {
		t.Errorf("got Fixed %v Type %q Source %q Path %q", tab.Fixed(), tab.Type(), tab.Source(), tab.Path())
	}
	if tab.ModTime().IsZero() {
		t.Error("ModTime is zero")
	}
	if w := tab.Warnings(); len(w) != 0 {
		t.Errorf("Warnings = %q", w)
	}
	test := lookupTest(t, tab)
	test("192.0.2.10", "OK")
	test("192.0.2", "REJECT")
	test("192.0.2.11", "") // Lookup does no parent search
	test("198.51.100.7", "550 5.7.1 You are listed as a spam source")
	test("MAIL.Partner.Example", "OK") // keys are folded, so are queries
	test("unknown", "450 4.7.1 Fix your reverse DNS")
	test("dynamic.example", "REJECT Dynamic IP space, use your provider's relay")
	test(".badguys.example", "REJECT")
	test("2001:db8:1:", "REJECT")

	// Every postmap type reads the same source file, with or without proxy:.
	for _, spec := range []string{"btree:", "lmdb:", "cdb:", "dbm:", "sdbm:", "texthash:", "proxy:hash:", "proxy:proxy:lmdb:"} {
		tab := mustOpen(t, spec+"testdata/client_access")
		if v, ok := tab.Lookup("192.0.2.10"); !ok || v != "OK" || !tab.Fixed() {
			t.Errorf("%s: Lookup = %q, %v, Fixed %v", spec, v, ok, tab.Fixed())
		}
	}

	// Duplicates: the first entry wins, with postmap's warning.
	snd := mustOpen(t, "hash:testdata/sender_access")
	lookupTest(t, snd)("example.org", "REJECT Domain is blocked")
	if w := snd.Warnings(); len(w) != 1 || !strings.Contains(w[0], `testdata/sender_access:14: duplicate entry: "example.org"`) {
		t.Errorf("Warnings = %q", w)
	}

	// A continued line is one value.
	lookupTest(t, mustOpen(t, "hash:testdata/helo_access"))("dynamic.example",
		"REJECT Your HELO name looks like a dynamic address,    please use your provider's mail server")

	errTest := errorTest(t, "hash")
	errTest("ok 1\nlonely\n", ErrSyntax, "t:2: expected format: key whitespace value", "postmap would skip")
	errTest("# comment\n\n  indented 1\n", ErrSyntax, "t:3:")
	errTest("a\nb\nc\n", ErrSyntax, "t:1:", "t:2:", "t:3:")

	tab, err := ParseTable("texthash", "t", []byte("alias: value\n"))
	if err != nil || len(tab.Warnings()) != 1 || !strings.Contains(tab.Warnings()[0], "is this an alias file?") {
		t.Errorf("alias warning: %v %q", err, tab.Warnings())
	}
}

func TestOpenErrors(t *testing.T) {
	test := func(spec string, sentinel error, wants ...string) {
		t.Helper()
		_, err := Open(spec)
		if err == nil {
			t.Errorf("Open(%q): no error", spec)
			return
		}
		if sentinel != nil && !errors.Is(err, sentinel) {
			t.Errorf("Open(%q): %q does not wrap %v", spec, err, sentinel)
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Open(%q): %q does not contain %q", spec, err, w)
			}
		}
	}
	test("mysql:/etc/postfix/mysql-access.cf", ErrUnsupportedType, `table type "mysql" is not supported`, "supported types: hash, btree")
	test("proxy:ldap:/etc/postfix/ldap.cf", ErrUnsupportedType, `"ldap"`)
	test("HASH:/etc/postfix/access", ErrUnsupportedType, "table types are lower case: hash:/etc/postfix/access")
	test("/etc/postfix/access", ErrUnsupportedType, `write "type:name"`)
	test("hash:", ErrSyntax, "missing table name")
	test("hash:testdata/nonexistent", os.ErrNotExist, "testdata/nonexistent", "postmap source text file")
	test("hash:testdata/client_access.db", os.ErrNotExist, "hash:testdata/client_access: mxguard reads the postmap source file")
	test("cidr:testdata", ErrSyntax, "is a directory")
}

func TestChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access")
	if err := os.WriteFile(path, []byte("192.0.2.1 REJECT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tab := mustOpen(t, "hash:"+path)
	if changed, err := tab.Changed(); changed || err != nil {
		t.Fatalf("Changed = %v, %v right after Open", changed, err)
	}
	if err := os.WriteFile(path, []byte("192.0.2.1 OK\n192.0.2.2 REJECT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := tab.Changed(); !changed || err != nil {
		t.Errorf("Changed = %v, %v after rewrite", changed, err)
	}
	// The old table is unchanged; a reload gives a new one.
	lookupTest(t, tab)("192.0.2.1", "REJECT")
	lookupTest(t, mustOpen(t, "hash:"+path))("192.0.2.1", "OK")

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if changed, err := tab.Changed(); !changed || err == nil {
		t.Errorf("Changed = %v, %v after remove", changed, err)
	}
	inline := mustOpen(t, "inline:{a=b}")
	if changed, err := inline.Changed(); changed || err != nil || !inline.ModTime().IsZero() {
		t.Errorf("inline Changed = %v, %v", changed, err)
	}
}

func TestInlineStatic(t *testing.T) {
	tab := mustOpen(t, "inline:{ 192.0.2.1=OK, Example.COM=REJECT, { spammer@example.net = REJECT go away, now } }")
	if !tab.Fixed() || tab.Type() != "inline" || tab.Path() != "" {
		t.Errorf("Fixed %v Type %q Path %q", tab.Fixed(), tab.Type(), tab.Path())
	}
	test := lookupTest(t, tab)
	test("192.0.2.1", "OK")
	test("example.com", "REJECT")
	test("spammer@example.net", "REJECT go away, now")
	test("192.0.2.2", "")

	st := mustOpen(t, "static:REJECT")
	lookupTest(t, st)("anything", "REJECT")
	st = mustOpen(t, "static:{ 550 5.7.1 Go away }")
	lookupTest(t, st)("anything", "550 5.7.1 Go away")
	if !st.Fixed() {
		t.Error("static is not Fixed")
	}
	lookupTest(t, mustOpen(t, "inline:{a=1,a=2}"))("a", "2") // no duplicate check: the last wins

	test2 := func(spec string, wants ...string) {
		t.Helper()
		_, err := Open(spec)
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Open(%q) = %v, want ErrSyntax", spec, err)
			return
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Open(%q): %q does not contain %q", spec, err, w)
			}
		}
	}
	test2("inline:a=b", "bad inline table syntax", "inline:{key=value")
	test2("inline:{}", "empty table")
	test2("inline:{a=b", "bad inline table syntax")
	test2("inline:{a}", "missing '=' after attribute name")
	test2("inline:{a = b}", "missing '=' after attribute name") // spaces need { a = b }
	test2("inline:{=b}", "missing attribute name")
	test2("inline:{{a=b}c}", "text after '}'")
	test2("static:{abc", "unbalanced braces")
	if tab, err := Open("inline:{a=}"); err != nil || len(tab.Warnings()) != 1 {
		t.Errorf("inline:{a=}: %v %q", err, tab.Warnings())
	}
}
