package syntax

// HeloResult is the outcome of one of Postfix's syntactic HELO
// restrictions. The zero value HeloOK means the restriction does not
// reject (Postfix's SMTPD_CHECK_DUNNO).
type HeloResult int

const (
	// HeloOK: the restriction does not reject.
	HeloOK HeloResult = iota
	// HeloInvalidName: reject_invalid_helo_hostname rejects a name.
	// Reply: invalid_hostname_reject_code (501) 5.5.2
	// "<helo>: Helo command rejected: Invalid name".
	HeloInvalidName
	// HeloInvalidAddress: a HELO argument starting with "[" failed
	// reject_invalid_hostaddr(). All three HELO restrictions use it, so
	// even reject_non_fqdn_helo_hostname and reject_unknown_helo_hostname
	// answer invalid_hostname_reject_code (501) 5.5.2
	// "<helo>: Helo command rejected: invalid ip address".
	HeloInvalidAddress
	// HeloNotFQDN: reject_non_fqdn_helo_hostname rejects.
	// Reply: non_fqdn_reject_code (504) 5.5.2
	// "<helo>: Helo command rejected: need fully-qualified hostname".
	HeloNotFQDN
	// HeloNotFound: reject_unknown_helo_hostname rejects without any DNS
	// query, because Postfix's dns_lookup_x() refuses to look up a
	// numeric or syntactically invalid name and reports DNS_NOTFOUND.
	// Reply: unknown_hostname_reject_code (450) 4.7.1
	// "<helo>: Helo command rejected: Host not found".
	HeloNotFound
)

// String returns the reply text that follows "<helo>: Helo command
// rejected: " for a rejecting result, or "ok".
func (r HeloResult) String() string {
	switch r {
	case HeloOK:
		return "ok"
	case HeloInvalidName:
		return "Invalid name"
	case HeloInvalidAddress:
		return "invalid ip address"
	case HeloNotFQDN:
		return "need fully-qualified hostname"
	case HeloNotFound:
		return "Host not found"
	}
	return "unknown"
}

// CheckInvalidHelo applies reject_invalid_helo_hostname
// (src/smtpd/smtpd_check.c generic_checks, reject_invalid_hostname and
// reject_invalid_hostaddr) to a HELO/EHLO argument:
//
//   - an argument that starts with "[" must be a valid address literal
//     (ValidAddressLiteral), else HeloInvalidAddress;
//   - any other argument has one trailing dot removed (StripTrailingDot)
//     and must then be a valid host name or a bare IPv4/IPv6 address
//     (ValidHostname or ValidHostAddr), else HeloInvalidName. So the bare
//     "192.0.2.1" and "::1" pass this restriction, and non-ASCII names
//     never do (no IDNA here: "EAI not allowed").
//
// Verified against Postfix 3.7.11: see checks/POSTFIX-NOTES.md.
func CheckInvalidHelo(helo string) HeloResult {
	if helo != "" && helo[0] == '[' {
		if !ValidAddressLiteral(helo) {
			return HeloInvalidAddress
		}
		return HeloOK
	}
	name := StripTrailingDot(helo)
	if !ValidHostname(name) && !ValidHostAddr(name) {
		return HeloInvalidName
	}
	return HeloOK
}

// CheckNonFQDNHelo applies reject_non_fqdn_helo_hostname
// (src/smtpd/smtpd_check.c reject_non_fqdn_hostname):
//
//   - an argument that starts with "[" is checked as an address literal
//     exactly as in CheckInvalidHelo (HeloInvalidAddress, with the invalid
//     hostname reply code, not the non-FQDN one);
//   - any other argument has one trailing dot removed and must pass
//     ValidUTF8Hostname and contain a "."; else HeloNotFQDN. A bare IP
//     address fails here ("1.2.3.4" is a numeric host name), as do
//     "localhost" and "1_2".
//
// smtputf8 is whether the client sent MAIL FROM ... SMTPUTF8 in the
// current transaction: with smtpd_delay_reject=yes the HELO restrictions
// run at RCPT time and a UTF-8 HELO name is then converted with IDNA.
func CheckNonFQDNHelo(helo string, smtputf8 bool) HeloResult {
	if helo != "" && helo[0] == '[' {
		if !ValidAddressLiteral(helo) {
			return HeloInvalidAddress
		}
		return HeloOK
	}
	name := StripTrailingDot(helo)
	if !ValidUTF8Hostname(name, smtputf8) || !containsDot(name) {
		return HeloNotFQDN
	}
	return HeloOK
}

func containsDot(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return true
		}
	}
	return false
}

// HeloLookupName prepares reject_unknown_helo_hostname
// (src/smtpd/smtpd_check.c reject_unknown_hostname, and the input checks
// of dns_lookup_x() in src/dns/dns_lookup.c). It returns:
//
//   - HeloInvalidAddress for a "[" argument that is not a valid literal;
//   - HeloOK and name "" for a valid address literal: no DNS lookup, no
//     rejection;
//   - HeloNotFound and name "" when Postfix would not even query the DNS:
//     the argument is a numeric address or fails ValidHostname. The HELO
//     name is used exactly as sent, without removing a trailing dot and
//     without IDNA, so "mx.example.com." and "exämple.com" are "Host not
//     found" here although reject_invalid_helo_hostname accepts the first;
//   - HeloOK and the name to look up otherwise ("." is looked up as is).
//
// The caller then queries A, AAAA and MX in that order and stops at the
// first success; see checks/POSTFIX-NOTES.md for how the results combine.
func HeloLookupName(helo string) (name string, r HeloResult) {
	if helo != "" && helo[0] == '[' {
		if !ValidAddressLiteral(helo) {
			return "", HeloInvalidAddress
		}
		return "", HeloOK
	}
	if ValidHostAddr(helo) {
		return "", HeloNotFound
	}
	if helo != "." && !ValidHostname(helo) {
		return "", HeloNotFound
	}
	return helo, HeloOK
}
