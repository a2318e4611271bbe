// Package dnstest runs a real authoritative DNS server on loopback, for
// tests that want the resolver's wire behaviour (UDP, TCP fallback,
// timeouts, caching) rather than a map.
//
// Zone data is written in the RFC 1035 §5 master file format and parsed
// with github.com/miekg/dns's ZoneParser. The server answers as an
// authoritative server does (RFC 1034 §4.3.2): data for an exact match,
// following CNAMEs inside the zone; wildcard synthesis (RFC 4592 §3.3.1);
// NODATA (NOERROR, empty answer, SOA in authority) for a name that exists
// with other types, including empty non-terminals; NXDOMAIN with the SOA
// for an absent name inside a zone, so resolvers can cache it negatively
// (RFC 2308 §3); REFUSED for a name outside every zone.
//
// Faults are injected with directives written as comments, so zone files
// stay valid master files:
//
//	;!servfail <name> [<type>]          answer SERVFAIL
//	;!refused  <name> [<type>]          answer REFUSED
//	;!rcode    <RCODE> <name> [<type>]  answer that rcode (FORMERR, NOTIMP, NXDOMAIN, ...)
//	;!timeout  <name> [<type>]          never answer (alias ;!drop)
//	;!truncate <name> [<type>]          set TC over UDP; answer normally over TCP
//	;!latency  <duration> [<name> [<type>]]
//	                                    delay answers: all of them, or those for name
//
// A name is absolute, relative to the $ORIGIN in effect on that line, or
// "@" for the origin itself; "*.example." matches every name below
// example. (not example. itself). Without a type, every type matches. When
// several faults match, the one added last wins, so a test can override a
// file's directive with Fail, Drop, Truncate or SetLatency. Faults apply
// before zone lookup, so they work for names outside every zone too.
//
// A quick start:
//
//	s := dnstest.Start(t, dnstest.WithZone(`
//	$ORIGIN example.
//	@     MX  10 mx
//	mx    A   192.0.2.25
//	;!servfail broken
//	`))
//	r, _ := resolver.New(resolver.Config{Servers: []string{s.Addr()}})
//
// A zone needs no SOA: without one, the $ORIGIN a record was written under
// becomes the apex of a zone with a synthesized SOA (MINIMUM 300). The
// default TTL is 300. Delegations (NS below the apex) are not treated
// specially: this is a fixture, not a name server.
package dnstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Query is one query the server received.
type Query struct {
	Name      string // as received (case preserved)
	Type      uint16
	Transport string // "udp" or "tcp"
	Time      time.Time
}

func (q Query) String() string {
	return q.Transport + " " + dns.TypeToString[q.Type] + " " + q.Name
}

// Option configures a Server in New or Start.
type Option func(*Server) error

// WithZone loads zone text in master file format (see the package doc).
func WithZone(text string) Option {
	return func(s *Server) error { return s.loadZone(text, "zone") }
}

// WithZoneFile loads a zone file in master file format.
func WithZoneFile(path string) Option {
	return func(s *Server) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("dnstest: %w", err)
		}
		return s.loadZone(string(b), path)
	}
}

// WithLatency delays every answer by d (see SetLatency).
func WithLatency(d time.Duration) Option {
	return func(s *Server) error { s.SetLatency(d); return nil }
}

// Server is an authoritative DNS server for tests, on UDP and TCP of one
// address. Its methods are safe for concurrent use.
type Server struct {
	mu          sync.Mutex
	addr        string
	zones       map[string]*zone // by apex
	faults      []fault
	latency     time.Duration
	queries     []Query
	inflight    int
	maxInflight int
	notify      chan struct{} // closed and replaced on every query

	udp, tcp  *dns.Server
	closed    chan struct{}
	closeOnce sync.Once
}

// Start starts a server on 127.0.0.1 with a random port, UDP and TCP,
// stopped by t.Cleanup. It fails the test on error.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := New("127.0.0.1:0", opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// New returns a server for addr (host:port; port 0 picks a free port with
// UDP and TCP on the same number). Call Start, then Close.
func New(addr string, opts ...Option) (*Server, error) {
	s := &Server{
		addr:   addr,
		zones:  map[string]*zone{},
		notify: make(chan struct{}),
		closed: make(chan struct{}),
	}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Start listens and serves in the background.
func (s *Server) Start() error {
	s.mu.Lock()
	addr := s.addr
	s.mu.Unlock()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("dnstest: %w", err)
	}
	tries := 1
	if port == "0" {
		// The random UDP port may be taken on TCP: try another.
		tries = 20
	}
	var pc net.PacketConn
	var ln net.Listener
	for range tries {
		pc, err = net.ListenPacket("udp", addr)
		if err != nil {
			return fmt.Errorf("dnstest: %w", err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		return fmt.Errorf("dnstest: %w", err)
	}

	var started sync.WaitGroup
	started.Add(2)
	s.mu.Lock()
	s.addr = pc.LocalAddr().String()
	s.udp = &dns.Server{PacketConn: pc, Handler: s, UDPSize: dns.MaxMsgSize, NotifyStartedFunc: started.Done}
	s.tcp = &dns.Server{Listener: ln, Handler: s, NotifyStartedFunc: started.Done}
	udp, tcp := s.udp, s.tcp
	s.mu.Unlock()
	errc := make(chan error, 2)
	go func() { errc <- udp.ActivateAndServe() }()
	go func() { errc <- tcp.ActivateAndServe() }()
	done := make(chan struct{})
	go func() { started.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case err := <-errc:
		pc.Close()
		ln.Close()
		return fmt.Errorf("dnstest: serving on %s: %w", s.addr, err)
	}
}

// Close stops the server. Delayed answers are abandoned. It is safe to call
// more than once.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		s.mu.Lock()
		udp, tcp := s.udp, s.tcp
		s.mu.Unlock()
		if udp == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = errors.Join(udp.ShutdownContext(ctx), tcp.ShutdownContext(ctx))
	})
	return err
}

// Addr is the host:port the server listens on (UDP and TCP).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// AddZone loads more zone text; it may be called while serving.
func (s *Server) AddZone(text string) error { return s.loadZone(text, "zone") }

// SetLatency delays every answer by d (0: none). A ;!latency directive or
// fault for a specific name takes precedence.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Fail makes queries for name (absolute, or a "*.suffix." pattern) and
// qtype (0: any) get rcode with empty sections.
func (s *Server) Fail(name string, qtype uint16, rcode int) {
	s.addFault(fault{name: normName(name), qtype: qtype, act: actRcode, rcode: rcode})
}

// Drop makes queries for name and qtype (0: any) go unanswered.
func (s *Server) Drop(name string, qtype uint16) {
	s.addFault(fault{name: normName(name), qtype: qtype, act: actDrop})
}

// Truncate makes UDP answers for name and qtype (0: any) come back empty
// with the TC bit set; TCP answers are complete.
func (s *Server) Truncate(name string, qtype uint16) {
	s.addFault(fault{name: normName(name), qtype: qtype, act: actTruncate})
}

// ClearFaults removes every fault, from directives and from Fail, Drop and
// Truncate. The global latency stays.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) addFault(f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// Queries returns the queries received so far, in order of arrival,
// including dropped and failed ones.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

// QueryCount returns the number of queries received so far.
func (s *Server) QueryCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queries)
}

// Count returns the number of queries received for name (compared without
// case; a trailing dot is added) and qtype (0: any).
func (s *Server) Count(name string, qtype uint16) int {
	name = dns.Fqdn(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, q := range s.queries {
		if strings.EqualFold(q.Name, name) && (qtype == 0 || q.Type == qtype) {
			n++
		}
	}
	return n
}

// WaitQueries blocks until at least n queries have been received or ctx
// ends. Use it to know a query has reached the server, without sleeping.
func (s *Server) WaitQueries(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got, ch := len(s.queries), s.notify
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("dnstest: waiting for %d queries, got %d: %w", n, got, ctx.Err())
		}
	}
}

// MaxConcurrent returns the largest number of queries being served at the
// same time (received and not yet answered, delays included; a dropped
// query stops counting when dropped). With a latency set, it proves that
// lookups ran in parallel without measuring time.
func (s *Server) MaxConcurrent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInflight
}

// ResetQueries forgets the queries received and resets MaxConcurrent.
func (s *Server) ResetQueries() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = nil
	s.maxInflight = s.inflight
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	transport := "udp"
	if _, ok := w.LocalAddr().(*net.TCPAddr); ok {
		transport = "tcp"
	}
	m := new(dns.Msg)
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		m.SetRcode(req, dns.RcodeNotImplemented)
		if len(req.Question) != 1 {
			m.SetRcode(req, dns.RcodeFormatError)
		}
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	qname := strings.ToLower(q.Name)

	s.mu.Lock()
	s.queries = append(s.queries, Query{Name: q.Name, Type: q.Qtype, Transport: transport, Time: time.Now()})
	close(s.notify)
	s.notify = make(chan struct{})
	s.inflight++
	s.maxInflight = max(s.maxInflight, s.inflight)
	f, delay := s.faultFor(qname, q.Qtype, transport)
	s.mu.Unlock()
	// Served ends before the answer is written: a client that sends its
	// next query on receipt must not find this one still counted.
	served := sync.OnceFunc(func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	})
	defer served()

	if f != nil && f.act == actDrop {
		return
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.closed:
			return
		}
	}

	m.SetReply(req)
	m.Authoritative = true
	switch {
	case f != nil && f.act == actRcode:
		m.Rcode = f.rcode
	case f != nil && f.act == actTruncate:
		m.Truncated = true
	case q.Qclass != dns.ClassINET:
		m.Rcode = dns.RcodeRefused
	default:
		s.mu.Lock()
		m.Rcode, m.Answer, m.Ns = s.answer(qname, q.Qtype)
		s.mu.Unlock()
	}
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		// RFC 6891 §6.2.3: answer with our own OPT; the requester's size
		// bounds the UDP answer.
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
		m.SetEdns0(dns.DefaultMsgSize, false)
	}
	if transport == "udp" {
		m.Truncate(size) // sets TC when the answer does not fit
	}
	served()
	w.WriteMsg(m)
}

// faultFor returns the response fault and the delay for a query; s.mu is
// held.
func (s *Server) faultFor(name string, qtype uint16, transport string) (*fault, time.Duration) {
	var resp *fault
	delay, delaySet := s.latency, false
	for i := len(s.faults) - 1; i >= 0; i-- {
		f := &s.faults[i]
		if !f.matches(name, qtype) {
			continue
		}
		switch {
		case f.act == actLatency:
			if !delaySet {
				delay, delaySet = f.delay, true
			}
		case f.act == actTruncate && transport != "udp":
			// Over TCP the full answer; keep looking for other faults.
		case resp == nil:
			resp = f
		}
	}
	return resp, delay
}
