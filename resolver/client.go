package resolver

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Defaults for the zero values of Config.
const (
	DefaultResolvConf  = "/etc/resolv.conf"
	DefaultTimeout     = 5 * time.Second
	DefaultAttempts    = 2
	DefaultCacheSize   = 10000
	DefaultMaxTTL      = time.Hour
	DefaultNegativeTTL = 5 * time.Minute

	// maxCNAMEHops bounds CNAME chains, both inside one answer and across
	// the new queries we send for an answer that stops at a CNAME.
	maxCNAMEHops = 8

	// ednsSize is the UDP payload size we advertise (RFC 6891). 4096 is
	// what most resolvers use; a larger answer comes back truncated and is
	// retried over TCP.
	ednsSize = 4096
)

// MetricsFunc is called once per lookup of one name and type: with
// cached=true when the cache answered, cached=false when an upstream query
// finished (successfully or not). rcode is the DNS rcode name ("NOERROR",
// "NXDOMAIN", "SERVFAIL", ...), or "TIMEOUT" / "ERROR" when no answer came.
// A lookup that joined an identical in-flight query is not reported (see
// Stats.DedupJoins). It must be safe for concurrent use and fast.
type MetricsFunc func(qtype, rcode string, cached bool)

// Config configures a Client. The zero value reads /etc/resolv.conf and
// uses the defaults above.
type Config struct {
	// Servers are host:port addresses (a bare IP gets port 53), tried in
	// order. Empty: the nameserver lines of ResolvConf.
	Servers []string
	// ResolvConf is the resolv.conf(5) file read when Servers is empty,
	// default /etc/resolv.conf. Its "options timeout: attempts:" fill a
	// zero Timeout and Attempts. Its search list is never used.
	ResolvConf string

	// Timeout bounds one query attempt to one server (default 5s). The
	// whole lookup is bounded by the caller's ctx.
	Timeout time.Duration
	// Attempts is how many times the server list is gone through
	// (default 2).
	Attempts int

	// CacheSize is the maximum number of cached (name, type) answers:
	// 0 means DefaultCacheSize, -1 disables the cache.
	CacheSize int
	// MinTTL raises shorter TTLs (default 0: honour them). MaxTTL caps
	// positive and negative TTLs (default 1h; RFC 2308 §5 suggests one to
	// three hours for negative answers). NegativeTTL is used for a negative
	// answer without an SOA in its authority section (default 5m; a
	// negative value disables caching those).
	MinTTL, MaxTTL, NegativeTTL time.Duration

	// Metrics is optional, see MetricsFunc.
	Metrics MetricsFunc
	// Logger gets one debug line per upstream query. Nil: no logging.
	Logger *slog.Logger
	// Now is the clock of the cache (not of the network timeouts), so tests
	// can expire entries without sleeping. Default time.Now.
	Now func() time.Time
}

// Stats are counters since New; see Client.Stats.
type Stats struct {
	Queries     uint64 // DNS messages sent upstream, counting retries and TCP fallbacks
	CacheHits   uint64 // lookups answered from the cache
	CacheMisses uint64 // lookups not answered from the cache (joins included)
	DedupJoins  uint64 // lookups that waited for an identical query already in flight
	CacheSize   int    // answers in the cache now
}

// Client is the Resolver on top of github.com/miekg/dns. It is safe for
// concurrent use.
type Client struct {
	servers     []string
	timeout     time.Duration
	attempts    int
	minTTL      time.Duration
	maxTTL      time.Duration
	negativeTTL time.Duration
	metrics     MetricsFunc
	log         *slog.Logger
	now         func() time.Time

	udp, tcp *dns.Client
	cache    *cache // nil when disabled
	flight   flightGroup

	queries, hits, misses, joins atomic.Uint64
}

var _ Resolver = (*Client)(nil)

// New returns a Client for cfg. It fails when no server is configured and
// none can be read from resolv.conf.
func New(cfg Config) (*Client, error) {
	c := &Client{
		timeout:     cfg.Timeout,
		attempts:    cfg.Attempts,
		minTTL:      cfg.MinTTL,
		maxTTL:      cfg.MaxTTL,
		negativeTTL: cfg.NegativeTTL,
		metrics:     cfg.Metrics,
		log:         cfg.Logger,
		now:         cfg.Now,
	}
	servers := cfg.Servers
	if len(servers) == 0 {
		path := cfg.ResolvConf
		if path == "" {
			path = DefaultResolvConf
		}
		rc, err := dns.ClientConfigFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("resolver: reading %s: %w", path, err)
		}
		for _, s := range rc.Servers {
			servers = append(servers, net.JoinHostPort(s, rc.Port))
		}
		if c.timeout == 0 && rc.Timeout > 0 {
			c.timeout = time.Duration(rc.Timeout) * time.Second
		}
		if c.attempts == 0 && rc.Attempts > 0 {
			c.attempts = rc.Attempts
		}
		if len(servers) == 0 {
			return nil, fmt.Errorf("%w in %s", ErrNoServers, path)
		}
	}
	for _, s := range servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			// A bare address: "192.0.2.1" or "2001:db8::1".
			if _, perr := netip.ParseAddr(s); perr != nil {
				return nil, fmt.Errorf("resolver: bad server address %q: %v", s, err)
			}
			s = net.JoinHostPort(s, "53")
		}
		c.servers = append(c.servers, s)
	}
	if len(c.servers) == 0 {
		return nil, ErrNoServers
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.attempts <= 0 {
		c.attempts = DefaultAttempts
	}
	if c.maxTTL <= 0 {
		c.maxTTL = DefaultMaxTTL
	}
	if c.negativeTTL == 0 {
		c.negativeTTL = DefaultNegativeTTL
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	switch {
	case cfg.CacheSize == 0:
		c.cache = newCache(DefaultCacheSize)
	case cfg.CacheSize > 0:
		c.cache = newCache(cfg.CacheSize)
	}
	// Timeout on the dns.Client, not only on the ctx: its own default (2s)
	// would otherwise cut attempts shorter than ours.
	c.udp = &dns.Client{Net: "udp", UDPSize: ednsSize, Timeout: c.timeout}
	c.tcp = &dns.Client{Net: "tcp", Timeout: c.timeout}
	return c, nil
}

// Servers returns the server addresses in the order they are tried.
func (c *Client) Servers() []string { return slices.Clone(c.servers) }

// Stats returns the counters.
func (c *Client) Stats() Stats {
	st := Stats{
		Queries:     c.queries.Load(),
		CacheHits:   c.hits.Load(),
		CacheMisses: c.misses.Load(),
		DedupJoins:  c.joins.Load(),
	}
	if c.cache != nil {
		st.CacheSize = c.cache.len()
	}
	return st
}

// FlushCache empties the cache.
func (c *Client) FlushCache() {
	if c.cache != nil {
		c.cache.flush()
	}
}

// LookupA implements Resolver.
func (c *Client) LookupA(ctx context.Context, name string) ([]netip.Addr, error) {
	rrs, err := c.resolve(ctx, name, dns.TypeA)
	if err != nil {
		return nil, err
	}
	return addrs(rrs), nil
}

// LookupAAAA implements Resolver.
func (c *Client) LookupAAAA(ctx context.Context, name string) ([]netip.Addr, error) {
	rrs, err := c.resolve(ctx, name, dns.TypeAAAA)
	if err != nil {
		return nil, err
	}
	return addrs(rrs), nil
}

// LookupIP implements Resolver: A and AAAA are queried concurrently.
func (c *Client) LookupIP(ctx context.Context, name string) ([]netip.Addr, error) {
	var (
		a6   []netip.Addr
		err6 error
		wg   sync.WaitGroup
	)
	wg.Go(func() { a6, err6 = c.LookupAAAA(ctx, name) })
	a4, err4 := c.LookupA(ctx, name)
	wg.Wait()
	return mergeIP(a4, err4, a6, err6)
}

// LookupMX implements Resolver. Hosts are absolute and lower case; a null
// MX (RFC 7505) comes back as the single record {Host: ".", Pref: 0}.
func (c *Client) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	rrs, err := c.resolve(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	mxs := make([]*net.MX, 0, len(rrs))
	for _, rr := range rrs {
		mx := rr.(*dns.MX)
		mxs = append(mxs, &net.MX{Host: strings.ToLower(dns.Fqdn(mx.Mx)), Pref: mx.Preference})
	}
	sortMX(mxs)
	return mxs, nil
}

// LookupTXT implements Resolver.
func (c *Client) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := c.resolve(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	txts := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		// RFC 7208 §3.3, RFC 6376 §3.6.2.2: the strings of one record are
		// joined without separator.
		// miekg/dns keeps character-strings in presentation format
		// (\" and \DDD escapes): hand callers the record's bytes.
		parts := rr.(*dns.TXT).Txt
		raw := make([]string, len(parts))
		for i, p := range parts {
			raw[i] = unescapeTXT(p)
		}
		txts = append(txts, strings.Join(raw, ""))
	}
	return txts, nil
}

// LookupPTR implements Resolver.
func (c *Client) LookupPTR(ctx context.Context, addr netip.Addr) ([]string, error) {
	name, err := reverseName(addr)
	if err != nil {
		return nil, err
	}
	rrs, err := c.resolve(ctx, name, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		names = append(names, strings.ToLower(dns.Fqdn(rr.(*dns.PTR).Ptr)))
	}
	return names, nil
}

// Lookup is the low-level lookup under the typed methods: it returns the
// records of type qtype at name (after CNAMEs), or a *Error. The records
// are copies; when they come from the cache their TTL is the time the
// answer has left in the cache, counted down.
func (c *Client) Lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	rrs, err := c.resolveAnswer(ctx, name, qtype)
	if err != nil {
		return nil, err
	}
	out := make([]dns.RR, len(rrs.rrs))
	ttl, counted := rrs.remaining(c.now())
	for i, rr := range rrs.rrs {
		out[i] = dns.Copy(rr)
		if counted {
			out[i].Header().Ttl = ttl
		}
	}
	return out, nil
}

// resolve returns the records of type qtype at name, following CNAMEs.
func (c *Client) resolve(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	a, err := c.resolveAnswer(ctx, name, qtype)
	if err != nil {
		return nil, err
	}
	return a.rrs, nil
}

func (c *Client) resolveAnswer(ctx context.Context, name string, qtype uint16) (*answer, error) {
	orig, err := checkName(name, qtype)
	if err != nil {
		return nil, err
	}
	name = orig
	for hop := 0; ; hop++ {
		a, err := c.lookup(ctx, name, qtype)
		if err != nil {
			var e *Error
			if errors.As(err, &e) && name != orig {
				// Report the name the caller asked for; the chain is in
				// the debug log.
				e2 := *e
				e2.Name = orig
				return nil, &e2
			}
			return nil, err
		}
		if a.kind != 0 {
			return nil, &Error{Name: orig, Qtype: qtype, Kind: a.kind, Rcode: a.rcode}
		}
		if a.target == "" {
			return a, nil
		}
		// The answer stopped at a CNAME pointing out of the server's data
		// (an authoritative server does not chase out of its zones): ask
		// for the target ourselves.
		if hop >= maxCNAMEHops {
			return nil, &Error{Name: orig, Qtype: qtype, Kind: Permanent, Rcode: a.rcode, Err: ErrCNAMEChain}
		}
		name = a.target
	}
}

// lookup answers one (name, type) from the cache or with one upstream
// query, shared with concurrent identical lookups.
func (c *Client) lookup(ctx context.Context, name string, qtype uint16) (*answer, error) {
	k := key{name, qtype}
	cached := func() *answer {
		if c.cache == nil {
			return nil
		}
		a, _ := c.cache.get(k, c.now())
		return a
	}
	if a := cached(); a != nil {
		c.hits.Add(1)
		c.report(qtype, a, nil, true)
		return a, nil
	}
	if err := ctx.Err(); err != nil {
		c.misses.Add(1)
		return nil, &Error{Name: name, Qtype: qtype, Kind: Temporary, Rcode: -1, Err: err}
	}
	a, how, err := c.flight.do(ctx, k, cached, func(qctx context.Context) (*answer, error) {
		a, err := c.exchange(qctx, name, qtype)
		if err == nil && c.cache != nil && a.expires.After(a.stored) {
			c.cache.put(k, a)
		}
		c.report(qtype, a, err, false)
		return a, err
	})
	switch how {
	case flightCached:
		c.hits.Add(1)
		c.report(qtype, a, nil, true)
		return a, nil
	case flightJoined:
		c.joins.Add(1)
	}
	c.misses.Add(1)
	if errors.Is(err, errLeft) {
		return nil, &Error{Name: name, Qtype: qtype, Kind: Temporary, Rcode: -1, Err: ctx.Err()}
	}
	return a, err
}

func (c *Client) report(qtype uint16, a *answer, err error, cached bool) {
	if c.metrics == nil {
		return
	}
	rcode := "ERROR"
	var e *Error
	switch {
	case err == nil:
		rcode = dns.RcodeToString[a.rcode]
	case errors.As(err, &e) && e.Rcode >= 0:
		rcode = dns.RcodeToString[e.Rcode]
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		rcode = "TIMEOUT"
	}
	c.metrics(dns.TypeToString[qtype], rcode, cached)
}

// exchange sends the question to the servers in order, Attempts rounds,
// until one gives a definitive answer (NOERROR, NXDOMAIN, or an rcode that
// will not change on retry). SERVFAIL, REFUSED, timeouts and network errors
// move on to the next server.
func (c *Client) exchange(ctx context.Context, name string, qtype uint16) (a *answer, rerr error) {
	t0 := time.Now()
	var (
		server string
		sent   int
		rcode  = -1 // of the last answer received
		netErr error
	)
	defer func() {
		st := "ok"
		if a != nil && a.kind != 0 {
			st = a.kind.String()
		}
		c.log.Debug("dns query", "name", name, "type", dns.TypeToString[qtype], "status", st,
			"server", server, "queries", sent, "duration", time.Since(t0), "err", rerr)
	}()

	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	q.SetEdns0(ednsSize, false)

	for range c.attempts {
		for _, server = range c.servers {
			r, n, err := c.exchangeOne(ctx, q, server)
			sent += n
			if err := ctx.Err(); err != nil {
				return nil, &Error{Name: name, Qtype: qtype, Kind: Temporary, Rcode: rcode, Err: err}
			}
			if err != nil {
				netErr = err
				continue
			}
			switch r.Rcode {
			case dns.RcodeSuccess, dns.RcodeNameError:
				return c.classify(name, qtype, r)
			case dns.RcodeServerFailure, dns.RcodeRefused:
				rcode = r.Rcode
				continue
			default:
				// FORMERR, NOTIMP, ...: asking again will not help.
				return nil, &Error{Name: name, Qtype: qtype, Kind: Permanent, Rcode: r.Rcode}
			}
		}
	}
	return nil, &Error{Name: name, Qtype: qtype, Kind: Temporary, Rcode: rcode, Err: netErr}
}

// exchangeOne asks one server once over UDP and, if the answer is
// truncated, again over TCP (RFC 1035 §4.2.1, RFC 7766 §5). It returns the
// number of messages sent.
func (c *Client) exchangeOne(ctx context.Context, q *dns.Msg, server string) (*dns.Msg, int, error) {
	q.Id = dns.Id()
	r, err := c.roundTrip(ctx, c.udp, q, server)
	n := 1
	if r != nil && r.Truncated {
		q.Id = dns.Id()
		r, err = c.roundTrip(ctx, c.tcp, q, server)
		n++
	}
	if err != nil {
		return nil, n, err
	}
	if !r.Response || len(r.Question) != 1 || r.Question[0].Qtype != q.Question[0].Qtype ||
		!strings.EqualFold(r.Question[0].Name, q.Question[0].Name) {
		return nil, n, fmt.Errorf("%w from %s: question does not match", ErrMalformed, server)
	}
	return r, n, nil
}

// roundTrip is one query with its own timeout. miekg/dns honours a ctx
// deadline but not a cancellation once the message is sent, so the
// connection's deadline is moved to the past when ctx ends: a shared query
// abandoned by all its waiters stops at once.
func (c *Client) roundTrip(ctx context.Context, cl *dns.Client, q *dns.Msg, server string) (*dns.Msg, error) {
	c.queries.Add(1)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := cl.DialContext(ctx, server)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", server, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	r, _, err := cl.ExchangeWithConnContext(ctx, q, conn)
	if err != nil {
		if r != nil && r.Truncated {
			// The message did not unpack completely, but a truncated
			// answer is only asking for TCP.
			return r, nil
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("%w: %s %s after %v", ErrTimeout, cl.Net, server, c.timeout)
		}
		return nil, fmt.Errorf("%s %s: %w", cl.Net, server, err)
	}
	return r, nil
}

// classify turns a NOERROR or NXDOMAIN message into an answer, following
// the CNAMEs in its answer section (RFC 1034 §3.6.2), and computes how long
// it may be cached.
func (c *Client) classify(name string, qtype uint16, r *dns.Msg) (*answer, error) {
	now := c.now()
	a := &answer{rcode: r.Rcode, stored: now}
	ttl := uint32(1<<31 - 1)
	owner := name
	for hop := 0; ; hop++ {
		var found []dns.RR
		var cname *dns.CNAME
		for _, rr := range r.Answer {
			h := rr.Header()
			if h.Class != dns.ClassINET || !strings.EqualFold(h.Name, owner) {
				continue
			}
			if h.Rrtype == qtype {
				found = append(found, rr)
			} else if cn, ok := rr.(*dns.CNAME); ok && cname == nil {
				cname = cn
			}
		}
		if len(found) > 0 {
			a.rrs = found
			for _, rr := range found {
				ttl = min(ttl, rr.Header().Ttl)
			}
			break
		}
		if cname == nil {
			break
		}
		if hop >= maxCNAMEHops {
			return nil, &Error{Name: name, Qtype: qtype, Kind: Permanent, Rcode: r.Rcode, Err: ErrCNAMEChain}
		}
		ttl = min(ttl, cname.Hdr.Ttl)
		owner = strings.ToLower(dns.Fqdn(cname.Target))
	}

	soa := negativeSOA(r)
	switch {
	case r.Rcode == dns.RcodeNameError:
		// RFC 6604: after CNAMEs the rcode is about the last name.
		a.kind = NXDOMAIN
	case len(a.rrs) > 0:
		a.expires = now.Add(c.clampTTL(time.Duration(ttl) * time.Second))
		return a, nil
	case owner != name && soa == nil:
		// Only a CNAME, and no SOA saying the target is empty: the server
		// did not have the target's data. Chase it with a new query; cache
		// the pointer for the CNAMEs' TTL.
		a.target = owner
		a.expires = now.Add(c.clampTTL(time.Duration(ttl) * time.Second))
		return a, nil
	default:
		a.kind = NoData
	}

	// RFC 2308 §5: a negative answer is cached for the minimum of the SOA's
	// own TTL and its MINIMUM field. Without an SOA the RFC says not to cache
	// at all; we use NegativeTTL (short by default) because an upstream that
	// omits it would otherwise be asked on every message.
	switch {
	case soa != nil:
		a.expires = now.Add(c.clampTTL(time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second))
	case c.negativeTTL > 0:
		a.expires = now.Add(c.clampTTL(c.negativeTTL))
	default:
		a.expires = now // not cached
	}
	return a, nil
}

func (c *Client) clampTTL(d time.Duration) time.Duration {
	return min(max(d, c.minTTL), c.maxTTL)
}

func negativeSOA(r *dns.Msg) *dns.SOA {
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	return nil
}

// checkName enforces absolute, valid names and lower-cases them (names are
// case-insensitive, RFC 4343, and the cache key must not depend on case).
func checkName(name string, qtype uint16) (string, error) {
	if !isAbsolute(name) {
		return "", &Error{Name: name, Qtype: qtype, Kind: Permanent, Rcode: -1, Err: ErrRelativeName}
	}
	// RFC 1035 §2.3.4: labels of 63 octets or less, names of 255 or less.
	if _, ok := dns.IsDomainName(name); !ok {
		return "", &Error{Name: name, Qtype: qtype, Kind: Permanent, Rcode: -1, Err: ErrInvalidName}
	}
	return strings.ToLower(name), nil
}

// isAbsolute reports whether name ends in an unescaped dot.
func isAbsolute(name string) bool {
	if !strings.HasSuffix(name, ".") {
		return false
	}
	n := 0
	for i := len(name) - 2; i >= 0 && name[i] == '\\'; i-- {
		n++
	}
	return n%2 == 0
}

func reverseName(addr netip.Addr) (string, error) {
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() {
		return "", &Error{Name: addr.String(), Qtype: dns.TypePTR, Kind: Permanent, Rcode: -1, Err: ErrInvalidName}
	}
	name, err := dns.ReverseAddr(addr.String())
	if err != nil {
		return "", &Error{Name: addr.String(), Qtype: dns.TypePTR, Kind: Permanent, Rcode: -1,
			Err: fmt.Errorf("%w: %v", ErrInvalidName, err)}
	}
	return name, nil
}

func addrs(rrs []dns.RR) []netip.Addr {
	out := make([]netip.Addr, 0, len(rrs))
	for _, rr := range rrs {
		var ip net.IP
		switch rr := rr.(type) {
		case *dns.A:
			ip = rr.A.To4()
		case *dns.AAAA:
			ip = rr.AAAA.To16()
		}
		if a, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, a)
		}
	}
	return out
}

// sortMX sorts by preference, then host, so results are deterministic.
// (net.LookupMX shuffles equal preferences; our callers only check
// membership and order of preference.)
func sortMX(mxs []*net.MX) {
	slices.SortStableFunc(mxs, func(a, b *net.MX) int {
		if a.Pref != b.Pref {
			return int(a.Pref) - int(b.Pref)
		}
		return strings.Compare(a.Host, b.Host)
	})
}

// mergeIP combines the A and AAAA results as documented on
// Resolver.LookupIP: any address wins; otherwise a temporary failure, then
// NXDOMAIN, then a permanent failure, then NODATA.
func mergeIP(a4 []netip.Addr, err4 error, a6 []netip.Addr, err6 error) ([]netip.Addr, error) {
	if len(a4)+len(a6) > 0 {
		return append(slices.Clip(a4), a6...), nil
	}
	for _, k := range []Kind{Temporary, NXDOMAIN, Permanent} {
		if kindOf(err4) == k {
			return nil, err4
		}
		if kindOf(err6) == k {
			return nil, err6
		}
	}
	if err4 != nil {
		return nil, err4
	}
	if err6 != nil {
		return nil, err6
	}
	return nil, &Error{Qtype: dns.TypeA, Kind: NoData, Rcode: dns.RcodeSuccess}
}

// answer is the outcome of one upstream query for (name, type): what the
// cache stores. Exactly one of rrs, target or kind is set.
type answer struct {
	rrs     []dns.RR // records of the asked type, after the CNAMEs in the message
	target  string   // the message ended in a CNAME to target: chase it
	kind    Kind     // NXDOMAIN or NoData
	rcode   int
	stored  time.Time
	expires time.Time
}

// remaining returns the TTL left at now, in whole seconds, and whether the
// answer is a cached one (expires set).
func (a *answer) remaining(now time.Time) (uint32, bool) {
	if !a.expires.After(a.stored) {
		return 0, false
	}
	d := a.expires.Sub(now)
	if d < 0 {
		d = 0
	}
	return uint32(d / time.Second), true
}

type key struct {
	name  string
	qtype uint16
}

// errLeft is returned by flightGroup.do to a waiter whose ctx ended.
var errLeft = errors.New("resolver: waiter left")

// flightGroup de-duplicates concurrent identical queries: the first caller
// starts the query in its own goroutine, every caller (first included)
// waits for it or for its own ctx. The query runs under a context detached
// from the first caller's cancellation, because later joiners may have more
// time; it is cancelled when the last waiter has left, so nobody pays for
// an answer nobody wants.
type flightGroup struct {
	mu sync.Mutex
	m  map[key]*call
}

type call struct {
	done   chan struct{}
	a      *answer
	err    error
	refs   int
	cancel context.CancelFunc
}

// How flightGroup.do got its answer.
const (
	flightStarted = iota // this caller started the query
	flightJoined         // this caller waited for a query already in flight
	flightCached         // the query had just finished and cached its answer
)

// do returns the answer of fn for k, run once for all concurrent callers.
// cached is consulted under the group's lock when no query is in flight:
// fn caches its answer before leaving the group, so a caller that missed
// the cache just before and arrives just after finds it there instead of
// sending a second query.
func (g *flightGroup) do(ctx context.Context, k key, cached func() *answer, fn func(context.Context) (*answer, error)) (a *answer, how int, err error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[key]*call{}
	}
	cl, ok := g.m[k]
	how = flightStarted
	if ok {
		how = flightJoined
		cl.refs++
	} else {
		if a := cached(); a != nil {
			g.mu.Unlock()
			return a, flightCached, nil
		}
		qctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		cl = &call{done: make(chan struct{}), refs: 1, cancel: cancel}
		g.m[k] = cl
		go func() {
			// fn stores the answer in the cache before the call leaves the
			// map, so a lookup starting now either joins or hits the cache.
			cl.a, cl.err = fn(qctx)
			g.mu.Lock()
			if g.m[k] == cl {
				delete(g.m, k)
			}
			g.mu.Unlock()
			cancel()
			close(cl.done)
		}()
	}
	g.mu.Unlock()

	select {
	case <-cl.done:
		return cl.a, how, cl.err
	case <-ctx.Done():
	}
	select {
	case <-cl.done: // finished at the same time: take the answer
		return cl.a, how, cl.err
	default:
	}
	g.mu.Lock()
	cl.refs--
	if cl.refs == 0 {
		if g.m[k] == cl {
			delete(g.m, k)
		}
		cl.cancel()
	}
	g.mu.Unlock()
	return nil, how, errLeft
}

// cache is an LRU of answers: a hit moves the entry to the front, an insert
// beyond the size bound evicts the back. LRU rather than random eviction
// because mail traffic is skewed: the big senders' names are asked all day
// and must survive a burst of one-off names. Expired entries are dropped
// when met; one never asked for again drifts to the back and goes first.
//
// Only NOERROR and NXDOMAIN outcomes are stored. Temporary failures are
// never cached: the in-flight de-duplication already collapses bursts, and
// an MTA retries a tempfailed message minutes later, when we want a fresh
// try.
type cache struct {
	mu  sync.Mutex
	max int
	ll  *list.List // of *centry, front = most recently used
	m   map[key]*list.Element
}

type centry struct {
	k key
	a *answer
}

func newCache(max int) *cache { return &cache{max: max, ll: list.New(), m: map[key]*list.Element{}} }

func (c *cache) get(k key, now time.Time) (*answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[k]
	if !ok {
		return nil, false
	}
	e := el.Value.(*centry)
	if !now.Before(e.a.expires) {
		c.ll.Remove(el)
		delete(c.m, k)
		return nil, false
	}
	c.ll.MoveToFront(el)
	return e.a, true
}

func (c *cache) put(k key, a *answer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		el.Value.(*centry).a = a
		c.ll.MoveToFront(el)
		return
	}
	c.m[k] = c.ll.PushFront(&centry{k, a})
	for c.ll.Len() > c.max {
		el := c.ll.Back()
		c.ll.Remove(el)
		delete(c.m, el.Value.(*centry).k)
	}
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

func (c *cache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	clear(c.m)
}

// unescapeTXT turns a character-string in presentation format (RFC 1035
// §5.1: \X and \DDD) back into its bytes.
func unescapeTXT(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n <= 255 {
				b = append(b, byte(n))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
