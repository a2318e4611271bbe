package dkim

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"
	"time"
	"unicode"
)

const (
	sigFieldName = "DKIM-Signature"
	crlf         = "\r\n"
)

// parseTags parses a tag=value list (RFC 6376 §3.2). Names and values are
// trimmed of FWS; an empty segment (";;", a trailing ";") is allowed; a
// segment without "=" and a repeated name are errors ("Tags with duplicate
// names MUST NOT occur"). It is as lenient as go-msgauth's parser about
// the characters of names and values, so that we never call malformed what
// the library verified. On error, the tags read so far are returned too.
func parseTags(s string) (map[string]string, error) {
	tags := map[string]string{}
	for part := range strings.SplitSeq(s, ";") {
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			if strings.TrimSpace(part) == "" {
				continue
			}
			return tags, fmt.Errorf("tag without '=': %q", clip(strings.TrimSpace(part)))
		}
		name = strings.TrimSpace(name)
		if _, dup := tags[name]; dup {
			return tags, fmt.Errorf("duplicate tag %q", clip(name))
		}
		tags[name] = strings.TrimSpace(value)
	}
	return tags, nil
}

// stripWS removes all white space, as go-msgauth does for the values it
// uses (base64 and tag lists may be folded anywhere).
func stripWS(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// clip shortens s for error messages.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// fieldParts splits a raw header field into name and value exactly as
// go-msgauth's parseHeaderField does: at the first colon, both trimmed.
func fieldParts(field string) (name, value string) {
	name, value, _ = strings.Cut(field, ":")
	return strings.TrimSpace(name), strings.TrimSpace(value)
}

func isSigField(field string) bool {
	name, _ := fieldParts(field)
	return strings.EqualFold(name, sigFieldName)
}

// splitHeader splits a header block (ending with the empty line) into raw
// fields, each ending in CRLF, with the rules of go-msgauth's readHeader:
// the result has the same fields in the same order as the library's, so
// the n-th DKIM-Signature here is its n-th signature.
func splitHeader(block []byte) []string {
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(block)))
	var h []string
	for {
		l, err := tr.ReadLine()
		if err != nil || l == "" {
			return h
		}
		if len(h) > 0 && (l[0] == ' ' || l[0] == '\t') {
			h[len(h)-1] += l + crlf
		} else {
			h = append(h, l+crlf)
		}
	}
}

// sigInfo is our own reading of one DKIM-Signature field: the Result
// fields, and what we need to judge go-msgauth's verdict and to re-verify.
type sigInfo struct {
	field string            // the raw field, as go-msgauth sees it
	tags  map[string]string // nil only when the value is empty
	err   error             // tag-list syntax error: permerror

	domain, selector, algorithm string // d=, s=, a= without white space
	identifier                  string // i= decoded (dkim-quoted-printable), "" when absent
	auidDomain                  string // the domain of identifier; "" when absent or undecodable
	bPrefix                     string
	expires                     time.Time // zero: no (valid) x=
}

func parseSig(field string) *sigInfo {
	s := &sigInfo{field: field}
	_, value := fieldParts(field)
	s.tags, s.err = parseTags(value)
	s.domain = stripWS(s.tags["d"])
	s.selector = stripWS(s.tags["s"])
	s.algorithm = stripWS(s.tags["a"])
	if i, ok := s.tags["i"]; ok {
		raw := stripWS(i)
		s.identifier = raw
		if dec, err := qpDecode(raw); err == nil {
			s.identifier = dec
			if at := strings.LastIndexByte(dec, '@'); at >= 0 {
				s.auidDomain = dec[at+1:]
			}
		}
	}
	b := stripWS(s.tags["b"])
	s.bPrefix = b[:min(8, len(b))]
	if x, ok := s.tags["x"]; ok {
		if t, err := parseUnix(x); err == nil {
			s.expires = t
		}
	}
	return s
}

// expired reports whether x= is in the past at now: "Signatures MAY be
// considered invalid if the verification time at the Verifier is past the
// expiration date" (RFC 6376 §3.5), with go-msgauth's comparison.
func (s *sigInfo) expired(now time.Time) bool {
	return !s.expires.IsZero() && now.After(s.expires)
}

// identityOK reports whether the AUID's domain is d= or below it (RFC 6376
// §3.5 i=: "the same as, or a subdomain of"); domain names compare without
// case (RFC 4343).
func (s *sigInfo) identityOK() bool {
	if _, ok := s.tags["i"]; !ok {
		return true
	}
	a, d := strings.ToLower(s.auidDomain), strings.ToLower(s.domain)
	return d != "" && (a == d || strings.HasSuffix(a, "."+d))
}

// libIdentityOK is go-msgauth v0.7.0's test: the raw i= (not decoded)
// ends in "@"+d or "."+d, case-sensitively.
func (s *sigInfo) libIdentityOK() bool {
	i, ok := s.tags["i"]
	if !ok {
		return true
	}
	i = stripWS(i)
	return strings.HasSuffix(i, "@"+s.domain) || strings.HasSuffix(i, "."+s.domain)
}

// qpDecode decodes dkim-quoted-printable (RFC 6376 §2.11): "=" and two
// upper-case hex digits stand for one octet. White space is already gone.
func qpDecode(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("truncated =XX escape")
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad =XX escape %q", s[i:i+3])
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

func parseUnix(s string) (time.Time, error) {
	n, err := strconv.ParseInt(stripWS(s), 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(n, 0), nil
}

// keyRecord is a DKIM key record (RFC 6376 §3.6.1, RFC 8463 §4.2).
type keyRecord struct {
	algo     string // k=: "rsa" or "ed25519"
	rsa      *rsa.PublicKey
	ed       ed25519.PublicKey
	bits     int      // RSA modulus length
	hashes   []string // h=; nil: any
	services []string // s=; nil: any (also for "*")
	flags    []string // t=
}

// parseKey parses a key record. Errors are permanent (ErrKey wrapped).
func parseKey(txt string) (*keyRecord, error) {
	tags, err := parseTags(txt)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return nil, fmt.Errorf("%w: version %q is not DKIM1", ErrKey, clip(v))
	}
	p, ok := tags["p"]
	if !ok {
		return nil, fmt.Errorf("%w: no p= tag", ErrKey)
	}
	p = stripWS(p)
	if p == "" {
		// RFC 6376 §3.6.1: "An empty value means that this public key has
		// been revoked."
		return nil, fmt.Errorf("%w: key revoked (empty p=)", ErrKey)
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("%w: p= is not base64", ErrKey)
	}
	k := &keyRecord{}
	switch algo := stripWS(tags["k"]); algo {
	case "", "rsa":
		k.algo = "rsa"
		// RFC 6376 says SubjectPublicKeyInfo in one place and RSAPublicKey
		// in another; erratum 3017 allows both, as go-msgauth does.
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			pub, err = x509.ParsePKCS1PublicKey(der)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: p= is not an RSA public key", ErrKey)
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: p= is a %T, not an RSA key", ErrKey, pub)
		}
		k.rsa, k.bits = rk, rk.N.BitLen()
	case "ed25519":
		// RFC 8463 §4.2: the raw 32-octet public key, not SPKI.
		if len(der) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: ed25519 p= has %d octets, not %d", ErrKey, len(der), ed25519.PublicKeySize)
		}
		k.algo, k.ed = "ed25519", ed25519.PublicKey(der)
	default:
		return nil, fmt.Errorf("%w: unknown key type k=%s", ErrKey, clip(algo))
	}
	if h, ok := tags["h"]; ok {
		k.hashes = tagList(h)
	}
	if s, ok := tags["s"]; ok {
		k.services = tagList(s)
		for _, sv := range k.services {
			if sv == "*" {
				k.services = nil
				break
			}
		}
	}
	if t, ok := tags["t"]; ok {
		k.flags = tagList(t)
	}
	return k, nil
}

func tagList(s string) []string {
	l := strings.Split(s, ":")
	for i, v := range l {
		l[i] = stripWS(v)
	}
	return l
}

func (k *keyRecord) hasFlag(f string) bool {
	for _, v := range k.flags {
		if v == f {
			return true
		}
	}
	return false
}
