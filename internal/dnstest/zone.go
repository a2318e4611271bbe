package dnstest

import (
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

const defaultTTL = 300

type action int

const (
	actRcode action = iota + 1
	actDrop
	actTruncate
	actLatency
)

// fault is one injected misbehaviour.
type fault struct {
	name  string // absolute lower case, or "*.suffix." for every name below suffix
	qtype uint16 // 0: any
	act   action
	rcode int
	delay time.Duration
}

func (f *fault) matches(name string, qtype uint16) bool {
	if f.qtype != 0 && f.qtype != qtype {
		return false
	}
	if suffix, ok := strings.CutPrefix(f.name, "*."); ok {
		if suffix == "" { // "*." : everything but the root
			return name != "."
		}
		return len(name) > len(suffix)+1 && strings.HasSuffix(name, "."+suffix)
	}
	return name == f.name
}

// zone is the data of one apex.
type zone struct {
	apex  string
	soa   *dns.SOA
	rrs   map[string][]dns.RR // by lower-case owner
	nodes map[string]bool     // owners and their ancestors up to the apex: existing names (RFC 4592 §2.2.2 empty non-terminals)
}

func newZone(apex string) *zone {
	return &zone{apex: apex, rrs: map[string][]dns.RR{}, nodes: map[string]bool{apex: true}}
}

func (z *zone) add(rr dns.RR) {
	h := rr.Header()
	h.Name = strings.ToLower(h.Name)
	if soa, ok := rr.(*dns.SOA); ok && h.Name == z.apex {
		z.soa = soa
		// One SOA per zone: a later one replaces the earlier.
		rrs := z.rrs[h.Name][:0]
		for _, old := range z.rrs[h.Name] {
			if old.Header().Rrtype != dns.TypeSOA {
				rrs = append(rrs, old)
			}
		}
		z.rrs[h.Name] = rrs
	}
	z.rrs[h.Name] = append(z.rrs[h.Name], rr)
	for n := h.Name; ; n = parent(n) {
		z.nodes[n] = true
		if n == z.apex || n == "." {
			break
		}
	}
}

// lookup returns the records at name, synthesizing them from a wildcard
// when name does not exist (RFC 4592 §3.3.1), and whether name exists
// (possibly as an empty non-terminal) or was synthesized.
func (z *zone) lookup(name string) ([]dns.RR, bool) {
	if z.nodes[name] {
		return z.rrs[name], true
	}
	// The closest encloser is the longest existing ancestor; the source
	// of synthesis is the wildcard right below it.
	// The apex is always a node, so the loop ends there at the latest.
	ce := parent(name)
	for !z.nodes[ce] {
		ce = parent(ce)
	}
	source := "*." + ce
	if ce == "." {
		source = "*."
	}
	wild, ok := z.rrs[source]
	if !ok {
		return nil, false
	}
	out := make([]dns.RR, len(wild))
	for i, rr := range wild {
		out[i] = dns.Copy(rr)
		out[i].Header().Name = name
	}
	return out, true
}

// negativeSOA is the SOA for the authority section of a negative answer,
// its TTL the minimum of its own and its MINIMUM field (RFC 2308 §3).
func (z *zone) negativeSOA() []dns.RR {
	soa := dns.Copy(z.soa).(*dns.SOA)
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	return []dns.RR{soa}
}

// zoneFor returns the zone with the longest apex containing name; s.mu is
// held.
func (s *Server) zoneFor(name string) *zone {
	for n := name; ; n = parent(n) {
		if z, ok := s.zones[n]; ok {
			return z
		}
		if n == "." {
			return nil
		}
	}
}

// answer resolves a query against the zones, as RFC 1034 §4.3.2 for an
// authoritative server: CNAMEs are followed while they stay in the zone.
// s.mu is held.
func (s *Server) answer(qname string, qtype uint16) (rcode int, ans, ns []dns.RR) {
	z := s.zoneFor(qname)
	if z == nil {
		return dns.RcodeRefused, nil, nil
	}
	name := qname
	for range 16 {
		rrs, ok := z.lookup(name)
		if !ok {
			return dns.RcodeNameError, ans, z.negativeSOA()
		}
		var cname dns.RR
		n := len(ans)
		for _, rr := range rrs {
			t := rr.Header().Rrtype
			if t == qtype || qtype == dns.TypeANY {
				ans = append(ans, rr)
			} else if t == dns.TypeCNAME {
				cname = rr
			}
		}
		if len(ans) > n {
			return dns.RcodeSuccess, ans, nil
		}
		if cname == nil {
			return dns.RcodeSuccess, ans, z.negativeSOA()
		}
		ans = append(ans, cname)
		name = strings.ToLower(cname.(*dns.CNAME).Target)
		if s.zoneFor(name) != z {
			// Out of the zone: the resolver asks for the target itself.
			return dns.RcodeSuccess, ans, nil
		}
	}
	return dns.RcodeServerFailure, nil, nil // a CNAME loop
}

// loadZone parses zone text and its directives and adds them to s.
func (s *Server) loadZone(text, file string) error {
	faults, latency, origins, err := scanDirectives(text, file)
	if err != nil {
		return err
	}
	zp := dns.NewZoneParser(strings.NewReader(text), "", file)
	zp.SetDefaultTTL(defaultTTL)
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return fmt.Errorf("dnstest: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// SOAs first: they say where zones are.
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			apex := strings.ToLower(soa.Hdr.Name)
			if s.zones[apex] == nil {
				s.zones[apex] = newZone(apex)
			}
		}
	}
	for _, rr := range rrs {
		owner := strings.ToLower(rr.Header().Name)
		z := s.zoneFor(owner)
		if z == nil {
			// No SOA above the record: its $ORIGIN is the apex.
			apex := ""
			for _, o := range origins {
				if dns.IsSubDomain(o, owner) && len(o) > len(apex) {
					apex = o
				}
			}
			if apex == "" {
				return fmt.Errorf("dnstest: %s: %s is in no zone: add an SOA or $ORIGIN above it", file, rr.Header().Name)
			}
			z = newZone(apex)
			s.zones[apex] = z
		}
		z.add(rr)
	}
	for _, z := range s.zones {
		if z.soa == nil {
			soa := &dns.SOA{
				Hdr:     dns.RR_Header{Name: z.apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: defaultTTL},
				Ns:      "ns." + strings.TrimPrefix(z.apex, "."),
				Mbox:    "hostmaster." + strings.TrimPrefix(z.apex, "."),
				Serial:  1,
				Refresh: 3600,
				Retry:   600,
				Expire:  86400,
				Minttl:  defaultTTL,
			}
			z.add(soa)
		}
	}
	s.faults = append(s.faults, faults...)
	if latency >= 0 {
		s.latency = latency
	}
	return nil
}

// scanDirectives finds the ;! directives and the $ORIGIN lines of zone
// text. latency is -1 when no global ;!latency was given.
func scanDirectives(text, file string) (faults []fault, latency time.Duration, origins []string, err error) {
	latency = -1
	origin := ""
	for i, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		errf := func(format string, args ...any) error {
			return fmt.Errorf("dnstest: %s:%d: %s", file, i+1, fmt.Sprintf(format, args...))
		}
		if f := strings.Fields(t); len(f) >= 2 && strings.EqualFold(f[0], "$ORIGIN") {
			o, err := absName(f[1], origin)
			if err != nil {
				return nil, 0, nil, errf("%v", err)
			}
			origin = o
			origins = append(origins, o)
			continue
		}
		rest, ok := strings.CutPrefix(t, ";!")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, 0, nil, errf("empty directive")
		}
		verb, args := strings.ToLower(f[0]), f[1:]
		var flt fault
		switch verb {
		case "servfail", "refused", "timeout", "drop", "truncate":
			flt.act = map[string]action{"servfail": actRcode, "refused": actRcode, "timeout": actDrop,
				"drop": actDrop, "truncate": actTruncate}[verb]
			flt.rcode = map[string]int{"servfail": dns.RcodeServerFailure, "refused": dns.RcodeRefused}[verb]
		case "rcode":
			if len(args) == 0 {
				return nil, 0, nil, errf("usage: ;!rcode <RCODE> <name> [<type>]")
			}
			rc, ok := dns.StringToRcode[strings.ToUpper(args[0])]
			if !ok {
				return nil, 0, nil, errf("unknown rcode %q", args[0])
			}
			flt.act, flt.rcode, args = actRcode, rc, args[1:]
		case "latency":
			if len(args) == 0 {
				return nil, 0, nil, errf("usage: ;!latency <duration> [<name> [<type>]]")
			}
			d, err := time.ParseDuration(args[0])
			if err != nil || d < 0 {
				return nil, 0, nil, errf("bad duration %q", args[0])
			}
			if len(args) == 1 {
				latency = d
				continue
			}
			flt.act, flt.delay, args = actLatency, d, args[1:]
		default:
			return nil, 0, nil, errf("unknown directive %q (want servfail, refused, rcode, timeout, truncate or latency)", verb)
		}
		if len(args) < 1 || len(args) > 2 {
			return nil, 0, nil, errf("usage: ;!%s <name> [<type>]", verb)
		}
		if flt.name, err = absName(args[0], origin); err != nil {
			return nil, 0, nil, errf("%v", err)
		}
		if len(args) == 2 {
			qt, ok := dns.StringToType[strings.ToUpper(args[1])]
			if !ok {
				return nil, 0, nil, errf("unknown type %q", args[1])
			}
			flt.qtype = qt
		}
		faults = append(faults, flt)
	}
	return faults, latency, origins, nil
}

// absName makes name absolute against origin, as the master file format
// does (RFC 1035 §5.1), lower case.
func absName(name, origin string) (string, error) {
	switch {
	case name == "@":
		if origin == "" {
			return "", fmt.Errorf("@ without $ORIGIN")
		}
		return origin, nil
	case strings.HasSuffix(name, "."):
	case origin == "":
		return "", fmt.Errorf("relative name %q without $ORIGIN", name)
	case origin == ".":
		name += "."
	default:
		name += "." + origin
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return "", fmt.Errorf("bad name %q", name)
	}
	return strings.ToLower(name), nil
}

func normName(name string) string { return strings.ToLower(dns.Fqdn(name)) }

// parent returns the name one label up; the parent of the root is the root.
func parent(name string) string {
	i, end := dns.NextLabel(name, 0)
	if end || i >= len(name) {
		return "."
	}
	return name[i:]
}
