package main

// These tests run the mxguard binary as a user would: built once, started
// with real flags and files, against the loopback DNS fixture.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"

	"github.com/mxguard/mxguard/internal/dnstest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mxguard-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "mxguard")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func startDNS(t *testing.T) *dnstest.Server {
	t.Helper()
	files, _ := filepath.Glob("../../testdata/zones/*.zone")
	var opts []dnstest.Option
	for _, f := range files {
		opts = append(opts, dnstest.WithZoneFile(f))
	}
	return dnstest.Start(t, opts...)
}

const testConfig = `
listen: inet:127.0.0.1:%d
hostname: mx.mxguard.test
trusted_networks: []
dns: {servers: [%s], timeout: 400ms, attempts: 1}
state_dir: %s
codes: {unknown_address_reject_code: 550}
client: [unknown_reverse_client_hostname]
helo: [invalid_helo_hostname, non_fqdn_helo_hostname]
sender: [non_fqdn_sender, unknown_sender_domain]
recipient: [non_fqdn_recipient, unknown_recipient_domain]
`

func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "mxguard.yml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func mxguard(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestCheckJSON(t *testing.T) {
	dns := startDNS(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(testConfig, 8891, dns.Addr(), dir))
	type out struct {
		Action, Stage, Enhanced, Text, Check, Reason string
		Code                                         int
		Checks                                       []struct{ Name, Stage, Status, Action string }
	}
	check := func(args ...string) out {
		t.Helper()
		so, se, code := mxguard(t, append([]string{"check", "-c", cfg, "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, se)
		}
		var o out
		if err := json.Unmarshal([]byte(so), &o); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, so)
		}
		return o
	}
	o := check("--ip", "192.0.2.12", "--helo", "mail.good.test", "--from", "a@good.test", "--rcpt", "b@good.test")
	// Postfix's default unknown_client_reject_code is 450.
	if o.Action != "tempfail" || o.Stage != "rcpt" || o.Code != 450 || o.Enhanced != "4.7.1" ||
		o.Check != "unknown_reverse_client_hostname" ||
		o.Text != "Client host rejected: cannot find your reverse hostname, [192.0.2.12]" {
		t.Errorf("no PTR: %+v", o)
	}
	found := false
	for _, c := range o.Checks {
		if c.Name == "unknown_reverse_client_hostname" && c.Stage == "connect" && c.Status == "fail" && c.Action == "reject" {
			found = true
		}
	}
	if !found {
		t.Errorf("checks list lacks the failing rdns check: %+v", o.Checks)
	}
	o = check("--ip", "192.0.2.10", "--helo", "mail.good.test", "--from", "a@good.test", "--rcpt", "b@good.test")
	if o.Action != "continue" || o.Code != 0 {
		t.Errorf("clean: %+v", o)
	}
	o = check("--ip", "192.0.2.10", "--helo", "mail.good.test", "--from", "<>", "--rcpt", "b@nullmx.test")
	if o.Action != "reject" || o.Code != 556 || o.Enhanced != "5.1.10" {
		t.Errorf("null sender to null MX recipient: %+v", o)
	}
	o = check("--ip", "192.0.2.10", "--helo", "mail.good.test", "--from", "a@tempfail.test", "--rcpt", "b@good.test")
	if o.Action != "tempfail" || o.Code != 450 || o.Enhanced != "4.1.8" {
		t.Errorf("sender SERVFAIL: %+v", o)
	}
	o = check("--ip", "192.0.2.12", "--auth", "alice", "--from", "a@nx.test", "--rcpt", "b@nx.test")
	if o.Action != "accept" {
		t.Errorf("authenticated: %+v", o)
	}
}

func TestCheckUsageAndConfigErrors(t *testing.T) {
	if _, se, code := mxguard(t, "check", "--ip", "not-an-ip"); code != 2 || !strings.Contains(se, "--ip") {
		t.Errorf("bad --ip: exit %d, %q", code, se)
	}
	dir := t.TempDir()
	bad := writeConfig(t, dir, "listen: inet:127.0.0.1:8891\ndns:\n  timeout: five\nclient: [unknown_client_hostnme]\n")
	_, se, code := mxguard(t, "config", "check", "-c", bad)
	if code != 1 {
		t.Errorf("config check of a bad file: exit %d", code)
	}
	for _, want := range []string{bad, "dns.timeout", "unknown_client_hostname"} {
		if !strings.Contains(se, want) {
			t.Errorf("config check error lacks %q:\n%s", want, se)
		}
	}
	if _, se, code := mxguard(t, "check", "-c", bad, "--ip", "192.0.2.1"); code != 2 || !strings.Contains(se, "dns.timeout") {
		t.Errorf("check with a bad config: exit %d, %q", code, se)
	}
	so, _, code := mxguard(t, "config", "check")
	if code != 0 || !strings.Contains(so, "listen: inet:127.0.0.1:8891") {
		t.Errorf("config check of the default: exit %d\n%s", code, so)
	}
	if so, _, code := mxguard(t, "version"); code != 0 || !strings.HasPrefix(so, "mxguard ") {
		t.Errorf("version: %d %q", code, so)
	}
	if _, _, code := mxguard(t, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
}

// server is a running `mxguard serve` whose log lines can be awaited.
type server struct {
	cmd   *exec.Cmd
	lines chan string
	log   strings.Builder
	addr  string
}

func startServer(t *testing.T, cfgPath string, port int) *server {
	t.Helper()
	s := &server{cmd: exec.Command(binary, "serve", "-c", cfgPath), lines: make(chan string, 1000),
		addr: fmt.Sprintf("127.0.0.1:%d", port)}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	t.Cleanup(func() { s.cmd.Process.Kill(); s.cmd.Wait() })
	s.waitLog(t, "mxguard started")
	return s
}

// waitLog reads log lines until one contains want; the process's own
// output is the synchronisation, bounded by a deadline.
func (s *server) waitLog(t *testing.T, want string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("mxguard exited before logging %q:\n%s", want, s.log.String())
			}
			s.log.WriteString(l + "\n")
			if strings.Contains(l, want) {
				return l
			}
		case <-deadline:
			t.Fatalf("no log line %q:\n%s", want, s.log.String())
		}
	}
}

func (s *server) session(t *testing.T) *gomilter.ClientSession {
	t.Helper()
	cl := gomilter.NewClientWithOptions("tcp", s.addr, gomilter.ClientOptions{
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		ActionMask: gomilter.OptAddHeader | gomilter.OptChangeHeader | gomilter.OptQuarantine,
	})
	sess, err := cl.Session()
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	return sess
}

func rcptReply(t *testing.T, sess *gomilter.ClientSession, ip, helo, from, rcpt string) string {
	t.Helper()
	if _, err := sess.Conn("["+ip+"]", gomilter.FamilyInet, 40000, ip); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Helo(helo); err != nil {
		t.Fatal(err)
	}
	return mailRcpt(t, sess, from, rcpt)
}

func mailRcpt(t *testing.T, sess *gomilter.ClientSession, from, rcpt string) string {
	t.Helper()
	if err := sess.Macros(gomilter.CodeMail, "i", "4XyZ1"); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Mail("<"+from+">", nil); err != nil {
		t.Fatal(err)
	}
	act, err := sess.Rcpt("<"+rcpt+">", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Abort(); err != nil {
		t.Fatal(err)
	}
	if act.Code == gomilter.ActReplyCode {
		return fmt.Sprintf("%d %s", act.SMTPCode, act.SMTPText)
	}
	return "250"
}

func TestServeLogReloadAndDrain(t *testing.T) {
	dns := startDNS(t)
	dir := t.TempDir()
	port := freePort(t)
	cfgText := fmt.Sprintf(testConfig, port, dns.Addr(), dir)
	cfg := writeConfig(t, dir, cfgText)
	s := startServer(t, cfg, port)

	// A reject, and its log line with the fields a postmaster greps for.
	sess := s.session(t)
	got := rcptReply(t, sess, "192.0.2.10", "mail.good.test", "a@nx.test", "b@good.test")
	if got != "550 5.1.8 <a@nx.test>: Sender address rejected: Domain not found" {
		t.Fatalf("reject: %q", got)
	}
	line := s.waitLog(t, "msg=verdict")
	for _, f := range []string{"queue_id=4XyZ1", "client=unknown[192.0.2.10]", "helo=mail.good.test", "from=a@nx.test",
		"rcpt=b@good.test", "check=unknown_sender_domain", "status=fail", "action=reject", "code=550", "enhanced=5.1.8", "reason="} {
		if !strings.Contains(line, f) {
			t.Errorf("log line lacks %s:\n%s", f, line)
		}
	}

	// Reload with a config that no longer checks the sender domain: the
	// open session sees it at its next transaction.
	writeConfig(t, dir, strings.Replace(cfgText, "sender: [non_fqdn_sender, unknown_sender_domain]", "sender: [non_fqdn_sender]", 1))
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitLog(t, "configuration reloaded")
	if got := mailRcpt(t, sess, "a@nx.test", "b@good.test"); got != "250" {
		t.Errorf("after reload: %q", got)
	}
	// A broken config keeps the running one.
	writeConfig(t, dir, "dns: {timeout: soon}\n")
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitLog(t, "reload failed")
	if got := mailRcpt(t, sess, "a@nx.test", "user@localhost"); !strings.HasPrefix(got, "504 5.5.2") {
		t.Errorf("after a failed reload: %q", got)
	}

	// SIGTERM while a session is open: it keeps working until it ends.
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.waitLog(t, "shutting down")
	if got := mailRcpt(t, sess, "a@nx.test", "b@good.test"); got != "250" {
		t.Errorf("in-flight session after SIGTERM: %q", got)
	}
	sess.Close()
	s.waitLog(t, "mxguard stopped")
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
	if _, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
		t.Error("still listening after SIGTERM")
	}
}

// Garbage on the milter socket closes that connection only.
func TestGarbageOnSocket(t *testing.T) {
	dns := startDNS(t)
	dir := t.TempDir()
	port := freePort(t)
	s := startServer(t, writeConfig(t, dir, fmt.Sprintf(testConfig, port, dns.Addr(), dir)), port)
	for _, junk := range []string{"\xff\xff\xff\xffjunk", "\x00\x00\x00\x00", "\x00\x00\x00\x05Zabcd", "GET / HTTP/1.0\r\n\r\n"} {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(junk))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c) // the server closes it
		c.Close()
	}
	sess := s.session(t)
	defer sess.Close()
	if got := rcptReply(t, sess, "192.0.2.10", "mail.good.test", "a@good.test", "b@good.test"); got != "250" {
		t.Errorf("after garbage: %q", got)
	}
}

// log.format: json from the environment gives one JSON object per line
// with the verdict's fields.
func TestJSONLogFromEnv(t *testing.T) {
	dns := startDNS(t)
	dir := t.TempDir()
	port := freePort(t)
	t.Setenv("MXGUARD_LOG_FORMAT", "json")
	s := startServer(t, writeConfig(t, dir, fmt.Sprintf(testConfig, port, dns.Addr(), dir)), port)
	sess := s.session(t)
	defer sess.Close()
	rcptReply(t, sess, "192.0.2.12", "mail.good.test", "a@good.test", "b@good.test")
	line := s.waitLog(t, `"msg":"verdict"`)
	var v map[string]any
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, line)
	}
	if v["queue_id"] != "4XyZ1" || v["check"] != "unknown_reverse_client_hostname" || v["code"] != float64(450) ||
		v["enhanced"] != "4.7.1" || v["client"] != "unknown[192.0.2.12]" {
		t.Errorf("JSON verdict: %v", v)
	}
}

// Prometheus metrics on metrics.listen, scraped after a run.
func TestMetrics(t *testing.T) {
	dns := startDNS(t)
	dir := t.TempDir()
	port, mport := freePort(t), freePort(t)
	cfg := writeConfig(t, dir, fmt.Sprintf(testConfig, port, dns.Addr(), dir)+fmt.Sprintf("metrics: {listen: \"127.0.0.1:%d\"}\n", mport))
	s := startServer(t, cfg, port)
	sess := s.session(t)
	defer sess.Close()
	if got := rcptReply(t, sess, "192.0.2.10", "mail.good.test", "a@nx.test", "b@good.test"); !strings.HasPrefix(got, "550 5.1.8") {
		t.Fatalf("reject: %q", got)
	}
	// The same domain again: answered from the cache.
	mailRcpt(t, sess, "a@nx.test", "b@good.test")
	// A whole message, for the end-of-data metrics.
	sess.Macros(gomilter.CodeMail, "i", "4XyZ2")
	sess.Mail("<a@good.test>", nil)
	sess.Rcpt("<b@good.test>", nil)
	sess.HeaderField("From", "<a@good.test>")
	sess.HeaderEnd()
	sess.BodyChunk([]byte("hi\r\n"))
	if _, act, err := sess.End(); err != nil || act.Code != gomilter.ActContinue {
		t.Fatalf("end of message: %v %v", act, err)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitLog(t, "configuration reloaded")

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", mport))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	for _, want := range []string{
		`mxguard_verdicts_total{action="reject",check="unknown_sender_domain"} 2`,
		`mxguard_check_results_total{action="reject",check="unknown_sender_domain",status="fail"} 2`,
		`mxguard_check_duration_seconds_count{check="unknown_reverse_client_hostname",status="pass"} 3`,
		`mxguard_dns_queries_total{qtype="MX",rcode="NXDOMAIN"} 1`,
		`mxguard_dns_queries_total{qtype="PTR",rcode="NOERROR"} 1`,
		`mxguard_sessions_active 1`,
		`mxguard_reloads_total{result="ok"} 1`,
		`mxguard_reloads_total{result="error"} 0`,
		`mxguard_auth_results_total{method="spf",result="pass"} 1`,
		`mxguard_auth_results_total{method="dmarc",result="pass"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !strings.Contains(text, "mxguard_dns_cache_hits_total") || strings.Contains(text, "mxguard_dns_cache_hits_total 0\n") {
		t.Errorf("no cache hits counted:\n%s", grepMetric(text, "mxguard_dns_cache"))
	}
}

func grepMetric(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// check --message runs the end-of-data stage on a file and prints the
// auth object of DESIGN.md §3.
func TestCheckMessageAuth(t *testing.T) {
	dns := startDNS(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(testConfig, 8891, dns.Addr(), dir))
	so, se, code := mxguard(t, "check", "-c", cfg, "--json", "--ip", "192.0.2.20", "--helo", "aonly.test",
		"--from", "x@aonly.test", "--rcpt", "b@good.test", "--message", "testdata/spoof.eml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, se)
	}
	var o struct {
		Action, Stage, Enhanced, Text, Check string
		Code                                 int
		Auth                                 struct {
			SPF   struct{ Result, Domain, Identity string }
			DKIM  []struct{ Result string }
			DMARC struct{ Result, Domain, Policy, Disposition string }
		}
		HeadersAdded []string `json:"headers_added"`
	}
	if err := json.Unmarshal([]byte(so), &o); err != nil {
		t.Fatalf("%v\n%s", err, so)
	}
	if o.Action != "reject" || o.Stage != "eom" || o.Code != 550 || o.Enhanced != "5.7.1" || o.Check != "dmarc" ||
		o.Text != "Email rejected per DMARC policy for good.test" {
		t.Errorf("spoof verdict: %s", so)
	}
	if o.Auth.SPF.Result != "none" || o.Auth.SPF.Domain != "aonly.test" || o.Auth.SPF.Identity != "mailfrom" ||
		o.Auth.DMARC.Result != "fail" || o.Auth.DMARC.Domain != "good.test" || o.Auth.DMARC.Policy != "reject" ||
		o.Auth.DMARC.Disposition != "reject" {
		t.Errorf("auth object: %s", so)
	}
	if len(o.HeadersAdded) != 1 || !strings.HasPrefix(o.HeadersAdded[0], "Authentication-Results: mx.mxguard.test;") ||
		!strings.Contains(o.HeadersAdded[0], "dmarc=fail") {
		t.Errorf("headers_added: %q", o.HeadersAdded)
	}
}

// A DNS list zone holding a key never shows in the log, even in the
// resolver's debug lines.
func TestLogRedactsListKeys(t *testing.T) {
	dns := startDNS(t)
	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf(testConfig, port, dns.Addr(), dir) + "log: {level: debug}\n"
	cfg = strings.Replace(cfg, "client: [unknown_reverse_client_hostname]",
		`client: [{rbl: {zone: "k3y0s3cr3t0k3y0abc.zen.dq.test=127.0.0.[2..11]", name: zen.dq.example}}]`, 1)
	s := startServer(t, writeConfig(t, dir, cfg), port)
	sess := s.session(t)
	got := rcptReply(t, sess, "192.0.2.31", "mail.good.test", "a@good.test", "b@good.test")
	if got != "554 5.7.1 Service unavailable; Client host [192.0.2.31] blocked using zen.dq.example" {
		t.Errorf("reply: %q", got)
	}
	sess.Close()
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.waitLog(t, "mxguard stopped")
	if strings.Contains(s.log.String(), "k3y0s3cr3t0k3y0abc") {
		t.Errorf("the key is in the log:\n%s", s.log.String())
	}
	if !strings.Contains(s.log.String(), "zen.dq.example") {
		t.Errorf("no debug line names the list:\n%s", s.log.String())
	}
}
