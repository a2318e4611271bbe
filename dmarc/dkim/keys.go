package dkim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/mxguard/mxguard/resolver"
)

// keyCache looks up each key record of one message once, for go-msgauth
// (through lookupTXT, its VerifyOptions.LookupTXT hook) and for our own
// re-verification alike, and keeps what we learn about the key (its size)
// for the Result.
type keyCache struct {
	ctx     context.Context // the Verifier's: cancelled by Abort
	ad      *resolver.NetAdapter
	timeout time.Duration
	minBits int

	mu sync.Mutex
	m  map[string]*keyEntry // by lower-case name, without the final dot
}

type keyEntry struct {
	done chan struct{} // closed when the fields below are set
	txts []string
	// err is the adapter's error, a bare *net.DNSError (never wrapped:
	// go-msgauth type-asserts net.Error and calls Temporary).
	err error
	key *keyRecord // our parse, when there is exactly one record and it parses
	// refused is set when we refuse the key ourselves (size, RFC 8301
	// §3.2); go-msgauth is then told there is no usable key.
	refused error
}

func newKeyCache(ctx context.Context, r resolver.Resolver, timeout time.Duration, minBits int) *keyCache {
	return &keyCache{
		ctx:     ctx,
		ad:      resolver.NewNetAdapter(ctx, r),
		timeout: timeout,
		minBits: minBits,
		m:       map[string]*keyEntry{},
	}
}

// get returns the entry for name, looking it up in the calling goroutine
// when it is the first to ask, waiting for the first asker otherwise. It
// returns nil only when the context ends while waiting.
func (c *keyCache) get(name string) *keyEntry {
	key := lowerASCII(name)
	c.mu.Lock()
	e, ok := c.m[key]
	if !ok {
		e = &keyEntry{done: make(chan struct{})}
		c.m[key] = e
	}
	c.mu.Unlock()
	if ok {
		select {
		case <-e.done:
			return e
		case <-c.ctx.Done():
			return nil
		}
	}
	defer close(e.done)
	if err := checkKeyName(name); err != nil {
		// Never sent: a name that is no host name cannot have a key, and
		// some (a NUL, a 64-octet label) would come back as a confusing
		// temporary error.
		e.refused = err
		return e
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
	defer cancel()
	e.txts, e.err = c.ad.LookupTXTCtx(ctx, name)
	if e.err == nil && len(e.txts) == 1 {
		if k, err := parseKey(e.txts[0]); err == nil {
			e.key = k
			// RFC 8301 §3.2: "Verifiers MUST NOT consider signatures using
			// RSA keys of less than 1024 bits as valid signatures." On the
			// modulus' bit length: go-msgauth rounds up to whole bytes.
			if k.algo == "rsa" && k.bits < c.minBits {
				e.refused = fmt.Errorf("%w: rsa key of %d bits, under %d (RFC 8301 §3.2)", ErrWeakKey, k.bits, c.minBits)
			} else if k.algo == "rsa" && k.bits > MaxRSABits {
				e.refused = fmt.Errorf("%w: rsa key of %d bits, over %d", ErrWeakKey, k.bits, MaxRSABits)
			}
		}
	}
	return e
}

// lookupTXT is go-msgauth's VerifyOptions.LookupTXT.
func (c *keyCache) lookupTXT(name string) ([]string, error) {
	e := c.get(name)
	switch {
	case e == nil:
		// Aborted: temporary, as the adapter reports a cancelled lookup.
		return nil, &net.DNSError{Err: "verification aborted", Name: name, IsTemporary: true}
	case e.err != nil:
		return nil, e.err
	case e.refused != nil:
		// Not a net.Error: go-msgauth makes it a permanent failure ("no
		// key for signature"), which the Result then explains.
		return nil, e.refused
	}
	return e.txts, nil
}

// peek returns the entry for name if its lookup has finished.
func (c *keyCache) peek(name string) *keyEntry {
	c.mu.Lock()
	e := c.m[lowerASCII(name)]
	c.mu.Unlock()
	if e == nil {
		return nil
	}
	select {
	case <-e.done:
		return e
	default:
		return nil
	}
}

// keyBits is the RSA key size of the key record at name, 0 when unknown.
func (c *keyCache) keyBits(name string) int {
	if e := c.peek(name); e != nil && e.key != nil {
		return e.key.bits
	}
	return 0
}

// classify says what a finished lookup means for a signature, in the
// single place where temporary and permanent are told apart (RFC 6376
// §6.1.2): nil with the key, or the status and error.
func (e *keyEntry) classify() (*keyRecord, string, error) {
	if e == nil {
		return nil, StatusTemperror, fmt.Errorf("%w: verification aborted", ErrKeyTemporary)
	}
	if e.err != nil {
		var de *net.DNSError
		if errors.As(e.err, &de) && (de.IsTemporary || de.IsTimeout) {
			// "If the query for the public key fails to respond, the
			// Verifier MAY seek a later verification attempt by returning
			// TEMPFAIL (key unavailable)."
			return nil, StatusTemperror, fmt.Errorf("%w: %v", ErrKeyTemporary, e.err)
		}
		// "If the query for the public key fails because the corresponding
		// key record does not exist, the Verifier MUST immediately return
		// PERMFAIL (no key for signature)." A permanent DNS error (FORMERR,
		// an invalid name) is no better.
		return nil, StatusPermerror, fmt.Errorf("%w: %v", ErrNoKey, e.err)
	}
	switch {
	case len(e.txts) == 0:
		return nil, StatusPermerror, fmt.Errorf("%w: no TXT record", ErrNoKey)
	case len(e.txts) > 1:
		// RFC 6376 §3.6.2.2: several records give undefined results.
		return nil, StatusPermerror, fmt.Errorf("%w: %d TXT records", ErrKey, len(e.txts))
	case e.refused != nil:
		return nil, StatusPermerror, e.refused
	case e.key == nil:
		_, err := parseKey(e.txts[0])
		return nil, StatusPermerror, err
	}
	return e.key, "", nil
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// checkKeyName checks the syntax of <selector>._domainkey.<domain>: s= and
// d= are domain names (RFC 6376 §3.5, sub-domain of RFC 5321 §4.1.2:
// letters, digits, hyphens; we also allow "_", seen in selectors in the
// wild), labels of 1 to 63 octets (RFC 1035 §2.3.4), and at most 253
// octets in all; one final dot is allowed. Non-ASCII (U-labels, RFC 8616)
// is refused: we do not convert to A-labels.
func checkKeyName(name string) error {
	n := strings.TrimSuffix(name, ".")
	if len(n) > 253 {
		return fmt.Errorf("%w: key name over 253 octets", ErrMalformed)
	}
	for label := range strings.SplitSeq(n, ".") {
		if len(label) == 0 || len(label) > 63 {
			return fmt.Errorf("%w: bad label length in key name %q", ErrMalformed, clip(name))
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%w: character %q in key name %q", ErrMalformed, c, clip(name))
			}
		}
	}
	return nil
}
