// Go 1.24+ refuses RSA keys under 1024 bits in crypto/rsa; the tests make
// such keys (and sign with them) to prove that we refuse them ourselves.
// The production code never relies on this setting either way.
//go:debug rsa1024min=0

package dkim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
	"sync"
	"testing"
	"time"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"github.com/mxguard/mxguard/internal/dnstest"
	"github.com/mxguard/mxguard/resolver"
)

// rootSOA makes the test server authoritative for every name, so that an
// unknown name is NXDOMAIN rather than REFUSED (which is temporary).
const rootSOA = ". 300 IN SOA ns. hostmaster. 1 3600 600 86400 300\n"

// txtRR is a zone file line for a TXT record, split in strings of at most
// 255 octets (RFC 1035 §3.3.14), each quoted and escaped.
func txtRR(name, txt string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(name, ".") + ". 300 IN TXT")
	if txt == "" {
		b.WriteString(` ""`)
	}
	for len(txt) > 0 {
		n := min(len(txt), 200)
		chunk := txt[:n]
		txt = txt[n:]
		chunk = strings.ReplaceAll(chunk, `\`, `\\`)
		chunk = strings.ReplaceAll(chunk, `"`, `\"`)
		b.WriteString(` "` + chunk + `"`)
	}
	b.WriteString("\n")
	return b.String()
}

// startDNS serves zone (plus the root SOA) on loopback and returns a real
// resolver Client for it, with a short per-attempt timeout so timeouts
// cost 300 ms.
func startDNS(t testing.TB, zone string) (*dnstest.Server, resolver.Resolver) {
	t.Helper()
	srv := dnstest.Start(t, dnstest.WithZone(rootSOA+zone))
	r, err := resolver.New(resolver.Config{Servers: []string{srv.Addr()}, Timeout: 300 * time.Millisecond, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return srv, r
}

var (
	keysOnce   sync.Once
	rsa2048    *rsa.PrivateKey
	rsa1024    *rsa.PrivateKey
	rsa1020    *rsa.PrivateKey
	rsa512     *rsa.PrivateKey
	edKey      ed25519.PrivateKey
	keysGenErr error
)

// testKeys generates the keys once per test binary: fresh keys, never
// checked in.
func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		gen := func(bits int) *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil && keysGenErr == nil {
				keysGenErr = fmt.Errorf("rsa %d: %w", bits, err)
			}
			return k
		}
		rsa2048, rsa1024, rsa1020, rsa512 = gen(2048), gen(1024), gen(1020), gen(512)
		_, edKey, keysGenErr = ed25519.GenerateKey(rand.Reader)
	})
	if keysGenErr != nil {
		t.Fatal(keysGenErr)
	}
}

func rsaRecord(t testing.TB, k *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
}

func edRecord(k ed25519.PrivateKey) string {
	return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))
}

// libSign signs msg with go-msgauth's dkim.Sign and returns the signed
// message.
func libSign(t testing.TB, msg string, o msgauth.SignOptions) string {
	t.Helper()
	if o.HeaderKeys == nil {
		o.HeaderKeys = []string{"From", "To", "Subject", "Date"}
	}
	var b bytes.Buffer
	if err := msgauth.Sign(&b, strings.NewReader(msg), &o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// manualSig describes a signature made by manualSign, for what go-msgauth
// cannot sign: rsa-sha1, l=, x= of our choice, a quoted-printable i=.
type manualSig struct {
	d, s, i string // i: "" for none; written as given
	hash    crypto.Hash
	key     crypto.Signer
	canon   string // "relaxed/relaxed" ...
	headers string // h= value
	extra   string // more tags, "x=...; l=..."
}

// manualSign signs msg (CRLF, with an empty line before the body) with
// this package's canonicalization: an independent signer whose agreement
// with go-msgauth's verifier is itself tested (TestManualSignerAgrees).
func manualSign(t testing.TB, msg string, ms manualSig) string {
	t.Helper()
	hdr, body, ok := strings.Cut(msg, "\r\n\r\n")
	if !ok {
		t.Fatal("manualSign: no empty line")
	}
	var newHash func() hash.Hash
	hashName := "sha256"
	switch ms.hash {
	case crypto.SHA1:
		newHash, hashName = sha1.New, "sha1"
	default:
		newHash = sha256.New
	}
	keyAlgo := "rsa"
	if _, ok := ms.key.Public().(ed25519.PublicKey); ok {
		keyAlgo = "ed25519"
	}
	hc, bc, _ := strings.Cut(ms.canon, "/")
	bh := newHash()
	bcn := newBodyCanon(bh, bc == "relaxed")
	bcn.Write([]byte(body))
	bcn.Close()
	tags := fmt.Sprintf("v=1; a=%s-%s; c=%s; d=%s; s=%s;", keyAlgo, hashName, ms.canon, ms.d, ms.s)
	if ms.i != "" {
		tags += " i=" + ms.i + ";"
	}
	if ms.extra != "" {
		tags += " " + ms.extra + ";"
	}
	tags += "\r\n\th=" + ms.headers + "; bh=" + base64.StdEncoding.EncodeToString(bh.Sum(nil)) + ";\r\n\tb="
	field := "DKIM-Signature: " + tags + crlf
	fields := splitHeader([]byte(hdr + "\r\n\r\n"))
	hh := headerHash(newHash(), fields, tagList(ms.headers), field, hc == "relaxed")
	var sig []byte
	var err error
	if keyAlgo == "ed25519" {
		sig, err = ms.key.Sign(rand.Reader, hh, crypto.Hash(0))
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, ms.key.(*rsa.PrivateKey), ms.hash, hh)
	}
	if err != nil {
		t.Fatal(err)
	}
	return "DKIM-Signature: " + tags + base64.StdEncoding.EncodeToString(sig) + crlf + msg
}

const plainMsg = "From: Joe SixPack <joe@football.example.com>\r\n" +
	"To: Suzie Q <suzie@shopping.example.net>\r\n" +
	"Subject: Is dinner ready?\r\n" +
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" +
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n" +
	"\r\n" +
	"Hi.\r\n" +
	"\r\n" +
	"We lost the game.  Are you hungry yet?\r\n" +
	"\r\n" +
	"Joe.\r\n"

// verify runs VerifyMessage with a 2s key lookup bound.
func verify(t testing.TB, r resolver.Resolver, msg string, opts Options) []Result {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	res, err := VerifyMessage(context.Background(), r, strings.NewReader(msg), opts)
	if err != nil {
		t.Fatalf("VerifyMessage: %v", err)
	}
	return res
}

// streamVerify feeds msg to a Verifier as the milter would: header fields
// with Postfix's one leading space eaten, then the body in chunks of the
// given sizes (cycled).
func streamVerify(t testing.TB, r resolver.Resolver, msg string, opts Options, sizes ...int) []Result {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	v := NewVerifier(context.Background(), r, opts)
	defer v.Abort()
	// The header ends at the first empty line, CRLF or LF.
	hdr, body := msg, ""
	for _, sep := range []string{"\r\n\r\n", "\n\n", "\n\r\n"} {
		if i := strings.Index(msg, sep); i >= 0 && i < len(hdr) {
			hdr, body = msg[:i], msg[i+len(sep):]
		}
	}
	for _, f := range splitHeader([]byte(hdr + "\r\n\r\n")) {
		name, value, _ := strings.Cut(strings.TrimSuffix(f, "\r\n"), ":")
		value = strings.TrimPrefix(value, " ") // what Postfix does
		if err := v.Header(name, value); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.EndHeaders(); err != nil {
		t.Fatal(err)
	}
	if len(sizes) == 0 {
		sizes = []int{len(body) + 1}
	}
	for i := 0; len(body) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(body))
		if err := v.Body([]byte(body[:n])); err != nil {
			t.Fatal(err)
		}
		body = body[n:]
	}
	res, err := v.Close()
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	return res
}

func statuses(res []Result) string {
	var s []string
	for _, r := range res {
		s = append(s, r.Status)
	}
	return strings.Join(s, ",")
}
