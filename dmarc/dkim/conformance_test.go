package dkim

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The conformance data is shared with the other DKIM consumers; see its
// README.md for provenance and licences.
const conformanceDir = "../../testdata/conformance/dkim"

// zoneFromLines turns "owner record-text" lines into zone text. The
// Mail::DKIM tokens become dnstest directives: NXDOMAIN (nothing to do:
// the root SOA makes every unlisted name NXDOMAIN), ~~Query timed out~~
// (;!timeout), ~~SERVFAIL~~ (;!servfail); `""` is one empty string.
func zoneFromLines(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var zone strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		name, txt, _ := strings.Cut(line, " ")
		name = strings.TrimSuffix(name, ".") + "."
		switch txt = strings.TrimSpace(txt); txt {
		case "NXDOMAIN":
		case "~~Query timed out~~":
			zone.WriteString(";!timeout " + name + " TXT\n")
		case "~~SERVFAIL~~":
			zone.WriteString(";!servfail " + name + " TXT\n")
		case `""`:
			zone.WriteString(txtRR(name, ""))
		default:
			zone.WriteString(txtRR(name, txt))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return zone.String()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRFCExamples: the signed examples of RFC 6376 Appendix A.2 and RFC
// 8463 Appendix A.3 (Ed25519 and RSA) verify, through the loopback DNS, in
// one piece and streamed in small chunks.
func TestRFCExamples(t *testing.T) {
	dir := filepath.Join(conformanceDir, "rfc-examples")
	_, r := startDNS(t, zoneFromLines(t, filepath.Join(dir, "dns.txt")))
	for _, tc := range []struct {
		file string
		want []Result
	}{
		{"rfc6376-a2.eml", []Result{{Status: StatusPass, Domain: "example.com", Selector: "brisbane", Algorithm: "rsa-sha256", Identifier: "joe@football.example.com", KeyBits: 1024}}},
		{"rfc8463-a3.eml", []Result{
			{Status: StatusPass, Domain: "football.example.com", Selector: "brisbane", Algorithm: "ed25519-sha256", Identifier: "@football.example.com"},
			{Status: StatusPass, Domain: "football.example.com", Selector: "test", Algorithm: "rsa-sha256", Identifier: "@football.example.com", KeyBits: 1024},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			msg := readFile(t, filepath.Join(dir, tc.file))
			for name, res := range map[string][]Result{
				"whole":    verify(t, r, msg, Options{}),
				"stream":   streamVerify(t, r, msg, Options{}, 1, 7, 64),
				"recheck":  verify(t, r, msg, Options{forceRecheck: true}),
				"bare LF":  verify(t, r, strings.ReplaceAll(msg, "\r\n", "\n"), Options{}),
				"one byte": streamVerify(t, r, msg, Options{}, 1),
			} {
				if len(res) != len(tc.want) {
					t.Fatalf("%s: %d results, want %d: %+v", name, len(res), len(tc.want), res)
				}
				for i, w := range tc.want {
					g := res[i]
					if g.Status != w.Status || g.Domain != w.Domain || g.Selector != w.Selector || g.Algorithm != w.Algorithm ||
						g.Identifier != w.Identifier || g.KeyBits != w.KeyBits || len(g.BPrefix) != 8 {
						t.Errorf("%s: result %d = %+v, want %+v", name, i, g, w)
					}
				}
			}
		})
	}
}

// A documented difference from Mail::DKIM's expected verdict.
type corpusDiff struct {
	got string // our overall verdict: pass, fail, invalid, none
	// err is the sentinel at least one Result carries: the reason, checked.
	err error
	why string
}

// corpusDiffs lists every corpus message on which we differ from
// expected.tsv, with the RFC that changed the answer. The test fails for
// a difference not listed here, for a listed one that now matches, and
// when the verdict or the reason is not the one written here.
var corpusDiffs = map[string]corpusDiff{
	// RFC 4870 DomainKeys: DomainKey-Signature is not DKIM; a DKIM
	// verifier sees no signature (RFC 6376 Appendix E: DomainKeys is
	// historic and not interoperable with DKIM).
	"good_dk_gmail.txt": {"none", nil, "DomainKeys (RFC 4870), not DKIM"},
	"good_dk_yahoo.txt": {"none", nil, "DomainKeys (RFC 4870), not DKIM"},
	"good_dk_1.txt":     {"none", nil, "DomainKeys (RFC 4870), not DKIM"},
	"good_dk_2.txt":     {"none", nil, "DomainKeys (RFC 4870), not DKIM"},
	"good_dk_3.txt":     {"none", nil, "DomainKeys (RFC 4870), not DKIM"},
	"good_dk_4.txt":     {"none", nil, "DomainKeys (RFC 4870), not DKIM"},
	"good_dk_5.txt":     {"none", nil, "DomainKeys (RFC 4870), not DKIM"},
	"good_dk_6.txt":     {"none", nil, "DomainKeys (RFC 4870), not DKIM"},
	"good_dk_7.txt":     {"none", nil, "DomainKeys (RFC 4870), not DKIM"},
	"dk_headers_1.txt":  {"none", nil, "DomainKeys (RFC 4870), not DKIM"},
	"dk_headers_2.txt":  {"none", nil, "DomainKeys (RFC 4870), not DKIM"},
	"dk_multiple_1.txt": {"none", nil, "DomainKeys (RFC 4870), not DKIM"},
	"bad_dk_1.txt":      {"none", nil, "DomainKeys (RFC 4870), not DKIM: no signature rather than an invalid one"},
	"bad_dk_2.txt":      {"none", nil, "DomainKeys (RFC 4870), not DKIM: no signature rather than an invalid one"},
	"bad_dk_3.txt":      {"none", nil, "DomainKeys (RFC 4870), not DKIM: no signature rather than an invalid one"},
	"bad_dk_4.txt":      {"none", nil, "DomainKeys (RFC 4870), not DKIM: no signature rather than an invalid one"},
	"bad_dk_5.txt":      {"none", nil, "DomainKeys (RFC 4870), not DKIM: no signature rather than an invalid one"},

	// Pre-standard drafts: no v= tag (draft-ietf-dkim-base-00/01) or v=0.5
	// (-05). RFC 6376 §3.5 makes v=1 required and §6.1.1 says a verifier
	// MUST treat any other version as PERMFAIL (incompatible version).
	"good_ietf00_1.txt": {"invalid", ErrMalformed, "draft signature without v= (RFC 6376 §6.1.1)"},
	"good_ietf00_2.txt": {"invalid", ErrMalformed, "draft signature without v= (RFC 6376 §6.1.1)"},
	"good_ietf00_3.txt": {"invalid", ErrMalformed, "draft signature without v= (RFC 6376 §6.1.1)"},
	"good_ietf00_4.txt": {"invalid", ErrMalformed, "draft signature without v= (RFC 6376 §6.1.1)"},
	"good_ietf00_5.txt": {"invalid", ErrMalformed, "draft signature without v= (RFC 6376 §6.1.1)"},
	"mine_ietf01_1.txt": {"invalid", ErrMalformed, "draft signature without v= (RFC 6376 §6.1.1)"},
	"mine_ietf01_2.txt": {"invalid", ErrMalformed, "draft signature without v= (RFC 6376 §6.1.1)"},
	"mine_ietf01_3.txt": {"invalid", ErrMalformed, "draft signature without v= (RFC 6376 §6.1.1)"},
	"mine_ietf01_4.txt": {"invalid", ErrMalformed, "draft signature without v= (RFC 6376 §6.1.1)"},
	"good_ietf01_1.txt": {"invalid", ErrMalformed, "draft signature without v= (RFC 6376 §6.1.1)"},
	"good_ietf01_2.txt": {"invalid", ErrMalformed, "draft signature without v= (RFC 6376 §6.1.1)"},
	"mine_ietf05_1.txt": {"invalid", ErrMalformed, "draft signature with v=0.5 (RFC 6376 §6.1.1)"},
	"no_body_1.txt":     {"invalid", ErrMalformed, "draft signature with v=0.5 (RFC 6376 §6.1.1)"},
	"no_body_2.txt":     {"invalid", ErrMalformed, "draft signature with v=0.5 (RFC 6376 §6.1.1)"},
	"no_body_3.txt":     {"invalid", ErrMalformed, "draft signature with v=0.5 (RFC 6376 §6.1.1)"},
	"bad_ietf01_1.txt":  {"invalid", ErrMalformed, "draft signature without v=: refused before the body hash it tests (RFC 6376 §6.1.1)"},
	"bad_ietf01_2.txt":  {"invalid", ErrMalformed, "draft signature without v=: refused before the header hash it tests (RFC 6376 §6.1.1)"},
	"bad_ietf01_3.txt":  {"invalid", ErrMalformed, "draft signature without v=: refused before the RSA check it tests (RFC 6376 §6.1.1)"},
	"bad_1.txt":         {"invalid", ErrMalformed, "draft signature without v=: refused before the crypto it tests (RFC 6376 §6.1.1)"},
	"multiple_1.txt":    {"invalid", ErrMalformed, "four draft signatures without v= (RFC 6376 §6.1.1)"},

	// RFC 8301: rsa-sha1 and RSA keys under 1024 bits are not valid. The
	// corpus keys (messiah.edu test1-test6, selector1...) are 512-bit,
	// except selector1 and test6 (1024-bit), so the key is refused first
	// where both apply; the result is permerror either way.
	"good_rfc4871_3.txt": {"invalid", ErrWeakKey, "512-bit key and rsa-sha1 (RFC 8301 §3.1, §3.2)"},
	"good_rfc4871_4.txt": {"invalid", ErrWeakKey, "512-bit key and rsa-sha1 (RFC 8301); i= differs from d= in case only, which we accept"},
	"good_1878523.txt":   {"invalid", ErrWeakKey, "512-bit key and rsa-sha1 (RFC 8301 §3.1, §3.2)"},
	"good_83176.txt":     {"invalid", ErrAlgorithm, "rsa-sha1 with a 1024-bit key (RFC 8301 §3.1)"},
	"multiple_2.txt":     {"invalid", ErrAlgorithm, "the signature that passes upstream is rsa-sha1 (RFC 8301 §3.1)"},
	"good_qp_1.txt":      {"invalid", ErrWeakKey, "512-bit key and rsa-sha1 (RFC 8301); the quoted-printable i= itself is accepted"},
	"good_qp_2.txt":      {"invalid", ErrWeakKey, "512-bit key and rsa-sha1 (RFC 8301); the quoted-printable i= itself is accepted"},
	"good_qp_3.txt":      {"invalid", ErrWeakKey, "512-bit key and rsa-sha1 (RFC 8301); the quoted-printable i= itself is accepted"},
	"goodkey_1.txt":      {"invalid", ErrWeakKey, "512-bit key and rsa-sha1 (RFC 8301 §3.1, §3.2)"},
	"goodkey_2.txt":      {"invalid", ErrWeakKey, "512-bit key and rsa-sha1 (RFC 8301 §3.1, §3.2)"},
	"goodkey_3.txt":      {"invalid", ErrWeakKey, "512-bit key and rsa-sha1 (RFC 8301 §3.1, §3.2)"},
	"goodkey_4.txt":      {"invalid", ErrWeakKey, "512-bit key and rsa-sha1 (RFC 8301 §3.1, §3.2)"},
	"bad_1878954.txt":    {"invalid", ErrAlgorithm, "rsa-sha1 (RFC 8301 §3.1): refused before the malformed body hash it tests; no crash"},
}

// corpusMatchWhy pins the reason behind some matching verdicts: the cases
// that still test what they were written for, and those that match only
// because an earlier check refuses them (the corpus README says so too).
var corpusMatchWhy = map[string]error{
	// As intended.
	"ignore_1.txt":        ErrMalformed, // v=5
	"ignore_5.txt":        ErrMalformed, // q=http
	"ignore_6.txt":        ErrMalformed, // q=dns/special
	"ignore_7.txt":        ErrExpired,
	"ignore_8.txt":        ErrMalformed, // i= outside d=
	"badkey_14.txt":       ErrKeyTemporary,
	"badkey_15.txt":       ErrKeyTemporary,
	"badkey1_ed25519.txt": ErrKey,
	"badkey2_ed25519.txt": ErrSignature,
	"badkey3_ed25519.txt": ErrBodyHash,
	"badkey4_ed25519.txt": ErrNoKey,
	"badkey5_ed25519.txt": ErrKey,
	// Refused before the defect they test: draft v=0.5 signatures
	// (RFC 6376 §6.1.1) ...
	"badkey_1.txt": ErrMalformed, "badkey_2.txt": ErrMalformed, "badkey_3.txt": ErrMalformed,
	"badkey_4.txt": ErrMalformed, "badkey_5.txt": ErrMalformed, "badkey_6.txt": ErrMalformed,
	"badkey_7.txt": ErrMalformed, "ignore_2.txt": ErrMalformed, "ignore_3.txt": ErrMalformed,
	"ignore_4.txt": ErrMalformed,
	// ... and 512-bit keys (RFC 8301 §3.2).
	"badkey_8.txt": ErrWeakKey, "badkey_9.txt": ErrWeakKey, "badkey_10.txt": ErrWeakKey,
	"badkey_11.txt": ErrWeakKey, "badkey_12.txt": ErrWeakKey, "badkey_13.txt": ErrWeakKey,
}

// TestMailDKIMCorpus runs the Mail::DKIM verifier corpus against its
// FAKE_DNS.dat, served by the loopback DNS, and compares the overall
// verdict (pass if a signature passes, else fail if one fails, else
// invalid; none without DKIM signatures) with expected.tsv.
func TestMailDKIMCorpus(t *testing.T) {
	dir := filepath.Join(conformanceDir, "mail-dkim-corpus")
	_, r := startDNS(t, zoneFromLines(t, filepath.Join(dir, "FAKE_DNS.dat")))

	type row struct{ file, want, kind, note string }
	var rows []row
	for line := range strings.Lines(readFile(t, filepath.Join(dir, "expected.tsv"))) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		for len(f) < 4 {
			f = append(f, "")
		}
		rows = append(rows, row{f[0], f[1], f[2], f[3]})
	}
	entries, err := os.ReadDir(filepath.Join(dir, "corpus"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(rows) {
		t.Errorf("%d corpus files, %d rows in expected.tsv", len(entries), len(rows))
	}

	matched, documented := 0, 0
	for _, rw := range rows {
		msg := readFile(t, filepath.Join(dir, "corpus", rw.file))
		res := verify(t, r, msg, Options{})
		got := overall(res)
		// The verdict must not depend on how the message arrives, nor on
		// which of our two verifiers judged it.
		if s := overall(streamVerify(t, r, msg, Options{}, 3, 50, 1)); s != got {
			t.Errorf("%s: streamed %s, whole %s", rw.file, s, got)
		}
		if s := overall(verify(t, r, msg, Options{forceRecheck: true})); s != got {
			t.Errorf("%s: recheck %s, go-msgauth %s: %+v", rw.file, s, got, res)
		}
		d, listed := corpusDiffs[rw.file]
		switch {
		case got == rw.want && listed:
			t.Errorf("%s: %s as expected, but listed as a difference (%s): remove it", rw.file, got, d.why)
		case got == rw.want && corpusMatchWhy[rw.file] != nil &&
			!slices.ContainsFunc(res, func(r Result) bool { return errors.Is(r.Err, corpusMatchWhy[rw.file]) }):
			t.Errorf("%s: %s as expected, but not for %v: %s", rw.file, got, corpusMatchWhy[rw.file], describe(res))
		case got == rw.want:
			matched++
		case !listed:
			t.Errorf("%s: got %s, expected.tsv says %s (%s %s): %s", rw.file, got, rw.want, rw.kind, rw.note, describe(res))
		case d.got != got:
			t.Errorf("%s: got %s, the table says %s: %s", rw.file, got, d.got, describe(res))
		case d.err != nil && !slices.ContainsFunc(res, func(r Result) bool { return errors.Is(r.Err, d.err) }):
			t.Errorf("%s: no result with %v (%s): %s", rw.file, d.err, d.why, describe(res))
		default:
			documented++
		}
	}
	t.Logf("Mail::DKIM corpus: %d matched, %d documented differences, %d total", matched, documented, len(rows))
	if matched+documented != len(rows) {
		t.Errorf("%d rows neither matched nor documented", len(rows)-matched-documented)
	}
}

// overall is Mail::DKIM's verdict for a message from the per-signature
// results: RFC 8601's neutral, policy, temperror and permerror are its
// "invalid".
func overall(res []Result) string {
	if len(res) == 0 {
		return "none"
	}
	has := func(st string) bool {
		return slices.ContainsFunc(res, func(r Result) bool { return r.Status == st })
	}
	switch {
	case has(StatusPass):
		return "pass"
	case has(StatusFail):
		return "fail"
	}
	return "invalid"
}

func describe(res []Result) string {
	var s []string
	for _, r := range res {
		s = append(s, r.Status+" ("+r.Reason+")")
	}
	return strings.Join(s, "; ")
}
