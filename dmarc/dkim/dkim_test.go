package dkim

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	msgauth "github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/mxguard/mxguard/resolver"
)

// goldenZone publishes the test keys under example.org (and example.com)
// with the faults the tests need.
func goldenZone(t *testing.T) string {
	testKeys(t)
	return txtRR("rsa2048._domainkey.example.org", rsaRecord(t, rsa2048)) +
		txtRR("rsa2048._domainkey.example.com", rsaRecord(t, rsa2048)) +
		txtRR("ed._domainkey.example.org", edRecord(edKey)) +
		txtRR("rsa1024._domainkey.example.org", rsaRecord(t, rsa1024)) +
		txtRR("rsa1020._domainkey.example.org", rsaRecord(t, rsa1020)) +
		txtRR("rsa512._domainkey.example.org", rsaRecord(t, rsa512)) +
		txtRR("strict._domainkey.example.org", "t=s; "+rsaRecord(t, rsa2048)) +
		txtRR("sha1only._domainkey.example.org", "h=sha1; "+rsaRecord(t, rsa2048)) +
		txtRR("revoked._domainkey.example.org", "v=DKIM1; k=rsa; p=") +
		txtRR("two._domainkey.example.org", rsaRecord(t, rsa2048)) +
		txtRR("two._domainkey.example.org", edRecord(edKey)) +
		";!servfail servfail._domainkey.example.org. TXT\n" +
		";!timeout timeout._domainkey.example.org. TXT\n" +
		";!latency 2s slow._domainkey.example.org. TXT\n" +
		txtRR("slow._domainkey.example.org", rsaRecord(t, rsa2048))
}

func rsaSign(t *testing.T, msg, sel string, key crypto.Signer, canon msgauth.Canonicalization) string {
	t.Helper()
	return libSign(t, msg, msgauth.SignOptions{Domain: "example.org", Selector: sel, Signer: key,
		HeaderCanonicalization: canon, BodyCanonicalization: canon})
}

// TestGolden: messages signed here with fresh RSA-2048 and Ed25519 keys
// (go-msgauth's dkim.Sign, or manualSign for what it refuses to sign),
// verified through the loopback DNS. Every case runs whole, streamed in
// small chunks, and with our own verifier forced (forceRecheck): all three
// must agree.
func TestGolden(t *testing.T) {
	testKeys(t)
	_, r := startDNS(t, goldenZone(t))
	test := func(name, msg string, opts Options, want string, wantErr error, check ...func(*testing.T, Result)) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			t.Helper()
			ropts := opts
			ropts.forceRecheck = true
			for mode, res := range map[string][]Result{
				"whole":   verify(t, r, msg, opts),
				"stream":  streamVerify(t, r, msg, opts, 5, 1, 300),
				"recheck": verify(t, r, msg, ropts),
			} {
				if len(res) != 1 {
					t.Fatalf("%s: %d results: %+v", mode, len(res), res)
				}
				g := res[0]
				if g.Status != want || (wantErr == nil) != (g.Err == nil) || (wantErr != nil && !errors.Is(g.Err, wantErr)) {
					t.Errorf("%s: got %s (%v), want %s (%v)", mode, g.Status, g.Err, want, wantErr)
				}
				if g.Status != StatusPass && g.Reason == "" {
					t.Errorf("%s: no reason for %s", mode, g.Status)
				}
				for _, c := range check {
					c(t, g)
				}
			}
		})
	}
	bits := func(n int) func(*testing.T, Result) {
		return func(t *testing.T, r Result) {
			if r.KeyBits != n {
				t.Errorf("KeyBits %d, want %d", r.KeyBits, n)
			}
		}
	}
	relaxed, simple := msgauth.Canonicalization(msgauth.CanonicalizationRelaxed), msgauth.CanonicalizationSimple
	rsaRelaxed := rsaSign(t, plainMsg, "rsa2048", rsa2048, relaxed)
	rsaSimple := rsaSign(t, plainMsg, "rsa2048", rsa2048, simple)
	edRelaxed := rsaSign(t, plainMsg, "ed", edKey, relaxed)
	edSimple := rsaSign(t, plainMsg, "ed", edKey, simple)
	bodyMod := func(m string) string { return strings.Replace(m, "We lost the game.", "We won the game.", 1) }
	hdrMod := func(m string) string { return strings.Replace(m, "Is dinner ready?", "Is lunch ready?", 1) }

	test("rsa relaxed", rsaRelaxed, Options{}, StatusPass, nil, bits(2048), func(t *testing.T, r Result) {
		if r.Domain != "example.org" || r.Selector != "rsa2048" || r.Algorithm != "rsa-sha256" || r.Identifier != "" || len(r.BPrefix) != 8 {
			t.Errorf("fields: %+v", r)
		}
	})
	test("rsa simple", rsaSimple, Options{}, StatusPass, nil, bits(2048))
	test("ed25519 relaxed", edRelaxed, Options{}, StatusPass, nil, bits(0), func(t *testing.T, r Result) {
		if r.Algorithm != "ed25519-sha256" {
			t.Errorf("algorithm %q", r.Algorithm)
		}
	})
	test("ed25519 simple", edSimple, Options{}, StatusPass, nil)
	test("rsa body modified", bodyMod(rsaRelaxed), Options{}, StatusFail, ErrBodyHash)
	test("ed25519 body modified", bodyMod(edSimple), Options{}, StatusFail, ErrBodyHash)
	test("rsa header modified", hdrMod(rsaSimple), Options{}, StatusFail, ErrSignature)
	test("ed25519 header modified", hdrMod(edRelaxed), Options{}, StatusFail, ErrSignature)
	// Relaxed canonicalization forgives what it should (RFC 6376 §3.4.2,
	// §3.4.4): header case and folding, white space runs, trailing blank
	// lines.
	test("relaxed forgives", strings.NewReplacer("Subject: Is dinner", "SUBJECT:   Is\r\n\tdinner",
		"Are you hungry", "Are  \t you hungry", "Joe.\r\n", "Joe.  \r\n\r\n\r\n").Replace(rsaRelaxed), Options{}, StatusPass, nil)
	test("simple does not", strings.Replace(rsaSimple, "Are you hungry", "Are  you hungry", 1), Options{}, StatusFail, ErrBodyHash)

	// Key lookups.
	test("key SERVFAIL", rsaSign(t, plainMsg, "servfail", rsa2048, relaxed), Options{}, StatusTemperror, ErrKeyTemporary)
	test("key timeout", rsaSign(t, plainMsg, "timeout", rsa2048, relaxed), Options{}, StatusTemperror, ErrKeyTemporary)
	test("key NXDOMAIN", rsaSign(t, plainMsg, "nx", rsa2048, relaxed), Options{}, StatusPermerror, ErrNoKey)
	test("key revoked", rsaSign(t, plainMsg, "revoked", rsa2048, relaxed), Options{}, StatusPermerror, ErrKey)
	test("two key records", rsaSign(t, plainMsg, "two", rsa2048, relaxed), Options{}, StatusPermerror, ErrKey)
	test("key h=sha1 only", rsaSign(t, plainMsg, "sha1only", rsa2048, relaxed), Options{}, StatusPermerror, ErrKey)
	test("ed25519 signature, rsa key", libSign(t, plainMsg, msgauth.SignOptions{Domain: "example.org", Selector: "rsa2048", Signer: edKey}), Options{}, StatusPermerror, ErrKey)
	test("lookup over Options.Timeout", rsaSign(t, plainMsg, "slow", rsa2048, relaxed), Options{Timeout: 100 * time.Millisecond}, StatusTemperror, ErrKeyTemporary)

	// RFC 8301 §3.2: the 1024-bit boundary, on the modulus' bit length (a
	// 1020-bit modulus fills 128 bytes, which go-msgauth counts as 1024).
	test("rsa 512", rsaSign(t, plainMsg, "rsa512", rsa512, relaxed), Options{}, StatusPermerror, ErrWeakKey, bits(512))
	test("rsa 1020", rsaSign(t, plainMsg, "rsa1020", rsa1020, relaxed), Options{}, StatusPermerror, ErrWeakKey, bits(1020))
	test("rsa 1024", rsaSign(t, plainMsg, "rsa1024", rsa1024, relaxed), Options{}, StatusPass, nil, bits(1024))
	test("rsa 1024, MinRSABits 2048", rsaSign(t, plainMsg, "rsa1024", rsa1024, relaxed), Options{MinRSABits: 2048}, StatusPermerror, ErrWeakKey)
	test("rsa 2048, MinRSABits 2048", rsaRelaxed, Options{MinRSABits: 2048}, StatusPass, nil)
	test("rsa 512, MinRSABits 512 is raised to 1024", rsaSign(t, plainMsg, "rsa512", rsa512, relaxed), Options{MinRSABits: 512}, StatusPermerror, ErrWeakKey)

	// RFC 8301 §3.1: rsa-sha1 is permerror, with a valid signature and a
	// 2048-bit key; the same signer with sha256 passes (the control).
	ms := manualSig{d: "example.org", s: "rsa2048", key: rsa2048, canon: "relaxed/simple", headers: "from:to:subject:date"}
	ms.hash = crypto.SHA1
	test("rsa-sha1", manualSign(t, plainMsg, ms), Options{}, StatusPermerror, ErrAlgorithm, bits(2048))
	ms.hash = crypto.SHA256
	test("rsa-sha256 by the manual signer", manualSign(t, plainMsg, ms), Options{}, StatusPass, nil)

	// i= and d=. go-msgauth v0.7.0 compares them case-sensitively and
	// without decoding i=; both are valid (RFC 6376 §3.5, §2.11).
	test("d= upper case, i= lower case", libSign(t, plainMsg, msgauth.SignOptions{Domain: "Example.COM", Selector: "rsa2048",
		Identifier: "joe@example.com", Signer: rsa2048, HeaderCanonicalization: relaxed, BodyCanonicalization: relaxed}),
		Options{}, StatusPass, nil, func(t *testing.T, r Result) {
			if r.Domain != "Example.COM" || r.Identifier != "joe@example.com" {
				t.Errorf("fields: %+v", r)
			}
		})
	test("i= subdomain, other case, simple", libSign(t, plainMsg, msgauth.SignOptions{Domain: "example.com", Selector: "rsa2048",
		Identifier: "@Mail.EXAMPLE.com", Signer: rsa2048}), Options{}, StatusPass, nil)
	test("i= quoted-printable", manualSign(t, plainMsg, manualSig{d: "example.org", s: "ed", i: "joe=40example.org", key: edKey,
		canon: "relaxed/relaxed", headers: "from:subject"}), Options{}, StatusPass, nil, func(t *testing.T, r Result) {
		if r.Identifier != "joe@example.org" {
			t.Errorf("identifier %q", r.Identifier)
		}
	})
	test("i= outside d=", libSign(t, plainMsg, msgauth.SignOptions{Domain: "example.org", Selector: "rsa2048",
		Identifier: "joe@example.net", Signer: rsa2048}), Options{}, StatusPermerror, ErrMalformed)
	test("i= looks like d= only in case-folded suffix", libSign(t, plainMsg, msgauth.SignOptions{Domain: "example.org", Selector: "rsa2048",
		Identifier: "joe@notEXAMPLE.org", Signer: rsa2048}), Options{}, StatusPermerror, ErrMalformed)
	test("key t=s, i= in a subdomain", libSign(t, plainMsg, msgauth.SignOptions{Domain: "example.org", Selector: "strict",
		Identifier: "@sub.example.org", Signer: rsa2048}), Options{}, StatusPermerror, ErrKey)
	test("key t=s, i= at d=", libSign(t, plainMsg, msgauth.SignOptions{Domain: "example.org", Selector: "strict",
		Identifier: "joe@Example.org", Signer: rsa2048}), Options{}, StatusPass, nil)

	// x= against Options.Now, whichever way go-msgauth's own clock says.
	past := libSign(t, plainMsg, msgauth.SignOptions{Domain: "example.org", Selector: "ed", Signer: edKey, Expiration: time.Now().Add(-time.Hour)})
	future := libSign(t, plainMsg, msgauth.SignOptions{Domain: "example.org", Selector: "ed", Signer: edKey, Expiration: time.Now().Add(time.Hour)})
	test("x= past", past, Options{}, StatusPermerror, ErrExpired)
	test("x= past, Now before it", past, Options{Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }}, StatusPass, nil)
	test("x= future", future, Options{}, StatusPass, nil)
	test("x= future, Now after it", future, Options{Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}, StatusPermerror, ErrExpired)
	test("x= past, key SERVFAIL", libSign(t, plainMsg, msgauth.SignOptions{Domain: "example.org", Selector: "servfail", Signer: edKey,
		Expiration: time.Now().Add(-time.Hour)}), Options{}, StatusPermerror, ErrExpired)

	// l= leaves part of the body unsigned: refused as local policy.
	test("l=", manualSign(t, plainMsg, manualSig{d: "example.org", s: "rsa2048", key: rsa2048, canon: "relaxed/relaxed",
		headers: "from", extra: "l=10"}), Options{}, StatusPolicy, ErrBodyLength)

	// Bare LF line ends everywhere.
	test("bare LF", strings.ReplaceAll(rsaSimple, "\r\n", "\n"), Options{}, StatusPass, nil)
}

// TestHeaderOnly: a message that ends after its header, without the empty
// line (RFC 5322 §2.1: the body is optional), verifies against a signature
// made over the empty body. go-msgauth alone fails on it.
func TestHeaderOnly(t *testing.T) {
	testKeys(t)
	_, r := startDNS(t, goldenZone(t))
	hdr, _, _ := strings.Cut(plainMsg, "\r\n\r\n")
	emptyBody := hdr + "\r\n\r\n"
	for _, c := range []msgauth.Canonicalization{msgauth.CanonicalizationSimple, msgauth.CanonicalizationRelaxed} {
		for _, sel := range []string{"rsa2048", "ed"} {
			key := crypto.Signer(rsa2048)
			if sel == "ed" {
				key = edKey
			}
			signed := rsaSign(t, emptyBody, sel, key, c)
			headerOnly := strings.TrimSuffix(signed, "\r\n")
			noFinalCRLF := strings.TrimSuffix(headerOnly, "\r\n")
			lib := &msgauth.VerifyOptions{LookupTXT: resolver.NewNetAdapter(context.Background(), r).LookupTXT}
			if _, err := msgauth.VerifyWithOptions(strings.NewReader(headerOnly), lib); err == nil {
				t.Errorf("go-msgauth now verifies a header-only message: the workaround can go")
			}
			for name, msg := range map[string]string{"empty body": signed, "header only": headerOnly, "no final CRLF": noFinalCRLF} {
				if got := statuses(verify(t, r, msg, Options{})); got != StatusPass {
					t.Errorf("%s %s %s: %s", c, sel, name, got)
				}
			}
			// The milter's way: header fields, EndHeaders, no Body.
			if got := statuses(streamVerify(t, r, headerOnly, Options{})); got != StatusPass {
				t.Errorf("%s %s streamed: %s", c, sel, got)
			}
			// And a body added to it is caught.
			if got := statuses(verify(t, r, signed+"P.S.\r\n", Options{})); got != StatusFail {
				t.Errorf("%s %s body added: %s", c, sel, got)
			}
		}
	}
}

// TestLibraryGotchas pins the go-msgauth v0.7.0 behaviours we work around
// (STYLE.md §3: a test for each), so an upgrade that fixes them shows.
func TestLibraryGotchas(t *testing.T) {
	testKeys(t)
	srv, r := startDNS(t, goldenZone(t))
	lookup := resolver.NewNetAdapter(context.Background(), r).LookupTXT
	opts := &msgauth.VerifyOptions{LookupTXT: lookup}

	// i=/d= compared case-sensitively.
	msg := libSign(t, plainMsg, msgauth.SignOptions{Domain: "Example.COM", Selector: "rsa2048", Identifier: "@example.com", Signer: rsa2048})
	vs, err := msgauth.VerifyWithOptions(strings.NewReader(msg), opts)
	if err != nil || len(vs) != 1 || !msgauth.IsPermFail(vs[0].Err) || !strings.Contains(vs[0].Err.Error(), "domain mismatch") {
		t.Errorf("case: go-msgauth says %v, %v", vs, err)
	}
	if got := statuses(verify(t, r, msg, Options{})); got != StatusPass {
		t.Errorf("case: we say %s", got)
	}

	// A SERVFAIL reaches it as temporary only as a bare *net.DNSError.
	msg = rsaSign(t, plainMsg, "servfail", rsa2048, msgauth.CanonicalizationRelaxed)
	vs, err = msgauth.VerifyWithOptions(strings.NewReader(msg), opts)
	if err != nil || len(vs) != 1 || !msgauth.IsTempFail(vs[0].Err) {
		t.Errorf("servfail: go-msgauth says %v, %v", vs, err)
	}
	wrapped := func(name string) ([]string, error) {
		txts, err := lookup(name)
		if err != nil {
			err = fmt.Errorf("wrapped: %w", err)
		}
		return txts, err
	}
	vs, _ = msgauth.VerifyWithOptions(strings.NewReader(msg), &msgauth.VerifyOptions{LookupTXT: wrapped})
	if len(vs) != 1 || msgauth.IsTempFail(vs[0].Err) {
		t.Errorf("servfail wrapped: go-msgauth now unwraps errors: %v", vs)
	}
	_ = srv
}

// TestMaxSignatures: only the topmost MaxSignatures signatures are
// verified; the others are neutral, and their keys are never looked up.
func TestMaxSignatures(t *testing.T) {
	testKeys(t)
	var zone strings.Builder
	msg := plainMsg
	for i := 1; i <= 7; i++ {
		sel := fmt.Sprintf("s%d", i)
		zone.WriteString(txtRR(sel+"._domainkey.example.org", edRecord(edKey)))
		msg = rsaSign(t, msg, sel, edKey, msgauth.CanonicalizationRelaxed) // s7 ends on top
	}
	srv, r := startDNS(t, zone.String())
	for _, tc := range []struct {
		max      int
		want     string
		unlooked []string
	}{
		{0, "pass,pass,pass,pass,pass,neutral,neutral", []string{"s1", "s2"}},
		{2, "pass,pass,neutral,neutral,neutral,neutral,neutral", []string{"s1", "s5"}},
		{1, "pass,neutral,neutral,neutral,neutral,neutral,neutral", []string{"s6"}},
		{10, "pass,pass,pass,pass,pass,pass,pass", nil},
	} {
		srv.ResetQueries()
		res := streamVerify(t, r, msg, Options{MaxSignatures: tc.max}, 100)
		if got := statuses(res); got != tc.want {
			t.Errorf("max %d: %s, want %s", tc.max, got, tc.want)
		}
		for _, res := range res {
			if res.Status == StatusNeutral && (!errors.Is(res.Err, ErrNotEvaluated) || res.Selector == "") {
				t.Errorf("max %d: neutral result %+v", tc.max, res)
			}
		}
		for _, sel := range tc.unlooked {
			if n := srv.Count(sel+"._domainkey.example.org", dns.TypeTXT); n != 0 {
				t.Errorf("max %d: %s looked up %d times", tc.max, sel, n)
			}
		}
	}
	if res := verify(t, r, msg, Options{MaxSignatures: 3}); res[0].Selector != "s7" || res[3].Selector != "s4" {
		t.Errorf("order: %+v", res)
	}
}

// TestMalformed: DKIM-Signature fields that are not signatures are
// permerror, one result each, never a panic, whichever verifier reads them.
func TestMalformed(t *testing.T) {
	testKeys(t)
	_, r := startDNS(t, goldenZone(t))
	const tail = "d=example.org; s=rsa2048; h=from:to; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA"
	for _, v := range []string{
		"",
		"synerr",
		";;;;",
		"=;=",
		"v=1",
		"v=1; v=1",
		"v=1; a=rsa-sha256; " + tail + "; d=example.org",
		"v=2; a=rsa-sha256; " + tail,
		"a=rsa-sha256; " + tail,
		"v=1; a=rsa-sha256; d=example.org; s=rsa2048; h=to:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
		"v=1; a=rsa-sha256; d=example.org; s=rsa2048; h=from; bh=!!!; b=???",
		"v=1; a=rsasha256; " + tail,
		"v=1; a=rsa-sha512; " + tail,
		"v=1; a=dsa-sha256; " + tail,
		"v=1; a=rsa-sha256; c=weird/relaxed; " + tail,
		"v=1; a=rsa-sha256; c=relaxed/weird; " + tail,
		"v=1; a=rsa-sha256; q=http; " + tail,
		"v=1; a=rsa-sha256; x=soon; " + tail,
		"v=1; a=rsa-sha256; t=now; " + tail,
		"v=1; a=rsa-sha256; i=joe@example.net; " + tail,
		"v=1; a=rsa-sha256; i=joe=4; " + tail,
		"v=1; a=rsa-sha256; i=joe=ZZexample.org; " + tail,
		"v=1; a=rsa-sha256; d=; s=; h=from; bh=; b=",
		"v=1; a=rsa-sha256; d=exa\x00mple.org; s=rsa2048; h=from; bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=" + strings.Repeat("a.", 200) + "org; s=x; h=from; bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=example.org; s=" + strings.Repeat("x", 70) + "; h=from; bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=..; s=.; h=from; bh=AAAA; b=AAAA",
		"v=1;\r\n\ta=rsa-sha256;\r\n " + tail + ";\r\n\tfoo",
		"v=1; a=ed25519-sha256; " + tail,
	} {
		msg := "DKIM-Signature: " + v + "\r\n" + plainMsg
		for _, opts := range []Options{{}, {forceRecheck: true}} {
			res := verify(t, r, msg, opts)
			if len(res) != 1 || res[0].Status != StatusPermerror || res[0].Err == nil {
				t.Errorf("%q (recheck %v): %+v", v, opts.forceRecheck, res)
			}
		}
	}
}

// TestStreamingEqualsWhole: feeding the body in chunks of random sizes
// (CR and LF split apart, bare LF body) gives what the whole message gives.
func TestStreamingEqualsWhole(t *testing.T) {
	testKeys(t)
	_, r := startDNS(t, goldenZone(t))
	body := "Line one\r\n  indented  \t line \r\n\r\n\r\nlast line without end"
	msg := strings.Replace(plainMsg, "Hi.\r\n", body+"\r\n\r\n\r\n", 1)
	var msgs []string
	for _, sel := range []string{"rsa2048", "ed"} {
		key := crypto.Signer(rsa2048)
		if sel == "ed" {
			key = edKey
		}
		for _, c := range []msgauth.Canonicalization{msgauth.CanonicalizationSimple, msgauth.CanonicalizationRelaxed} {
			s := rsaSign(t, msg, sel, key, c)
			msgs = append(msgs, s, strings.Replace(s, "last line", "last  line", 1))
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i, m := range msgs {
		want := verify(t, r, m, Options{})
		if i%2 == 0 && statuses(want) != StatusPass {
			t.Fatalf("message %d: %s", i, describe(want))
		}
		for range 20 {
			sizes := []int{1 + rnd.IntN(3), 1 + rnd.IntN(40), 1 + rnd.IntN(200)}
			got := streamVerify(t, r, m, Options{}, sizes...)
			if describe(got) != describe(want) {
				t.Errorf("message %d, chunks %v: %s, whole: %s", i, sizes, describe(got), describe(want))
			}
		}
		// Postfix sends CRLF; bare LF in the body must give the same.
		hdr, body, _ := strings.Cut(m, "\r\n\r\n")
		lf := hdr + "\r\n\r\n" + strings.ReplaceAll(body, "\r\n", "\n")
		if got := streamVerify(t, r, lf, Options{}, 2, 3); describe(got) != describe(want) {
			t.Errorf("message %d, bare LF body: %s, whole: %s", i, describe(got), describe(want))
		}
	}
}

// TestBodyBuffer: while the key lookup is slow, Body returns at once up to
// MaxBuffer; beyond, it waits (backpressure) and the result is unchanged;
// and when go-msgauth stops reading early, Body does not block at all.
func TestBodyBuffer(t *testing.T) {
	testKeys(t)
	srv, _ := startDNS(t, goldenZone(t))
	if err := srv.AddZone(";!latency 300ms rsa2048._domainkey.example.org. TXT\n"); err != nil {
		t.Fatal(err)
	}
	// No cache: every feed waits for the slow key.
	r, err := resolver.New(resolver.Config{Servers: []string{srv.Addr()}, Timeout: time.Second, Attempts: 1, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Replace(plainMsg, "Hi.\r\n", strings.Repeat("All work and no play makes Jack a dull boy.\r\n", 6000), 1) // ~270 KB
	signed := rsaSign(t, big, "rsa2048", rsa2048, msgauth.CanonicalizationRelaxed)
	hdr, body, _ := strings.Cut(signed, "\r\n\r\n")

	feed := func(opts Options, body string, chunk int) (time.Duration, []Result) {
		t.Helper()
		v := NewVerifier(context.Background(), r, opts)
		defer v.Abort()
		for _, f := range splitHeader([]byte(hdr + "\r\n\r\n")) {
			name, value, _ := strings.Cut(strings.TrimSuffix(f, "\r\n"), ": ")
			v.Header(name, value)
		}
		t0 := time.Now()
		for len(body) > 0 {
			n := min(chunk, len(body))
			v.Body([]byte(body[:n]))
			body = body[n:]
		}
		d := time.Since(t0)
		res, err := v.Close()
		if err != nil {
			t.Fatal(err)
		}
		return d, res
	}
	// 64 KB of body into a 1 MiB buffer: Body does not wait for the key.
	if d, res := feed(Options{}, body[:64*1024], 4096); d > 250*time.Millisecond || statuses(res) != StatusFail {
		t.Errorf("within the buffer: Body took %v, %s", d, describe(res))
	}
	// The whole body through a 16 KB buffer: Body waits for the key, then
	// the verifier drains it.
	if d, res := feed(Options{MaxBuffer: 16 * 1024}, body, 8192); d < 250*time.Millisecond || statuses(res) != StatusPass {
		t.Errorf("over the buffer: Body took %v (want the lookup's 300ms), %s", d, describe(res))
	}
	// A signature refused before the body (no key): the reader stops, Body
	// must not block even with a tiny buffer.
	nx := rsaSign(t, big, "nx", rsa2048, msgauth.CanonicalizationRelaxed)
	res := streamVerify(t, r, nx, Options{MaxBuffer: 1024}, 4096)
	if statuses(res) != StatusPermerror {
		t.Errorf("nx: %s", describe(res))
	}
}

// TestHeaderTooLarge: a header block over MaxBuffer is not verified; each
// signature is neutral with ErrTooLarge.
func TestHeaderTooLarge(t *testing.T) {
	testKeys(t)
	_, r := startDNS(t, goldenZone(t))
	msg := rsaSign(t, plainMsg, "ed", edKey, msgauth.CanonicalizationRelaxed)
	msg = "X-Filler: " + strings.Repeat("x", 3000) + "\r\n" + msg
	res := verify(t, r, msg, Options{MaxBuffer: 2048})
	if len(res) != 1 || res[0].Status != StatusNeutral || !errors.Is(res[0].Err, ErrTooLarge) || res[0].Selector != "ed" {
		t.Errorf("%+v", res)
	}
	if res := verify(t, r, msg, Options{MaxBuffer: 8192}); statuses(res) != StatusPass {
		t.Errorf("8192: %s", describe(res))
	}
}

func TestNoSignature(t *testing.T) {
	res, err := VerifyMessage(context.Background(), &resolver.Fake{}, strings.NewReader(plainMsg), Options{})
	if res != nil || err != nil {
		t.Errorf("%+v, %v", res, err)
	}
	v := NewVerifier(context.Background(), &resolver.Fake{}, Options{})
	v.Header("Subject", "hi")
	v.Body([]byte("body\r\n"))
	if res, err := v.Close(); res != nil || err != nil {
		t.Errorf("%+v, %v", res, err)
	}
	if err := v.Body([]byte("x")); !errors.Is(err, ErrState) {
		t.Errorf("Body after Close: %v", err)
	}
	if err := v.Header("a", "b"); !errors.Is(err, ErrState) {
		t.Errorf("Header after Close: %v", err)
	}
	v.Abort() // after Close: nothing
}

// TestFake: the smallest unit test, on resolver.Fake.
func TestFake(t *testing.T) {
	testKeys(t)
	r := &resolver.Fake{
		TXT:  map[string][]string{"ed._domainkey.example.org.": {edRecord(edKey)}},
		Fail: []string{"txt servfail._domainkey.example.org."},
	}
	for sel, want := range map[string]string{"ed": StatusPass, "servfail": StatusTemperror, "nx": StatusPermerror} {
		msg := rsaSign(t, plainMsg, sel, edKey, msgauth.CanonicalizationRelaxed)
		if got := statuses(verify(t, r, msg, Options{})); got != want {
			t.Errorf("%s: %s, want %s", sel, got, want)
		}
	}
}

// waitGoroutines waits until the number of goroutines is back to at most
// n, failing after a while.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAbort: Abort, the context and the idle timeout each end the
// verification goroutines (go-msgauth's per-signature ones included, with
// key lookups in flight), and Close then says temperror.
func TestAbort(t *testing.T) {
	testKeys(t)
	srv, _ := startDNS(t, goldenZone(t)+";!timeout timeout2._domainkey.example.org. TXT\n")
	// Attempts of 5s: the lookups are surely in flight when we abort, and
	// only the cancellation can end them in time.
	r, err := resolver.New(resolver.Config{Servers: []string{srv.Addr()}, Timeout: 5 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	msg := plainMsg
	for _, sel := range []string{"timeout", "ed", "timeout"} {
		msg = rsaSign(t, msg, sel, edKey, msgauth.CanonicalizationRelaxed)
	}
	msg = rsaSign(t, msg, "timeout2", rsa2048, msgauth.CanonicalizationRelaxed)
	hdr, body, _ := strings.Cut(msg, "\r\n\r\n")
	start := func(ctx context.Context, opts Options) *Verifier {
		t.Helper()
		srv.ResetQueries()
		opts.Timeout = 10 * time.Second
		v := NewVerifier(ctx, r, opts)
		for _, f := range splitHeader([]byte(hdr + "\r\n\r\n")) {
			name, value, _ := strings.Cut(strings.TrimSuffix(f, "\r\n"), ": ")
			v.Header(name, value)
		}
		v.Body([]byte(body[:10]))
		wctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.WaitQueries(wctx, 2); err != nil {
			t.Fatal(err)
		}
		return v
	}
	closed := func(v *Verifier) {
		t.Helper()
		select {
		case <-v.done:
		case <-time.After(2 * time.Second):
			t.Fatal("verification goroutine still running")
		}
		res, err := v.Close()
		if !errors.Is(err, ErrAborted) || len(res) != 4 {
			t.Fatalf("Close: %v, %+v", err, res)
		}
		for _, r := range res {
			if r.Status != StatusTemperror || !errors.Is(r.Err, ErrAborted) {
				t.Errorf("result %+v", r)
			}
		}
	}
	base := runtime.NumGoroutine()

	v := start(context.Background(), Options{})
	t0 := time.Now()
	v.Abort()
	if d := time.Since(t0); d > time.Second {
		t.Errorf("Abort took %v", d)
	}
	closed(v)
	v.Abort() // again, after Close
	waitGoroutines(t, base)

	ctx, cancel := context.WithCancel(context.Background())
	v = start(ctx, Options{})
	t0 = time.Now()
	cancel()
	closed(v)
	if d := time.Since(t0); d > time.Second {
		t.Errorf("abort by the context took %v", d)
	}
	waitGoroutines(t, base)

	v = start(context.Background(), Options{IdleTimeout: 100 * time.Millisecond})
	t0 = time.Now()
	closed(v)
	if d := time.Since(t0); d > time.Second {
		t.Errorf("idle abort took %v", d)
	}
	waitGoroutines(t, base)

	// Aborted before the end of the header: nothing ran, nothing leaks.
	v = NewVerifier(context.Background(), r, Options{})
	v.Header("From", "a@example.org")
	v.Abort()
	if res, err := v.Close(); res != nil || err == nil {
		t.Errorf("abort before EndHeaders: %+v, %v", res, err)
	}
	waitGoroutines(t, base)
}

// TestManualSignerAgrees: the test-only signer (this package's
// canonicalization and header hash) makes signatures go-msgauth verifies,
// so the signatures it makes for rsa-sha1 or l= are sound.
func TestManualSignerAgrees(t *testing.T) {
	testKeys(t)
	r := &resolver.Fake{TXT: map[string][]string{
		"ed._domainkey.example.org.":      {edRecord(edKey)},
		"rsa2048._domainkey.example.org.": {rsaRecord(t, rsa2048)},
	}}
	lib := &msgauth.VerifyOptions{LookupTXT: resolver.NewNetAdapter(context.Background(), r).LookupTXT}
	msg := strings.Replace(plainMsg, "Hi.", "Hi.  \t there \r\n\r\n", 1) + "\r\n\r\n"
	for _, canon := range []string{"simple/simple", "relaxed/relaxed", "simple/relaxed", "relaxed/simple"} {
		for sel, key := range map[string]crypto.Signer{"ed": edKey, "rsa2048": rsa2048} {
			signed := manualSign(t, msg, manualSig{d: "example.org", s: sel, key: key, hash: crypto.SHA256, canon: canon,
				headers: "From:to:SUBJECT:date:message-id:from:x-absent"})
			vs, err := msgauth.VerifyWithOptions(strings.NewReader(signed), lib)
			if err != nil || len(vs) != 1 || vs[0].Err != nil {
				t.Errorf("%s %s: go-msgauth: %v %v", canon, sel, vs[0].Err, err)
			}
		}
	}
}
