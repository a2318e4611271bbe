package dkim

import (
	"context"
	"crypto"
	"strings"
	"testing"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"github.com/mxguard/mxguard/resolver"
)

// BenchmarkVerify100KB verifies a 100 KB message with one signature,
// streamed as the milter does: header fields, then the body in 64 KB
// chunks. Keys come from resolver.Fake, so this is the verifier's own cost
// (goroutine, queue, hashing, signature) without the network.
func BenchmarkVerify100KB(b *testing.B) {
	testKeys(b)
	r := &resolver.Fake{TXT: map[string][]string{
		"rsa2048._domainkey.example.org.": {rsaRecord(b, rsa2048)},
		"ed._domainkey.example.org.":      {edRecord(edKey)},
	}}
	line := "The quick brown fox jumps over the lazy dog, again and again.\r\n"
	body := strings.Repeat(line, 100*1024/len(line))
	msg := strings.Replace(plainMsg, "Hi.\r\n", body, 1)
	for _, tc := range []struct {
		name string
		sel  string
		key  crypto.Signer
	}{{"rsa2048", "rsa2048", rsa2048}, {"ed25519", "ed", edKey}} {
		b.Run(tc.name, func(b *testing.B) {
			signed := libSign(b, msg, msgauth.SignOptions{Domain: "example.org", Selector: tc.sel, Signer: tc.key,
				HeaderCanonicalization: msgauth.CanonicalizationRelaxed, BodyCanonicalization: msgauth.CanonicalizationRelaxed})
			hdr, body, _ := strings.Cut(signed, "\r\n\r\n")
			type field struct{ name, value string }
			var fields []field
			for _, f := range splitHeader([]byte(hdr + "\r\n\r\n")) {
				name, value, _ := strings.Cut(strings.TrimSuffix(f, "\r\n"), ": ")
				fields = append(fields, field{name, value})
			}
			bodyBytes := []byte(body)
			b.SetBytes(int64(len(signed)))
			b.ReportAllocs()
			for b.Loop() {
				v := NewVerifier(context.Background(), r, Options{})
				for _, f := range fields {
					v.Header(f.name, f.value)
				}
				v.EndHeaders()
				for p := bodyBytes; len(p) > 0; p = p[min(64*1024, len(p)):] {
					v.Body(p[:min(64*1024, len(p))])
				}
				res, err := v.Close()
				if err != nil || len(res) != 1 || res[0].Status != StatusPass {
					b.Fatalf("%+v %v", res, err)
				}
			}
		})
	}
}
