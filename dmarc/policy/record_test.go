package policy

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/mxguard/mxguard/resolver"
)

func TestParseRecord(t *testing.T) {
	n := 0
	// test parses s and compares the canonical form, or the error.
	test := func(s, want string, wantErr error) {
		t.Helper()
		n++
		rec, err := ParseRecord(s)
		if wantErr != nil {
			if !errors.Is(err, wantErr) {
				t.Errorf("ParseRecord(%q) = %v, %v; want %v", s, rec, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Errorf("ParseRecord(%q): %v", s, err)
			return
		}
		if got := rec.String(); got != want {
			t.Errorf("ParseRecord(%q) = %q, want %q", s, got, want)
		}
		if rec.Raw != s {
			t.Errorf("Raw = %q", rec.Raw)
		}
	}
	test("v=DMARC1; p=reject", "v=DMARC1; p=reject", nil)
	test("v=DMARC1;p=none;", "v=DMARC1; p=none", nil)
	test("v = DMARC1 ;\tp = Quarantine ; ;", "v=DMARC1; p=quarantine", nil)
	test("V=DMARC1; P=REJECT; SP=none", "v=DMARC1; p=reject; sp=none", nil)
	test("v=DMARC1", "v=DMARC1", nil) // no p: discovery decides
	test("v=DMARC1; rua=mailto:a@example.com", "v=DMARC1; rua=mailto:a@example.com", nil)
	test("v=DMARC1; p=none; np=reject; psd=y; t=y; adkim=s; aspf=s",
		"v=DMARC1; p=none; np=reject; psd=y; t=y; adkim=s; aspf=s", nil)
	test("v=DMARC1; p=none; psd=u; t=n; adkim=r; aspf=r; pct=100; fo=0; rf=afrf; ri=86400", "v=DMARC1; p=none", nil)
	test("v=DMARC1; p=none; pct=0; fo=1:d:s; ri=3600; rf=afrf:iodef",
		"v=DMARC1; p=none; pct=0; fo=1:d:s; rf=afrf:iodef; ri=3600", nil)
	test("v=DMARC1; p=none; rua=mailto:a@example.com!10m, mailto:b@example.net; ruf=mailto:f@example.com",
		"v=DMARC1; p=none; rua=mailto:a@example.com,mailto:b@example.net; ruf=mailto:f@example.com", nil)
	test("v=DMARC1; p=none; rua=https://example.com/dmarc", "v=DMARC1; p=none; rua=https://example.com/dmarc", nil)
	test("v=DMARC1; p=none; future=whatever; x=1", "v=DMARC1; p=none", nil) // unknown tags ignored

	// Not DMARC: ignored by discovery.
	test("", "", ErrNotDMARC)
	test("v=spf1 -all", "", ErrNotDMARC)
	test("p=reject; v=DMARC1", "", ErrNotDMARC) // v must be first
	test("v=DMARC2; p=none", "", ErrNotDMARC)
	test("v=dmarc1; p=none", "", ErrNotDMARC) // the value is case-sensitive
	test(" v=DMARC1; p=none", "v=DMARC1; p=none", nil)

	// Syntax errors.
	test("v=DMARC1; p=none; bogus", "", ErrSyntax)
	test("v=DMARC1; p=bogus", "", ErrSyntax)
	test("v=DMARC1; p=", "", ErrSyntax)
	test("v=DMARC1; p=none; p=reject", "", ErrSyntax)
	test("v=DMARC1; v=DMARC1; p=none", "", ErrSyntax)
	test("v=DMARC1; p=none; sp=all", "", ErrSyntax)
	test("v=DMARC1; p=none; np=maybe", "", ErrSyntax)
	test("v=DMARC1; p=none; psd=x", "", ErrSyntax)
	test("v=DMARC1; p=none; t=yes", "", ErrSyntax)
	test("v=DMARC1; p=none; adkim=x", "", ErrSyntax)
	test("v=DMARC1; p=none; pct=101", "", ErrSyntax)
	test("v=DMARC1; p=none; pct=-1", "", ErrSyntax)
	test("v=DMARC1; p=none; pct=+5", "", ErrSyntax)
	test("v=DMARC1; p=none; fo=0:1", "", ErrSyntax)
	test("v=DMARC1; p=none; fo=x", "", ErrSyntax)
	test("v=DMARC1; p=none; ri=day", "", ErrSyntax)
	test("v=DMARC1; p=none; rua=a@example.com", "", ErrSyntax)
	test("v=DMARC1; p=none; rua=mailto:nobody", "", ErrSyntax)
	test("v=DMARC1; p=none; rua=mailto:a@example.com!big", "", ErrSyntax)
	test("v=DMARC1; p=none; 1x=y", "", ErrSyntax)
	test("v=DMARC1; p=none\x00", "", ErrSyntax)
	t.Logf("%d record cases", n)
}

func TestParseLenient(t *testing.T) {
	rec, probs, ok := parse("v=DMARC1; p=reject; adkim=x; bogus; aspf=s; pct=200")
	if !ok || rec.Policy != PolicyReject || rec.ADKIM != "r" || rec.ASPF != "s" || rec.Percent != 100 || len(probs) != 3 {
		t.Fatalf("lenient parse: %+v %v %v", rec, probs, ok)
	}
}

// TestRFC7489Mode covers pct sampling with an injected random source,
// sp=, and the PSL organizational domain, with resolver.Fake.
func TestRFC7489Mode(t *testing.T) {
	r := &resolver.Fake{
		TXT: map[string][]string{
			"_dmarc.example.com.":   {"v=DMARC1; p=reject; sp=quarantine; pct=30"},
			"_dmarc.example.co.uk.": {"v=DMARC1; p=quarantine"},
			"_dmarc.example.org.":   {"v=DMARC1; p=reject; np=none; t=y; psd=y"},
			"_dmarc.bad.example.":   {"v=DMARC1; sp=quarantine"},
			"_dmarc.rua.example.":   {"v=DMARC1; sp=quarantine; rua=mailto:x@rua.example"},
		},
		Fail: []string{"txt _dmarc.temp.example.com."},
	}
	n := 0
	test := func(from string, rnd int, status, policy, disposition string, sampledOut bool) {
		t.Helper()
		n++
		calls := 0
		res := Evaluate(context.Background(), r, Input{FromDomain: from},
			Options{Mode: ModeRFC7489, Rand: func() int { calls++; return rnd }})
		if res.Status != status || res.Policy != policy || res.Disposition != disposition || res.SampledOut != sampledOut {
			t.Errorf("%s rand %d: %s %s %s %v (%s, %v), want %s %s %s %v", from, rnd,
				res.Status, res.Policy, res.Disposition, res.SampledOut, res.Reason, res.Err, status, policy, disposition, sampledOut)
		}
		if calls > 1 {
			t.Errorf("%s: Rand called %d times", from, calls)
		}
	}
	test("example.com", 29, "fail", "reject", "reject", false)
	test("example.com", 30, "fail", "reject", "quarantine", true)
	test("mail.example.com", 0, "fail", "quarantine", "quarantine", false)
	test("mail.example.com", 99, "fail", "quarantine", "none", true)
	test("a.b.example.co.uk", 0, "fail", "quarantine", "quarantine", false)
	// np, t and psd are not RFC 7489 tags.
	test("nx.example.org", 0, "fail", "reject", "reject", false)
	test("example.org", 0, "fail", "reject", "reject", false)
	test("bad.example", 0, "permerror", "", "none", false)
	test("rua.example", 0, "fail", "none", "none", false)
	test("temp.example.com", 0, "temperror", "", "none", false)
	test("co.uk", 0, "none", "", "none", false)
	t.Logf("%d RFC 7489 cases", n)

	if od, err := OrgDomain(context.Background(), nil, "A.B.Example.CO.UK.", ModeRFC7489); od != "example.co.uk" || err != nil {
		t.Errorf("OrgDomain: %s %v", od, err)
	}
	if _, err := OrgDomain(context.Background(), nil, "co.uk", ModeRFC7489); !errors.Is(err, ErrPublicSuffix) {
		t.Errorf("OrgDomain(co.uk): %v", err)
	}
	if _, err := OrgDomain(context.Background(), nil, "a..b", ModeRFC7489); !errors.Is(err, ErrInvalidDomain) {
		t.Errorf("OrgDomain(a..b): %v", err)
	}
}

// TestExistenceQueries: an existing name costs one A query; a
// non-existent one A, AAAA and MX.
func TestExistenceQueries(t *testing.T) {
	r := &resolver.Fake{
		TXT: map[string][]string{"_dmarc.example.com.": {"v=DMARC1; p=none; np=reject"}},
		A:   map[string][]string{"www.example.com.": {"192.0.2.1"}},
	}
	w := newWalker(r, Options{})
	for d, want := range map[string]bool{"www.example.com": true, "nx.example.com": false} {
		w.queries = 0
		got, err := w.exists(context.Background(), d)
		if got != want || err != nil {
			t.Errorf("exists(%s) = %v, %v", d, got, err)
		}
		if wantQ := map[bool]int{true: 1, false: 3}[want]; w.queries != wantQ {
			t.Errorf("exists(%s): %d queries, want %d", d, w.queries, wantQ)
		}
	}
	res := Evaluate(context.Background(), r, Input{FromDomain: "nx.example.com"}, Options{})
	if res.Policy != PolicyReject {
		t.Errorf("np: %+v", res)
	}
}

func TestParseMode(t *testing.T) {
	for s, want := range map[string]Mode{"": ModeRFC9989, "rfc9989": ModeRFC9989, "rfc7489": ModeRFC7489} {
		if m, err := ParseMode(s); m != want || err != nil {
			t.Errorf("ParseMode(%q) = %q, %v", s, m, err)
		}
	}
	if _, err := ParseMode("rfc7208"); err == nil {
		t.Error("ParseMode(rfc7208): no error")
	}
}

// TestRecordCopy: the record in a Lookup is the caller's; changing it
// does not change what the walk cached.
func TestRecordCopy(t *testing.T) {
	r := &resolver.Fake{TXT: map[string][]string{"_dmarc.example.com.": {"v=DMARC1; p=none; rua=mailto:a@example.com"}}}
	w := newWalker(r, Options{})
	lk := w.discover(context.Background(), "example.com")
	lk.Record.RUA[0] = "changed"
	if !reflect.DeepEqual(w.txt["example.com"].rec.RUA, []string{"mailto:a@example.com"}) {
		t.Error("record shared with the cache")
	}
}
