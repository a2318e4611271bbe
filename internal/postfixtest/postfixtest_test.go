package postfixtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-milter"
	"github.com/miekg/dns"
)

// event is what the test milter saw at one stage.
type event struct {
	stage  string // connect, helo, mail, rcpt
	host   string // connect: the hostname Postfix passed
	addr   string // connect: the client address
	arg    string // helo name, sender, recipient
	macros map[string]string
}

// recorder collects the events of every milter session. Postfix calls the
// milter before it answers the SMTP command, so what the milter saw is
// recorded by the time the test reads the reply: no waiting needed.
type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) add(e event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// last returns the last event of stage whose connection came from addr.
func (r *recorder) last(stage, addr string) (event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.events) - 1; i >= 0; i-- {
		if e := r.events[i]; e.stage == stage && e.addr == addr {
			return e, true
		}
	}
	return event{}, false
}

func (r *recorder) count(stage, addr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.stage == stage && e.addr == addr {
			n++
		}
	}
	return n
}

// testMilter rejects recipients "reject@..." and records what it sees.
type testMilter struct {
	milter.NoOpMilter
	rec  *recorder
	addr string // of the connection, for the later stages
}

func (m *testMilter) Connect(host, family string, port uint16, addr net.IP, mod *milter.Modifier) (milter.Response, error) {
	m.addr = addr.String()
	m.rec.add(event{stage: "connect", host: host, addr: m.addr, macros: maps.Clone(mod.Macros)})
	return milter.RespContinue, nil
}

func (m *testMilter) Helo(name string, mod *milter.Modifier) (milter.Response, error) {
	m.rec.add(event{stage: "helo", addr: m.addr, arg: name, macros: maps.Clone(mod.Macros)})
	return milter.RespContinue, nil
}

func (m *testMilter) MailFrom(from string, mod *milter.Modifier) (milter.Response, error) {
	m.rec.add(event{stage: "mail", addr: m.addr, arg: from, macros: maps.Clone(mod.Macros)})
	return milter.RespContinue, nil
}

func (m *testMilter) RcptTo(to string, mod *milter.Modifier) (milter.Response, error) {
	m.rec.add(event{stage: "rcpt", addr: m.addr, arg: to, macros: maps.Clone(mod.Macros)})
	switch {
	case strings.HasPrefix(to, "reject@"):
		return milter.NewResponseStr('y', "550 5.7.1 test reject"), nil
	case strings.HasPrefix(to, "broken@"):
		// go-milter closes the milter connection; Postfix applies
		// milter_default_action.
		return nil, errors.New("test milter: broken on purpose")
	}
	return milter.RespContinue, nil
}

// startMilter serves testMilter on 127.0.0.1:random until stop or the end
// of the test.
func startMilter(t *testing.T) (addr string, rec *recorder, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec = &recorder{}
	// The server builds a fresh backend after a final response; the
	// connection's address would be lost, but this milter gives none.
	s := &milter.Server{NewMilter: func() milter.Milter { return &testMilter{rec: rec} }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(ln)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			// Not s.Close: it only closes the listeners Serve has
			// registered, which it may not have done yet, and it
			// races with Serve. Closing ln makes Serve return.
			ln.Close()
			<-done
		})
	}
	t.Cleanup(stop)
	return "inet:" + ln.Addr().String(), rec, stop
}

// connectMacros asks Postfix for the client macros at connect too, to see
// what it knows about the client there.
const connectMacros = "j {daemon_name} {daemon_addr} v _ {client_addr} {client_name} {client_ptr} {client_resolve}"

func TestPostfix(t *testing.T) {
	milterAddr, rec, stopMilter := startMilter(t)
	pf := Start(t, Options{
		Milter:      milterAddr,
		ZoneFiles:   []string{"testdata/clients.zone"},
		ExtraMainCF: map[string]string{"milter_connect_macros": connectMacros},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("Greeting", func(t *testing.T) {
		c := pf.Dial(t, "127.0.0.10")
		if g := c.Greeting(); g.Code != 220 || !strings.HasPrefix(g.Text, DefaultHostname+" ESMTP") {
			t.Errorf("greeting %q, want 220 %s ESMTP", g, DefaultHostname)
		}
		c.Expect(c.Quit(), 221, "2.0.0")
	})

	t.Run("ClientNameFromOurDNS", func(t *testing.T) {
		pf.DNS().ResetQueries()
		c := pf.Dial(t, "127.0.0.10")
		e, ok := rec.last("connect", "127.0.0.10")
		if !ok {
			t.Fatal("the milter saw no connection from 127.0.0.10")
		}
		if e.host != "client10.test" {
			t.Errorf("milter got hostname %q, want client10.test", e.host)
		}
		if got := e.macros["{client_name}"]; got != "client10.test" {
			t.Errorf("{client_name} = %q, want client10.test", got)
		}
		// The proof that Postfix asked our server, and only for the names
		// it should (no search domain, no AAAA with inet_protocols=ipv4).
		if pf.DNS().Count("10.0.0.127.in-addr.arpa.", dns.TypePTR) == 0 || pf.DNS().Count("client10.test.", dns.TypeA) == 0 {
			t.Errorf("Postfix did not look up the client through the test's DNS: %v", pf.DNS().Queries())
		}
		for _, q := range pf.DNS().Queries() {
			if q.Name != "10.0.0.127.in-addr.arpa." && q.Name != "client10.test." {
				t.Errorf("unexpected query %v", q)
			}
		}
		c.Expect(c.Ehlo("client10.test"), 250, "")
		c.Expect(c.Mail("sender@client10.test"), 250, "2.1.0")
		m, _ := rec.last("mail", "127.0.0.10")
		for k, want := range map[string]string{
			"{client_addr}": "127.0.0.10", "{client_name}": "client10.test",
			"{client_ptr}": "client10.test", "{mail_addr}": "sender@client10.test",
		} {
			if m.macros[k] != want {
				t.Errorf("MAIL macro %s = %q, want %q (all: %v)", k, m.macros[k], want, m.macros)
			}
		}
		c.Quit()
	})

	t.Run("Rcpt", func(t *testing.T) {
		c := pf.Dial(t, "127.0.0.10")
		c.Expect(c.Ehlo("client10.test"), 250, "")
		c.Expect(c.Mail("sender@client10.test"), 250, "2.1.0")
		if r := c.Rcpt("reject@x.test"); r.String() != "550 5.7.1 test reject" {
			t.Errorf("RCPT reject@x.test: %q, want exactly %q", r, "550 5.7.1 test reject")
		}
		c.Expect(c.Rcpt("ok@x.test"), 250, "2.1.5")
		mark := pf.LogMark()
		r := c.Expect(c.Data("From: <sender@client10.test>\nTo: <ok@x.test>\nSubject: e2e\nMessage-ID: <e2e-1@client10.test>\n\n.leading dot\nhello\n"), 250, "2.0.0")
		id := r.QueueID()
		if id == "" {
			t.Fatalf("no queue ID in %q", r)
		}
		for _, s := range []string{id + ": message-id=<e2e-1@client10.test>", id + ": to=<ok@x.test>", id + ": removed"} {
			if _, err := pf.WaitLogAfter(ctx, mark, s); err != nil {
				t.Errorf("%v\n%s", err, pf.Log())
			}
		}
		line, _ := pf.WaitLogAfter(ctx, mark, id+": to=<ok@x.test>")
		if !strings.Contains(line, "status=sent") {
			t.Errorf("delivery: %q, want discarded as sent", line)
		}
		c.Quit()
	})

	t.Run("RelayDenied", func(t *testing.T) {
		c := pf.Dial(t, "127.0.0.10")
		c.Expect(c.Ehlo("client10.test"), 250, "")
		c.Expect(c.Mail("sender@client10.test"), 250, "2.1.0")
		c.Expect(c.Rcpt("someone@example.org"), 554, "5.7.1")
		c.Quit()
	})

	t.Run("ClientResolve", func(t *testing.T) {
		for _, tc := range []struct {
			ip, host, name, ptr, resolve string
		}{
			{"127.0.0.1", "localhost", "localhost", "localhost", "OK"},
			{"127.0.0.10", "client10.test", "client10.test", "client10.test", "OK"},
			{"127.0.0.11", "[127.0.0.11]", "unknown", "unknown", "FAIL"},
			{"127.0.0.12", "[127.0.0.12]", "unknown", "forged12.test", "FORGED"},
			{"127.0.0.13", "[127.0.0.13]", "unknown", "noaddr13.test", "FORGED"},
			{"127.0.0.14", "[127.0.0.14]", "unknown", "unknown", "TEMP"},
		} {
			c := pf.Dial(t, tc.ip)
			c.Expect(c.Ehlo("x.test"), 250, "")
			c.Expect(c.Mail("s@x.test"), 250, "")
			e, _ := rec.last("connect", tc.ip)
			m, _ := rec.last("mail", tc.ip)
			got := fmt.Sprintf("host=%s name=%s ptr=%s resolve=%s _=%s | mail: name=%s ptr=%s",
				e.host, e.macros["{client_name}"], e.macros["{client_ptr}"], e.macros["{client_resolve}"], e.macros["_"],
				m.macros["{client_name}"], m.macros["{client_ptr}"])
			t.Logf("%s: %s", tc.ip, got)
			want := fmt.Sprintf("host=%s name=%s ptr=%s resolve=%s", tc.host, tc.name, tc.ptr, tc.resolve)
			if !strings.HasPrefix(got, want+" ") {
				t.Errorf("%s: %s, want %s", tc.ip, got, want)
			}
			c.Quit()
		}
	})

	t.Run("XClientLogin", func(t *testing.T) {
		c := pf.DialXClient(t, "127.0.0.10")
		ehlo := c.Expect(c.Ehlo("client10.test"), 250, "")
		if !strings.Contains(ehlo.Text, "XCLIENT") {
			t.Fatalf("EHLO does not offer XCLIENT: %q", ehlo)
		}
		n := rec.count("connect", "127.0.0.10")
		c.Expect(c.XClient("LOGIN=alice"), 220, "")
		// Postfix starts the milter session over, as for a new client.
		if got := rec.count("connect", "127.0.0.10"); got != n+1 {
			t.Errorf("XCLIENT: %d milter connects, want %d", got, n+1)
		}
		c.Expect(c.Ehlo("client10.test"), 250, "")
		c.Expect(c.Mail("alice@client10.test"), 250, "2.1.0")
		m, _ := rec.last("mail", "127.0.0.10")
		if m.macros["{auth_authen}"] != "alice" || m.macros["{auth_type}"] != "XCLIENT" {
			t.Errorf("MAIL macros {auth_authen}=%q {auth_type}=%q, want alice and XCLIENT (all: %v)",
				m.macros["{auth_authen}"], m.macros["{auth_type}"], m.macros)
		}
		// Authenticated: Postfix relays anywhere.
		c.Expect(c.Rcpt("someone@example.org"), 250, "2.1.5")
		c.Quit()
	})

	t.Run("MilterError", func(t *testing.T) {
		c := pf.Dial(t, "127.0.0.10")
		c.Expect(c.Ehlo("client10.test"), 250, "")
		c.Expect(c.Mail("sender@client10.test"), 250, "2.1.0")
		const tempfail = "451 4.7.1 Service unavailable - try again later"
		if r := c.Rcpt("broken@x.test"); r.String() != tempfail {
			t.Errorf("RCPT when the milter fails: %q, want %q (milter_default_action = tempfail)", r, tempfail)
		}
		// The milter is gone for the rest of the session.
		if r := c.Rcpt("ok@x.test"); r.String() != tempfail {
			t.Errorf("next RCPT: %q, want %q", r, tempfail)
		}
		c.Quit()
	})

	// Last: it stops the milter.
	t.Run("MilterDown", func(t *testing.T) {
		stopMilter()
		c := pf.Dial(t, "127.0.0.10")
		// Postfix logs a milter-reject at CONNECT and EHLO but answers the
		// first command of a transaction, MAIL, not RCPT.
		c.Expect(c.Greeting(), 220, "")
		c.Expect(c.Ehlo("client10.test"), 250, "")
		const tempfail = "451 4.7.1 Service unavailable - try again later"
		if r := c.Mail("sender@client10.test"); r.String() != tempfail {
			t.Errorf("MAIL with the milter down: %q, want %q (milter_default_action = tempfail)", r, tempfail)
		}
		c.Expect(c.Rcpt("ok@x.test"), 503, "5.5.1") // no transaction
		c.Quit()
	})

	pf.Stop()
	if pids := pf.PIDs(); len(pids) != 0 {
		t.Errorf("processes of the instance left after Stop: %v", pids)
	}
	// The DNS port is free again.
	if pc, err := net.ListenPacket("udp", pf.DNS().Addr()); err != nil {
		t.Errorf("DNS address still in use after Stop: %v", err)
	} else {
		pc.Close()
	}
}

// Instances started at the same time (parallel tests, or several test
// binaries under go test ./...) get their own ports and DNS addresses.
func TestConcurrentInstances(t *testing.T) {
	for _, name := range []string{"a", "b"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pf := Start(t, Options{Zones: []string{"$ORIGIN 0.0.127.in-addr.arpa.\n20 PTR " + name + ".test.\n$ORIGIN test.\n" + name + " A 127.0.0.20\n"}})
			c := pf.Dial(t, "127.0.0.20")
			c.Expect(c.Greeting(), 220, "")
			c.Expect(c.Ehlo(name+".test"), 250, "")
			c.Expect(c.Mail("s@"+name+".test"), 250, "2.1.0")
			c.Expect(c.Rcpt("ok@x.test"), 250, "2.1.5")
			c.Expect(c.Data("Subject: "+name+"\n\nbody\n"), 250, "2.0.0")
			c.Quit()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := pf.WaitLog(ctx, "connect from "+name+".test[127.0.0.20]"); err != nil {
				t.Error(err)
			}
			t.Logf("started in %v, DNS %s", pf.StartDuration(), pf.DNS().Addr())
		})
	}
}

// The DNS server can be started first, for a milter that must know its
// address before Postfix starts.
func TestStartDNSFirst(t *testing.T) {
	s := StartDNS(t)
	milterAddr, rec, _ := startMilter(t)
	pf := Start(t, Options{Milter: milterAddr, DNS: s, ZoneFiles: []string{"testdata/clients.zone"}})
	if pf.DNS() != s {
		t.Fatal("DNS() is not the server passed in Options.DNS")
	}
	c := pf.Dial(t, "127.0.0.10")
	c.Expect(c.Greeting(), 220, "")
	if e, _ := rec.last("connect", "127.0.0.10"); e.host != "client10.test" {
		t.Errorf("milter got hostname %q, want client10.test", e.host)
	}
	c.Quit()
	pf.Stop()
	// Not closed by Stop: it belongs to the test.
	if err := s.AddZone("$ORIGIN test.\nlater A 127.0.0.30\n"); err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg).SetQuestion("later.test.", dns.TypeA)
	if r, err := dns.Exchange(m, s.Addr()); err != nil || len(r.Answer) != 1 {
		t.Errorf("DNS server after Stop: %v %v", r, err)
	}
}

func TestMainCF(t *testing.T) {
	rec, err := parseMainCF(RecommendedMainCF)
	if err != nil {
		t.Fatal(err)
	}
	// DESIGN.md §3 "Postfix side".
	for name, want := range map[string]string{
		"smtpd_milters":         "inet:127.0.0.1:8891",
		"non_smtpd_milters":     "",
		"milter_default_action": "tempfail",
		"milter_protocol":       "6",
		"milter_mail_macros":    "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer} {client_addr} {client_name} {client_ptr}",
		"smtpd_delay_reject":    "yes",
		"smtpd_helo_required":   "yes",
	} {
		if got := rec.get(name); got != want {
			t.Errorf("RecommendedMainCF %s = %q, want %q", name, got, want)
		}
	}

	l := newLayout("/tmp/x")
	p, err := mainCF(l, Options{
		Milter:      "inet:127.0.0.1:9999",
		Hostname:    DefaultHostname,
		ExtraMainCF: map[string]string{"relay_domains": "test, example.org", "smtpd_helo_required": "no"},
	}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"smtpd_milters":       "inet:127.0.0.1:9999",
		"relay_domains":       "test, example.org",
		"smtpd_helo_required": "no",
		"milter_protocol":     "6",
		"queue_directory":     "/tmp/x/spool",
		"maillog_file":        "/tmp/x/maillog",
	} {
		if got := p.get(name); got != want {
			t.Errorf("main.cf %s = %q, want %q", name, got, want)
		}
	}
	if n := strings.Count(p.String(), "\nsmtpd_milters ="); n != 1 {
		t.Errorf("smtpd_milters appears %d times:\n%s", n, p)
	}
	if _, err := mainCF(l, Options{ExtraMainCF: map[string]string{"a = b": "c"}}, "127.0.0.1"); err == nil {
		t.Error("a bad ExtraMainCF name was accepted")
	}
	if m := masterCF(Options{}, "127.0.0.1:25", "127.0.0.1:26"); !strings.Contains(m, "127.0.0.1:25 inet n - n - - smtpd\n") {
		t.Errorf("master.cf:\n%s", m)
	}
}

// The client returns replies as sent: codes, enhanced codes, every line.
func TestClientReplies(t *testing.T) {
	srv, cli := net.Pipe()
	c := &Client{Timeout: 10 * time.Second, t: t, conn: cli, r: bufio.NewReader(cli)}
	defer c.Close()
	go func() {
		defer srv.Close()
		r := bufio.NewReader(srv)
		for _, step := range []struct{ cmd, reply string }{
			{"EHLO x.test", "250-mx.mxguard.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"},
			{"MAIL FROM:<a@x.test>", "550 5.7.1 test reject\r\n"},
			{"RCPT TO:<b@x.test>", "451-4.7.1 first\r\n451 4.7.1 second\r\n"},
			{"DATA", "354 End data with <CR><LF>.<CR><LF>\r\n"},
			{"Subject: x\r\n\r\n..dot\r\nend\r\n.", "250 2.0.0 Ok: queued as 3CCE2986BD5\r\n"},
			{"QUIT", "221 2.0.0 Bye\r\n"},
		} {
			var got strings.Builder
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				got.WriteString(line)
				// A message goes on up to the dot.
				if !strings.HasSuffix(step.cmd, "\r\n.") || line == ".\r\n" {
					break
				}
			}
			if strings.TrimSuffix(got.String(), "\r\n") != step.cmd {
				fmt.Fprintf(srv, "500 got %q, want %q\r\n", got.String(), step.cmd)
				return
			}
			srv.Write([]byte(step.reply))
		}
	}()
	r := c.Ehlo("x.test")
	if r.Code != 250 || r.Enhanced != "" || r.Text != "mx.mxguard.test\nPIPELINING\n8BITMIME" || len(r.Lines) != 3 {
		t.Errorf("EHLO: %#v", r)
	}
	r = c.Mail("a@x.test")
	if r.Code != 550 || r.Enhanced != "5.7.1" || r.Text != "test reject" || r.String() != "550 5.7.1 test reject" {
		t.Errorf("MAIL: %#v", r)
	}
	r = c.Rcpt("b@x.test")
	if r.Code != 451 || r.Enhanced != "4.7.1" || r.Text != "first\nsecond" {
		t.Errorf("RCPT: %#v", r)
	}
	r = c.Data("Subject: x\n\n.dot\nend\n")
	if r.Code != 250 || r.QueueID() != "3CCE2986BD5" {
		t.Errorf("DATA: %#v", r)
	}
	if r = c.Quit(); r.Code != 221 {
		t.Errorf("QUIT: %#v", r)
	}
}
