// Package spf evaluates Sender Policy Framework records (SPF, RFC 7208):
// is the client IP allowed to send mail for the MAIL FROM or HELO domain?
//
// CheckHost is check_host() of RFC 7208 §4; Verify is what an MTA does
// with it (§2.3, §2.4): it checks the HELO identity and the MAIL FROM
// identity, and for a null reverse-path ("<>") the MAIL FROM identity is
// postmaster@<helo>, decided by the HELO check.
//
// What is implemented, with the sections it follows:
//
//   - record lookup and selection (§4.4, §4.5): TXT only (type SPF 99 is
//     never asked, §3.1); exactly one record starting "v=spf1" without case,
//     several are permerror, none is none.
//   - the whole record is parsed before evaluation, so a syntax error
//     anywhere, even after the term that decides, is permerror (§4.6);
//     domain-specs are checked against §7.1 (a macro or "." toplabel at the
//     end, toplabel not all-numeric, no leading or trailing dash).
//   - all mechanisms (§5) with dual cidr lengths; include (§5.2: none and
//     permerror are permerror, temperror propagates), redirect (§6.1: a
//     target without a record is permerror) and exp (§6.2; unknown
//     modifiers are checked and ignored, a repeated redirect or exp is
//     permerror).
//   - limits (§4.6.4): at most 10 terms that query DNS (include, a, mx,
//     ptr, exists, redirect), counted as they are evaluated across include
//     and redirect, so a loop ends in permerror; an mx with more than 10 MX
//     records is permerror; ptr and %{p} look at the first 10 PTR names; more
//     than 2 void lookups (NXDOMAIN or NODATA) is permerror. The whole check
//     is bounded by Options.Timeout (§4.6.4: "at least 20 seconds").
//   - macros (§7): s l o d i p v h, and c r t in explanations only;
//     transformers, delimiters, %% %_ %-, URL escaping of upper-case
//     letters, truncation of long <target-name>s to 253 characters.
//   - DNS errors: SERVFAIL, timeouts and other rcodes are temperror
//     wherever they happen (§4.4, §5), except where the RFC says otherwise:
//     the A/AAAA lookups that validate PTR names skip the name (§5.5), a
//     failed PTR lookup makes ptr not match, and the exp lookup only loses
//     the explanation (§6.2).
//
// Judgment calls, where the RFC leaves room:
//
//   - a <target-name> that cannot be a DNS name (an empty label, a label
//     over 63 octets, RFC 7208 §4.8 leaves it undefined) makes its mechanism
//     not match, as a name that does not exist would; the suites accept
//     this or permerror.
//   - void lookups are counted for the query a term makes about the
//     domain owner's data: the A/AAAA of "a", the MX of "mx", the A of
//     "exists". Not for the address lookups of MX hosts (an IPv6 client and
//     MX hosts with only A records would otherwise make every "mx"
//     permerror), nor for the PTR lookup of "ptr", whose answer belongs to
//     the client's network, not to the record's publisher.
//   - an MX RRset of more than 10 names is permerror before any address
//     lookup, whatever the client address (RFC 7208 §4.6.4, the suite's
//     mx-limit).
//   - %{i} of an IPv6 address is written with lower-case nibbles, as in
//     the RFC 7208 §7.4 example; DNS names are case-insensitive, and only an
//     explanation shows the difference (the suite's v-macro-ip6, from pyspf,
//     has upper case).
//   - an expanded explanation with octets outside printable ASCII (from a
//     sender's local-part, say) is dropped: it is meant for an SMTP reply.
//     Callers should still say it comes from the sender's domain (§8.4) and
//     fit it into a reply line.
//
// What others do / what we do. blitiri.com.ar/go/spf (albertito/spf,
// v1.6.0, the library chasquid uses) passes 173 of the 203 tests of the
// RFC 7208 suite: it stops parsing at the term that decides, so later
// syntax errors go unseen; it does not validate domain-specs (toplabel,
// empty domain-specs); and it ignores exp=, so there is no explanation for
// the reject text. Closing that gap around it would mean parsing and
// validating every record it fetches (includes and redirects too, through
// a resolver wrapper), and re-finding which record decided a fail to
// evaluate its exp=: the parser and most of the evaluator again, with the
// DNS traffic twice. It also classifies DNS errors by asserting
// *net.DNSError, so it needs resolver.NetAdapter in between (STYLE §3).
// mjl-/mox's spf is RFC-exact but tied to mox's dns package and logging.
// So this package is our own evaluator on resolver.Resolver, with both
// suites (RFC 7208: 203 tests, RFC 4408: 191) run as data over a real DNS
// server in conformance_test.go.
//
// References:
//
//   - RFC 7208 (https://www.rfc-editor.org/rfc/rfc7208): SPF.
//   - The errata the suites follow (their exp-empty-domain and
//     redirect-syntax-error tests): "exp=" with an empty domain-spec is
//     permerror, and a malformed redirect= or exp= is not an
//     unknown-modifier.
//   - RFC 3986 §2.3: the unreserved set for URL escaping of macros.
//   - The OpenSPF test suites, testdata/conformance/spf/.
package spf

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/mxguard/mxguard/resolver"
)

// Result is an SPF result (RFC 7208 §2.6), with the words used in
// Authentication-Results and Received-SPF.
type Result string

// The results.
const (
	Pass      Result = "pass"      // the client is authorized
	Fail      Result = "fail"      // the client is explicitly not authorized ("-")
	Softfail  Result = "softfail"  // probably not authorized ("~")
	Neutral   Result = "neutral"   // no statement ("?", or no mechanism matched)
	None      Result = "none"      // no record, or no valid domain to check
	Temperror Result = "temperror" // a DNS error that may go away
	Permerror Result = "permerror" // a record that cannot be interpreted
)

// Identity is the identity an Outcome is about (RFC 7208 §2.3, §2.4).
type Identity string

// The identities.
const (
	IdentityMailFrom Identity = "mailfrom"
	IdentityHELO     Identity = "helo"
)

// Errors, wrapped with details in Outcome.Err and matched with errors.Is.
var (
	// ErrDNS: a lookup failed temporarily (SERVFAIL, timeout, ...): temperror.
	ErrDNS = errors.New("spf: dns lookup failed")
	// ErrMultipleRecords: more than one v=spf1 record: permerror.
	ErrMultipleRecords = errors.New("spf: more than one spf record")
	// ErrSyntax: the record does not parse: permerror.
	ErrSyntax = errors.New("spf: syntax error in record")
	// ErrLookupLimit: more than MaxLookups DNS-querying terms, or an mx with
	// more than 10 MX names: permerror.
	ErrLookupLimit = errors.New("spf: too many dns lookups")
	// ErrVoidLookupLimit: more than MaxVoidLookups lookups found nothing:
	// permerror.
	ErrVoidLookupLimit = errors.New("spf: too many void lookups")
	// ErrNoRecord: the target of an include or redirect has no SPF record
	// (or is not a valid domain): permerror.
	ErrNoRecord = errors.New("spf: include or redirect target has no spf record")
)

// Defaults for the zero values of Options.
const (
	DefaultReceiver       = "unknown"
	DefaultMaxLookups     = 10
	DefaultMaxVoidLookups = 2
	DefaultTimeout        = 20 * time.Second

	// maxDepth bounds include/redirect nesting whatever MaxLookups is:
	// each level counts one lookup, so it only bites when MaxLookups is
	// set very high.
	maxDepth = 64
	// maxMX and maxPTR are the per-term address lookup limits of RFC
	// 7208 §4.6.4.
	maxMX  = 10
	maxPTR = 10
)

// Options tune a check. The zero value uses the defaults.
type Options struct {
	Receiver       string           // our host name, for %{r} (default "unknown")
	Now            func() time.Time // for %{t} (default time.Now)
	MaxLookups     int              // DNS-querying terms (default 10, RFC 7208 §4.6.4)
	MaxVoidLookups int              // lookups that find nothing (default 2)
	Timeout        time.Duration    // bound on the whole check (default 20s)
}

func (o Options) withDefaults() Options {
	if o.Receiver == "" {
		o.Receiver = DefaultReceiver
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxLookups <= 0 {
		o.MaxLookups = DefaultMaxLookups
	}
	if o.MaxVoidLookups <= 0 {
		o.MaxVoidLookups = DefaultMaxVoidLookups
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

// Outcome is the result of one check. Result is always set; for temperror
// and permerror Err is set too.
type Outcome struct {
	Result      Result
	Identity    Identity // which identity this result is for
	Domain      string   // the domain checked (sender domain or HELO)
	Sender      string   // the <sender> as checked (postmaster@helo for <>)
	Explanation string   // exp= text on fail (expanded), "" otherwise
	Mechanism   string   // the matching mechanism, for logs ("ip4:192.0.2.0/24", "default")
	Reason      string   // internal detail for logs
	Err         error
}

// CheckHost is RFC 7208 §4 check_host(ip, domain, sender), with helo for
// %{h}. sender is the MAIL FROM address (local@domain; a missing
// local-part becomes "postmaster", §4.3); for the HELO identity pass
// "postmaster@"+helo. The returned Result is always set; for temperror and
// permerror Outcome.Err is also set. Outcome.Identity is mailfrom; Verify
// sets it to helo for the HELO check.
func CheckHost(ctx context.Context, r resolver.Resolver, ip netip.Addr, domain, sender, helo string, opts Options) Outcome {
	opts = opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	c := &checker{r: r, ip: ip.Unmap().WithZone(""), helo: helo, opts: opts}
	c.local, c.senderDomain = splitSender(sender, domain)
	c.sender = c.local + "@" + c.senderDomain
	out := Outcome{Identity: IdentityMailFrom, Domain: strings.TrimSuffix(domain, "."), Sender: c.sender}
	if !ip.IsValid() {
		out.Result, out.Mechanism, out.Reason = None, "default", "no client IP address"
		return out
	}
	d, why := identityDomain(domain)
	if why != "" {
		// RFC 7208 §4.3: a malformed or single-label domain is "none".
		out.Result, out.Mechanism, out.Reason = None, "default", why
		return out
	}

	res := c.checkHost(ctx, d, 0, true)
	out.Result, out.Mechanism, out.Err = res.result, res.mech, res.err
	if res.result == Fail {
		out.Explanation = res.expl
	}
	var detail string
	switch {
	case res.err != nil:
		detail = res.err.Error()
	case res.result == None:
		detail = "no spf record at " + d
	case res.mech == "default":
		detail = "no mechanism matched in the record of " + res.domain
	default:
		detail = res.mech + " matched in the record of " + res.domain
	}
	out.Reason = fmt.Sprintf("%s (%d dns lookups, %d void)", detail, c.lookups, c.voids)
	return out
}

// Verify does what an MTA does (RFC 7208 §2.3, §2.4): the HELO identity
// is checked first when MAIL FROM is <> (then the MAIL FROM identity is
// postmaster@helo, and its outcome is the HELO check's); otherwise both
// identities are checked, concurrently, each bounded by opts.Timeout.
// mailFrom is the reverse-path without angle brackets ("" or "<>" for the
// null path).
//
// It returns the MAIL FROM outcome and the HELO outcome (HELO result
// "none" when HELO is not a valid domain, e.g. an address literal). Both
// Results are always set.
func Verify(ctx context.Context, r resolver.Resolver, ip netip.Addr, helo, mailFrom string, opts Options) (mailfrom, heloOutcome Outcome) {
	mailFrom = strings.TrimSuffix(strings.TrimPrefix(mailFrom, "<"), ">")
	checkHELO := func() Outcome {
		sender := "postmaster@" + strings.TrimSuffix(helo, ".")
		if _, why := identityDomain(helo); why != "" {
			return Outcome{Result: None, Identity: IdentityHELO, Domain: helo, Sender: sender,
				Mechanism: "default", Reason: "HELO " + why}
		}
		o := CheckHost(ctx, r, ip, helo, sender, helo, opts)
		o.Identity = IdentityHELO
		return o
	}
	if mailFrom == "" {
		heloOutcome = checkHELO()
		mailfrom = heloOutcome
		mailfrom.Identity = IdentityMailFrom
		mailfrom.Reason = "null reverse-path, HELO identity: " + heloOutcome.Reason
		return mailfrom, heloOutcome
	}
	var wg sync.WaitGroup
	wg.Go(func() { heloOutcome = checkHELO() })
	_, domain := splitSender(mailFrom, "")
	mailfrom = CheckHost(ctx, r, ip, domain, mailFrom, helo, opts)
	mailfrom.Identity = IdentityMailFrom
	wg.Wait()
	return mailfrom, heloOutcome
}

// splitSender splits a sender at its last "@"; a missing local-part is
// "postmaster" (RFC 7208 §4.3), a missing domain is def.
func splitSender(sender, def string) (local, domain string) {
	local, domain = "", sender
	if i := strings.LastIndexByte(sender, '@'); i >= 0 {
		local, domain = sender[:i], sender[i+1:]
	}
	if domain == "" {
		domain = def
	}
	if local == "" {
		local = "postmaster"
	}
	return local, strings.TrimSuffix(domain, ".")
}

// checker holds the state of one check_host evaluation, shared by the
// includes and redirects it follows: the lookup counters live here.
type checker struct {
	r            resolver.Resolver
	ip           netip.Addr // unmapped (RFC 7208 §5: IPv4-mapped is IPv4)
	sender       string
	local        string
	senderDomain string
	helo         string
	opts         Options

	lookups int // DNS-querying terms evaluated
	voids   int // lookups that found nothing

	ptrDone   bool
	validated []string // validated PTR names, for ptr and %{p}
}

// evalResult is check_host's answer for one domain.
type evalResult struct {
	result Result
	mech   string // the directive that matched, "default" when none did
	domain string // the domain whose record decided (after redirects)
	expl   string // the explanation, for fail at the top or via redirect
	err    error
}

// checkHost evaluates the record of domain (raw, valid). explain asks for
// the exp= explanation on fail: true at the top level and through
// redirect, false inside include (RFC 7208 §6.2: the exp= of an included
// record is never used; after a redirect, the target's exp= is the one).
func (c *checker) checkHost(ctx context.Context, domain string, depth int, explain bool) evalResult {
	res := evalResult{domain: domain, mech: "default"}
	perm := func(err error) evalResult {
		res.result, res.err = Permerror, err
		return res
	}
	temp := func(err error) evalResult {
		res.result, res.err = Temperror, err
		return res
	}
	if depth > maxDepth {
		return perm(fmt.Errorf("%w: include/redirect nested deeper than %d", ErrLookupLimit, maxDepth))
	}

	// RFC 7208 §4.4, §4.5.
	txts, err := c.r.LookupTXT(ctx, fqdn(domain))
	switch {
	case resolver.IsNotFound(err):
		res.result = None
		return res
	case err != nil:
		return temp(fmt.Errorf("%w: txt %s: %w", ErrDNS, domain, err))
	}
	var txt string
	n := 0
	for _, t := range txts {
		if isSPF(t) {
			txt = t
			n++
		}
	}
	switch {
	case n == 0:
		res.result = None
		return res
	case n > 1:
		return perm(fmt.Errorf("%w at %s", ErrMultipleRecords, domain))
	}
	rec, err := parseRecord(txt)
	if err != nil {
		return perm(fmt.Errorf("%w at %s: %w", ErrSyntax, domain, err))
	}

	for i := range rec.directives {
		d := &rec.directives[i]
		if d.kind.lookups() {
			if err := c.countLookup(d.text); err != nil {
				res.mech = d.text
				return perm(err)
			}
		}
		match, r := c.match(ctx, d, domain, depth)
		if r.result != "" {
			r.domain, r.mech = domain, d.text
			return r
		}
		if match {
			res.result, res.mech = d.qual, d.text
			if d.qual == Fail && explain {
				res.expl = c.explanation(ctx, rec, domain)
			}
			return res
		}
	}

	if rec.redirect != nil {
		// RFC 7208 §6.1. A redirect is only reached when no mechanism
		// matched, so never with "all" in the record, as §5.1 wants.
		term := "redirect=" + rec.redirect.raw
		if err := c.countLookup(term); err != nil {
			res.mech = term
			return perm(err)
		}
		target, ok := c.targetName(ctx, rec.redirect, domain)
		if !ok {
			res.mech = term
			return perm(fmt.Errorf("%w: %s: %q is not a domain name", ErrNoRecord, term, target))
		}
		r := c.checkHost(ctx, target, depth+1, explain)
		if r.result == None {
			res.mech = term
			return perm(fmt.Errorf("%w: %s", ErrNoRecord, term))
		}
		if r.err != nil {
			r.err = fmt.Errorf("%s: %w", term, r.err)
		}
		return r
	}
	res.result = Neutral // RFC 7208 §4.7
	return res
}

// countLookup counts a DNS-querying term (RFC 7208 §4.6.4).
func (c *checker) countLookup(term string) error {
	c.lookups++
	if c.lookups > c.opts.MaxLookups {
		return fmt.Errorf("%w: %s is lookup %d, limit %d", ErrLookupLimit, term, c.lookups, c.opts.MaxLookups)
	}
	return nil
}

// countVoid counts a lookup that found nothing (RFC 7208 §4.6.4).
func (c *checker) countVoid(what string) error {
	c.voids++
	if c.voids > c.opts.MaxVoidLookups {
		return fmt.Errorf("%w: %s is void lookup %d, limit %d", ErrVoidLookupLimit, what, c.voids, c.opts.MaxVoidLookups)
	}
	return nil
}

// lookupResult classifies a lookup error once, next to the lookups
// (RFC 7208 §5: NXDOMAIN is as no records; any other error or a timeout
// is temperror). void is true for an empty answer.
func lookupResult(err error, what string) (void bool, temp error) {
	switch {
	case err == nil:
		return false, nil
	case resolver.IsNotFound(err):
		return true, nil
	}
	return false, fmt.Errorf("%w: %s: %w", ErrDNS, what, err)
}

// match evaluates one mechanism. A non-empty r.result ends the
// evaluation (an error, or the result of an include).
func (c *checker) match(ctx context.Context, d *directive, domain string, depth int) (bool, evalResult) {
	fail := func(res Result, err error) (bool, evalResult) {
		return false, evalResult{result: res, err: err}
	}
	switch d.kind {
	case mAll:
		return true, evalResult{}

	case mIP4:
		return c.ip.Is4() && d.prefix.Contains(c.ip), evalResult{}

	case mIP6:
		return c.ip.Is6() && d.prefix.Contains(c.ip), evalResult{}

	case mInclude:
		// RFC 7208 §5.2.
		target, ok := c.targetName(ctx, d.spec, domain)
		if !ok {
			return fail(Permerror, fmt.Errorf("%w: include:%s: %q is not a domain name", ErrNoRecord, d.spec.raw, target))
		}
		r := c.checkHost(ctx, target, depth+1, false)
		switch r.result {
		case Pass:
			return true, evalResult{}
		case Fail, Softfail, Neutral:
			return false, evalResult{}
		case None:
			return fail(Permerror, fmt.Errorf("%w: include:%s", ErrNoRecord, target))
		}
		return fail(r.result, fmt.Errorf("include:%s: %w", target, r.err))

	case mA:
		target, ok := c.targetName(ctx, d.spec, domain)
		if !ok {
			return false, evalResult{}
		}
		addrs, err := c.lookupAddr(ctx, target)
		void, terr := lookupResult(err, "a "+target)
		if terr != nil {
			return fail(Temperror, terr)
		}
		if void {
			if err := c.countVoid("a " + target); err != nil {
				return fail(Permerror, err)
			}
		}
		return c.anyInCIDR(addrs, d), evalResult{}

	case mMX:
		// RFC 7208 §5.4.
		target, ok := c.targetName(ctx, d.spec, domain)
		if !ok {
			return false, evalResult{}
		}
		mxs, err := c.r.LookupMX(ctx, fqdn(target))
		void, terr := lookupResult(err, "mx "+target)
		if terr != nil {
			return fail(Temperror, terr)
		}
		if void {
			if err := c.countVoid("mx " + target); err != nil {
				return fail(Permerror, err)
			}
			return false, evalResult{}
		}
		if resolver.IsNullMX(mxs) {
			return false, evalResult{}
		}
		if len(mxs) > maxMX {
			return fail(Permerror, fmt.Errorf("%w: mx %s has %d names, limit %d", ErrLookupLimit, target, len(mxs), maxMX))
		}
		for _, mx := range mxs {
			if mx.Host == "." || mx.Host == "" {
				continue
			}
			addrs, err := c.lookupAddrFQDN(ctx, mx.Host)
			if _, terr := lookupResult(err, "mx host "+mx.Host); terr != nil {
				return fail(Temperror, terr)
			}
			if c.anyInCIDR(addrs, d) {
				return true, evalResult{}
			}
		}
		return false, evalResult{}

	case mPTR:
		// RFC 7208 §5.5.
		target, ok := c.targetName(ctx, d.spec, domain)
		if !ok {
			return false, evalResult{}
		}
		target = strings.ToLower(target)
		for _, name := range c.validatedNames(ctx, target) {
			if inDomain(name, target) {
				return true, evalResult{}
			}
		}
		return false, evalResult{}

	case mExists:
		// RFC 7208 §5.7: an A lookup, whatever the client's family.
		target, ok := c.targetName(ctx, d.spec, domain)
		if !ok {
			return false, evalResult{}
		}
		addrs, err := c.r.LookupA(ctx, fqdn(target))
		void, terr := lookupResult(err, "exists "+target)
		if terr != nil {
			return fail(Temperror, terr)
		}
		if void {
			if err := c.countVoid("exists " + target); err != nil {
				return fail(Permerror, err)
			}
		}
		return len(addrs) > 0, evalResult{}
	}
	return false, evalResult{}
}

// targetName expands a domain-spec (nil: the current domain) into a raw
// <target-name>, truncated as RFC 7208 §7.3 says. ok is false when the
// result cannot be a DNS name.
func (c *checker) targetName(ctx context.Context, spec *macroString, domain string) (string, bool) {
	if spec == nil {
		return domain, true
	}
	name := truncateName(c.expand(ctx, spec, domain))
	return name, validName(name)
}

// lookupAddr asks the address records of the client's family: A for IPv4
// (and IPv4-mapped IPv6), AAAA for IPv6 (RFC 7208 §5.3).
func (c *checker) lookupAddr(ctx context.Context, name string) ([]netip.Addr, error) {
	return c.lookupAddrFQDN(ctx, fqdn(name))
}

func (c *checker) lookupAddrFQDN(ctx context.Context, name string) ([]netip.Addr, error) {
	if c.ip.Is4() {
		return c.r.LookupA(ctx, name)
	}
	return c.r.LookupAAAA(ctx, name)
}

// anyInCIDR reports whether the client is in any of addrs with the
// directive's cidr length for its family.
func (c *checker) anyInCIDR(addrs []netip.Addr, d *directive) bool {
	bits := d.cidr6
	if c.ip.Is4() {
		bits = d.cidr4
	}
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() != c.ip.Is4() {
			continue
		}
		if p, err := a.Prefix(bits); err == nil && p.Contains(c.ip) {
			return true
		}
	}
	return false
}

// validatedNames returns the client's validated domain names (RFC 7208
// §5.5): of the first 10 PTR names, those whose addresses include the
// client. With a filter, only names in that domain are validated (the
// others cannot make ptr match, so their lookups are saved); without one
// (filter ""), all are, and the result is kept for %{p}. Lookup errors
// leave names out; they never fail the check.
func (c *checker) validatedNames(ctx context.Context, filter string) []string {
	if c.ptrDone {
		return c.validated
	}
	ptrs, err := c.r.LookupPTR(ctx, c.ip)
	if err != nil {
		if filter == "" {
			c.ptrDone = true
		}
		return nil
	}
	if len(ptrs) > maxPTR {
		ptrs = ptrs[:maxPTR] // §4.6.4: "all records other than the first 10 MUST be ignored"
	}
	var out []string
	for _, p := range ptrs {
		name, ok := rawName(p)
		if !ok || !validName(name) || (filter != "" && !inDomain(name, filter)) {
			continue
		}
		addrs, err := c.lookupAddrFQDN(ctx, p)
		if err != nil {
			continue // §5.5: "that domain name is skipped"
		}
		for _, a := range addrs {
			if a.Unmap() == c.ip {
				out = append(out, name)
				break
			}
		}
	}
	if filter == "" {
		c.ptrDone, c.validated = true, out
	}
	return out
}

// validatedName is %{p} (RFC 7208 §7.3): the validated name equal to
// domain, else one in domain, else any, else "unknown".
func (c *checker) validatedName(ctx context.Context, domain string) string {
	names := c.validatedNames(ctx, "")
	domain = strings.ToLower(domain)
	best := ""
	for _, n := range names {
		switch {
		case n == domain:
			return n
		case inDomain(n, domain) && !inDomain(best, domain):
			best = n
		case best == "":
			best = n
		}
	}
	if best == "" {
		return "unknown"
	}
	return best
}

// explanation evaluates exp= for a fail (RFC 7208 §6.2). Any problem
// (macro, DNS, not exactly one TXT record, bad explain-string) gives no
// explanation and does not change the result; the lookup counts against
// no limit.
func (c *checker) explanation(ctx context.Context, rec *record, domain string) string {
	if rec.exp == nil {
		return ""
	}
	target, ok := c.targetName(ctx, rec.exp, domain)
	if !ok {
		return ""
	}
	txts, err := c.r.LookupTXT(ctx, fqdn(target))
	if err != nil || len(txts) != 1 {
		return ""
	}
	m, err := parseMacroString(txts[0], true, true)
	if err != nil {
		return ""
	}
	s := c.expand(ctx, m, domain)
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return ""
		}
	}
	return s
}
