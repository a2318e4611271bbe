package postfixcfg

import (
	"net"
	"net/netip"
	"path"
	"strings"
)

// DefaultListen is mxguard's default listen address.
const DefaultListen = "inet:127.0.0.1:8891"

// endpoint is a milter address in Postfix's notation, parsed.
type endpoint struct {
	unix bool
	path string // unix: the socket path as written (may be relative)
	host string // inet: host name or address, without brackets
	port string
	// bare is set for "host:port" without "inet:", which Postfix rejects
	// ("invalid transport name").
	bare bool
}

// parseEndpoint parses a milter address: inet:host:port, inet:[v6]:port,
// unix:path, local:path, or the invalid bare host:port. ok is false for
// anything else.
func parseEndpoint(s string) (e endpoint, ok bool) {
	switch {
	case strings.HasPrefix(s, "unix:"), strings.HasPrefix(s, "local:"):
		_, p, _ := strings.Cut(s, ":")
		return endpoint{unix: true, path: p}, p != ""
	case strings.HasPrefix(s, "inet:"):
		s = strings.TrimPrefix(s, "inet:")
	default:
		e.bare = true
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || port == "" {
		return endpoint{}, false
	}
	e.host, e.port = strings.ToLower(host), port
	return e, true
}

// isWildcard reports whether host is an any-address (0.0.0.0, ::).
func isWildcard(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsUnspecified()
}

// isLocalName reports whether host names this machine's loopback.
func isLocalName(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// inetMatches reports whether Postfix connecting to entry reaches a server
// listening on listen. "localhost" matches 127.0.0.1 and ::1 (Postfix's
// inet_connect tries every address of a name); a listener on a wildcard
// address is reached through any local name or address literal.
func inetMatches(listen, entry endpoint) bool {
	if listen.port != entry.port {
		return false
	}
	if listen.host == entry.host {
		return true
	}
	if isWildcard(listen.host) {
		_, err := netip.ParseAddr(entry.host)
		return err == nil || isLocalName(entry.host)
	}
	if entry.host == "localhost" {
		return isLocalName(listen.host)
	}
	if listen.host == "localhost" {
		return isLocalName(entry.host)
	}
	la, err1 := netip.ParseAddr(listen.host)
	ea, err2 := netip.ParseAddr(entry.host)
	return err1 == nil && err2 == nil && la.Unmap() == ea.Unmap()
}

// resolveUnix is where a Postfix daemon (chrooted in queueDir or not) finds
// the socket written as p in smtpd_milters, seen from outside the chroot.
// Daemons run with the queue directory as working directory, so a
// relative path works both chrooted and not.
func resolveUnix(p, queueDir string, chrooted bool) string {
	if !path.IsAbs(p) {
		return path.Join(queueDir, p)
	}
	if chrooted {
		return path.Join(queueDir, p)
	}
	return path.Clean(p)
}

// MilterAddress is what main.cf's smtpd_milters must say for mxguard's
// listen address (Postfix's notation, as in mxguard.yml): a unix socket
// inside queueDir becomes a path relative to it, which smtpd finds whether
// or not it runs chrooted there; a wildcard inet address becomes the
// loopback address. inChroot is false for a unix socket outside queueDir,
// which a chrooted smtpd cannot reach.
func MilterAddress(listen, queueDir string) (addr string, inChroot bool) {
	if listen == "" {
		listen = DefaultListen
	}
	if queueDir == "" {
		queueDir = DefaultQueueDir
	}
	e, ok := parseEndpoint(listen)
	if !ok {
		return listen, true
	}
	if e.unix {
		p := path.Clean(e.path)
		q := path.Clean(queueDir)
		if rel, ok := strings.CutPrefix(p, q+"/"); ok && path.IsAbs(p) {
			return "unix:" + rel, true
		}
		return "unix:" + p, !path.IsAbs(p)
	}
	host := e.host
	if isWildcard(host) {
		if a, _ := netip.ParseAddr(host); a.Is6() {
			host = "::1"
		} else {
			host = "127.0.0.1"
		}
	}
	return "inet:" + net.JoinHostPort(host, e.port), true
}
