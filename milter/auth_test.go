package milter_test

// End-of-data authentication through the milter: SPF, DKIM (signed here
// with fresh RSA and Ed25519 keys published in the loopback DNS), DMARC,
// and the Authentication-Results header with forged ones removed.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"
	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/mxguard/mxguard/config"
	"github.com/mxguard/mxguard/dmarc"
	"github.com/mxguard/mxguard/store"
)

type signer struct {
	domain, selector string
	key              crypto.Signer
}

// newSigners makes an Ed25519 and an RSA-2048 key for good.test and
// publishes them in the fixture.
func newSigners(t *testing.T, h *harness) (ed, rs signer) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	zone := fmt.Sprintf(`$ORIGIN _domainkey.good.test.
ed IN TXT "v=DKIM1; k=ed25519; p=%s"
rsa IN TXT ( %s )
broken IN TXT "v=DKIM1; p=%s"
;!servfail broken._domainkey.good.test. TXT
`, base64.StdEncoding.EncodeToString(pub), txtChunks("v=DKIM1; k=rsa; p="+base64.StdEncoding.EncodeToString(der)),
		base64.StdEncoding.EncodeToString(pub))
	if err := h.dns.AddZone(zone); err != nil {
		t.Fatal(err)
	}
	return signer{"good.test", "ed", priv}, signer{"good.test", "rsa", rk}
}

// txtChunks splits a long TXT value into 255-byte character-strings.
func txtChunks(s string) string {
	var parts []string
	for len(s) > 200 {
		parts = append(parts, `"`+s[:200]+`"`)
		s = s[200:]
	}
	return strings.Join(append(parts, `"`+s+`"`), " ")
}

func (s signer) sign(t *testing.T, msg string) string {
	t.Helper()
	var b bytes.Buffer
	err := msgdkim.Sign(&b, strings.NewReader(msg), &msgdkim.SignOptions{
		Domain: s.domain, Selector: s.selector, Signer: s.key,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed, BodyCanonicalization: msgdkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func newAuthHarness(t *testing.T, extra string) *harness {
	t.Helper()
	h := newHarness(t, "trusted_networks: [192.0.2.77/32]\n"+extra)
	path := filepath.Join(t.TempDir(), "auth.yml")
	os.WriteFile(path, []byte(fmt.Sprintf(baseConfig, h.dns.Addr())+"trusted_networks: [192.0.2.77/32]\n"+extra), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a := dmarc.FromConfig(cfg)
	h.srv.Auth = func() *dmarc.Config { return a }
	return h
}

// eom is what the milter did at the end of one message.
type eom struct {
	reply    string // "250" or the reply code line
	inserted []gomilter.ModifyAction
	deleted  []uint32 // indexes of Authentication-Results fields removed
	added    []gomilter.ModifyAction
	quar     string
	rcpt     string
}

func sendMessage(t *testing.T, h *harness, ip, helo, from, rcpt, msg string) eom {
	t.Helper()
	s := h.session(t)
	connect(t, s, ip)
	if got := reply(s.Helo(helo)); got != "250" {
		t.Fatalf("HELO: %s", got)
	}
	s.Macros(gomilter.CodeMail, "i", "AUTHTEST")
	if got := reply(s.Mail("<"+from+">", nil)); got != "250" {
		t.Fatalf("MAIL: %s", got)
	}
	var out eom
	if out.rcpt = reply(s.Rcpt("<"+rcpt+">", nil)); out.rcpt != "250" {
		return out
	}
	hdr, body, _ := strings.Cut(strings.ReplaceAll(msg, "\r\n", "\n"), "\n\n")
	var fields [][2]string
	for _, l := range strings.Split(hdr, "\n") {
		if l != "" && (l[0] == ' ' || l[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1][1] += "\n" + l
			continue
		}
		k, v, _ := strings.Cut(l, ":")
		fields = append(fields, [2]string{k, strings.TrimPrefix(v, " ")})
	}
	for _, f := range fields {
		if _, err := s.HeaderField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.HeaderEnd(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BodyChunk([]byte(strings.ReplaceAll(body, "\n", "\r\n"))); err != nil {
		t.Fatal(err)
	}
	mods, act, err := s.End()
	out.reply = reply(act, err)
	for _, m := range mods {
		switch m.Code {
		case gomilter.ActInsertHeader:
			out.inserted = append(out.inserted, m)
		case gomilter.ActChangeHeader:
			if m.HeaderValue == "" && strings.EqualFold(m.HeaderName, "Authentication-Results") {
				out.deleted = append(out.deleted, m.HeaderIndex)
			}
		case gomilter.ActAddHeader:
			out.added = append(out.added, m)
		case gomilter.ActQuarantine:
			out.quar = m.Reason
		}
	}
	return out
}

func message(from string, extraHeaders ...string) string {
	return "From: " + from + "\r\nTo: <b@example.net>\r\nSubject: hello\r\nDate: " + time.Now().Format(time.RFC1123Z) +
		"\r\nMessage-ID: <" + fmt.Sprint(time.Now().UnixNano()) + "@good.test>\r\n" + strings.Join(extraHeaders, "") +
		"\r\nHello,\r\nthis is the body.\r\n"
}

func arOf(t *testing.T, e eom) string {
	t.Helper()
	if len(e.inserted) != 1 || e.inserted[0].HeaderIndex != 0 || e.inserted[0].HeaderName != "Authentication-Results" {
		t.Fatalf("want one Authentication-Results inserted at the top, got %+v", e.inserted)
	}
	return e.inserted[0].HeaderValue
}

func TestAuthLegitimateSigned(t *testing.T) {
	h := newAuthHarness(t, "")
	ed, rs := newSigners(t, h)
	for _, sg := range []signer{ed, rs} {
		msg := sg.sign(t, message("Alice <alice@good.test>"))
		e := sendMessage(t, h, "192.0.2.10", "mail.good.test", "alice@good.test", "b@good.test", msg)
		if e.reply != "250" {
			t.Fatalf("%s: %s", sg.selector, e.reply)
		}
		ar := arOf(t, e)
		alg := map[string]string{"ed": "ed25519-sha256", "rsa": "rsa-sha256"}[sg.selector]
		for _, want := range []string{"mx.mxguard.test;", "spf=pass smtp.mailfrom=alice@good.test", "dkim=pass header.d=good.test",
			"header.s=" + sg.selector, "header.a=" + alg, "dmarc=pass header.from=good.test", "iprev=pass policy.iprev=192.0.2.10"} {
			if !strings.Contains(ar, want) {
				t.Errorf("%s: Authentication-Results lacks %q:\n%s", sg.selector, want, ar)
			}
		}
	}
}

// A spoof of a p=reject domain from another network: 550 5.7.1 at the end
// of data; a valid signature of the domain saves a message whose SPF fails
// (forwarded mail).
func TestAuthDMARCReject(t *testing.T) {
	h := newAuthHarness(t, "")
	ed, _ := newSigners(t, h)
	e := sendMessage(t, h, "192.0.2.20", "aonly.test", "x@aonly.test", "b@good.test", message("CEO <ceo@good.test>"))
	if e.reply != "550 5.7.1 Email rejected per DMARC policy for good.test" {
		t.Errorf("spoof: %q", e.reply)
	}
	// Forwarded: the envelope is the forwarder's, the signature is intact.
	e = sendMessage(t, h, "192.0.2.20", "aonly.test", "fwd@aonly.test", "b@good.test", ed.sign(t, message("<alice@good.test>")))
	if e.reply != "250" {
		t.Errorf("forwarded signed message: %q", e.reply)
	}
	// SPF fails for good.test itself from a foreign address: DMARC decides.
	e = sendMessage(t, h, "192.0.2.20", "aonly.test", "alice@good.test", "b@good.test", message("<alice@good.test>"))
	if e.reply != "550 5.7.1 Email rejected per DMARC policy for good.test" {
		t.Errorf("SPF fail + DMARC fail: %q", e.reply)
	}
}

func TestAuthSPF(t *testing.T) {
	h := newAuthHarness(t, "")
	// No DMARC record: SPF fail rejects at the end of data with exp= text.
	e := sendMessage(t, h, "192.0.2.20", "aonly.test", "a@spffail.test", "b@good.test", message("<a@spffail.test>"))
	if e.reply != "550 5.7.23 192.0.2.20 is not one of spffail.test's designated mail servers" {
		t.Errorf("SPF fail: %q", e.reply)
	}
	// softfail is tagged by default, DMARC p=none accepts.
	e = sendMessage(t, h, "192.0.2.20", "aonly.test", "a@soft.test", "b@good.test", message("<a@soft.test>"))
	if e.reply != "250" {
		t.Errorf("softfail: %q", e.reply)
	}
	tagged := false
	for _, a := range e.added {
		tagged = tagged || (a.HeaderName == "X-Mxguard" && strings.Contains(a.HeaderValue, "softfail"))
	}
	if !tagged || !strings.Contains(arOf(t, e), "spf=softfail") {
		t.Errorf("softfail not tagged: %+v %+v", e.added, e.inserted)
	}
	// reject_at: rcpt answers at RCPT TO.
	h2 := newAuthHarness(t, "auth: {spf: {reject_at: rcpt}}\n")
	e = sendMessage(t, h2, "192.0.2.20", "aonly.test", "a@spffail.test", "b@good.test", message("<a@spffail.test>"))
	if e.rcpt != "550 5.7.23 192.0.2.20 is not one of spffail.test's designated mail servers" {
		t.Errorf("SPF fail at RCPT: %q", e.rcpt)
	}
}

// Temporary DNS trouble never gives a 5xx: a DMARC record timeout is 451
// by default, or an accept when configured.
func TestAuthTemporaryFailures(t *testing.T) {
	h := newAuthHarness(t, "")
	e := sendMessage(t, h, "192.0.2.10", "mail.good.test", "a@dmarcslow.test", "b@good.test", message("<a@dmarcslow.test>"))
	if e.reply != "451 4.4.3 Temporary DNS failure during DMARC evaluation, try again later" {
		t.Errorf("DMARC timeout: %q", e.reply)
	}
	h2 := newAuthHarness(t, "auth: {dmarc: {temperror: accept}}\n")
	e = sendMessage(t, h2, "192.0.2.10", "mail.good.test", "a@dmarcslow.test", "b@good.test", message("<a@dmarcslow.test>"))
	if e.reply != "250" || !strings.Contains(arOf(t, e), "dmarc=temperror") {
		t.Errorf("DMARC timeout with temperror: accept: %q %+v", e.reply, e.inserted)
	}
	// A key lookup SERVFAIL is a DKIM temperror, never a fail.
	h3 := newAuthHarness(t, "")
	_, _ = newSigners(t, h3)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := signer{"good.test", "broken", priv}.sign(t, message("<alice@good.test>"))
	e = sendMessage(t, h3, "192.0.2.10", "mail.good.test", "alice@good.test", "b@good.test", msg)
	if e.reply != "250" || !strings.Contains(arOf(t, e), "dkim=temperror") {
		t.Errorf("key SERVFAIL: %q %+v", e.reply, e.inserted)
	}
}

// Forged Authentication-Results in many shapes are all removed, whatever
// their case, folding or comments; another server's header stays; none of
// them changes the verdict.
func TestAuthForgedHeadersRemoved(t *testing.T) {
	h := newAuthHarness(t, "")
	forged := []string{
		"Authentication-Results: mx.mxguard.test; dmarc=pass header.from=good.test\r\n",
		"Authentication-Results: other.example; spf=pass\r\n",
		"authentication-results: MX.MXGUARD.TEST; dkim=pass header.d=good.test\r\n",
		"Authentication-Results: (trust me) mx.mxguard.test;\r\n\tspf=pass smtp.mailfrom=good.test\r\n",
		"AUTHENTICATION-RESULTS: \"mx.mxguard.test\"; dmarc=pass\r\n",
		"Authentication-Results:\r\n mx.mxguard.test.; dmarc=pass\r\n",
		"Authentication-Results: mx.mxguard.test.evil.example; dmarc=pass\r\n",
	}
	e := sendMessage(t, h, "192.0.2.20", "aonly.test", "x@aonly.test", "b@good.test", message("CEO <ceo@good.test>", forged...))
	if e.reply != "550 5.7.1 Email rejected per DMARC policy for good.test" {
		t.Errorf("a forged dmarc=pass changed the verdict: %q", e.reply)
	}
	if got := fmt.Sprint(e.deleted); got != "[6 5 4 3 1]" {
		t.Errorf("removed Authentication-Results %s, want [6 5 4 3 1] (the 2nd and 7th are another server's)", got)
	}
	// A trusted client: its forged headers go too, and nothing is evaluated.
	e = sendMessage(t, h, "192.0.2.77", "mail.good.test", "x@aonly.test", "b@good.test", message("<ceo@good.test>", forged[0]))
	if e.reply != "250" || fmt.Sprint(e.deleted) != "[1]" || len(e.inserted) != 0 {
		t.Errorf("trusted client: %q deleted %v inserted %+v", e.reply, e.deleted, e.inserted)
	}
}

func TestAuthFromHeaders(t *testing.T) {
	h := newAuthHarness(t, "")
	e := sendMessage(t, h, "192.0.2.10", "mail.good.test", "a@good.test", "b@good.test",
		message("<a@good.test>", "From: <b@aonly.test>\r\n"))
	if e.reply != "550 5.7.1 Message must have exactly one From address (RFC 5322)" {
		t.Errorf("two From fields: %q", e.reply)
	}
	e = sendMessage(t, h, "192.0.2.10", "mail.good.test", "a@good.test", "b@good.test", message("<a@good.test>, <b@aonly.test>"))
	if e.reply != "550 5.7.1 Message must have exactly one From address (RFC 5322)" {
		t.Errorf("two From addresses: %q", e.reply)
	}
	e = sendMessage(t, h, "192.0.2.20", "aonly.test", "a@quar.test", "b@good.test", message("<a@quar.test>"))
	if e.reply != "250" || e.quar == "" {
		t.Errorf("p=quarantine: %q quarantine %q", e.reply, e.quar)
	}
}

// Each DMARC evaluation is recorded in the store in the shape of an
// aggregate report row.
func TestAuthRecordsDMARC(t *testing.T) {
	h := newAuthHarness(t, "")
	st := store.NewMemory(time.Now)
	h.srv.Store = st
	ed, _ := newSigners(t, h)
	sendMessage(t, h, "192.0.2.10", "mail.good.test", "alice@good.test", "b@good.test", ed.sign(t, message("<alice@good.test>")))
	sendMessage(t, h, "192.0.2.20", "aonly.test", "x@aonly.test", "b@good.test", message("<ceo@good.test>"))
	recs, err := store.DMARCRecords(context.Background(), st, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2: %+v", len(recs), recs)
	}
	a, b := recs[0], recs[1]
	if a.SourceIP != "192.0.2.10" || a.HeaderFrom != "good.test" || a.EnvelopeFrom != "good.test" || a.DMARC != "pass" ||
		a.Policy != "reject" || a.Disposition != "none" || !a.SPFAligned || !a.DKIMAligned ||
		len(a.DKIM) != 1 || a.DKIM[0].Selector != "ed" || a.DKIM[0].Result != "pass" || a.SPF.Result != "pass" || a.EnvelopeTo != "good.test" {
		t.Errorf("legitimate message record: %+v", a)
	}
	if b.SourceIP != "192.0.2.20" || b.DMARC != "fail" || b.Disposition != "reject" || b.SPFAligned || b.DKIMAligned ||
		b.EnvelopeFrom != "aonly.test" || b.PolicyDomain != "good.test" {
		t.Errorf("spoof record: %+v", b)
	}
}

// auth.dmarc.none: an action for a DMARC fail under p=none (here: tag).
func TestAuthDMARCNoneAction(t *testing.T) {
	h := newAuthHarness(t, "auth: {dmarc: {none: tag}, spf: {softfail: accept}}\n")
	e := sendMessage(t, h, "192.0.2.20", "aonly.test", "a@soft.test", "b@good.test", message("<a@soft.test>"))
	tagged := false
	for _, a := range e.added {
		tagged = tagged || (a.HeaderName == "X-Mxguard" && strings.Contains(a.HeaderValue, "policy of soft.test is none"))
	}
	if e.reply != "250" || !tagged {
		t.Errorf("p=none with dmarc.none: tag: %q %+v", e.reply, e.added)
	}
}
