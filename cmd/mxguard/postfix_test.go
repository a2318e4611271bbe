package main

// The real-Postfix suite: a private Postfix (Debian's package) with
// mxguard in smtpd_milters, both resolving through the loopback DNS
// fixture, SMTP sessions from real loopback source addresses. Needs root;
// skipped loudly otherwise, and a failure with MXGUARD_E2E=1 (.ci/run).

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/mxguard/mxguard/internal/dnstest"
	"github.com/mxguard/mxguard/internal/postfixtest"
)

const postfixSuiteConfig = `
listen: inet:127.0.0.1:%d
hostname: mx.mxguard.test
local_names: [mx.mxguard.test]
# like Postfix's mynetworks in the suite: only Postfix's own address
trusted_networks: [127.0.0.1/32]
dns: {servers: [%s], timeout: 1s, attempts: 1}
state_dir: %s
client:
  - unknown_reverse_client_hostname
  - unknown_client_hostname
helo:
  - invalid_helo_hostname
  - non_fqdn_helo_hostname
  - helo_impersonation
  - unknown_helo_hostname
sender:
  - non_fqdn_sender
  - unknown_sender_domain
recipient:
  - non_fqdn_recipient
  - unknown_recipient_domain
`

type postfixSuite struct {
	dns *dnstest.Server
	pf  *postfixtest.Instance
	mx  *server
	cfg string
}

func startPostfixSuite(t *testing.T) *postfixSuite {
	t.Helper()
	return startPostfixSuiteWith(t, nil, nil)
}

// startPostfixSuiteWith also edits mxguard's configuration (each key of
// edit replaced by its value) and sets Postfix main.cf parameters.
func startPostfixSuiteWith(t *testing.T, edit map[string]string, mainCF map[string]string) *postfixSuite {
	t.Helper()
	files, _ := filepath.Glob("../../testdata/zones/*.zone")
	var opts []dnstest.Option
	for _, f := range files {
		opts = append(opts, dnstest.WithZoneFile(f))
	}
	s := &postfixSuite{dns: postfixtest.StartDNS(t, opts...)}
	dir := t.TempDir()
	port := freePort(t)
	text := fmt.Sprintf(postfixSuiteConfig, port, s.dns.Addr(), dir)
	for from, to := range edit {
		text = strings.Replace(text, from, to, 1)
	}
	s.cfg = writeConfig(t, dir, text)
	s.mx = startServer(t, s.cfg, port)
	s.pf = postfixtest.Start(t, postfixtest.Options{Milter: fmt.Sprintf("inet:127.0.0.1:%d", port), DNS: s.dns, ExtraMainCF: mainCF})
	t.Logf("Postfix started in %v", s.pf.StartDuration())
	return s
}

// session runs one SMTP transaction up to RCPT and returns the RCPT
// replies; the message is sent when a recipient was accepted.
func (s *postfixSuite) session(t *testing.T, src, helo, from string, rcpts ...string) []postfixtest.Reply {
	t.Helper()
	c := s.pf.Dial(t, src)
	defer c.Close()
	if r := c.Ehlo(helo); r.Code != 250 {
		t.Fatalf("EHLO %s: %s", helo, r)
	}
	return transaction(t, c, from, rcpts...)
}

func transaction(t *testing.T, c *postfixtest.Client, from string, rcpts ...string) []postfixtest.Reply {
	t.Helper()
	if r := c.Mail(from); r.Code != 250 {
		t.Fatalf("MAIL FROM:<%s>: %s", from, r)
	}
	var out []postfixtest.Reply
	ok := false
	for _, rc := range rcpts {
		r := c.Rcpt(rc)
		out = append(out, r)
		ok = ok || r.Code == 250
	}
	if ok {
		if r := c.Data("From: <" + from + ">\r\nSubject: test\r\n\r\nhello\r\n"); r.Code != 250 {
			t.Fatalf("DATA: %s", r)
		}
	} else if r := c.Rset(); r.Code != 250 {
		t.Fatalf("RSET: %s", r)
	}
	return out
}

func TestPostfixSuite(t *testing.T) {
	s := startPostfixSuite(t)
	cases := []struct {
		name, src, helo, from, rcpt, want string
	}{
		{"clean", "127.0.0.10", "client10.test", "a@good.test", "b@good.test", "250 2.1.5 Ok"},
		{"no PTR", "127.0.0.11", "client10.test", "a@good.test", "b@good.test",
			"450 4.7.1 Client host rejected: cannot find your reverse hostname, [127.0.0.11]"},
		{"forged PTR", "127.0.0.12", "client10.test", "a@good.test", "b@good.test",
			"450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.12]"},
		{"PTR SERVFAIL", "127.0.0.13", "client10.test", "a@good.test", "b@good.test",
			"450 4.7.1 Client host rejected: cannot find your reverse hostname, [127.0.0.13]"},
		{"invalid HELO", "127.0.0.10", "bad_helo!", "a@good.test", "b@good.test",
			"501 5.5.2 <bad_helo!>: Helo command rejected: Invalid name"},
		{"non-FQDN HELO", "127.0.0.10", "mailhost", "a@good.test", "b@good.test",
			"504 5.5.2 <mailhost>: Helo command rejected: need fully-qualified hostname"},
		{"HELO impersonation", "127.0.0.10", "mx.mxguard.test", "a@good.test", "b@good.test",
			"550 5.7.1 <mx.mxguard.test>: Helo command rejected: Host name impersonation"},
		{"unknown HELO", "127.0.0.10", "nohost.test", "a@good.test", "b@good.test",
			"450 4.7.1 <nohost.test>: Helo command rejected: Host not found"},
		{"non-FQDN sender", "127.0.0.10", "client10.test", "user@localhost", "b@good.test",
			"504 5.5.2 <user@localhost>: Sender address rejected: need fully-qualified address"},
		{"unknown sender domain", "127.0.0.10", "client10.test", "a@nx.test", "b@good.test",
			"450 4.1.8 <a@nx.test>: Sender address rejected: Domain not found"},
		{"sender null MX", "127.0.0.10", "client10.test", "a@nullmx.test", "b@good.test",
			"550 5.7.27 <a@nullmx.test>: Sender address rejected: Domain nullmx.test does not accept mail (nullMX)"},
		{"sender SERVFAIL", "127.0.0.10", "client10.test", "a@tempfail.test", "b@good.test",
			"450 4.1.8 <a@tempfail.test>: Sender address rejected: Domain not found"},
		{"recipient null MX", "127.0.0.10", "client10.test", "a@good.test", "b@nullmx.test",
			"556 5.1.10 <b@nullmx.test>: Recipient address rejected: Domain nullmx.test does not accept mail (nullMX)"},
		{"unknown recipient domain", "127.0.0.10", "client10.test", "a@good.test", "b@nx.test",
			"450 4.1.2 <b@nx.test>: Recipient address rejected: Domain not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := s.session(t, c.src, c.helo, c.from, c.rcpt)[0].String()
			if got != c.want {
				t.Errorf("RCPT TO:<%s> from %s (HELO %s, MAIL FROM:<%s>):\n got  %q\n want %q", c.rcpt, c.src, c.helo, c.from, got, c.want)
			}
		})
	}

	t.Run("two messages on one connection", func(t *testing.T) {
		c := s.pf.Dial(t, "127.0.0.10")
		defer c.Close()
		c.Ehlo("client10.test")
		r := transaction(t, c, "a@good.test", "x@nx.test", "b@good.test")
		if r[0].Code != 450 || r[1].Code != 250 {
			t.Fatalf("first message: %v", r)
		}
		r = transaction(t, c, "a@nx.test", "b@good.test")
		if got := r[0].String(); got != "450 4.1.8 <a@nx.test>: Sender address rejected: Domain not found" {
			t.Errorf("second message on the connection: %q", got)
		}
		r = transaction(t, c, "c@good.test", "b@good.test")
		if r[0].Code != 250 {
			t.Errorf("third message: %v", r)
		}
	})

	t.Run("authenticated client skips the checks", func(t *testing.T) {
		c := s.pf.DialXClient(t, "127.0.0.11")
		defer c.Close()
		if r := c.XClient("LOGIN=alice"); r.Code != 220 {
			t.Fatalf("XCLIENT: %s", r)
		}
		c.Ehlo("bad_helo!")
		r := transaction(t, c, "a@nx.test", "b@good.test")
		if r[0].Code != 250 {
			t.Errorf("authenticated client was checked: %s", r[0])
		}
	})

	t.Run("message logged by both sides with the queue id", func(t *testing.T) {
		c := s.pf.Dial(t, "127.0.0.10")
		defer c.Close()
		c.Ehlo("client10.test")
		c.Mail("a@good.test")
		c.Rcpt("b@good.test")
		r := c.Data("From: <a@good.test>\r\nSubject: id\r\n\r\nbody\r\n")
		qid := r.QueueID()
		if r.Code != 250 || qid == "" {
			t.Fatalf("DATA: %s", r)
		}
		s.mx.waitLog(t, "queue_id="+qid)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := s.pf.WaitLog(ctx, qid+": removed"); err != nil {
			t.Errorf("Postfix did not finish %s: %v", qid, err)
		}
	})
}

// SIGHUP during a stream of messages: no session fails. The reloads are
// sent at fixed points of the stream (after 4, 12 and 20 of 32 messages),
// so they land while other sessions are open.
func TestPostfixReloadDuringStream(t *testing.T) {
	s := startPostfixSuite(t)
	const clients, messages = 4, 8
	var wg sync.WaitGroup
	done := make(chan string, clients*messages)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for m := 0; m < messages; m++ {
				// Plain SMTP from this goroutine: errors go through the
				// channel, since only the test goroutine may fail the test.
				r, err := smtpOnce(s.pf.SMTPAddr(), fmt.Sprintf("127.0.0.%d", 20+i%2), "a@good.test", "b@good.test")
				switch {
				case err != nil:
					done <- err.Error()
				case !strings.HasPrefix(r, "250"):
					done <- "message refused: " + r
				default:
					done <- ""
				}
			}
		}(i)
	}
	reloads := 0
	for n := 1; n <= clients*messages; n++ {
		if e := <-done; e != "" {
			t.Error(e)
		}
		if n == 4 || n == 12 || n == 20 {
			s.mx.cmd.Process.Signal(syscall.SIGHUP)
			s.mx.waitLog(t, "configuration reloaded")
			reloads++
		}
	}
	wg.Wait()
	if reloads != 3 {
		t.Errorf("%d reloads, want 3", reloads)
	}
}

// mxguard stopped while Postfix runs: Postfix answers 4xx
// (milter_default_action = tempfail) and nothing is accepted unchecked or
// lost; SIGTERM lets an in-flight session finish first.
func TestPostfixMilterStopped(t *testing.T) {
	s := startPostfixSuite(t)
	// A session in flight when SIGTERM comes finishes its message.
	c := s.pf.Dial(t, "127.0.0.10")
	defer c.Close()
	c.Ehlo("client10.test")
	if r := c.Mail("a@good.test"); r.Code != 250 {
		t.Fatal(r)
	}
	s.mx.cmd.Process.Signal(syscall.SIGTERM)
	s.mx.waitLog(t, "shutting down")
	if r := c.Rcpt("b@good.test"); r.Code != 250 {
		t.Errorf("in-flight RCPT after SIGTERM: %s", r)
	}
	if r := c.Data("From: <a@good.test>\r\nSubject: in flight\r\n\r\nbody\r\n"); r.Code != 250 {
		t.Errorf("in-flight DATA after SIGTERM: %s", r)
	}
	c.Quit()
	s.mx.waitLog(t, "mxguard stopped")
	s.mx.cmd.Wait()

	// Now mxguard is gone: the next message is deferred, not accepted.
	c2 := s.pf.Dial(t, "127.0.0.10")
	defer c2.Close()
	c2.Ehlo("client10.test")
	r := c2.Mail("a@good.test")
	if r.Code != 451 || r.Enhanced != "4.7.1" {
		t.Errorf("with mxguard down, MAIL got %s; want 451 4.7.1 (milter_default_action = tempfail)", r)
	}
}

// The README's main.cf lines are the ones the suite runs.
func TestReadmePostfixLines(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(postfixtest.RecommendedMainCF, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !strings.Contains(string(readme), "\n"+l+"\n") {
			t.Errorf("README lacks the main.cf line the suite uses: %q", l)
		}
	}
}

// smtpOnce sends one message from src and returns the last reply (the
// RCPT's if it was refused, else DATA's). It reports errors instead of
// failing the test, so it can run in goroutines.
func smtpOnce(addr, src, from, rcpt string) (string, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 30 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	tp := textproto.NewConn(conn)
	expect := func(code int) (string, error) {
		c, msg, err := tp.ReadResponse(code)
		if err != nil {
			return fmt.Sprintf("%d %s", c, msg), fmt.Errorf("from %s: %w", src, err)
		}
		return fmt.Sprintf("%d %s", c, msg), nil
	}
	if _, err := expect(220); err != nil {
		return "", err
	}
	steps := []struct {
		cmd  string
		code int
	}{
		{"EHLO client20.test", 250}, {"MAIL FROM:<" + from + ">", 250}, {"RCPT TO:<" + rcpt + ">", 250}, {"DATA", 354},
		{"From: <" + from + ">\r\nSubject: stream\r\n\r\nbody\r\n.", 250},
	}
	var last string
	for _, s := range steps {
		if err := tp.PrintfLine("%s", s.cmd); err != nil {
			return "", err
		}
		if last, err = expect(s.code); err != nil {
			return last, err
		}
	}
	tp.PrintfLine("QUIT")
	return last, nil
}

// Through real Postfix: our Authentication-Results header is inserted at
// the top, the forged ones claiming our authserv-id are gone, another
// server's stays, and a DMARC quarantine puts the message on hold. The
// held message is read back with postcat.
func TestPostfixAuthenticationResults(t *testing.T) {
	s := startPostfixSuite(t)
	c := s.pf.Dial(t, "127.0.0.10")
	defer c.Close()
	c.Ehlo("client10.test")
	if r := c.Mail("a@quar.test"); r.Code != 250 {
		t.Fatal(r)
	}
	if r := c.Rcpt("b@good.test"); r.Code != 250 {
		t.Fatal(r)
	}
	msg := "Authentication-Results: mx.mxguard.test; dmarc=pass header.from=quar.test\r\n" +
		"Authentication-Results: other.example; spf=pass smtp.mailfrom=quar.test\r\n" +
		"Authentication-Results: (forged)\r\n MX.MXGUARD.TEST; dkim=pass header.d=quar.test\r\n" +
		"From: <a@quar.test>\r\nTo: <b@good.test>\r\nSubject: held\r\nMessage-ID: <held@quar.test>\r\n\r\nbody\r\n"
	r := c.Data(msg)
	qid := r.QueueID()
	if r.Code != 250 || qid == "" {
		t.Fatalf("DATA: %s", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s.pf.WaitLog(ctx, qid+": milter-hold"); err != nil {
		t.Fatalf("no milter-hold for %s (DMARC p=quarantine): %v", qid, err)
	}
	out, err := exec.Command("postcat", "-c", s.pf.ConfigDir(), "-hq", qid).CombinedOutput()
	if err != nil {
		t.Fatalf("postcat: %v\n%s", err, out)
	}
	var fields []string
	for _, l := range strings.Split(string(out), "\n") {
		if l == "" || l[0] == ' ' || l[0] == '\t' {
			if len(fields) > 0 && l != "" {
				fields[len(fields)-1] += "\n" + l
			}
			continue
		}
		fields = append(fields, l)
	}
	var ars []string
	firstAR, fromAt := -1, -1
	for i, f := range fields {
		if strings.HasPrefix(strings.ToLower(f), "authentication-results:") {
			ars = append(ars, f)
			if firstAR < 0 {
				firstAR = i
			}
		}
		if strings.HasPrefix(f, "From:") && fromAt < 0 {
			fromAt = i
		}
	}
	if len(ars) != 2 {
		t.Fatalf("want our header and other.example's, got %d:\n%s", len(ars), out)
	}
	ours := ars[0]
	if !strings.HasPrefix(ours, "Authentication-Results: mx.mxguard.test;") || !strings.Contains(ours, "dmarc=fail") ||
		!strings.Contains(ours, "spf=neutral") || !strings.Contains(ours, "iprev=pass") {
		t.Errorf("our header is not first or not right:\n%s", out)
	}
	if !strings.Contains(ars[1], "other.example") {
		t.Errorf("another server's header was removed:\n%s", out)
	}
	if firstAR > fromAt {
		t.Errorf("our header is below From:\n%s", out)
	}
	t.Logf("headers as Postfix queued them:\n%s", out)
}

// Through real Postfix: a DKIM signature made here verifies from the
// header fields as Postfix's milter protocol delivers them (leading space
// stripped, folding as LF), DMARC passes, and a DNSBL listing gives
// Postfix's reply at RCPT. Every message is held (header_checks HOLD) so
// that postcat can show what Postfix queued.
func TestPostfixDKIMAndDNSBL(t *testing.T) {
	s := startPostfixSuiteWith(t,
		map[string]string{"client:\n": "client:\n  - rbl: zen.test=127.0.0.[2..11]\n"},
		map[string]string{"header_checks": "static:HOLD"})
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.dns.AddZone(fmt.Sprintf("$ORIGIN _domainkey.good.test.\npf IN TXT \"v=DKIM1; k=ed25519; p=%s\"\n",
		base64.StdEncoding.EncodeToString(pub))); err != nil {
		t.Fatal(err)
	}
	msg := "From: Alice <a@good.test>\r\nTo: <b@good.test>\r\nSubject: signed\r\n" +
		"X-Folded: one\r\n two\r\nMessage-ID: <signed@good.test>\r\n\r\nHello.\r\n"
	var signed bytes.Buffer
	if err := msgdkim.Sign(&signed, strings.NewReader(msg), &msgdkim.SignOptions{Domain: "good.test", Selector: "pf", Signer: priv,
		HeaderKeys: []string{"From", "To", "Subject", "X-Folded", "Message-ID"}}); err != nil {
		t.Fatal(err)
	}
	c := s.pf.Dial(t, "127.0.0.10")
	defer c.Close()
	c.Ehlo("client10.test")
	c.Mail("a@good.test")
	if r := c.Rcpt("b@good.test"); r.Code != 250 {
		t.Fatal(r)
	}
	r := c.Data(signed.String())
	qid := r.QueueID()
	if r.Code != 250 || qid == "" {
		t.Fatalf("DATA: %s", r)
	}
	out, err := exec.Command("postcat", "-c", s.pf.ConfigDir(), "-hq", qid).CombinedOutput()
	if err != nil {
		t.Fatalf("postcat: %v\n%s", err, out)
	}
	for _, want := range []string{"dkim=pass header.d=good.test header.s=pf header.a=ed25519-sha256", "dmarc=pass header.from=good.test", "spf=pass"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the queued message's Authentication-Results lacks %q:\n%s", want, out)
		}
	}
	// A listed client: Postfix sends mxguard's DNSBL reply.
	c2 := s.pf.Dial(t, "127.0.0.21")
	defer c2.Close()
	c2.Ehlo("client21.test")
	c2.Mail("a@good.test")
	if got := c2.Rcpt("b@good.test").String(); got != "554 5.7.1 Service unavailable; Client host [127.0.0.21] blocked using zen.test" {
		t.Errorf("listed client: %q", got)
	}
}
