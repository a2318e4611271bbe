// Package dkim verifies DKIM signatures (RFC 6376) of a message streamed to
// it by the milter, with github.com/emersion/go-msgauth as the engine and
// the corrections that a receiving MTA needs on top of it.
//
// A Verifier takes the header fields as the milter receives them, then the
// body chunks, then Close. At the end of the header it starts go-msgauth's
// dkim.VerifyWithOptions in a goroutine that reads from a bounded in-memory
// queue: the body is hashed while it arrives, key lookups run while the
// body is still coming, and no more than Options.MaxBuffer bytes of body are
// held at once (beyond it, Body blocks until the verifier has caught up).
//
// Results use the words of RFC 8601 §2.7.1: pass, fail, neutral, policy,
// temperror, permerror. The status is always set; for anything but pass,
// Result.Err wraps one of the Err* sentinels, to be tested with errors.Is.
//
// # What we decide on top of go-msgauth
//
//   - RFC 8301 §3.1: rsa-sha1 "MUST NOT" be considered valid; §3.2: RSA
//     keys under 1024 bits likewise. Both are permerror (ErrAlgorithm,
//     ErrWeakKey), not fail: fail says the cryptography was checked and did
//     not match, permerror says the signature cannot be verified at all, as
//     RFC 6376 §6.1.2 does for a hash algorithm the key record does not
//     allow (PERMFAIL "inappropriate hash algorithm"). go-msgauth v0.7.0
//     reports both as permanent errors too, and mox a weak key.
//     Options.MinRSABits can raise the floor, never lower it; keys above
//     MaxRSABits are refused to bound CPU (RFC 8301 §3.2 only requires
//     verifying up to 4096 bits). RSA key sizes are checked on the
//     modulus' bit length, before go-msgauth sees the key: go-msgauth
//     rounds up to whole bytes and would take a 1020-bit key as 1024.
//   - A d= or s= that is not a host name (RFC 6376 §3.5) is permerror
//     (ErrMalformed) without a query: such names (a NUL, a 64-octet label)
//     otherwise come back from the resolver as confusing temporary errors.
//   - Ed25519 (RFC 8463) is verified as go-msgauth does: ed25519-sha256,
//     the key record's p= being the 32 raw bytes.
//   - A temporary key lookup failure (SERVFAIL, timeout) is temperror; a
//     key that does not exist (NXDOMAIN or no TXT record) is permerror
//     (RFC 6376 §6.1.2). Lookups go through our resolver.Resolver via
//     resolver.NetAdapter, which hands go-msgauth the bare *net.DNSError it
//     type-asserts, each lookup bounded by Options.Timeout.
//   - l= (body length) makes a signature "policy": go-msgauth refuses it as
//     insecure, which is a local policy decision (RFC 6376 §8.2).
//   - At most Options.MaxSignatures signatures are verified, the topmost in
//     header order (those go-msgauth would pick); each further one gets a
//     "neutral" Result with ErrNotEvaluated, so logs show it and the
//     Authentication-Results writer can drop it with errors.Is.
//
// # go-msgauth v0.7.0 defects we work around
//
//   - It compares i= with d= case-sensitively, and without decoding i='s
//     dkim-quoted-printable (RFC 6376 §2.11, §3.5), so a valid signature
//     with d=Example.COM; i=@example.com, or i=user=40example.com, is a
//     permanent "domain mismatch". We cannot hand it a normalized header:
//     the DKIM-Signature field is itself signed. Instead, when our own
//     reading finds i= inside d= (case-insensitively, after decoding) and
//     the library's test would not, that signature is re-verified by this
//     package (recheck.go, a complete RFC 6376 verifier for that one
//     signature, fed the same body chunks) and its result replaces the
//     library's.
//   - It checks x= against its own unexported clock; when Options.Now
//     disagrees about a signature's expiry, the same re-verification is
//     used, so tests and replays can pin the time.
//   - It fails a message that has no empty line after the header (a
//     header-only message: RFC 5322 §2.1 makes the body optional). We build
//     the header block for it ourselves and always end it with the empty
//     line; the body hash of the empty body is the same either way.
//   - Its parallel path leaks goroutines when the reader returns an error
//     (parallelVerify returns without closing its pipes). Our queue never
//     returns an error: an aborted verification sees a clean EOF, and its
//     in-flight key lookups are cancelled through the context.
//   - It does not enforce the key flag t=s (RFC 6376 §3.6.1: i= must not
//     be a subdomain of d=); we do, after a pass.
//
// # Milter header values
//
// Postfix, like Sendmail, eats the one space after the colon of a header
// field before sending it to a milter, and any white space before the
// colon (milter8.c; SMFIP_HDR_LEADSPC would keep the space, but needs a
// protocol version go-milter does not speak). Header rebuilds the field as
// "name: value", as go-msgauth's dkim-milter does: exact for "Name: value"
// and for several spaces, wrong for simple header canonicalization only
// when the sender wrote no space or a tab after the colon, or white space
// before it. VerifyMessage reads raw fields and has no such loss.
//
// References:
//
//   - RFC 6376 (https://www.rfc-editor.org/rfc/rfc6376): DKIM signatures.
//   - RFC 8301 (https://www.rfc-editor.org/rfc/rfc8301): rsa-sha1 and keys
//     under 1024 bits are not valid.
//   - RFC 8463 (https://www.rfc-editor.org/rfc/rfc8463): Ed25519-SHA256.
//   - RFC 6008 (https://www.rfc-editor.org/rfc/rfc6008): header.b, the
//     first characters of b= that tell signatures apart (Result.BPrefix).
//   - RFC 8601 (https://www.rfc-editor.org/rfc/rfc8601): the result words.
package dkim
