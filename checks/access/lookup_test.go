package access

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recorder is a table that logs every key it is asked for.
func recorder(name string, fixed bool, log *[]string, values map[string]string) *Table {
	return &Table{typ: "test", source: name, fixed: fixed, lookup: func(k string) (string, bool) {
		*log = append(*log, name+":"+k)
		v, ok := values[k]
		return v, ok
	}}
}

// keyOrder checks the keys that a lookup sends to a fixed and to a pattern
// table that both match nothing.
func keyOrder(t *testing.T, lookup func([]*Table), wantFixed, wantPattern []string) {
	t.Helper()
	var log []string
	lookup([]*Table{recorder("f", true, &log, nil), recorder("p", false, &log, nil)})
	var want []string
	for _, k := range wantFixed {
		want = append(want, "f:"+k)
	}
	for _, k := range wantPattern {
		want = append(want, "p:"+k)
	}
	if !slices.Equal(log, want) {
		t.Errorf("keys:\n got %q\nwant %q", log, want)
	}
}

func TestDomainKeys(t *testing.T) {
	test := func(o Options, host string, wantFixed ...string) {
		t.Helper()
		keyOrder(t, func(ts []*Table) { o.LookupDomain(ts, host) }, wantFixed, wantFixed[:1])
	}
	def, dot := Options{}, Options{DotParentDomains: true}
	test(def, "mail.sub.example.com", "mail.sub.example.com", "sub.example.com", "example.com", "com")
	test(dot, "mail.sub.example.com", "mail.sub.example.com", ".sub.example.com", ".example.com", ".com")
	test(def, "Mail.Example.COM", "Mail.Example.COM", "Example.COM", "COM") // fixed tables fold
	test(def, "localhost", "localhost")
	// Postfix keeps a trailing dot: "example.com." never matches "example.com".
	test(def, "example.com.", "example.com.", "com.")
	test(dot, "example.com.", "example.com.", ".com.", ".")
	// A numerical HELO has no parent domains; an address literal does.
	test(def, "192.0.2.1", "192.0.2.1")
	test(def, "2001:db8::1", "2001:db8::1")
	test(def, "[192.0.2.1]", "[192.0.2.1]", "0.2.1]", "2.1]", "1]")
	keyOrder(t, func(ts []*Table) { LookupDomain(ts, "") }, nil, nil)
}

func TestAddrKeys(t *testing.T) {
	test := func(ip string, wantFixed ...string) {
		t.Helper()
		keyOrder(t, func(ts []*Table) { LookupAddr(ts, netip.MustParseAddr(ip)) }, wantFixed, wantFixed[:1])
	}
	test("192.0.2.1", "192.0.2.1", "192.0.2", "192.0", "192")
	test("::ffff:192.0.2.1", "192.0.2.1", "192.0.2", "192.0", "192")
	test("2001:db8::1", "2001:db8::1", "2001:db8:", "2001:db8", "2001")
	test("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1", "2001:db8::1:0:0", "2001:db8::1:0", "2001:db8::1", "2001:db8:", "2001:db8", "2001")
	test("fe80::1%eth0", "fe80::1", "fe80:", "fe80")
	keyOrder(t, func(ts []*Table) { LookupAddr(ts, netip.Addr{}) }, nil, nil)
}

func TestClientKeys(t *testing.T) {
	test := func(name, ip string, wantFixed, wantPattern []string) {
		t.Helper()
		keyOrder(t, func(ts []*Table) { LookupClient(ts, name, netip.MustParseAddr(ip)) }, wantFixed, wantPattern)
	}
	// check_namadr_access: the name and its parents, then the address and
	// its prefixes; pattern tables see the full name and the full address.
	test("mail.example.com", "192.0.2.1",
		[]string{"mail.example.com", "example.com", "com", "192.0.2.1", "192.0.2", "192.0", "192"},
		[]string{"mail.example.com", "192.0.2.1"})
	// "unknown" is looked up like any name.
	test("unknown", "192.0.2.1", []string{"unknown", "192.0.2.1", "192.0.2", "192.0", "192"}, []string{"unknown", "192.0.2.1"})
	test("", "2001:db8::1", []string{"unknown", "2001:db8::1", "2001:db8:", "2001:db8", "2001"}, []string{"unknown", "2001:db8::1"})
}

func TestMailKeys(t *testing.T) {
	test := func(o Options, addr string, wantFixed ...string) {
		t.Helper()
		var wantPattern []string
		if len(wantFixed) > 0 {
			wantPattern = wantFixed[:1]
			if strings.HasPrefix(wantFixed[0], `"`) { // quoted and unquoted forms of the full address
				wantPattern = wantFixed[:2]
			}
		}
		keyOrder(t, func(ts []*Table) { o.LookupMail(ts, addr) }, wantFixed, wantPattern)
	}
	def, plus := Options{}, Options{RecipientDelimiter: "+"}
	test(def, "user@sub.example.com", "user@sub.example.com", "sub.example.com", "example.com", "com", "user@")
	test(def, "<User+Promo@Sub.Example.COM>", "user+promo@sub.example.com", "sub.example.com", "example.com", "com", "user+promo@")
	// access(5): user+foo@domain, user@domain, domain, user+foo@, user@.
	test(plus, "<User+Promo@Sub.Example.COM>",
		"user+promo@sub.example.com", "user@sub.example.com", "sub.example.com", "example.com", "com", "user+promo@", "user@")
	test(Options{RecipientDelimiter: "+", DotParentDomains: true}, "user+x@sub.example.com",
		"user+x@sub.example.com", "user@sub.example.com", "sub.example.com", ".example.com", ".com", "user+x@", "user@")
	// Several delimiters: the extension starts at the first of any.
	test(Options{RecipientDelimiter: "+-"}, "joe-a+b@d.example", "joe-a+b@d.example", "joe@d.example", "d.example", "example", "joe-a+b@", "joe@")
	// Not split: a delimiter first; postmaster, mailer-daemon; owner-* and
	// *-request when "-" is a delimiter.
	test(plus, "+x@d", "+x@d", "d", "+x@")
	dash := Options{RecipientDelimiter: "-"}
	test(dash, "MAILER-DAEMON@d", "mailer-daemon@d", "d", "mailer-daemon@")
	test(dash, "owner-list@d", "owner-list@d", "d", "owner-list@")
	test(dash, "list-request@d", "list-request@d", "d", "list-request@")
	test(dash, "list-a@d", "list-a@d", "list@d", "d", "list-a@", "list@")
	// Quoted local parts: the quoted form first, then the unquoted one.
	test(def, `"John Smith"@example.com`,
		`"john smith"@example.com`, `john smith@example.com`, "example.com", "com", `"john smith"@`, `john smith@`)
	test(def, `"joe"@example.com`, "joe@example.com", "example.com", "com", "joe@")
	test(def, `"a\"b"@x`, `"a\"b"@x`, `a"b@x`, "x", `"a\"b"@`, `a"b@`)
	test(def, "@relay.example:joe@example.com", "joe@example.com", "example.com", "com", "joe@")
	test(def, "joe@example.com.", "joe@example.com", "example.com", "com", "joe@")
	test(def, "joe@example..", "joe@example..", "example..", ".", "joe@")
	test(def, "joe@[192.0.2.1]", "joe@[192.0.2.1]", "[192.0.2.1]", "0.2.1]", "2.1]", "1]", "joe@")
	// The null sender is one full key.
	test(def, "", "<>")
	test(def, "<>", "<>")
	test(Options{NullAccessLookupKey: "<null>"}, "<>", "<null>")
	// No domain: Postfix's rewriting adds @$myorigin.
	test(def, "postmaster")
	test(Options{MyOrigin: "Example.COM"}, "<postmaster>", "postmaster@example.com", "example.com", "com", "postmaster@")
}

// matchTest checks the matches of a lookup: each want is "source key value".
func matchTest(t *testing.T, what string, got []Match, want ...string) {
	t.Helper()
	var g []string
	for _, m := range got {
		g = append(g, fmt.Sprintf("%s %s %s", m.Table.Source(), m.Key, m.Value))
	}
	if !slices.Equal(g, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, g, want)
	}
}

func TestSeveralTables(t *testing.T) {
	// Every key is tried in the first table before the second, and a key
	// that is found ends the search in its table, even with DUNNO: the next
	// table is the next restriction.
	var log []string
	t1 := recorder("t1", true, &log, map[string]string{"example.com": "DUNNO"})
	t2 := recorder("t2", true, &log, map[string]string{"sub.example.com": "REJECT", "example.com": "OK"})
	t3 := recorder("t3", false, &log, map[string]string{"sub.example.com": "WARN"})
	ms := LookupDomain([]*Table{t1, t2, t3}, "sub.example.com")
	matchTest(t, "matches", ms, "t1 example.com DUNNO", "t2 sub.example.com REJECT", "t3 sub.example.com WARN")
	want := []string{"t1:sub.example.com", "t1:example.com", "t2:sub.example.com", "t3:sub.example.com"}
	if !slices.Equal(log, want) {
		t.Errorf("keys:\n got %q\nwant %q", log, want)
	}
}

func TestTutorialTables(t *testing.T) {
	client := mustOpen(t, "hash:testdata/client_access")
	cidr := mustOpen(t, "cidr:testdata/client.cidr")
	helo := mustOpen(t, "hash:testdata/helo_access")
	sender := mustOpen(t, "hash:testdata/sender_access")
	rcpt := mustOpen(t, "hash:testdata/recipient_access")
	rbl := mustOpen(t, "hash:testdata/rbl_override")
	re := mustOpen(t, "regexp:testdata/sender.regexp")

	ip := netip.MustParseAddr
	clientTest := func(o Options, tables []*Table, name, addr string, want ...string) {
		t.Helper()
		matchTest(t, fmt.Sprintf("client %s[%s]", name, addr), o.LookupClient(tables, name, ip(addr)), want...)
	}
	def := Options{}
	c := []*Table{client}
	clientTest(def, c, "mail.example.net", "192.0.2.10", "hash:testdata/client_access 192.0.2.10 OK")
	clientTest(def, c, "mail.example.net", "192.0.2.99", "hash:testdata/client_access 192.0.2 REJECT")
	// "unknown" is a name like any other, looked up before the address.
	clientTest(def, c, "unknown", "203.0.113.9", "hash:testdata/client_access unknown 450 4.7.1 Fix your reverse DNS")
	clientTest(def, c, "unknown", "192.0.2.10", "hash:testdata/client_access unknown 450 4.7.1 Fix your reverse DNS")
	clientTest(def, c, "mail.example.net", "198.51.100.7", "hash:testdata/client_access 198.51.100.7 550 5.7.1 You are listed as a spam source")
	clientTest(def, c, "mail.example.net", "10.1.2.3", "hash:testdata/client_access 10.1 DUNNO")
	// The name comes first: a domain entry pre-empts an address entry.
	clientTest(def, c, "mail.partner.example", "192.0.2.99", "hash:testdata/client_access mail.partner.example OK")
	clientTest(def, c, "host-1.dynamic.example", "203.0.113.1",
		"hash:testdata/client_access dynamic.example REJECT Dynamic IP space, use your provider's relay")
	// With Postfix's default only "badguys.example" matches subdomains; the
	// ".badguys.example" entry needs parent_domain_matches_subdomains
	// without smtpd_access_maps.
	clientTest(def, c, "x.badguys.example", "203.0.113.1")
	clientTest(Options{DotParentDomains: true}, c, "x.badguys.example", "203.0.113.1", "hash:testdata/client_access .badguys.example REJECT")
	clientTest(Options{DotParentDomains: true}, c, "host-1.dynamic.example", "203.0.113.1")
	clientTest(def, c, "mail.example.net", "2001:db8:1::25", "hash:testdata/client_access 2001:db8:1: REJECT")
	clientTest(def, c, "mail.example.net", "2001:db8:2::25", "hash:testdata/client_access 2001:db8:2::25 OK")
	clientTest(def, c, "mail.example.net", "2001:db8:2::26")
	clientTest(def, []*Table{client, cidr}, "mail.example.net", "192.168.1.1", "cidr:testdata/client.cidr 192.168.1.1 OK")
	clientTest(def, []*Table{client, cidr}, "mail.example.net", "192.0.2.1",
		"hash:testdata/client_access 192.0.2 REJECT")
	clientTest(def, []*Table{rbl}, "mail.goodsender.example", "198.51.100.1", "hash:testdata/rbl_override mail.goodsender.example OK")
	clientTest(def, []*Table{rbl}, "other.goodsender.example", "198.51.100.1", "hash:testdata/rbl_override goodsender.example OK")
	clientTest(def, []*Table{rbl}, "unknown", "203.0.113.17", "hash:testdata/rbl_override 203.0.113.17 OK")
	clientTest(def, []*Table{rbl}, "unknown", "203.0.113.18")

	heloTest := func(name string, want ...string) {
		t.Helper()
		matchTest(t, "helo "+name, LookupDomain([]*Table{helo}, name), want...)
	}
	heloTest("mx.example.com", "hash:testdata/helo_access mx.example.com REJECT You are not me")
	heloTest("foo.mx.example.com", "hash:testdata/helo_access mx.example.com REJECT You are not me")
	heloTest("friend.mx.example.com", "hash:testdata/helo_access friend.mx.example.com OK")
	heloTest("EXAMPLE.COM", "hash:testdata/helo_access EXAMPLE.COM REJECT You are not us")
	heloTest("example.com.") // Postfix does not strip the dot
	heloTest("192.0.2.25", "hash:testdata/helo_access 192.0.2.25 REJECT Not my address")
	heloTest("[192.0.2.25]", "hash:testdata/helo_access [192.0.2.25] REJECT Not my address either")
	heloTest("localhost", "hash:testdata/helo_access localhost REJECT")
	heloTest("mail.example.net")

	mailTest := func(o Options, tables []*Table, addr string, want ...string) {
		t.Helper()
		matchTest(t, "mail "+addr, o.LookupMail(tables, addr), want...)
	}
	s := []*Table{sender}
	plus := Options{RecipientDelimiter: "+"}
	matchTest(t, "LookupMail", LookupMail(s, "Spammer@Example.NET"), "hash:testdata/sender_access spammer@example.net REJECT")
	mailTest(def, s, "Spammer@Example.NET", "hash:testdata/sender_access spammer@example.net REJECT")
	mailTest(def, s, "bob@mail.example.org", "hash:testdata/sender_access example.org REJECT Domain is blocked")
	mailTest(def, s, "bob@good.example.org", "hash:testdata/sender_access good.example.org OK")
	mailTest(def, s, "info@anything.example", "hash:testdata/sender_access info@ REJECT Generic addresses are not welcome")
	// The domain comes before user@: postmaster@example.org is rejected.
	mailTest(def, s, "postmaster@example.org", "hash:testdata/sender_access example.org REJECT Domain is blocked")
	mailTest(def, s, "postmaster@example.net", "hash:testdata/sender_access postmaster@ OK")
	mailTest(plus, s, "sales+promo@example.com", "hash:testdata/sender_access sales+promo@example.com DISCARD")
	mailTest(plus, s, "sales+other@example.com", "hash:testdata/sender_access sales@example.com HOLD Check sales mail")
	mailTest(def, s, "sales+other@example.com")
	mailTest(def, s, `"John..Smith"@example.com`, `hash:testdata/sender_access "john..smith"@example.com WARN quoted local part`)
	mailTest(def, s, "<>", "hash:testdata/sender_access <> 550 5.7.1 No bounces here")
	mailTest(def, s, "joe@sub.partner.example", "hash:testdata/sender_access partner.example OK")
	// A regexp table sees only the full address, in lower case.
	mailTest(def, []*Table{re}, "Joe@Local.Example", "regexp:testdata/sender.regexp joe@local.example PREPEND X-Local-User: joe")
	mailTest(def, []*Table{re, sender}, "12@example.org",
		"regexp:testdata/sender.regexp 12@example.org REJECT Numeric local part $5 fee",
		"hash:testdata/sender_access example.org REJECT Domain is blocked")

	r := []*Table{rcpt}
	mailTest(def, r, "abuse@example.com", "hash:testdata/recipient_access abuse@example.com permissive")
	mailTest(def, r, "joe@example.com", "hash:testdata/recipient_access example.com restrictive")
	mailTest(def, r, "sales@example.com", "hash:testdata/recipient_access sales@example.com reject_unverified_recipient, permit")
}

func TestConcurrentLookups(t *testing.T) {
	tables := []*Table{
		mustOpen(t, "hash:testdata/client_access"), mustOpen(t, "cidr:testdata/client.cidr"),
		mustOpen(t, "regexp:testdata/sender.regexp"), mustOpen(t, "pcre:testdata/sender.pcre"),
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(i*31 + j)})
				LookupClient(tables, "host.dynamic.example", ip)
				Options{RecipientDelimiter: "+"}.LookupMail(tables, fmt.Sprintf("list%d-outgoing+x@lists.example", j))
			}
		})
	}
	wg.Wait()
}
