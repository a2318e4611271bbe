// Package dnsbl implements DNS blocklists and allowlists (RFC 5782) with
// Postfix's semantics: reject_rbl_client, permit_dnswl_client,
// reject_rhsbl_client, reject_rhsbl_reverse_client, reject_rhsbl_helo,
// reject_rhsbl_sender, reject_rhsbl_recipient and permit_rhswl_client
// (smtpd_check.c), and postscreen's weighted score (postscreen_dnsbl_sites,
// postscreen_dnsbl_threshold, postscreen_dnsbl_allowlist_threshold).
//
// # Lists
//
// A list is written zone[=filter][*weight] (ParseSpec): the filter is
// Postfix's address pattern (127.0.0.[2..11]) or CIDR prefixes, and says
// which answers count as a listing. The query is the client address
// reversed, by octets for IPv4 and by nibbles for IPv6 (RFC 5782 §2.1,
// §2.4), or a name, prepended to the zone (QueryName). An A answer inside
// the filter is a listing; NXDOMAIN or NODATA is not (RFC 5782 §2.3).
//
// # Safety
//
// Answers in 127.255.255.0/24 (Spamhaus' refusals: public resolver,
// excessive queries) and answers outside 127.0.0.0/8 are errors, never
// listings, and are logged with the hint RefusedHint. Health runs the
// RFC 5782 §5 test (127.0.0.2 listed, 127.0.0.1 not) and takes failing
// lists out of use until they pass again. A zone that carries a secret
// (a Spamhaus DQS key) gets a public name (Spec.Name), used in replies,
// results, errors and logs instead of the zone.
//
// # Postfix semantics
//
// A blocklist hit is Status fail with Postfix's reply: maps_rbl_reject_code
// (554), 5.7.1, and default_rbl_reply expanded, for example
//
//	554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1
//
// The class and bracketed name are those of smtpd_check.c: Client host
// [address] (reject_rbl_client), Client host [verified name]
// (reject_rhsbl_client), Unverified Client host [PTR name], Helo command
// [HELO argument], Sender address [sender], Recipient address
// [recipient]; the suffix "; <TXT>" appears only when the list has TXT
// records. The reply template is configurable per list (Options.Template)
// in Postfix's $name syntax with ${name?text} conditionals (Template).
//
// An allowlist hit permits (checks.Permit), ending its restriction list
// like permit_dnswl_client. Temporary errors follow Postfix: a blocklist
// lookup error is Status temperror, which Postfix counts as not listed
// ("RBL lookup error", then DUNNO) — so the pipeline's temp_action for
// these restrictions should default to "accept"; an allowlist lookup
// error is checks.DeferIfReject with "450 4.7.1 <what>: <class> rejected:
// Service unavailable", so that a later reject of the same list becomes a
// 4xx.
//
// Postfix does not allowlist recipients it would not relay for
// (permit_dnswl_client's "don't whitelist unauthorized recipients"); a
// milter only sees recipients Postfix's own restrictions accepted, so
// there is nothing to repeat here.
//
// # Concurrency
//
// Every restriction is a checks.Prefetcher: the lookup starts when its
// input exists (the client address at connect, the HELO name at HELO, the
// sender at MAIL FROM), in the background, and Check waits for it at the
// stage where the verdict is due. Lookups are shared per connection
// (checks.Env.Memo, one entry per query name) and between connections by
// the resolver's cache. Scorer asks all its lists at once: one round trip
// for any number of lists.
//
// References:
//
//   - RFC 5782 (https://www.rfc-editor.org/rfc/rfc5782): DNS Blacklists
//     and Whitelists: query names (§2.1, §2.4), answers (§2.3), the test
//     entries (§5).
//   - Postfix postconf(5): reject_rbl_client, permit_dnswl_client,
//     reject_rhsbl_*, permit_rhswl_client, maps_rbl_reject_code,
//     default_rbl_reply, rbl_reply_maps, smtpd_expansion_filter,
//     postscreen_dnsbl_sites, postscreen_dnsbl_threshold,
//     postscreen_dnsbl_allowlist_threshold, postscreen_dnsbl_reply_map.
//   - Postfix src/smtpd/smtpd_check.c (rbl_pagein, rbl_reject_reply,
//     find_dnsxl_addr, find_dnsxl_domain, permit_dnswl_addr),
//     src/util/ip_match.c (filter syntax), src/postscreen/postscreen_dnsbl.c.
package dnsbl
