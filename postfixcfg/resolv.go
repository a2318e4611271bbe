package postfixcfg

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// DefaultResolvConf is the system resolver configuration.
const DefaultResolvConf = "/etc/resolv.conf"

// PublicResolvers are well-known public recursive resolvers. DNSBLs
// (Spamhaus first) refuse queries that arrive through them: Spamhaus
// answers 127.255.255.254 or nothing, so every DNSBL check silently finds
// nothing.
var PublicResolvers = map[string]string{
	"8.8.8.8":              "Google Public DNS",
	"8.8.4.4":              "Google Public DNS",
	"2001:4860:4860::8888": "Google Public DNS",
	"2001:4860:4860::8844": "Google Public DNS",
	"1.1.1.1":              "Cloudflare",
	"1.0.0.1":              "Cloudflare",
	"1.1.1.2":              "Cloudflare",
	"1.0.0.2":              "Cloudflare",
	"1.1.1.3":              "Cloudflare",
	"1.0.0.3":              "Cloudflare",
	"2606:4700:4700::1111": "Cloudflare",
	"2606:4700:4700::1001": "Cloudflare",
	"9.9.9.9":              "Quad9",
	"9.9.9.10":             "Quad9",
	"9.9.9.11":             "Quad9",
	"149.112.112.112":      "Quad9",
	"149.112.112.10":       "Quad9",
	"149.112.112.11":       "Quad9",
	"2620:fe::fe":          "Quad9",
	"2620:fe::9":           "Quad9",
	"208.67.222.222":       "OpenDNS",
	"208.67.220.220":       "OpenDNS",
	"208.67.222.220":       "OpenDNS",
	"208.67.220.222":       "OpenDNS",
	"2620:119:35::35":      "OpenDNS",
	"2620:119:53::53":      "OpenDNS",
	"4.2.2.1":              "Level3",
	"4.2.2.2":              "Level3",
	"4.2.2.3":              "Level3",
	"4.2.2.4":              "Level3",
	"4.2.2.5":              "Level3",
	"4.2.2.6":              "Level3",
	"94.140.14.14":         "AdGuard DNS",
	"94.140.15.15":         "AdGuard DNS",
	"185.228.168.9":        "CleanBrowsing",
	"185.228.169.9":        "CleanBrowsing",
	"77.88.8.8":            "Yandex DNS",
	"77.88.8.1":            "Yandex DNS",
	"64.6.64.6":            "Verisign Public DNS",
	"64.6.65.6":            "Verisign Public DNS",
	"8.26.56.26":           "Comodo Secure DNS",
	"8.20.247.20":          "Comodo Secure DNS",
	"76.76.2.0":            "Control D",
	"76.76.10.0":           "Control D",
	"84.200.69.80":         "DNS.WATCH",
	"84.200.70.40":         "DNS.WATCH",
}

const resolverFix = "run a local caching resolver (unbound) and point resolv.conf at 127.0.0.1"

// ReadResolvConf returns the nameserver addresses of a resolv.conf.
func ReadResolvConf(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			out = append(out, f[1])
		}
	}
	return out, sc.Err()
}

// CheckResolvConf checks the nameservers of a resolv.conf ("" means
// DefaultResolvConf); see CheckResolvers.
func CheckResolvConf(path string) []Finding {
	if path == "" {
		path = DefaultResolvConf
	}
	servers, err := ReadResolvConf(path)
	if err != nil {
		return []Finding{{Severity: Warning, Key: "resolv.conf", Message: fmt.Sprintf("cannot read %s: %v", path, err),
			Fix: "make sure mxguard has a resolver: " + resolverFix}}
	}
	if len(servers) == 0 {
		return []Finding{{Severity: OK, Key: "resolv.conf", Message: "no nameserver line: the resolver on 127.0.0.1 is used"}}
	}
	return CheckResolvers("resolv.conf", servers)
}

// CheckResolvers checks recursive resolvers (address, or host:port as in
// mxguard's dns.servers) for public ones, which DNSBLs refuse. key is
// "resolv.conf" or "dns.servers".
func CheckResolvers(key string, servers []string) []Finding {
	fix := resolverFix
	if key == "dns.servers" {
		fix = "run a local caching resolver (unbound) and set dns.servers to [127.0.0.1]"
	}
	var out []Finding
	bad := false
	for _, s := range servers {
		host := s
		if h, _, err := net.SplitHostPort(s); err == nil {
			host = h
		}
		host, _, _ = strings.Cut(host, "%") // fe80::1%eth0
		a, err := netip.ParseAddr(host)
		if err != nil {
			out = append(out, Finding{Severity: Warning, Key: key, Message: fmt.Sprintf("%q is not an address", s)})
			continue
		}
		a = a.Unmap()
		if name, ok := PublicResolvers[a.String()]; ok {
			bad = true
			out = append(out, Finding{Severity: Problem, Key: key,
				Message: fmt.Sprintf("nameserver %s is %s, a public resolver: DNSBLs (Spamhaus) refuse queries from public resolvers, so the rbl and rhsbl checks find nothing", s, name),
				Fix:     fix})
			continue
		}
		switch {
		case a.String() == "127.0.0.53":
			out = append(out, Finding{Severity: Info, Key: key,
				Message: fmt.Sprintf("nameserver %s is systemd-resolved's stub: make sure its upstream servers (resolvectl status) are not public resolvers", s)})
		case a.IsGlobalUnicast() && !a.IsPrivate():
			out = append(out, Finding{Severity: Info, Key: key,
				Message: fmt.Sprintf("nameserver %s is a remote resolver: if it is shared (your provider's), DNSBLs may refuse or limit it; a local caching resolver is safest", s)})
		}
	}
	if !bad {
		out = append(out, Finding{Severity: OK, Key: key, Message: fmt.Sprintf("no public resolver (%s)", strings.Join(servers, " "))})
	}
	return out
}
