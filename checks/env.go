package checks

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/mxguard/mxguard/resolver"
)

// Env is what the checks know about one SMTP connection and its current
// transaction. The milter fills it in stage by stage.
//
// The connection scope (client address, names, HELO, macros sent at
// connect) survives Abort and the end of a message; the transaction scope
// (MAIL FROM, recipients, queue id) is reset by ResetTransaction, as
// go-milter's Abort doc asks ("Connection data should be preserved").
type Env struct {
	Resolver resolver.Resolver
	Log      *slog.Logger
	Now      func() time.Time

	// Connection scope.
	Addr        netip.Addr // client address; invalid for a unix or unknown client
	Port        uint16
	Family      string // tcp4, tcp6, unix, unknown
	MTAHostname string // the host name the MTA gave at connect (Postfix: verified name or "[addr]")
	Helo        string // the last HELO/EHLO argument
	HeloSeen    bool
	AuthUser    string // SASL login ({auth_authen}), "" when not authenticated
	Trusted     bool   // client in trusted_networks
	Macros      map[string]string

	// Deferrals remembered without delayed rejection: Postfix's
	// defer_if_permit_client and defer_if_permit_helo (smtpd_check.c). A
	// defer_if_permit of the client or HELO list does not refuse CONNECT
	// or HELO; it is kept here and applied at each RCPT TO unless a
	// reject comes first (checks/pipeline). nil when none; a later HELO
	// replaces DeferHelo, as a new smtpd_check_helo does.
	DeferClient *Result
	DeferHelo   *Result

	// Transaction scope.
	QueueID  string
	MailSeen bool
	Mail     string   // MAIL FROM address without brackets; "" is the null sender
	Rcpt     string   // the recipient being evaluated, without brackets
	Rcpts    []string // recipients accepted so far
	// DeferSender is Postfix's defer_if_permit_sender: the deferral in
	// force after the sender list (the client's or HELO's, or the sender
	// list's own), applied at each RCPT TO without delayed rejection.
	DeferSender *Result
	// Discarded is Postfix's state->discard: an access table said DISCARD
	// in this transaction, so no restriction runs any more until its end
	// and every later recipient is accepted (and discarded).
	Discarded bool

	mu    sync.Mutex
	memos map[string]*memo
}

type memo struct {
	done chan struct{}
	val  any
	err  error
}

// NewEnv returns an Env for a new connection.
func NewEnv(r resolver.Resolver, log *slog.Logger) *Env {
	if log == nil {
		log = slog.Default()
	}
	return &Env{Resolver: r, Log: log, Now: time.Now, Macros: map[string]string{}}
}

// ResetTransaction forgets the transaction scope (after Abort, after the end
// of a message, or at a new MAIL FROM).
func (e *Env) ResetTransaction() {
	e.QueueID = ""
	e.MailSeen = false
	e.Mail = ""
	e.Rcpt = ""
	e.Rcpts = nil
	e.DeferSender = nil
	e.Discarded = false
}

// MergeMacros records the macros the MTA sent for a stage.
func (e *Env) MergeMacros(m map[string]string) {
	for k, v := range m {
		e.Macros[k] = v
	}
	if v := e.Macros["i"]; v != "" {
		e.QueueID = v
	}
	if v, ok := m["{auth_authen}"]; ok {
		e.AuthUser = v
	}
}

// Macro returns a macro by name, with or without braces: Macro("auth_authen")
// finds "{auth_authen}".
func (e *Env) Macro(name string) string {
	if v, ok := e.Macros[name]; ok {
		return v
	}
	return e.Macros["{"+name+"}"]
}

// Memo computes fn once per key for the connection and returns its result
// to every caller; a caller that comes while it runs waits for it, or for
// its own ctx. Checks use it to share a lookup (the client's names are used
// by three restrictions) and Prefetch uses it to start one early. fn runs
// with its own context bounded by timeout, because it may outlive the
// caller that started it (go-milter has no close callback on QUIT: nothing
// else would bound it).
func (e *Env) Memo(ctx context.Context, key string, timeout time.Duration, fn func(ctx context.Context) (any, error)) (any, error) {
	e.mu.Lock()
	if e.memos == nil {
		e.memos = map[string]*memo{}
	}
	m, ok := e.memos[key]
	if !ok {
		m = &memo{done: make(chan struct{})}
		e.memos[key] = m
		e.mu.Unlock()
		go func() {
			defer close(m.done)
			defer func() {
				if x := recover(); x != nil {
					m.err = &PanicError{Value: x}
				}
			}()
			c, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			m.val, m.err = fn(c)
		}()
	} else {
		e.mu.Unlock()
	}
	select {
	case <-m.done:
		return m.val, m.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ForgetMemo drops a memoized value (used when the input it depends on
// changes, e.g. a second HELO).
func (e *Env) ForgetMemo(key string) {
	e.mu.Lock()
	delete(e.memos, key)
	e.mu.Unlock()
}

// PanicError is the error of a check that panicked. It is treated as a
// temporary failure: the transaction is tempfailed, never dropped.
type PanicError struct{ Value any }

func (p *PanicError) Error() string { return "panic in check: " + fmtAny(p.Value) }
