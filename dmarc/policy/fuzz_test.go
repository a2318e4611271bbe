package policy

import (
	"reflect"
	"testing"
)

// FuzzParseRecord checks that the parsers never panic, that a record
// ParseRecord accepts survives its canonical form unchanged, and that
// what the lenient parse keeps is always valid. The seed corpus is in
// testdata/fuzz/FuzzParseRecord.
func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"v=DMARC1; p=reject",
		"v=DMARC1; p=none; sp=quarantine; np=reject; psd=n; t=y; adkim=s; aspf=s; pct=50; fo=1:d; rf=afrf; ri=3600",
		"v=DMARC1; p=none; rua=mailto:a@example.com!10m,mailto:b@example.net; ruf=mailto:c@example.org",
		"v=DMARC1; p=none; bogus",
		"v=DMARC1;;p=quarantine;",
		"v=spf1 -all",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rec, err := ParseRecord(s)
		lrec, probs, ok := parse(s)
		if ok != isDMARC(s) {
			t.Fatalf("parse ok %v, isDMARC %v", ok, isDMARC(s))
		}
		if err == nil {
			if !ok || len(probs) > 0 {
				t.Fatalf("ParseRecord accepted what parse rejects: %v %v", ok, probs)
			}
			rec2, err := ParseRecord(rec.String())
			if err != nil {
				t.Fatalf("canonical form %q of %q: %v", rec.String(), s, err)
			}
			rec.Raw, rec2.Raw = "", ""
			if !reflect.DeepEqual(rec, rec2) {
				t.Fatalf("round trip of %q:\n%+v\n%+v", s, rec, rec2)
			}
		}
		if ok {
			// The lenient parse keeps only valid tags.
			if _, err := ParseRecord(lrec.String()); err != nil {
				t.Fatalf("lenient record %q of %q: %v", lrec.String(), s, err)
			}
		}
	})
}
