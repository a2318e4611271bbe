// Package syntax implements the name and address syntax checks that
// Postfix 3.7's smtpd applies before and inside its restrictions, so that
// mxguard accepts and rejects exactly the same HELO names, address literals
// and envelope addresses.
//
// Every function cites the Postfix function it reproduces. The references
// are to the Postfix source tree (src/util/valid_hostname.c,
// src/global/valid_mailhost_addr.c, src/smtpd/smtpd_check.c,
// src/smtpd/smtpd.c extract_addr, src/global/tok822_parse.c) and were
// checked against the behaviour of the Debian postfix 3.7.11 binaries
// (see checks/POSTFIX-NOTES.md).
//
// The relevant RFCs are RFC 1035 §2.3.4 (length limits), RFC 1123 §2.1
// (host name syntax), RFC 5321 §4.1.2 and §4.1.3 (Mailbox and
// address-literal syntax), RFC 7505 (null MX) and RFC 3492 (Punycode).
// Postfix is more liberal than these RFCs in places (it allows "_" in
// host names and a leading digit in every label) and stricter in others
// (it rejects all-numeric names, and an IPv6 address literal needs the
// "IPv6:" tag). Where Postfix and the RFCs disagree, this package follows
// Postfix, because the goal is the same SMTP answer.
//
// What others do / what we do: net/mail and mox parse RFC 5322/5321
// addresses strictly and fail on input that Postfix accepts (unquoted
// "a@b@c", comments, source routes). ParseAddress instead reproduces
// Postfix's lenient tokenizer: it never rejects what Postfix would accept
// at MAIL FROM/RCPT TO, because by the time a milter sees an address
// Postfix has already accepted its syntax.
package syntax
