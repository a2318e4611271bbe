package access

import (
	"net/netip"
	"strings"
)

// Options are the main.cf parameters that change access lookups and
// results. The zero value is Postfix's default.
type Options struct {
	// RecipientDelimiter is recipient_delimiter: every character in it
	// starts an address extension (user+ext@domain). Empty: no extensions.
	RecipientDelimiter string
	// DotParentDomains is true when parent_domain_matches_subdomains does
	// not list smtpd_access_maps. Then parent domains are looked up as
	// ".example.com" (a subdomain matches only a leading-dot key) instead of
	// "example.com". Postfix looks up one form or the other, never both.
	DotParentDomains bool
	// NullAccessLookupKey is smtpd_null_access_lookup_key, the key for the
	// null sender. Empty means "<>".
	NullAccessLookupKey string
	// MyOrigin is myorigin, which Postfix's address rewriting appends to an
	// address without a domain. Empty: such an address is not looked up
	// (Postfix's "no @domain in address" case).
	MyOrigin string
	// RejectCode is access_map_reject_code for REJECT. Zero means 554.
	RejectCode int
	// DeferCode is access_map_defer_code for DEFER, DEFER_IF_REJECT and
	// DEFER_IF_PERMIT. Zero means 450.
	DeferCode int
}

// Match is the first key of one table that had a value.
type Match struct {
	Table *Table
	Key   string // the lookup key that matched, as sent to the table
	Value string // the table's value, not parsed (see ParseResult)
}

// lookupKey is one key with the flag Postfix passes to maps_find: partial
// keys (DICT_FLAG_FIXED) only go to fixed-string tables.
type lookupKey struct {
	s       string
	partial bool
}

func (t *Table) find(k lookupKey) (string, bool) {
	if k.partial && !t.fixed {
		return "", false
	}
	return t.lookup(k.s)
}

// search returns, for each table in order, the first key that had a value
// in it. In Postfix a key that is found ends the search in that table even
// when its value is DUNNO.
func search(tables []*Table, keys []lookupKey) []Match {
	var ms []Match
	for _, t := range tables {
		for _, k := range keys {
			if v, ok := t.find(k); ok {
				ms = append(ms, Match{Table: t, Key: k.s, Value: v})
				break
			}
		}
	}
	return ms
}

// LookupDomain is check_helo_access (and the name half of
// check_client_access): see Options.LookupDomain.
func LookupDomain(tables []*Table, host string) []Match { return Options{}.LookupDomain(tables, host) }

// LookupAddr is the address half of check_client_access: see
// Options.LookupAddr.
func LookupAddr(tables []*Table, ip netip.Addr) []Match { return Options{}.LookupAddr(tables, ip) }

// LookupClient is check_client_access: see Options.LookupClient.
func LookupClient(tables []*Table, name string, ip netip.Addr) []Match {
	return Options{}.LookupClient(tables, name, ip)
}

// LookupMail is check_sender_access and check_recipient_access: see
// Options.LookupMail.
func LookupMail(tables []*Table, addr string) []Match { return Options{}.LookupMail(tables, addr) }

// LookupDomain looks up a host name as check_domain_access does, for
// check_helo_access: the name as given, then each parent domain
// ("example.com", "com" for "mail.example.com"; ".example.com", ".com"
// with DotParentDomains). Parent domains are partial keys. A name that is an
// IP address (a HELO of "192.0.2.1") has no parent domains. The name is not
// changed: a trailing dot stays, as in Postfix, and fixed tables compare it
// in lower case.
func (o Options) LookupDomain(tables []*Table, host string) []Match {
	return search(tables, o.domainKeys(host, false))
}

// LookupAddr looks up a client address as check_addr_access does: the
// address in Postfix's text form ("192.0.2.1", "2001:db8::1"; an
// IPv4-mapped IPv6 address is looked up as IPv4), then shorter and shorter
// prefixes cut at the last "." (IPv4: "192.0.2", "192.0", "192") or ":"
// (IPv6: "2001:db8:", "2001:db8", "2001"), as access(5) describes. The
// prefixes are partial keys; cidr tables see the full address.
func (o Options) LookupAddr(tables []*Table, ip netip.Addr) []Match {
	return search(tables, addrKeys(ip))
}

// LookupClient is check_namadr_access, for check_client_access: in each
// table the client name and its parent domains (as LookupDomain), then the
// address and its prefixes (as LookupAddr). name is the verified client
// name, or "unknown", which Postfix looks up like any other name; an empty
// name is treated as "unknown".
func (o Options) LookupClient(tables []*Table, name string, ip netip.Addr) []Match {
	if name == "" {
		name = "unknown"
	}
	keys := o.domainKeys(name, false)
	keys = append(keys, addrKeys(ip)...)
	return search(tables, keys)
}

// domainKeys is the key sequence of check_domain_access.
func (o Options) domainKeys(domain string, firstPartial bool) []lookupKey {
	var keys []lookupKey
	partial := firstPartial
	numeric := isHostAddr(domain)
	for name := domain; name != ""; {
		keys = append(keys, lookupKey{name, partial})
		if numeric { // "Don't apply subdomain magic to numerical hostnames."
			break
		}
		i := strings.IndexByte(name[1:], '.')
		if i < 0 {
			break
		}
		name = name[1+i:] // ".example.com"
		if !o.DotParentDomains {
			name = name[1:] // "example.com"
		}
		partial = true
	}
	return keys
}

// isHostAddr is Postfix's valid_hostaddr: an IPv4 or IPv6 address without
// brackets.
func isHostAddr(s string) bool {
	_, ok := parseStrictAddr(s)
	return ok
}

// addrKeys is the key sequence of check_addr_access.
func addrKeys(ip netip.Addr) []lookupKey {
	if !ip.IsValid() {
		return nil
	}
	ip = ip.Unmap().WithZone("")
	s := ip.String()
	delim := byte('.')
	if ip.Is6() {
		delim = ':'
	}
	keys := []lookupKey{{s, false}}
	for {
		i := strings.LastIndexByte(s, delim)
		if i < 0 {
			break
		}
		s = s[:i]
		keys = append(keys, lookupKey{s, true})
	}
	return keys
}

// LookupMail looks up a sender or recipient address as check_mail_access
// does, with the search order of access(5) "EMAIL ADDRESS PATTERNS":
//
//	user+ext@domain  the full address (the only key pattern tables see)
//	user@domain      without the extension, if RecipientDelimiter split one off
//	domain           then each parent domain, as LookupDomain
//	user+ext@        the local part
//	user@            the local part without the extension
//
// Each address key is tried in quoted (RFC 5322) form first and then
// unquoted if the two differ, as mail_addr_find does, and the address is
// folded to lower case and a trailing dot is removed from the domain, as
// Postfix's address resolver does. addr may have angle brackets; a source
// route is dropped. The null sender ("" or "<>") is looked up only as
// NullAccessLookupKey. Postfix does not split the extension off postmaster,
// mailer-daemon, double-bounce, owner-* and *-request (the last two when
// "-" is a delimiter).
func (o Options) LookupMail(tables []*Table, addr string) []Match {
	return search(tables, o.mailKeys(addr))
}

func (o Options) mailKeys(addr string) []lookupKey {
	a := trimSpace(addr)
	if len(a) >= 2 && a[0] == '<' && a[len(a)-1] == '>' {
		a = a[1 : len(a)-1]
	}
	if a == "" {
		null := o.NullAccessLookupKey
		if null == "" {
			null = "<>"
		}
		return []lookupKey{{null, false}}
	}
	if a[0] == '@' { // source route "@a,@b:user@domain"
		if i := strings.IndexByte(a, ':'); i >= 0 {
			a = a[i+1:]
		}
	}
	internal := strings.ToLower(unquoteLocal(a))
	at := strings.LastIndexByte(internal, '@')
	if at < 0 {
		if o.MyOrigin == "" {
			return nil
		}
		internal += "@" + strings.ToLower(o.MyOrigin)
		at = strings.LastIndexByte(internal, '@')
	}
	local, domain := internal[:at], internal[at+1:]
	// trivial-rewrite strips a trailing dot from the domain, but not from
	// "..": "user@example.com." is looked up as "user@example.com".
	if len(domain) > 1 && strings.HasSuffix(domain, ".") && !strings.HasSuffix(domain, "..") {
		domain = domain[:len(domain)-1]
		internal = local + "@" + domain
	}

	var keys []lookupKey
	addForms := func(s string, partial bool) {
		q := quoteLocal(s)
		keys = append(keys, lookupKey{q, partial})
		if q != s {
			keys = append(keys, lookupKey{s, partial})
		}
	}
	bare := ""
	if o.RecipientDelimiter != "" {
		bare = o.splitExtension(local)
	}
	addForms(internal, false)
	if bare != "" {
		addForms(bare+"@"+domain, true)
	}
	// The parent domain walk of mail_addr_find has no exception for
	// numerical domains.
	for name := domain; name != ""; {
		keys = append(keys, lookupKey{name, true})
		i := strings.IndexByte(name[1:], '.')
		if i < 0 {
			break
		}
		name = name[1+i:]
		if !o.DotParentDomains {
			name = name[1:]
		}
	}
	addForms(local+"@", true)
	if bare != "" {
		addForms(bare+"@", true)
	}
	return keys
}

// splitExtension returns the local part without its extension, or "" when
// it has none or must not be split (split_addr_internal).
func (o Options) splitExtension(local string) string {
	switch {
	case strings.EqualFold(local, "postmaster"), strings.EqualFold(local, "mailer-daemon"), strings.EqualFold(local, "double-bounce"):
		return ""
	case strings.Contains(o.RecipientDelimiter, "-") &&
		(strings.HasPrefix(strings.ToLower(local), "owner-") || (len(local) > 8 && strings.HasSuffix(strings.ToLower(local), "-request"))):
		return ""
	}
	i := strings.IndexAny(local, o.RecipientDelimiter)
	if i <= 0 {
		return ""
	}
	return local[:i]
}

// unquoteLocal converts an address to Postfix's internal (unquoted) form:
// quotes are removed and backslash escapes resolved before the last
// unquoted '@' (unquote_822_local).
func unquoteLocal(a string) string {
	var b strings.Builder
	inQuote := false
	atDst, atSrc := -1, -1
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case c == '"':
			inQuote = !inQuote
			continue
		case c == '@' && !inQuote:
			atDst, atSrc = b.Len(), i
		case c == '\\':
			if i+1 >= len(a) {
				continue
			}
			i++
			c = a[i]
		}
		b.WriteByte(c)
	}
	if atDst < 0 {
		return b.String()
	}
	return b.String()[:atDst] + a[atSrc:]
}

// quoteLocal converts an internal-form address to external form: the local
// part (before the last '@') is quoted unless it is an RFC 822 dot-string
// (quote_822_local with 8-bit data left alone).
func quoteLocal(a string) string {
	end := strings.LastIndexByte(a, '@')
	if end < 0 {
		end = len(a)
	}
	local := a[:end]
	if isDotString(local) {
		return a
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(local); i++ {
		if c := local[i]; c == '"' || c == '\\' || c == '\r' {
			b.WriteByte('\\')
		}
		b.WriteByte(local[i])
	}
	b.WriteByte('"')
	b.WriteString(a[end:])
	return b.String()
}

func isDotString(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c < 0x20 || c == 0x7f || strings.IndexByte(`()<>@,;:\"[]`, c) >= 0 {
			return false
		}
	}
	return true
}
