package milter

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	gomilter "github.com/emersion/go-milter"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/pipeline"
	"github.com/mxguard/mxguard/dmarc"
)

// Transaction is one SMTP transaction as an MTA would present it to the
// milter. `mxguard check` runs it through a private Server over an
// in-memory pipe, so that it exercises exactly the code path of a real
// milter connection (protocol, session, verdict mapping).
type Transaction struct {
	Addr     netip.Addr
	Hostname string // what the MTA calls the client ("[addr]" when unknown)
	Helo     string // "" = no HELO
	From     string // "" = null sender
	Rcpts    []string
	AuthUser string
	QueueID  string
	Header   [][2]string
	Body     []byte
}

// StageReply is what the milter answered at one stage.
type StageReply struct {
	Stage    checks.Stage
	Rcpt     string
	Code     int    // 0 = continue
	Text     string // "5.7.1 text"
	Outcome  *pipeline.Outcome
	Accepted bool
}

// Report is the result of Run.
type Report struct {
	Replies  []StageReply
	Outcomes []*pipeline.Outcome
	// EOM is the end-of-message action code (accept, discard, ...), empty
	// when the message was not sent (no recipient accepted).
	EOM        string
	Quarantine string
	Headers    []string
	// Auth is the end-of-data authentication, when it ran.
	Auth          *dmarc.Auth
	AuthVerdict   *dmarc.Verdict
	ForgedRemoved int
}

// Run drives t through a fresh session of s (whose OnVerdict hook it
// uses) and reports every reply.
func Run(s *Server, t Transaction) (*Report, error) {
	rep := &Report{}
	var mu sync.Mutex
	s.OnVerdict = func(o *pipeline.Outcome) { mu.Lock(); rep.Outcomes = append(rep.Outcomes, o); mu.Unlock() }
	s.OnAuth = func(v *dmarc.Verdict, forged int) {
		mu.Lock()
		rep.Auth, rep.AuthVerdict, rep.ForgedRemoved = v.Auth, v, forged
		mu.Unlock()
	}
	srvEnd, cliEnd := net.Pipe()
	ln := &oneConn{c: srvEnd, done: make(chan struct{})}
	go s.Serve(ln)
	defer ln.Close()
	cl := gomilter.NewClientWithOptions("pipe", "pipe", gomilter.ClientOptions{
		Dialer:       pipeDialer{cliEnd},
		ReadTimeout:  time.Minute,
		WriteTimeout: time.Minute,
		// go-milter's server speaks version 2: offer only its masks.
		ActionMask:   gomilter.OptAddHeader | gomilter.OptChangeHeader | gomilter.OptQuarantine,
		ProtocolMask: 0,
	})
	sess, err := cl.Session()
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	last := func() *pipeline.Outcome {
		mu.Lock()
		defer mu.Unlock()
		if len(rep.Outcomes) == 0 {
			return nil
		}
		return rep.Outcomes[len(rep.Outcomes)-1]
	}
	record := func(st checks.Stage, rcpt string, act *gomilter.Action) bool {
		r := StageReply{Stage: st, Rcpt: rcpt, Outcome: last()}
		if act.Code == gomilter.ActReplyCode {
			r.Code, r.Text = act.SMTPCode, act.SMTPText
		} else {
			r.Accepted = act.Code == gomilter.ActContinue || act.Code == gomilter.ActAccept
		}
		rep.Replies = append(rep.Replies, r)
		return r.Code == 0
	}
	family, addr := gomilter.FamilyUnknown, ""
	if t.Addr.IsValid() {
		family, addr = gomilter.FamilyInet, t.Addr.String()
		if t.Addr.Is6() && !t.Addr.Is4In6() {
			family = gomilter.FamilyInet6
		}
	}
	host := t.Hostname
	if host == "" && t.Addr.IsValid() {
		host = "[" + t.Addr.String() + "]"
	}
	act, err := sess.Conn(host, family, 25, addr)
	if err != nil {
		return nil, err
	}
	if !record(checks.StageConnect, "", act) {
		return rep, nil
	}
	if t.Helo != "" {
		if act, err = sess.Helo(t.Helo); err != nil {
			return nil, err
		}
		if !record(checks.StageHelo, "", act) {
			return rep, nil
		}
	}
	kv := []string{"i", t.QueueID}
	if t.AuthUser != "" {
		kv = append(kv, "{auth_type}", "PLAIN", "{auth_authen}", t.AuthUser)
	}
	if err := sess.Macros(gomilter.CodeMail, kv...); err != nil {
		return nil, err
	}
	if act, err = sess.Mail("<"+t.From+">", nil); err != nil {
		return nil, err
	}
	if !record(checks.StageMail, "", act) {
		return rep, nil
	}
	accepted := 0
	for _, r := range t.Rcpts {
		if act, err = sess.Rcpt("<"+r+">", nil); err != nil {
			return nil, err
		}
		if record(checks.StageRcpt, r, act) {
			accepted++
		}
	}
	if accepted == 0 {
		return rep, sess.Abort()
	}
	// The session answers continue to every header and body chunk; the
	// verdict comes at the end of the message.
	for _, h := range t.Header {
		if _, err = sess.HeaderField(h[0], h[1]); err != nil {
			return nil, err
		}
	}
	if _, err = sess.HeaderEnd(); err != nil {
		return nil, err
	}
	// Body chunks of at most 64 KB, as an MTA sends them.
	for b := t.Body; len(b) > 0; {
		n := min(len(b), 65535)
		if _, err = sess.BodyChunk(b[:n]); err != nil {
			return nil, err
		}
		b = b[n:]
	}
	mods, act, err := sess.End()
	if err != nil {
		return nil, err
	}
	for _, m := range mods {
		switch m.Code {
		case gomilter.ActQuarantine:
			rep.Quarantine = m.Reason
		case gomilter.ActAddHeader, gomilter.ActInsertHeader:
			rep.Headers = append(rep.Headers, m.HeaderName+": "+m.HeaderValue)
		}
	}
	switch act.Code {
	case gomilter.ActReplyCode:
		rep.EOM = fmt.Sprintf("%d %s", act.SMTPCode, act.SMTPText)
		rep.Replies = append(rep.Replies, StageReply{Stage: checks.StageEOM, Code: act.SMTPCode, Text: act.SMTPText})
	case gomilter.ActDiscard:
		rep.EOM = "discard"
	default:
		rep.EOM = "accept"
	}
	return rep, nil
}

type pipeDialer struct{ c net.Conn }

func (d pipeDialer) Dial(string, string) (net.Conn, error) { return d.c, nil }

// oneConn is a listener that yields one connection, then blocks until
// closed.
type oneConn struct {
	mu   sync.Mutex
	c    net.Conn
	done chan struct{}
	once sync.Once
}

func (l *oneConn) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.c
	l.c = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, errors.New("listener closed")
}

func (l *oneConn) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *oneConn) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
