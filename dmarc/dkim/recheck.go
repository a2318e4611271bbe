package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
	"time"
)

// recheck verifies one signature without go-msgauth, for the signatures
// whose library verdict we know to be wrong (see needsRecheck). It is a
// complete RFC 6376 verifier for one signature, with the checks in
// go-msgauth's order so that both agree on everything but the defects:
// header checks, key lookup, algorithms, body hash, header hash and
// signature. The body is fed by Verifier.Body, as it arrives.
type recheck struct {
	sig     *sigInfo
	keyName string
	now     time.Time

	// Set at the end of the header: the verdict when the signature's own
	// tags settle it before the key lookup, else empty.
	status string
	err    error

	hasher hash.Hash  // nil when the body need not be hashed
	body   *bodyCanon // canonicalizes into hasher

	keyDone chan struct{}
	key     *keyEntry
}

// needsRecheck reports whether go-msgauth v0.7.0's verdict on s cannot be
// trusted, so that we verify s ourselves:
//   - i= is inside d= by RFC 6376 (case-insensitive, dkim-quoted-printable
//     decoded) while the library's case-sensitive, undecoded suffix test
//     says "domain mismatch";
//   - x= is not past our clock (Options.Now) while the library's own
//     clock (time.Now, unexported) says it is, or will within a minute of
//     now (the library checks a moment later than we do).
func needsRecheck(s *sigInfo, now time.Time, force bool) bool {
	if s.err != nil {
		return false
	}
	if force {
		return true
	}
	if s.identityOK() && !s.libIdentityOK() {
		return true
	}
	return !s.expires.IsZero() && !s.expired(now) && !s.expires.After(time.Now().Add(time.Minute))
}

func newRecheck(s *sigInfo, now time.Time, keys *keyCache) *recheck {
	rc := &recheck{sig: s, now: now, keyName: s.selector + "._domainkey." + s.domain}
	rc.status, rc.err = rc.precheck()
	if rc.status != "" {
		return rc
	}
	rc.keyDone = make(chan struct{})
	go func() {
		defer close(rc.keyDone)
		rc.key = keys.get(rc.keyName)
	}()
	if _, bodyRelaxed, err := rc.canon(); err == nil && rc.static() == nil {
		rc.hasher = sha256.New()
		rc.body = newBodyCanon(rc.hasher, bodyRelaxed)
	}
	return rc
}

// write feeds body bytes.
func (rc *recheck) write(p []byte) {
	if rc.body != nil {
		rc.body.Write(p) // hash.Hash never fails
	}
}

// precheck is RFC 6376 §6.1.1, the tests on the signature alone that come
// before the key lookup.
func (rc *recheck) precheck() (string, error) {
	s := rc.sig
	if s.err != nil {
		return StatusPermerror, fmt.Errorf("%w: %v", ErrMalformed, s.err)
	}
	if v := s.tags["v"]; v != "1" {
		return StatusPermerror, fmt.Errorf("%w: version v=%q is not 1", ErrMalformed, clip(v))
	}
	for _, t := range []string{"v", "a", "b", "bh", "d", "h", "s"} {
		if _, ok := s.tags[t]; !ok {
			return StatusPermerror, fmt.Errorf("%w: no %s= tag", ErrMalformed, t)
		}
	}
	if !s.identityOK() {
		return StatusPermerror, fmt.Errorf("%w: i= %q is not in d= %q", ErrMalformed, clip(s.identifier), clip(s.domain))
	}
	from := false
	for _, h := range tagList(s.tags["h"]) {
		from = from || strings.EqualFold(h, "from")
	}
	if !from {
		return StatusPermerror, fmt.Errorf("%w: From is not signed", ErrMalformed)
	}
	if t, ok := s.tags["t"]; ok {
		if _, err := parseUnix(t); err != nil {
			return StatusPermerror, fmt.Errorf("%w: bad t= %q", ErrMalformed, clip(t))
		}
	}
	if x, ok := s.tags["x"]; ok {
		if _, err := parseUnix(x); err != nil {
			return StatusPermerror, fmt.Errorf("%w: bad x= %q", ErrMalformed, clip(x))
		}
		if s.expired(rc.now) {
			return StatusPermerror, fmt.Errorf("%w: x= %s", ErrExpired, s.expires.UTC().Format(time.RFC3339))
		}
	}
	if q, ok := s.tags["q"]; ok {
		dnstxt := false
		for _, m := range tagList(q) {
			dnstxt = dnstxt || m == "dns/txt"
		}
		if !dnstxt {
			return StatusPermerror, fmt.Errorf("%w: no supported query method in q=%s", ErrMalformed, clip(q))
		}
	}
	return "", nil
}

// algorithm splits a= into key and hash algorithm.
func (rc *recheck) algorithm() (keyAlgo, hashAlgo string, err error) {
	keyAlgo, hashAlgo, ok := strings.Cut(rc.sig.algorithm, "-")
	if !ok {
		return "", "", fmt.Errorf("%w: malformed a=%s", ErrMalformed, clip(rc.sig.algorithm))
	}
	return keyAlgo, hashAlgo, nil
}

// hashAlgo checks the hash algorithm.
func checkHash(hashAlgo string) error {
	switch hashAlgo {
	case "sha256":
		return nil
	case "sha1":
		// RFC 8301 §3.1: "rsa-sha1 MUST NOT be used for signing or
		// verifying."
		return fmt.Errorf("%w: rsa-sha1 not allowed (RFC 8301 §3.1)", ErrAlgorithm)
	}
	return fmt.Errorf("%w: unsupported hash algorithm %q", ErrMalformed, clip(hashAlgo))
}

func (rc *recheck) canon() (headerRelaxed, bodyRelaxed bool, err error) {
	hc, bc, _ := strings.Cut(stripWS(rc.sig.tags["c"]), "/")
	parse := func(c string) (bool, error) {
		switch c {
		case "", "simple":
			return false, nil
		case "relaxed":
			return true, nil
		}
		return false, fmt.Errorf("%w: unsupported canonicalization %q", ErrMalformed, clip(c))
	}
	if headerRelaxed, err = parse(hc); err != nil {
		return
	}
	bodyRelaxed, err = parse(bc)
	return
}

// static is every test on the signature's tags that needs no key: if it
// fails, the body need not be hashed.
func (rc *recheck) static() error {
	keyAlgo, hashAlgo, err := rc.algorithm()
	if err != nil {
		return err
	}
	if keyAlgo != "rsa" && keyAlgo != "ed25519" {
		return fmt.Errorf("%w: unsupported key algorithm %q", ErrMalformed, clip(keyAlgo))
	}
	if err := checkHash(hashAlgo); err != nil {
		return err
	}
	if _, _, err := rc.canon(); err != nil {
		return err
	}
	if _, ok := rc.sig.tags["l"]; ok {
		return errBodyLength
	}
	if _, err := base64.StdEncoding.DecodeString(stripWS(rc.sig.tags["bh"])); err != nil {
		return fmt.Errorf("%w: bh= is not base64", ErrMalformed)
	}
	if _, err := base64.StdEncoding.DecodeString(stripWS(rc.sig.tags["b"])); err != nil {
		return fmt.Errorf("%w: b= is not base64", ErrMalformed)
	}
	return nil
}

var errBodyLength = fmt.Errorf("%w: the l= tag leaves part of the body unsigned", ErrBodyLength)

// finish completes the verification once the body has been written, with
// the header fields as go-msgauth saw them. It waits for the key lookup,
// bounded by the key cache's context and timeout.
func (rc *recheck) finish(fields []string) (string, error) {
	if rc.status != "" {
		return rc.status, rc.err
	}
	<-rc.keyDone
	key, st, err := rc.key.classify()
	if err != nil {
		return st, err
	}
	keyAlgo, hashAlgo, err := rc.algorithm()
	if err != nil {
		return StatusPermerror, err
	}
	if key.hashes != nil {
		ok := false
		for _, h := range key.hashes {
			ok = ok || h == hashAlgo
		}
		if !ok {
			return StatusPermerror, fmt.Errorf("%w: key h= does not allow %s", ErrKey, clip(hashAlgo))
		}
	}
	if err := checkHash(hashAlgo); err != nil {
		return StatusPermerror, err
	}
	if key.algo != keyAlgo {
		return StatusPermerror, fmt.Errorf("%w: key is %s, signature %s", ErrKey, key.algo, clip(keyAlgo))
	}
	if key.services != nil {
		ok := false
		for _, s := range key.services {
			ok = ok || s == "email"
		}
		if !ok {
			return StatusPermerror, fmt.Errorf("%w: key s= does not include email", ErrKey)
		}
	}
	if err := strictIdentity(rc.sig, key); err != nil {
		return StatusPermerror, err
	}
	if err := rc.static(); err != nil {
		if err == errBodyLength {
			return StatusPolicy, err
		}
		return StatusPermerror, err
	}
	headerRelaxed, _, _ := rc.canon()
	bh, _ := base64.StdEncoding.DecodeString(stripWS(rc.sig.tags["bh"]))
	sig, _ := base64.StdEncoding.DecodeString(stripWS(rc.sig.tags["b"]))

	rc.body.Close()
	if subtle.ConstantTimeCompare(rc.hasher.Sum(nil), bh) != 1 {
		return StatusFail, fmt.Errorf("%w", ErrBodyHash)
	}

	hashed := headerHash(sha256.New(), fields, tagList(rc.sig.tags["h"]), rc.sig.field, headerRelaxed)
	switch keyAlgo {
	case "rsa":
		if err := rsa.VerifyPKCS1v15(key.rsa, crypto.SHA256, hashed, sig); err != nil {
			return StatusFail, fmt.Errorf("%w: %v", ErrSignature, err)
		}
	case "ed25519":
		// RFC 8463 §3: PureEdDSA over the SHA-256 hash.
		if !ed25519.Verify(key.ed, hashed, sig) {
			return StatusFail, fmt.Errorf("%w: ed25519", ErrSignature)
		}
	}
	return StatusPass, nil
}

// strictIdentity is the key flag t=s (RFC 6376 §3.6.1): "the "i=" domain
// MUST NOT be a subdomain of "d="".
func strictIdentity(s *sigInfo, key *keyRecord) error {
	if _, ok := s.tags["i"]; !ok || !key.hasFlag("s") {
		return nil
	}
	if !strings.EqualFold(s.auidDomain, s.domain) {
		return fmt.Errorf("%w: key has t=s and i= domain %q is not d= %q", ErrKey, clip(s.auidDomain), clip(s.domain))
	}
	return nil
}

// headerHash is the hash h of the signed header fields (RFC 6376 §3.7,
// §5.4.2: the last unused instance of each name in h=, from the bottom;
// names with no instance left contribute nothing) followed by the
// signature field itself with an empty b= and no final CRLF.
func headerHash(h hash.Hash, fields, signed []string, sigField string, relaxed bool) []byte {
	used := map[string]int{} // per lower-case name: instances taken from the bottom
	for _, name := range signed {
		lname := lowerASCII(name)
		skip := used[lname]
		for i := len(fields) - 1; i >= 0; i-- {
			n, _ := fieldParts(fields[i])
			if !strings.EqualFold(n, lname) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			used[lname]++
			h.Write([]byte(canonHeader(fields[i], relaxed)))
			break
		}
	}
	sf := canonHeader(removeBValue(sigField), relaxed)
	h.Write([]byte(strings.TrimRight(sf, crlf)))
	return h.Sum(nil)
}
