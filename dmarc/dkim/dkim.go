package dkim

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"github.com/mxguard/mxguard/resolver"
)

// Result statuses (RFC 8601 §2.7.1).
const (
	StatusPass      = "pass"
	StatusFail      = "fail"      // the signature or body hash did not verify
	StatusNeutral   = "neutral"   // not evaluated (over MaxSignatures, header over MaxBuffer)
	StatusTemperror = "temperror" // key lookup failed temporarily, or verification aborted
	StatusPermerror = "permerror" // malformed or unsupported signature, no or unusable key, RFC 8301
	StatusPolicy    = "policy"    // valid as far as checked, refused by local policy (l=)
)

// Defaults for the zero values of Options, and limits.
const (
	DefaultMaxSignatures = 5
	DefaultMaxBuffer     = 1 << 20
	DefaultMinRSABits    = 1024 // RFC 8301 §3.2; also the least MinRSABits can be
	DefaultTimeout       = 10 * time.Second
	DefaultIdleTimeout   = 10 * time.Minute
	// MaxRSABits bounds the RSA keys we verify with (CPU); RFC 8301 §3.2
	// requires 1024 to 4096 and allows more.
	MaxRSABits = 8192
)

// Sentinel errors, wrapped in Result.Err (and in Close's error for
// ErrAborted). The comment says the status they go with.
var (
	ErrMalformed    = errors.New("dkim: malformed or unsupported signature") // permerror
	ErrAlgorithm    = errors.New("dkim: algorithm not allowed")              // permerror: rsa-sha1 (RFC 8301 §3.1)
	ErrExpired      = errors.New("dkim: signature expired")                  // permerror
	ErrNoKey        = errors.New("dkim: no key for signature")               // permerror: NXDOMAIN, no TXT
	ErrKey          = errors.New("dkim: unusable key record")                // permerror: syntax, revoked, mismatch
	ErrWeakKey      = errors.New("dkim: key size not allowed")               // permerror: RSA under MinRSABits (RFC 8301 §3.2)
	ErrKeyTemporary = errors.New("dkim: key lookup failed temporarily")      // temperror
	ErrBodyHash     = errors.New("dkim: body hash did not verify")           // fail
	ErrSignature    = errors.New("dkim: signature did not verify")           // fail
	ErrBodyLength   = errors.New("dkim: body length tag refused")            // policy
	ErrNotEvaluated = errors.New("dkim: signature not evaluated")            // neutral: over MaxSignatures
	ErrTooLarge     = errors.New("dkim: header over the buffer limit")       // neutral
	ErrAborted      = errors.New("dkim: verification aborted")               // temperror: Abort, ctx, idle timeout
	ErrInternal     = errors.New("dkim: internal error")                     // temperror: a library failure or panic
	// ErrState is returned for calls out of order (Header after the body,
	// anything after Close); never for anything in the message.
	ErrState = errors.New("dkim: call out of order")
)

// Result is the verdict on one DKIM-Signature field. Status is always set;
// for every status but pass, Err wraps one of the sentinels above and
// Reason says the same for logs.
type Result struct {
	Status     string // pass, fail, neutral, temperror, permerror, policy (RFC 8601 words)
	Domain     string // d=
	Selector   string // s=
	Algorithm  string // a= e.g. "rsa-sha256", "ed25519-sha256"
	Identifier string // i= (AUID), decoded; "" when absent
	BPrefix    string // first 8 chars of b= for header.b (RFC 6008)
	KeyBits    int    // RSA key size when known
	Reason     string // detail for logs ("body hash did not verify", "rsa-sha1 not allowed (RFC 8301 §3.1)", ...)
	Err        error
}

// Options configure a Verifier. The zero value is usable.
type Options struct {
	// MaxSignatures is the number of signatures verified at most, the
	// topmost in header order (default 5). Each further one gets a
	// "neutral" Result with ErrNotEvaluated: no lookup, no hashing.
	MaxSignatures int
	// MaxBuffer bounds, in bytes, the header block kept for the verifier
	// and, separately, the body queued between Body and the verifier
	// (default 1 MiB). Beyond it, Body blocks until the verifier catches up
	// (normally a key lookup finishing), so memory stays bounded and
	// nothing is dropped. A header block beyond it is not verified: every
	// signature is "neutral" with ErrTooLarge (Postfix's header_size_limit,
	// 100 KiB by default, keeps this from happening).
	MaxBuffer int64
	// MinRSABits is the smallest RSA key accepted (default and minimum
	// 1024, RFC 8301 §3.2).
	MinRSABits int
	// Timeout bounds each key lookup (default 10s).
	Timeout time.Duration
	// Now is the clock for x= expiry (default time.Now).
	Now func() time.Time
	// IdleTimeout aborts a verification that gets no call (Body, Close)
	// for that long (default 10m): the milter protocol has no callback for
	// a connection that just goes away, and the goroutine must end.
	IdleTimeout time.Duration
	// Logger gets one debug line per signature at Close. Nil: none.
	Logger *slog.Logger

	// forceRecheck makes this package verify every parseable signature
	// itself instead of go-msgauth: tests compare both verifiers with it.
	forceRecheck bool
}

func (o Options) withDefaults() Options {
	if o.MaxSignatures <= 0 {
		o.MaxSignatures = DefaultMaxSignatures
	}
	if o.MaxBuffer <= 0 {
		o.MaxBuffer = DefaultMaxBuffer
	}
	if o.MinRSABits < DefaultMinRSABits {
		o.MinRSABits = DefaultMinRSABits
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

const (
	stateHeader = iota
	stateBody
	stateClosed
)

// Verifier verifies one message streamed to it: header fields as the
// milter receives them, then EndHeaders, then body chunks, then Close (or
// Abort). Verification (key lookups, body hashing) runs in a goroutine
// from EndHeaders on, while the body arrives. All methods are called from
// one goroutine (the milter session's); the context and IdleTimeout abort
// from elsewhere, safely.
type Verifier struct {
	ctx    context.Context
	cancel context.CancelFunc
	opts   Options
	keys   *keyCache
	start  time.Time

	state    int
	fields   []string // raw header fields as given, CRLF-terminated
	hdrBytes int64
	overflow []*sigInfo // signatures seen after the header went over MaxBuffer

	now      time.Time  // Options.Now at EndHeaders
	hfields  []string   // the fields as go-msgauth reads them
	sigs     []*sigInfo // every DKIM-Signature, in header order
	rechecks map[int]*recheck
	q        *bodyQueue
	done     chan struct{} // closed when the go-msgauth goroutine ends
	verifs   []*msgauth.Verification
	libErr   error
	idle     *time.Timer
	stopCtx  func() bool

	abortOnce  sync.Once
	aborted    atomic.Bool
	abortErr   error // set before aborted
	abortedRun bool  // aborted before the verification goroutine ended

	results  []Result
	closeErr error
}

// NewVerifier returns a Verifier for one message. Key lookups use r,
// through resolver.NetAdapter, each bounded by opts.Timeout and by ctx; ctx
// ending aborts the verification (temperror).
func NewVerifier(ctx context.Context, r resolver.Resolver, opts Options) *Verifier {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(ctx)
	return &Verifier{
		ctx:    ctx,
		cancel: cancel,
		opts:   opts,
		keys:   newKeyCache(ctx, r, opts.Timeout, opts.MinRSABits),
		start:  time.Now(),
	}
}

// Header adds one header field: its name and its value as the milter
// receives it, with folding (CRLF or bare LF line ends) and without the
// one space after the colon that Postfix removes (see the package doc).
// It fails only when called after the header ended.
func (v *Verifier) Header(name, value string) error {
	return v.addField(name + ": " + normalizeEOL(value) + crlf)
}

// addField adds one raw header field ending in CRLF.
func (v *Verifier) addField(raw string) error {
	if v.state != stateHeader {
		return fmt.Errorf("%w: header field after the end of the header", ErrState)
	}
	if v.overflow != nil || v.hdrBytes+int64(len(raw)) > v.opts.MaxBuffer {
		// Not verifiable any more; keep only what the Results need.
		if v.overflow == nil {
			v.overflow = []*sigInfo{}
			for _, f := range v.fields {
				if isSigField(f) {
					v.overflow = append(v.overflow, parseSig(f))
				}
			}
			v.fields = nil
		}
		if isSigField(raw) {
			s := parseSig(raw)
			s.field = ""
			v.overflow = append(v.overflow, s)
		}
		return nil
	}
	v.fields = append(v.fields, raw)
	v.hdrBytes += int64(len(raw))
	return nil
}

// normalizeEOL makes every line end CRLF.
func normalizeEOL(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// EndHeaders ends the header. If the message has DKIM signatures, the
// verification starts: key lookups go out now. Body and Close call it when
// it was not called.
func (v *Verifier) EndHeaders() error {
	if v.state != stateHeader {
		return fmt.Errorf("%w: EndHeaders twice or after Close", ErrState)
	}
	v.state = stateBody
	v.now = v.opts.Now()
	if v.overflow != nil || v.aborted.Load() {
		return nil
	}
	// The header block as go-msgauth must see it: always with the empty
	// line after it, which a header-only message lacks (the library then
	// fails with "failed to read header").
	var b strings.Builder
	b.Grow(int(v.hdrBytes) + 2)
	for _, f := range v.fields {
		b.WriteString(f)
	}
	b.WriteString(crlf)
	block := []byte(b.String())
	v.fields = nil
	v.hfields = splitHeader(block)
	for _, f := range v.hfields {
		if isSigField(f) {
			v.sigs = append(v.sigs, parseSig(f))
		}
	}
	if len(v.sigs) == 0 {
		v.hfields = nil
		return nil
	}
	for i, s := range v.sigs[:min(len(v.sigs), v.opts.MaxSignatures)] {
		if needsRecheck(s, v.now, v.opts.forceRecheck) {
			if v.rechecks == nil {
				v.rechecks = map[int]*recheck{}
			}
			v.rechecks[i] = newRecheck(s, v.now, v.keys)
		}
	}

	v.q = newBodyQueue(v.opts.MaxBuffer)
	v.q.write(block, true)
	v.done = make(chan struct{})
	v.idle = time.AfterFunc(v.opts.IdleTimeout, func() {
		v.abort(fmt.Errorf("no call for %s", v.opts.IdleTimeout))
	})
	v.stopCtx = context.AfterFunc(v.ctx, func() { v.abort(context.Cause(v.ctx)) })
	lopts := &msgauth.VerifyOptions{
		LookupTXT:        v.keys.lookupTXT,
		MaxVerifications: v.opts.MaxSignatures,
	}
	go v.run(lopts)
	return nil
}

// run is the verification goroutine.
func (v *Verifier) run(lopts *msgauth.VerifyOptions) {
	defer close(v.done)
	// An abort after this point came too late to spoil the verdicts.
	defer func() { v.abortedRun = v.aborted.Load() }()
	defer v.q.readerDone()
	defer func() {
		if x := recover(); x != nil {
			v.verifs, v.libErr = nil, fmt.Errorf("%w: panic: %v", ErrInternal, x)
		}
	}()
	v.verifs, v.libErr = msgauth.VerifyWithOptions(v.q, lopts)
}

// Body adds a chunk of the body. Line ends may be CRLF (as Postfix sends
// them) or bare LF. The chunk is copied. Body blocks only when more than
// MaxBuffer bytes wait for the verifier.
func (v *Verifier) Body(chunk []byte) error {
	switch v.state {
	case stateHeader:
		if err := v.EndHeaders(); err != nil {
			return err
		}
	case stateClosed:
		return fmt.Errorf("%w: Body after Close", ErrState)
	}
	if v.q == nil || len(chunk) == 0 {
		return nil
	}
	v.idle.Reset(v.opts.IdleTimeout)
	for _, rc := range v.rechecks {
		rc.write(chunk)
	}
	v.q.write(chunk, false)
	return nil
}

// Abort ends the verification, frees its goroutine and waits for it (a
// few milliseconds: key lookups are cancelled). Close then reports every
// signature as temperror with ErrAborted. It may be called at any point,
// more than once, and after Close (when it does nothing), but from the
// goroutine that calls the other methods.
func (v *Verifier) Abort() {
	v.abort(errors.New("Abort called"))
	if v.done != nil && v.state != stateClosed {
		<-v.done
		// Nothing may keep the Verifier alive now: not the idle timer, not
		// the context's callback.
		v.idle.Stop()
		v.stopCtx()
	}
}

func (v *Verifier) abort(cause error) {
	v.abortOnce.Do(func() {
		v.abortErr = fmt.Errorf("%w: %v", ErrAborted, cause)
		v.aborted.Store(true)
		v.cancel()
		if v.q != nil {
			v.q.abort()
		}
	})
}

// Close ends the message, waits for the verification and returns one
// Result per DKIM-Signature field, in header order; nil when there is
// none. The error is non-nil (ErrAborted) only when the verification was
// aborted before it finished (Abort, the context, IdleTimeout), and every
// evaluated signature then says temperror. Close may be called more than
// once.
func (v *Verifier) Close() ([]Result, error) {
	if v.state == stateClosed {
		return v.results, v.closeErr
	}
	if v.state == stateHeader {
		v.EndHeaders()
	}
	v.state = stateClosed
	aborted := v.aborted.Load()
	if v.q != nil {
		v.q.closeWrite()
		<-v.done
		v.idle.Stop()
		v.stopCtx()
		aborted = v.abortedRun
	}
	v.results = v.buildResults(aborted)
	if aborted {
		v.closeErr = v.abortErr
	}
	v.cancel()
	for _, r := range v.results {
		v.opts.Logger.Debug("dkim verify result", "domain", r.Domain, "selector", r.Selector,
			"algorithm", r.Algorithm, "status", r.Status, "reason", r.Reason, "keybits", r.KeyBits,
			"duration", time.Since(v.start))
	}
	// Free the message; v.q stays: a timer that fired just before its Stop
	// may still be aborting it.
	v.hfields, v.sigs, v.rechecks, v.verifs = nil, nil, nil, nil
	return v.results, v.closeErr
}

func (v *Verifier) buildResults(aborted bool) []Result {
	if v.overflow != nil {
		if len(v.overflow) == 0 {
			return nil
		}
		out := make([]Result, len(v.overflow))
		for i, s := range v.overflow {
			out[i] = s.result(StatusNeutral, fmt.Errorf("%w: header over %d bytes, not verified", ErrTooLarge, v.opts.MaxBuffer))
		}
		return out
	}
	if len(v.sigs) == 0 {
		return nil
	}
	out := make([]Result, len(v.sigs))
	for i, s := range v.sigs {
		var r Result
		switch {
		case i >= v.opts.MaxSignatures:
			r = s.result(StatusNeutral, fmt.Errorf("%w: over the limit of %d signatures", ErrNotEvaluated, v.opts.MaxSignatures))
		case aborted:
			r = s.result(StatusTemperror, v.abortErr)
		case v.libErr != nil && !errors.Is(v.libErr, msgauth.ErrTooManySignatures):
			r = s.result(StatusTemperror, fmt.Errorf("%w: %v", ErrInternal, v.libErr))
		case v.rechecks[i] != nil:
			r = s.result(v.rechecks[i].finish(v.hfields))
		case i >= len(v.verifs) || v.verifs[i] == nil:
			r = s.result(StatusTemperror, fmt.Errorf("%w: no verdict from go-msgauth", ErrInternal))
		default:
			r = s.result(v.judge(s, v.verifs[i].Err))
		}
		if i < v.opts.MaxSignatures {
			r.KeyBits = v.keys.keyBits(s.selector + "._domainkey." + s.domain)
		}
		out[i] = r
	}
	return out
}

// judge turns go-msgauth's verdict on s into ours: its error classified,
// then the checks it does not do.
func (v *Verifier) judge(s *sigInfo, err error) (string, error) {
	st, rerr := fromLibrary(err, v.keys.peek(s.selector+"._domainkey."+s.domain))
	if st != StatusPermerror && s.err == nil && s.expired(v.now) {
		// Our clock says expired (the library's did not). RFC 6376 §6.1.1
		// tests x= before the key lookup, so this wins over temperror too.
		return StatusPermerror, fmt.Errorf("%w: x= %s", ErrExpired, s.expires.UTC().Format(time.RFC3339))
	}
	if st == StatusPass {
		if e := v.keys.peek(s.selector + "._domainkey." + s.domain); e != nil && e.key != nil {
			if err := strictIdentity(s, e.key); err != nil {
				return StatusPermerror, err
			}
		}
	}
	return st, rerr
}

// fromLibrary classifies a go-msgauth verification error. The library has
// three error types (IsTempFail, IsPermFail, and an unexported one for
// verification failures) and says the rest in its messages, which we read
// only to pick the sentinel; the status follows the type.
func fromLibrary(err error, key *keyEntry) (string, error) {
	if err == nil {
		return StatusPass, nil
	}
	msg := strings.TrimPrefix(err.Error(), "dkim: ")
	wrap := func(st string, sentinel error) (string, error) {
		// Say it once: "no key for signature: no key for signature: ...".
		detail := strings.TrimPrefix(msg, strings.TrimPrefix(sentinel.Error(), "dkim: ")+": ")
		detail = strings.ReplaceAll(detail, "dkim: ", "")
		return st, fmt.Errorf("%w: %s", sentinel, detail)
	}
	switch {
	case msgauth.IsTempFail(err):
		// Its only temporary failure is the key lookup.
		return wrap(StatusTemperror, ErrKeyTemporary)
	case msgauth.IsPermFail(err):
		switch {
		case strings.Contains(msg, "no key for signature") && key != nil && key.refused != nil:
			return StatusPermerror, key.refused
		case strings.Contains(msg, "no key for signature"):
			return wrap(StatusPermerror, ErrNoKey)
		case strings.Contains(msg, "hash algorithm too weak"):
			return StatusPermerror, fmt.Errorf("%w: rsa-sha1 not allowed (RFC 8301 §3.1)", ErrAlgorithm)
		case strings.Contains(msg, "key is too short"):
			return StatusPermerror, fmt.Errorf("%w: %s (RFC 8301 §3.2)", ErrWeakKey, msg)
		case strings.Contains(msg, "signature has expired"):
			return wrap(StatusPermerror, ErrExpired)
		case strings.Contains(msg, "query method"):
			return wrap(StatusPermerror, ErrMalformed)
		case strings.Contains(msg, "key") || strings.Contains(msg, "inappropriate") || strings.Contains(msg, "TXT record"):
			return wrap(StatusPermerror, ErrKey)
		}
		return wrap(StatusPermerror, ErrMalformed)
	case strings.Contains(msg, "body hash did not verify"):
		return StatusFail, ErrBodyHash
	case strings.Contains(msg, "body length"):
		// go-msgauth refuses l= as a failure, with a TODO to make it a
		// policy error: it is one (RFC 6376 §8.2; RFC 8601 "policy").
		return StatusPolicy, errBodyLength
	}
	return wrap(StatusFail, ErrSignature)
}

// result fills a Result from s, with st and err.
func (s *sigInfo) result(st string, err error) Result {
	r := Result{
		Status:     st,
		Domain:     s.domain,
		Selector:   s.selector,
		Algorithm:  s.algorithm,
		Identifier: s.identifier,
		BPrefix:    s.bPrefix,
		Err:        err,
	}
	if err != nil {
		r.Reason = strings.TrimPrefix(err.Error(), "dkim: ")
	}
	return r
}

// VerifyMessage verifies a whole message read from msg (CRLF or LF line
// ends; a message without a body, or without the empty line after its
// header, is fine). It is the Verifier fed from a reader, for tests and
// the CLI. The error is a read error or the Verifier's Close error.
func VerifyMessage(ctx context.Context, r resolver.Resolver, msg io.Reader, opts Options) ([]Result, error) {
	v := NewVerifier(ctx, r, opts)
	defer v.Abort()
	br := bufio.NewReaderSize(msg, 64*1024)
	if err := readHeader(br, v.addField); err != nil {
		return nil, fmt.Errorf("dkim: reading message: %w", err)
	}
	if err := v.EndHeaders(); err != nil {
		return nil, err
	}
	buf := make([]byte, 64*1024)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			if err := v.Body(buf[:n]); err != nil {
				return nil, err
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("dkim: reading message: %w", err)
		}
	}
	return v.Close()
}

// readHeader reads header fields up to and including the empty line (or
// the end of the input: a header-only message) and gives each to add as a
// raw field with CRLF line ends. A line starting with white space
// continues the field before it.
func readHeader(br *bufio.Reader, add func(string) error) error {
	var field []byte
	flush := func() error {
		if field == nil {
			return nil
		}
		err := add(string(field))
		field = nil
		return err
	}
	for {
		line, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return err
		}
		eof := err == io.EOF
		if eof && len(line) == 0 {
			return flush()
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) == 0 {
			return flush()
		}
		if field != nil && (line[0] == ' ' || line[0] == '\t') {
			field = append(append(field, line...), crlf...)
		} else {
			if err := flush(); err != nil {
				return err
			}
			field = append(append([]byte{}, line...), crlf...)
		}
		if eof {
			return flush()
		}
	}
}
