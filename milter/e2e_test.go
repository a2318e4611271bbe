package milter_test

// End-to-end tests: the real milter server on loopback, driven by
// go-milter's client through whole transactions, against the loopback
// DNS fixture serving testdata/zones. Each case asserts the exact reply
// code, enhanced status code and text that Postfix would send.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"

	"github.com/mxguard/mxguard/checks/pipeline"
	"github.com/mxguard/mxguard/config"
	"github.com/mxguard/mxguard/internal/dnstest"
	"github.com/mxguard/mxguard/milter"
	"github.com/mxguard/mxguard/resolver"
	"log/slog"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	dns  *dnstest.Server
	addr string
	logs *syncBuffer
	srv  *milter.Server
}

func zoneFiles(t testing.TB) []dnstest.Option {
	t.Helper()
	files, err := filepath.Glob("../testdata/zones/*.zone")
	if err != nil || len(files) == 0 {
		t.Fatalf("no zone files: %v", err)
	}
	var opts []dnstest.Option
	for _, f := range files {
		opts = append(opts, dnstest.WithZoneFile(f))
	}
	return opts
}

// baseConfig is the test configuration: everything rejects, nothing is
// trusted, names resolve through the fixture. %s is the DNS server.
const baseConfig = `
hostname: mx.mxguard.test
local_names: [mx.mxguard.test, 192.0.2.2]
dns: {servers: [%s], timeout: 400ms, attempts: 1}
codes:
  unknown_client_reject_code: 550
  unknown_hostname_reject_code: 550
  unknown_address_reject_code: 550
`

const fullLists = `
trusted_networks: []
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

func newHarness(t testing.TB, extra string) *harness {
	t.Helper()
	h := &harness{dns: dnstest.Start(t, zoneFiles(t)...), logs: &syncBuffer{}}
	lastHarness = h
	text := fmt.Sprintf(baseConfig, h.dns.Addr()) + extra
	path := filepath.Join(t.TempDir(), "mxguard.yml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	res, err := resolver.New(resolver.Config{Servers: cfg.DNS.Servers, Timeout: cfg.DNS.Timeout, Attempts: cfg.DNS.Attempts})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := pipeline.FromConfig(cfg, log)
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	h.srv = &milter.Server{Engine: func() *pipeline.Engine { return eng }, Resolver: res, Log: log}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	go h.srv.Serve(ln)
	t.Cleanup(func() { ln.Close() })
	return h
}

func (h *harness) session(t testing.TB) *gomilter.ClientSession {
	t.Helper()
	s := h.dial(t)
	t.Cleanup(func() { s.Close() })
	return s
}

// dial opens a milter session; the caller closes it.
func (h *harness) dial(t testing.TB) *gomilter.ClientSession {
	t.Helper()
	cl := gomilter.NewClientWithOptions("tcp", h.addr, gomilter.ClientOptions{
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		// go-milter's server announces protocol version 2: offer its masks.
		ActionMask:   gomilter.OptAddHeader | gomilter.OptChangeHeader | gomilter.OptQuarantine,
		ProtocolMask: 0,
	})
	s, err := cl.Session()
	if err != nil {
		t.Fatalf("milter session: %v", err)
	}
	return s
}

// reply renders an action as the SMTP client would see it: "250" for a
// continue, "CODE TEXT" for a reply code.
func reply(act *gomilter.Action, err error) string {
	if err != nil {
		return "milter error: " + err.Error()
	}
	switch act.Code {
	case gomilter.ActContinue:
		return "250"
	case gomilter.ActReplyCode:
		return fmt.Sprintf("%d %s", act.SMTPCode, act.SMTPText)
	}
	return "action " + string(rune(act.Code))
}

// tx is one transaction: each step's expected reply ("250" = go on). An
// empty expectation is not checked.
type tx struct {
	helo, from string
	rcpts      []string
	want       []string // one per rcpt
	wantMail   string
}

func connect(t *testing.T, s *gomilter.ClientSession, ip string) string {
	t.Cleanup(func() {
		if t.Failed() && lastHarness != nil {
			t.Log(lastHarness.logs.String())
		}
	})
	t.Helper()
	fam := gomilter.FamilyInet
	if strings.Contains(ip, ":") {
		fam = gomilter.FamilyInet6
	}
	act, err := s.Conn("["+ip+"]", fam, 40000, ip)
	return reply(act, err)
}

func run(t *testing.T, s *gomilter.ClientSession, x tx) {
	t.Helper()
	if x.helo != "" {
		if got := reply(s.Helo(x.helo)); got != "250" {
			t.Fatalf("HELO %s: got %q", x.helo, got)
		}
	}
	if err := s.Macros(gomilter.CodeMail, "i", "QID"+strings.ToUpper(strings.ReplaceAll(x.from, "@", "."))); err != nil {
		t.Fatal(err)
	}
	got := reply(s.Mail("<"+x.from+">", nil))
	want := x.wantMail
	if want == "" {
		want = "250"
	}
	if got != want {
		t.Fatalf("MAIL FROM:<%s>: got %q, want %q", x.from, got, want)
	}
	if got != "250" {
		return
	}
	accepted := 0
	for i, r := range x.rcpts {
		got := reply(s.Rcpt("<"+r+">", nil))
		if i < len(x.want) && x.want[i] != "" && got != x.want[i] {
			t.Errorf("HELO %s MAIL FROM:<%s> RCPT TO:<%s>:\n got  %q\n want %q", x.helo, x.from, r, got, x.want[i])
		}
		if got == "250" {
			accepted++
		}
	}
	if accepted == 0 {
		if err := s.Abort(); err != nil {
			t.Fatal(err)
		}
		return
	}
	_, act, err := s.End()
	if got := reply(act, err); got != "250" {
		t.Errorf("end of message: got %q, want accept", got)
	}
}

func TestEarlyChecks(t *testing.T) {
	h := newHarness(t, fullLists)
	cases := []struct {
		name string
		ip   string
		tx   tx
	}{
		{"clean", "192.0.2.10", tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"b@good.test"}, want: []string{"250"}}},
		{"ipv6 clean", "2001:db8::25", tx{helo: "mail6.good.test", from: "a@good.test", rcpts: []string{"b@good.test"}, want: []string{"250"}}},
		{"no PTR", "192.0.2.12", tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"550 5.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.12]"}}},
		{"PTR SERVFAIL is a final 450", "192.0.2.13", tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.13]"}}},
		{"forged PTR", "192.0.2.11", tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.11]"}}},
		{"PTR name does not exist", "192.0.2.17", tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.17]"}}},
		{"forward lookup SERVFAIL", "192.0.2.16", tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.16]"}}},
		{"forward lookup timeout", "192.0.2.14", tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.14]"}}},
		{"numeric PTR", "192.0.2.15", tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"550 5.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.15]"}}},
		{"invalid HELO", "192.0.2.10", tx{helo: "bad_helo!", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"501 5.5.2 <bad_helo!>: Helo command rejected: Invalid name"}}},
		{"invalid HELO literal", "192.0.2.10", tx{helo: "[::1]", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"501 5.5.2 <[::1]>: Helo command rejected: invalid ip address"}}},
		{"non-FQDN HELO", "192.0.2.10", tx{helo: "mailhost", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"504 5.5.2 <mailhost>: Helo command rejected: need fully-qualified hostname"}}},
		{"bare IP HELO", "192.0.2.10", tx{helo: "192.0.2.10", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"504 5.5.2 <192.0.2.10>: Helo command rejected: need fully-qualified hostname"}}},
		{"address literal HELO", "192.0.2.10", tx{helo: "[192.0.2.10]", from: "a@good.test", rcpts: []string{"b@good.test"}, want: []string{"250"}}},
		{"HELO impersonates us", "192.0.2.10", tx{helo: "mx.mxguard.test", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"550 5.7.1 <mx.mxguard.test>: Helo command rejected: Host name impersonation"}}},
		{"HELO our address", "192.0.2.10", tx{helo: "[192.0.2.2]", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"550 5.7.1 <[192.0.2.2]>: Helo command rejected: Host name impersonation"}}},
		{"unknown HELO", "192.0.2.10", tx{helo: "nohost.test", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"550 5.7.1 <nohost.test>: Helo command rejected: Host not found"}}},
		{"HELO with MX only", "192.0.2.10", tx{helo: "helo-mx.test", from: "a@good.test", rcpts: []string{"b@good.test"}, want: []string{"250"}}},
		{"HELO with null MX", "192.0.2.10", tx{helo: "helo-nullmx.test", from: "a@good.test", rcpts: []string{"b@good.test"}, want: []string{"250"}}},
		{"HELO SERVFAIL defers if permitted", "192.0.2.10", tx{helo: "helo-servfail.test", from: "a@good.test", rcpts: []string{"b@good.test"},
			want: []string{"450 4.7.1 <helo-servfail.test>: Helo command rejected: Host not found"}}},
		{"HELO SERVFAIL, later 5xx wins", "192.0.2.10", tx{helo: "helo-servfail.test", from: "a@nx.test", rcpts: []string{"b@good.test"},
			want: []string{"550 5.1.8 <a@nx.test>: Sender address rejected: Domain not found"}}},
		{"non-FQDN sender", "192.0.2.10", tx{helo: "mail.good.test", from: "user@localhost", rcpts: []string{"b@good.test"},
			want: []string{"504 5.5.2 <user@localhost>: Sender address rejected: need fully-qualified address"}}},
		{"unknown sender domain", "192.0.2.10", tx{helo: "mail.good.test", from: "a@nx.test", rcpts: []string{"b@good.test"},
			want: []string{"550 5.1.8 <a@nx.test>: Sender address rejected: Domain not found"}}},
		{"sender domain without records", "192.0.2.10", tx{helo: "mail.good.test", from: "a@nodata.test", rcpts: []string{"b@good.test"},
			want: []string{"550 5.1.8 <a@nodata.test>: Sender address rejected: Domain not found"}}},
		{"sender null MX", "192.0.2.10", tx{helo: "mail.good.test", from: "a@nullmx.test", rcpts: []string{"b@good.test"},
			want: []string{"550 5.7.27 <a@nullmx.test>: Sender address rejected: Domain nullmx.test does not accept mail (nullMX)"}}},
		{"sender domain SERVFAIL", "192.0.2.10", tx{helo: "mail.good.test", from: "a@tempfail.test", rcpts: []string{"b@good.test"},
			want: []string{"450 4.1.8 <a@tempfail.test>: Sender address rejected: Domain not found"}}},
		{"sender domain timeout", "192.0.2.10", tx{helo: "mail.good.test", from: "a@timeout.test", rcpts: []string{"b@good.test"},
			want: []string{"450 4.1.8 <a@timeout.test>: Sender address rejected: Domain not found"}}},
		{"sender MX SERVFAIL but A exists", "192.0.2.10", tx{helo: "mail.good.test", from: "a@mxfail.test", rcpts: []string{"b@good.test"}, want: []string{"250"}}},
		{"sender A only", "192.0.2.10", tx{helo: "mail.good.test", from: "a@aonly.test", rcpts: []string{"b@good.test"}, want: []string{"250"}}},
		{"sender AAAA only", "192.0.2.10", tx{helo: "mail.good.test", from: "a@aaaaonly.test", rcpts: []string{"b@good.test"}, want: []string{"250"}}},
		{"null sender", "192.0.2.10", tx{helo: "mail.good.test", from: "", rcpts: []string{"b@good.test"}, want: []string{"250"}}},
		{"recipients judged one by one", "192.0.2.10", tx{helo: "mail.good.test", from: "a@good.test",
			rcpts: []string{"b@nullmx.test", "c@nx.test", "d@good.test", "e@localhost", "f@tempfail.test"},
			want: []string{
				"556 5.1.10 <b@nullmx.test>: Recipient address rejected: Domain nullmx.test does not accept mail (nullMX)",
				"550 5.1.2 <c@nx.test>: Recipient address rejected: Domain not found",
				"250",
				"504 5.5.2 <e@localhost>: Recipient address rejected: need fully-qualified address",
				"450 4.1.2 <f@tempfail.test>: Recipient address rejected: Domain not found",
			}}},
		{"postmaster is never refused", "192.0.2.12", tx{helo: "mail.good.test", from: "a@good.test",
			rcpts: []string{"postmaster", "b@good.test"},
			want:  []string{"250", "550 5.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.12]"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := h.session(t)
			if got := connect(t, s, c.ip); got != "250" {
				t.Fatalf("connect: %q", got)
			}
			run(t, s, c.tx)
		})
	}
}

// Several transactions on one connection, with a per-recipient reject and
// an Abort in between: go-milter must keep the connection's data (the
// verdicts are reply codes, never final responses).
func TestSeveralTransactionsOneConnection(t *testing.T) {
	h := newHarness(t, fullLists)
	s := h.session(t)
	if got := connect(t, s, "192.0.2.10"); got != "250" {
		t.Fatalf("connect: %q", got)
	}
	run(t, s, tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"x@nx.test", "b@good.test"},
		want: []string{"550 5.1.2 <x@nx.test>: Recipient address rejected: Domain not found", "250"}})
	// Second transaction, no new HELO: the HELO must still be known.
	run(t, s, tx{from: "a@nx.test", rcpts: []string{"b@good.test"},
		want: []string{"550 5.1.8 <a@nx.test>: Sender address rejected: Domain not found"}})
	if err := s.Abort(); err != nil {
		t.Fatal(err)
	}
	run(t, s, tx{from: "c@good.test", rcpts: []string{"b@good.test"}, want: []string{"250"}})
	// A bad HELO later on the same connection is judged at the next RCPT.
	run(t, s, tx{helo: "nohost.test", from: "c@good.test", rcpts: []string{"b@good.test"},
		want: []string{"550 5.7.1 <nohost.test>: Helo command rejected: Host not found"}})
}

func TestHeloRequired(t *testing.T) {
	h := newHarness(t, fullLists)
	s := h.session(t)
	connect(t, s, "192.0.2.10")
	run(t, s, tx{from: "a@good.test", wantMail: "503 5.5.1 Error: send HELO/EHLO first"})
}

func TestTrustedAndAuthenticatedSkipChecks(t *testing.T) {
	h := newHarness(t, strings.Replace(fullLists, "trusted_networks: []", "trusted_networks: [192.0.2.12/32]", 1))
	s := h.session(t)
	connect(t, s, "192.0.2.12")
	run(t, s, tx{helo: "nohost.test", from: "a@nx.test", rcpts: []string{"b@nx.test"}, want: []string{"250"}})

	s2 := h.session(t)
	connect(t, s2, "192.0.2.13")
	if got := reply(s2.Helo("bad_helo!")); got != "250" {
		t.Fatal(got)
	}
	if err := s2.Macros(gomilter.CodeMail, "i", "AUTHQ", "{auth_type}", "PLAIN", "{auth_authen}", "alice"); err != nil {
		t.Fatal(err)
	}
	if got := reply(s2.Mail("<a@nx.test>", nil)); got != "250" {
		t.Fatalf("MAIL: %q", got)
	}
	if got := reply(s2.Rcpt("<b@nx.test>", nil)); got != "250" {
		t.Fatalf("authenticated RCPT: %q", got)
	}
}

var lastHarness *harness

func TestAccessTablesAndClasses(t *testing.T) {
	td, _ := filepath.Abs("testdata")
	h := newHarness(t, fmt.Sprintf(`
trusted_networks: []
classes:
  strict: [unknown_client_hostname]
client:
  - client_access: hash:%[1]s/client_access
  - unknown_reverse_client_hostname
sender:
  - sender_access: hash:%[1]s/sender_access
recipient:
  - check_client_access cidr:%[1]s/rbl_override.cidr
  - non_fqdn_recipient
  - reject
`, td))
	cases := []struct {
		name, ip, from, rcpt, want string
	}{
		// client_access REJECT with text (access_map_reject_code 554).
		{"client REJECT", "192.0.2.66", "a@good.test", "b@good.test", "554 5.7.1 <unknown[192.0.2.66]>: Client host rejected: Go away"},
		// DEFER_IF_PERMIT, then the recipient list's permit: deferred.
		{"client DEFER_IF_PERMIT", "192.0.2.20", "a@good.test", "b@good.test", "450 4.7.1 <aonly.test[192.0.2.20]>: Client host rejected: try later"},
		// OK by the verified client name ends the client list only: the
		// no-PTR check is skipped, the recipient list still runs and its
		// cidr OK permits before the final reject.
		{"client OK by name", "192.0.2.10", "a@good.test", "b@good.test", "250"},
		{"sender NNN text", "192.0.2.10", "spammer@good.test", "b@good.test", "550 5.7.1 <spammer@good.test>: Sender address rejected: You are not welcome"},
		// A class named by a sender table entry: strict rejects the forged client.
		{"class from a table result", "192.0.2.11", "a@grey.good.test", "b@good.test", "550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.11]"},
		{"final reject without override", "2001:db8::25", "a@good.test", "b@good.test", "554 5.7.1 <b@good.test>: Recipient address rejected: Access denied"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := h.session(t)
			connect(t, s, c.ip)
			run(t, s, tx{helo: "mail.good.test", from: c.from, rcpts: []string{c.rcpt}, want: []string{c.want}})
		})
	}
}

func TestWarnActionLogsAndAccepts(t *testing.T) {
	h := newHarness(t, `
trusted_networks: []
client:
  - unknown_client_hostname: {action: warn}
`)
	s := h.session(t)
	connect(t, s, "192.0.2.11")
	run(t, s, tx{helo: "mail.good.test", from: "a@good.test", rcpts: []string{"b@good.test"}, want: []string{"250"}})
	logs := h.logs.String()
	for _, want := range []string{"level=WARN msg=warn", "check=unknown_client_hostname", "action=warn", "code=550", "enhanced=5.7.25",
		"client=unknown[192.0.2.11]", `reason="hostname forged.good.test does not resolve to address 192.0.2.11"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("warn log lacks %q:\n%s", want, logs)
		}
	}
}

// Without delay_reject each list answers at its own stage, as Postfix
// with smtpd_delay_reject = no.
func TestNoDelayReject(t *testing.T) {
	h := newHarness(t, "delay_reject: false\n"+fullLists)
	s := h.session(t)
	if got := connect(t, s, "192.0.2.12"); got != "550 5.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.12]" {
		t.Errorf("connect: %q", got)
	}
	s2 := h.session(t)
	connect(t, s2, "192.0.2.10")
	if got := reply(s2.Helo("nohost.test")); got != "550 5.7.1 <nohost.test>: Helo command rejected: Host not found" {
		t.Errorf("HELO: %q", got)
	}
	s3 := h.session(t)
	connect(t, s3, "192.0.2.10")
	run(t, s3, tx{helo: "mail.good.test", from: "a@nx.test", wantMail: "550 5.1.8 <a@nx.test>: Sender address rejected: Domain not found"})
}
