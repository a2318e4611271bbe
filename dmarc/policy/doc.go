// Package policy implements DMARC policy discovery and evaluation: the
// DMARC record (tag-value syntax), the organizational domain, identifier
// alignment, and the disposition a failing message gets. SPF and DKIM are
// verified elsewhere; Evaluate takes their results.
//
// Two specifications are supported, chosen by Mode:
//
//   - RFC 9989, DMARCbis (https://www.rfc-editor.org/rfc/rfc9989), the
//     default. Section numbers below are those of RFC 9989; its text was
//     read in draft-ietf-dmarc-dmarcbis-41, the last draft, whose section
//     numbering the RFC keeps.
//   - RFC 7489 (https://www.rfc-editor.org/rfc/rfc7489), the original
//     DMARC, as ModeRFC7489.
//
// # RFC 9989 (ModeRFC9989)
//
//   - §4.7, §4.8: the record. v=DMARC1 must be the first tag, else the TXT
//     record is not a DMARC record and is ignored. Unknown tags are
//     ignored. Syntax errors in the rest of the record are discarded in
//     favour of the defaults (the tag is dropped and listed in
//     Record.Ignored). p, sp, np, psd, t, adkim and aspf drive the
//     evaluation; rua, ruf and fo are parsed for the caller's reports;
//     pct, rf and ri (historic, §9.3) are parsed but have no effect in
//     this mode.
//   - §4.10: the DNS Tree Walk. The names queried for a domain are the
//     domain itself, then, if it has 8 labels or more, its last 7 labels,
//     else its parent, and then one label less at a time down to the top
//     level domain: at most 8 queries. Several DMARC records at one name
//     count as none there. The walk stops at a record with psd=y or psd=n.
//   - §4.10.1: policy discovery. The record at the Author Domain (the
//     RFC5322.From domain) applies. Else the record of its Organizational
//     Domain, else that of its Public Suffix Domain (a psd=y record ending
//     the walk). Nothing found: DMARC does not apply (status none).
//   - §4.10.1: a record without a valid p, or with an invalid sp or np,
//     counts as p=none when rua holds at least one valid URI; otherwise no
//     DMARC processing is applied, which we report as permerror (§9.2:
//     "an improperly formatted DMARC Policy Record").
//   - §4.10.2: the Organizational Domain. Among the names of the walk that
//     have a record, longest first: a psd=n name is it; for a psd=y name
//     other than the start, the name one label below it is; otherwise the
//     name with the fewest labels. No record at all: the domain itself.
//   - §4.4, §3.2.10: alignment. Strict: the identifier equals the Author
//     Domain (case-insensitively, RFC 4343). Relaxed: both have the same
//     Organizational Domain. Only an SPF pass or a DKIM pass can align
//     (§4.4.1, §4.4.2, Appendix B.1). No walk is made when the identifier
//     equals the Author Domain, when alignment is strict, or when the
//     Author Domain's Organizational Domain is not a suffix of the
//     identifier (an Organizational Domain is always a suffix of its
//     domain, so they cannot be equal).
//   - §4.7 (sp, np), §4.10.1: the policy. p for the Author Domain itself;
//     for a subdomain of the policy domain, np when the Author Domain does
//     not exist and np is given, else sp when given, else p.
//   - §3.2.13, Appendix A.4: a domain does not exist when the DNS answers
//     NXDOMAIN for it (RFC 8020). We ask A, and only on NXDOMAIN also AAAA
//     and MX, all of which must be NXDOMAIN (see existence.go).
//   - §4.7 (t): t=y asks for the policy one level below: reject is applied
//     as quarantine, quarantine as none. Result.Policy keeps the published
//     policy, Result.Disposition the one to apply.
//   - §5.3.5, §5.3.6: pass when an identifier aligns; fail otherwise; a DNS
//     error that leaves the outcome open gives temperror, never fail.
//   - §5.3.1: a U-label Author Domain is converted to A-labels.
//
// What is left to the caller: §5.4 and §7.4 say a receiver MUST NOT
// reject on p=reject alone and, without other knowledge, should treat it
// as quarantine. Disposition is the domain's request; mapping it to an
// action is configuration (dmarc.Config).
//
// # RFC 7489 (ModeRFC7489)
//
//   - §6.3: the record, parsed strictly: any syntax error in a known tag
//     (other than p and sp, see below) makes the record a permerror, as
//     mox does. np, psd and t are unknown tags in this mode.
//   - §3.2: the Organizational Domain is the registrable domain by the
//     Public Suffix List (golang.org/x/net/publicsuffix by default; a list
//     file with LoadSuffixList). A public suffix has none (OrgDomain
//     returns ErrPublicSuffix); for discovery and alignment it stands for
//     itself.
//   - §6.6.3: policy discovery queries _dmarc.<From domain>, then, when
//     nothing is there, _dmarc.<Organizational Domain>. Several DMARC
//     records at a name end discovery with none. Step 6: an invalid or
//     missing p (or invalid sp) counts as p=none when rua is valid, else
//     no DMARC processing (permerror).
//   - §6.6.4: pct. A failing message outside the sample (Options.Rand()
//     not below pct) gets the next weaker policy: reject becomes
//     quarantine, quarantine none; Result.SampledOut is set.
//   - §7.1: ExternalReportsAccepted checks that a report receiver outside
//     the domain accepts the reports.
//
// Timeouts, retries and caching are the resolver's. The walk keeps the
// answers of one Discover or Evaluate call, so a name is asked at most
// once per call.
package policy
