// Package milter is mxguard's glue to github.com/emersion/go-milter: the
// server (inet: and unix: sockets in Postfix notation, graceful drain), one
// session per SMTP connection, and the mapping of verdicts to milter
// responses.
//
// Two facts about go-milter v0.5.0 shape this package (STYLE.md §3):
//   - after any final response (Accept, Reject, TempFail, Discard) the
//     server replaces the session's backend with a fresh one, losing the
//     connection's data. So verdicts are sent as reply codes
//     (SMFIR_REPLYCODE, which go-milter counts as "continue"), and the end
//     of a message is answered with Continue, which the MTA takes as accept;
//   - a callback that returns an error closes the milter connection (the
//     MTA then applies milter_default_action). Errors are kept for protocol
//     faults; a failing or panicking check becomes a 451 for its
//     transaction.
package milter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	gomilter "github.com/emersion/go-milter"

	"github.com/mxguard/mxguard/checks/pipeline"
	"github.com/mxguard/mxguard/dmarc"
	"github.com/mxguard/mxguard/resolver"
	"github.com/mxguard/mxguard/store"
)

// Server serves the milter protocol.
type Server struct {
	// Engine returns the current engine; it is called at each connection
	// and each new transaction, so that a reload takes effect without
	// dropping sessions.
	Engine   func() *pipeline.Engine
	Resolver resolver.Resolver
	Log      *slog.Logger
	// Auth returns the current end-of-data authentication configuration;
	// nil (or a nil func) disables SPF, DKIM, DMARC and the
	// Authentication-Results header.
	Auth func() *dmarc.Config
	// Store, when set, records each DMARC evaluation for aggregate
	// reports (RFC 9990).
	Store store.Store
	// Hooks for metrics and tests; any may be nil.
	OnVerdict func(o *pipeline.Outcome)
	// OnAuth sees each end-of-data verdict and the number of forged
	// Authentication-Results headers removed.
	OnAuth func(v *dmarc.Verdict, forgedRemoved int)

	srv      gomilter.Server
	once     sync.Once
	conns    sync.WaitGroup
	active   atomic.Int64
	mu       sync.Mutex
	open     map[*trackedConn]struct{}
	lns      []net.Listener
	shutdown atomic.Bool
}

// Listen opens a listener from Postfix notation: "inet:host:port",
// "inet:port" (all addresses), "unix:/path" (mode applied to the socket),
// or a bare "host:port".
func Listen(spec string, mode os.FileMode) (net.Listener, error) {
	network, addr, err := ParseListen(spec)
	if err != nil {
		return nil, err
	}
	if network == "unix" {
		// A socket file left by an unclean stop would make bind fail.
		if fi, err := os.Lstat(addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(addr)
		}
		ln, err := net.Listen("unix", addr)
		if err != nil {
			return nil, err
		}
		if mode != 0 {
			if err := os.Chmod(addr, mode); err != nil {
				ln.Close()
				return nil, fmt.Errorf("chmod %s: %w", addr, err)
			}
		}
		return ln, nil
	}
	return net.Listen("tcp", addr)
}

// ParseListen splits a listen spec into a network ("tcp" or "unix") and
// an address.
func ParseListen(spec string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(spec, "unix:"):
		p := strings.TrimPrefix(spec, "unix:")
		if p == "" {
			return "", "", errors.New("unix: needs a socket path, e.g. unix:/run/mxguard/mxguard.sock")
		}
		return "unix", p, nil
	case strings.HasPrefix(spec, "local:"):
		return "unix", strings.TrimPrefix(spec, "local:"), nil
	case strings.HasPrefix(spec, "inet6:"), strings.HasPrefix(spec, "inet:"):
		spec = spec[strings.IndexByte(spec, ':')+1:]
	}
	if _, err := strconv.Atoi(spec); err == nil {
		spec = ":" + spec
	}
	host, port, err := net.SplitHostPort(spec)
	if err != nil {
		return "", "", fmt.Errorf("listen %q: want inet:host:port or unix:/path: %v", spec, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", "", fmt.Errorf("listen %q: bad port %q", spec, port)
	}
	return "tcp", net.JoinHostPort(host, port), nil
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.Log == nil {
			s.Log = slog.Default()
		}
		s.open = map[*trackedConn]struct{}{}
		s.srv = gomilter.Server{
			NewMilter: func() gomilter.Milter { return newSession(s) },
			// Milter protocol version 2 masks (go-milter announces v2):
			// add and change headers, quarantine.
			Actions: gomilter.OptAddHeader | gomilter.OptChangeHeader | gomilter.OptQuarantine,
			// Headers and body are needed for DKIM and DMARC.
			Protocol: 0,
		}
	})
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	tl := &trackingListener{Listener: ln, s: s}
	s.mu.Lock()
	s.lns = append(s.lns, tl)
	s.mu.Unlock()
	err := s.srv.Serve(tl)
	if s.shutdown.Load() {
		return nil
	}
	return err
}

// Active returns the number of open milter connections.
func (s *Server) Active() int64 { return s.active.Load() }

// Shutdown stops accepting, waits for open sessions to end (the MTA closes
// them at the end of each SMTP session) until ctx is done, then closes the
// rest.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.shutdown.Store(true)
	s.mu.Lock()
	for _, ln := range s.lns {
		ln.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		n := len(s.open)
		for c := range s.open {
			c.Conn.Close()
		}
		s.mu.Unlock()
		return fmt.Errorf("closed %d milter connections still open at shutdown", n)
	}
}

type trackingListener struct {
	net.Listener
	s *Server
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, s: l.s}
	l.s.conns.Add(1)
	l.s.active.Add(1)
	l.s.mu.Lock()
	l.s.open[tc] = struct{}{}
	l.s.mu.Unlock()
	return tc, nil
}

type trackedConn struct {
	net.Conn
	s    *Server
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.open, c)
		c.s.mu.Unlock()
		c.s.active.Add(-1)
		c.s.conns.Done()
	})
	return err
}
