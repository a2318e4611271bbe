package dkim

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxguard/mxguard/resolver"
)

// FuzzVerify feeds arbitrary messages, and an arbitrary key record
// published at fz._domainkey.example.org, to the verifier. The seed corpus
// (testdata/fuzz/FuzzVerify) holds the RFC examples, corpus messages,
// messages signed for the fz selector (RFC 8463's Ed25519 key) and broken
// signatures. It checks: no panic, no error, one Result per DKIM-Signature
// field, a status from the list with Err set exactly when it is not pass,
// and the same Results when the body is streamed in small chunks.
//
//	go test -run '^$' -fuzz FuzzVerify -fuzztime 20s ./dmarc/dkim/
func FuzzVerify(f *testing.F) {
	base := map[string][]string{}
	dnsTxt, err := os.ReadFile(filepath.Join(conformanceDir, "rfc-examples", "dns.txt"))
	if err != nil {
		f.Fatal(err)
	}
	for line := range strings.Lines(string(dnsTxt)) {
		if name, txt, ok := strings.Cut(strings.TrimSpace(line), " "); ok && !strings.HasPrefix(name, "#") {
			base[strings.ToLower(name)+"."] = []string{txt}
		}
	}
	f.Add([]byte(plainMsg), "")
	f.Fuzz(func(t *testing.T, msg []byte, key string) {
		txt := map[string][]string{"fz._domainkey.example.org.": {key}}
		for k, v := range base {
			txt[k] = v
		}
		r := &resolver.Fake{TXT: txt, Fail: []string{"txt tf._domainkey.example.org."}}
		opts := Options{Timeout: time.Second, MaxSignatures: 3}
		res, err := VerifyMessage(context.Background(), r, bytes.NewReader(msg), opts)
		if err != nil {
			t.Fatalf("VerifyMessage: %v", err)
		}
		nsig := 0
		readHeader(bufio.NewReader(bytes.NewReader(msg)), func(f string) error {
			if isSigField(f) {
				nsig++
			}
			return nil
		})
		// Our header reading and go-msgauth's field split must agree.
		if len(res) != nsig {
			t.Fatalf("%d results for %d DKIM-Signature fields", len(res), nsig)
		}
		valid := []string{StatusPass, StatusFail, StatusNeutral, StatusTemperror, StatusPermerror, StatusPolicy}
		for _, r := range res {
			if !slices.Contains(valid, r.Status) || (r.Status == StatusPass) != (r.Err == nil) {
				t.Fatalf("result %+v", r)
			}
		}

		// Streamed: raw fields (Header would rebuild "name: value"), then
		// the body in chunks of 7.
		v := NewVerifier(context.Background(), r, opts)
		defer v.Abort()
		br := bufio.NewReader(bytes.NewReader(msg))
		if err := readHeader(br, v.addField); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(br)
		for len(rest) > 0 {
			n := min(7, len(rest))
			v.Body(rest[:n])
			rest = rest[n:]
		}
		sres, err := v.Close()
		if err != nil {
			t.Fatal(err)
		}
		if describe(sres) != describe(res) {
			t.Fatalf("streamed %s\nwhole    %s", describe(sres), describe(res))
		}
	})
}
