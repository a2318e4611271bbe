package dkim

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	msgauth "github.com/emersion/go-msgauth/dkim"
)

func TestParseTags(t *testing.T) {
	test := func(in string, want map[string]string, wantErr bool) {
		t.Helper()
		got, err := parseTags(in)
		if (err != nil) != wantErr {
			t.Errorf("%q: err %v", in, err)
			return
		}
		if !wantErr && len(got) != len(want) {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%q: %s=%q, want %q", in, k, got[k], v)
			}
		}
	}
	test("", map[string]string{}, false)
	test("v=1; a=rsa-sha256;", map[string]string{"v": "1", "a": "rsa-sha256"}, false)
	test(" v = 1 ;\r\n\ta=\r\n rsa-sha256 ; ; ", map[string]string{"v": "1", "a": "rsa-sha256"}, false)
	test("b=abc=; bh=x==", map[string]string{"b": "abc=", "bh": "x=="}, false) // "=" inside values
	test("v=1; v=1", nil, true)
	test("v=1; junk", nil, true)
	test("=;=", nil, true)
}

func TestQPDecode(t *testing.T) {
	for in, want := range map[string]string{
		"joe@example.org":      "joe@example.org",
		"joe=40example.org":    "joe@example.org",
		"=6Along@messiah.edu":  "jlong@messiah.edu",
		"jlong@messiah=2Eedu":  "jlong@messiah.edu",
		"=":                    "",
		"a=4":                  "",
		"a=ZZ":                 "",
		"=3D=3d":               "==",
		"@Mail.Example.COM=2E": "@Mail.Example.COM.",
	} {
		got, err := qpDecode(in)
		if want == "" {
			if err == nil {
				t.Errorf("%q: %q, want an error", in, got)
			}
		} else if got != want || err != nil {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
}

func TestIdentity(t *testing.T) {
	test := func(d, i string, rfc, lib bool) {
		t.Helper()
		s := parseSig("DKIM-Signature: v=1; d=" + d + "; i=" + i)
		if s.identityOK() != rfc || s.libIdentityOK() != lib {
			t.Errorf("d=%s i=%s: rfc %v lib %v, want %v %v", d, i, s.identityOK(), s.libIdentityOK(), rfc, lib)
		}
	}
	test("example.org", "joe@example.org", true, true)
	test("example.org", "@sub.example.org", true, true)
	test("Example.ORG", "joe@example.org", true, false) // the go-msgauth defect
	test("example.org", "joe@SUB.Example.Org", true, false)
	test("example.org", "joe=40example.org", true, false) // quoted-printable
	test("example.org", "joe@badexample.org", false, false)
	test("example.org", "joe@example.org.evil", false, false)
	test("example.org", "joe@org", false, false)
	test("example.org", "joe", false, false)
}

func TestParseKey(t *testing.T) {
	testKeys(t)
	test := func(txt string, wantErr error, check func(*keyRecord) bool) {
		t.Helper()
		k, err := parseKey(txt)
		if !errors.Is(err, wantErr) || (err == nil && check != nil && !check(k)) {
			t.Errorf("%q: %+v, %v", clip(txt), k, err)
		}
	}
	rsaP := strings.TrimPrefix(rsaRecord(t, rsa2048), "v=DKIM1; k=rsa; p=")
	test(rsaRecord(t, rsa2048), nil, func(k *keyRecord) bool { return k.algo == "rsa" && k.bits == 2048 })
	test("p="+rsaP[:40]+" \r\n\t"+rsaP[40:], nil, func(k *keyRecord) bool { return k.bits == 2048 }) // folded, no v=, no k=
	test(rsaRecord(t, rsa1020), nil, func(k *keyRecord) bool { return k.bits == 1020 })
	test(edRecord(edKey), nil, func(k *keyRecord) bool { return k.algo == "ed25519" && len(k.ed) == ed25519.PublicKeySize })
	test("v=DKIM1; k=rsa; s=email:*; t=y:s; h=sha256:sha1; p="+rsaP, nil, func(k *keyRecord) bool {
		return k.services == nil && k.hasFlag("s") && k.hasFlag("y") && len(k.hashes) == 2
	})
	test("v=DKIM1; p=", ErrKey, nil)                                                           // revoked
	test("v=DKIM2; p="+rsaP, ErrKey, nil)                                                      // version
	test("k=rsa", ErrKey, nil)                                                                 // no p=
	test("k=dsa; p="+rsaP, ErrKey, nil)                                                        // type
	test("p=!!!", ErrKey, nil)                                                                 // base64
	test("k=ed25519; p="+rsaP, ErrKey, nil)                                                    // not 32 octets
	test("p="+rsaP+"; p="+rsaP, ErrKey, nil)                                                   // duplicate
	test("", ErrKey, nil)                                                                      // empty record
	test("k=rsa; p=MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=", ErrKey, nil) // an Ed25519 SPKI as rsa
}

func TestCheckKeyName(t *testing.T) {
	for name, ok := range map[string]bool{
		"s1._domainkey.example.org":                         true,
		"mx_2024._domainkey.Example.ORG.":                   true,
		"selector1-contoso-com._domainkey.x.co":             true,
		"._domainkey.example.org":                           false,
		"s._domainkey.exa mple.org":                         false,
		"s._domainkey.exa\x00mple.org":                      false,
		"s._domainkey.bücher.example":                       false,
		strings.Repeat("a", 64) + "._domainkey.example.org": false,
		"s._domainkey." + strings.Repeat("a.", 125) + "org": false,
		"s._domainkey.example..org":                         false,
	} {
		if err := checkKeyName(name); (err == nil) != ok || (err != nil && !errors.Is(err, ErrMalformed)) {
			t.Errorf("%q: %v", name, err)
		}
	}
}

// TestCanonRFCExample is RFC 6376 §3.4.5.
func TestCanonRFCExample(t *testing.T) {
	if got := canonHeader("A: X\r\n", true) + canonHeader("B : Y\t\r\n\tZ  \r\n", true); got != "a:X\r\nb:Y Z\r\n" {
		t.Errorf("relaxed header: %q", got)
	}
	body := " C \r\nD \t E\r\n\r\n\r\n"
	for relaxed, want := range map[bool]string{true: " C\r\nD E\r\n", false: " C \r\nD \t E\r\n"} {
		for chunk := 1; chunk <= len(body); chunk++ {
			var b bytes.Buffer
			c := newBodyCanon(&b, relaxed)
			for p := body; len(p) > 0; p = p[min(chunk, len(p)):] {
				c.Write([]byte(p[:min(chunk, len(p))]))
			}
			c.Close()
			if b.String() != want {
				t.Errorf("relaxed %v, chunks of %d: %q, want %q", relaxed, chunk, b.String(), want)
			}
		}
	}
}

func TestBodyCanonEdges(t *testing.T) {
	test := func(in string, relaxed bool, want string) {
		t.Helper()
		var b bytes.Buffer
		c := newBodyCanon(&b, relaxed)
		c.Write([]byte(in))
		c.Close()
		if b.String() != want {
			t.Errorf("%q relaxed %v: %q, want %q", in, relaxed, b.String(), want)
		}
	}
	test("", false, "\r\n") // RFC 6376 §3.4.3: an empty body is CRLF
	test("", true, "")      // §3.4.4 (erratum 1384)
	test("\r\n\r\n", false, "\r\n")
	test(" \t \r\n\r\n", true, "")
	test("abc", false, "abc\r\n")
	test("abc", true, "abc\r\n")
	test("a\nb\n\n", false, "a\r\nb\r\n") // bare LF is a line end
	test("a\rb\r", false, "a\rb\r\r\n")   // bare CR is not
	test("a \rb", true, "a \rb\r\n")
	test("\r\n a", true, "\r\n a\r\n")
}

// TestBodyCanonMatchesLibrary compares our body canonicalization with
// go-msgauth's (through the bh= its Signer computes) on random bodies of
// SP, HTAB, CRLF, LF and letters.
func TestBodyCanonMatchesLibrary(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	rnd := rand.New(rand.NewPCG(3, 4))
	parts := []string{" ", "\t", "\r\n", "\n", "a", "b", "  "}
	bhRE := regexp.MustCompile(`bh=([^;]+);`)
	for range 300 {
		var body strings.Builder
		for range rnd.IntN(30) {
			body.WriteString(parts[rnd.IntN(len(parts))])
		}
		for _, c := range []msgauth.Canonicalization{msgauth.CanonicalizationSimple, msgauth.CanonicalizationRelaxed} {
			s, err := msgauth.NewSigner(&msgauth.SignOptions{Domain: "x.org", Selector: "s", Signer: key, BodyCanonicalization: c})
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(s, "From: a@x.org\r\n\r\n"+body.String())
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			m := bhRE.FindStringSubmatch(stripWS(s.Signature()))
			h := sha256.New()
			bc := newBodyCanon(h, c == msgauth.CanonicalizationRelaxed)
			bc.Write([]byte(body.String()))
			bc.Close()
			if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); m == nil || got != m[1] {
				t.Errorf("%s %q: ours %s, go-msgauth %v", c, body.String(), got, m)
			}
		}
	}
}

func TestRemoveBValue(t *testing.T) {
	for in, want := range map[string]string{
		"DKIM-Signature: v=1; b=abc; bh=def\r\n":             "DKIM-Signature: v=1; b=; bh=def\r\n",
		"DKIM-Signature: v=1; bh=def; b=ab\r\n c\r\n":        "DKIM-Signature: v=1; bh=def; b=",
		"DKIM-Signature: v=1; b = ab c ;x=1\r\n":             "DKIM-Signature: v=1; b =;x=1\r\n",
		"DKIM-Signature: v=1; xb=1; z=a:b=2; b=sig; s=x\r\n": "DKIM-Signature: v=1; xb=1; z=a:b=2; b=; s=x\r\n",
		"DKIM-Signature: v=1\r\n":                            "DKIM-Signature: v=1\r\n",
	} {
		if got := removeBValue(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
