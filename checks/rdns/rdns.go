// Package rdns implements Postfix's client name restrictions:
// reject_unknown_reverse_client_hostname (the client address has a PTR
// record) and reject_unknown_client_hostname (forward-confirmed reverse
// DNS, "iprev" in RFC 8601 §3: the PTR name's A/AAAA records include the
// client address).
//
// As Postfix does (smtpd_peer.c), only the first PTR name is considered, a
// PTR name that is not a valid hostname or that looks like an IP address
// counts as no name, and a temporary failure of either lookup is kept
// apart from a permanent one: it gives a final 450, never a 5xx.
package rdns

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/syntax"
	"github.com/mxguard/mxguard/resolver"
)

// Info is what the client's address and names resolve to.
type Info struct {
	// PTR is the first PTR name, without the trailing dot; "" when there is
	// none (Postfix's {client_ptr} is then "unknown").
	PTR string
	// Reverse is pass when a usable PTR name exists, fail when none does,
	// temperror when the lookup failed temporarily, none for a client
	// without an IP address.
	Reverse checks.Status
	// Name is the forward-confirmed name, or "unknown" (Postfix's
	// {client_name}).
	Name string
	// Forward is pass when Name is confirmed, fail when the PTR name does
	// not resolve back to the address (or there is no PTR), temperror on a
	// temporary failure of either lookup.
	Forward checks.Status
	// Reason explains a non-pass status, for the log.
	Reason string
	Err    error
}

// Timeout bounds the whole PTR + forward computation.
var Timeout = 15 * time.Second

const memoKey = "rdns"

// Lookup returns the client's names, computing them once per connection.
func Lookup(ctx context.Context, env *checks.Env) *Info {
	v, err := env.Memo(ctx, memoKey, Timeout, func(ctx context.Context) (any, error) {
		return compute(ctx, env.Resolver, env.Addr), nil
	})
	if err != nil {
		return &Info{Reverse: checks.StatusTemperror, Forward: checks.StatusTemperror, Name: "unknown",
			Reason: "lookup did not finish: " + err.Error(), Err: err}
	}
	return v.(*Info)
}

// Prefetch starts the lookups at connect.
func Prefetch(env *checks.Env) {
	if env.Addr.IsValid() {
		go Lookup(context.Background(), env)
	}
}

func compute(ctx context.Context, r resolver.Resolver, addr netip.Addr) *Info {
	info := &Info{Name: "unknown"}
	if !addr.IsValid() {
		info.Reverse, info.Forward = checks.StatusNone, checks.StatusNone
		info.Reason = "client has no IP address"
		return info
	}
	addr = addr.Unmap()
	ptrs, err := r.LookupPTR(ctx, addr)
	switch {
	case resolver.IsTemporary(err):
		info.Reverse, info.Forward = checks.StatusTemperror, checks.StatusTemperror
		info.Reason, info.Err = "PTR lookup failed temporarily", err
		return info
	case err != nil:
		info.Reverse, info.Forward = checks.StatusFail, checks.StatusFail
		info.Reason, info.Err = "no PTR record for "+addr.String(), err
		return info
	}
	// Only the first name counts, as with Postfix's getnameinfo().
	name := strings.ToLower(strings.TrimSuffix(ptrs[0], "."))
	if !syntax.ValidHostname(name) || syntax.ValidHostAddr(name) {
		info.Reverse, info.Forward = checks.StatusFail, checks.StatusFail
		info.Reason = fmt.Sprintf("malformed or numeric PTR name %q", name)
		return info
	}
	info.PTR = name
	info.Reverse = checks.StatusPass
	// Postfix asks only the client's address family
	// (hostname_to_sockaddr_pf): A for an IPv4 client, AAAA for IPv6.
	// EAI_AGAIN is TEMP; any other failure is FORGED.
	lookup := r.LookupA
	if addr.Is6() {
		lookup = r.LookupAAAA
	}
	addrs, err := lookup(ctx, name+".")
	switch {
	case resolver.IsTemporary(err):
		info.Forward, info.Reason, info.Err = checks.StatusTemperror, "forward lookup of "+name+" failed temporarily", err
		return info
	case err != nil:
		info.Forward, info.Reason, info.Err = checks.StatusFail, "hostname "+name+" does not resolve to address "+addr.String(), err
		return info
	}
	for _, a := range addrs {
		if a.Unmap() == addr {
			info.Name = name
			info.Forward = checks.StatusPass
			return info
		}
	}
	info.Forward = checks.StatusFail
	info.Reason = fmt.Sprintf("hostname %s does not resolve to address %s", name, addr)
	return info
}

// Options are the reply codes, from the configuration's codes section.
type Options struct {
	RejectCode int // unknown_client_reject_code
}

// Reverse is reject_unknown_reverse_client_hostname.
type Reverse struct{ Opts Options }

// Forward is reject_unknown_client_hostname.
type Forward struct{ Opts Options }

var (
	_ checks.Check      = Reverse{}
	_ checks.Prefetcher = Reverse{}
	_ checks.Check      = Forward{}
	_ checks.Prefetcher = Forward{}
)

func (Reverse) Name() string             { return "unknown_reverse_client_hostname" }
func (Reverse) Stage() checks.Stage      { return checks.StageConnect }
func (Reverse) Prefetch(env *checks.Env) { Prefetch(env) }
func (Forward) Name() string             { return "unknown_client_hostname" }
func (Forward) Stage() checks.Stage      { return checks.StageConnect }
func (Forward) Prefetch(env *checks.Env) { Prefetch(env) }

// Check: Postfix's reply is "cannot find your reverse hostname, [addr]"
// with unknown_client_reject_code and 4.7.1 (450 on a temporary failure).
func (c Reverse) Check(ctx context.Context, env *checks.Env) checks.Result {
	info := Lookup(ctx, env)
	return result(c.Name(), info.Reverse, info, c.Opts.RejectCode, "5.7.1",
		fmt.Sprintf("Client host rejected: cannot find your reverse hostname, [%s]", env.Addr.Unmap()))
}

// Check: Postfix's reply is "cannot find your hostname, [addr]" with
// unknown_client_reject_code and 4.7.25 (RFC 7372 "reverse DNS validation
// failed"), 450 on a temporary failure.
func (c Forward) Check(ctx context.Context, env *checks.Env) checks.Result {
	info := Lookup(ctx, env)
	return result(c.Name(), info.Forward, info, c.Opts.RejectCode, "5.7.25",
		fmt.Sprintf("Client host rejected: cannot find your hostname, [%s]", env.Addr.Unmap()))
}

func result(name string, st checks.Status, info *Info, code int, enhanced, text string) checks.Result {
	r := checks.Result{Check: name, Stage: checks.StageConnect, Status: st}
	if code == 0 {
		code = 450 // Postfix's unknown_client_reject_code default
	}
	switch st {
	case checks.StatusFail:
		r.Reply = checks.Reply{Code: code, Enhanced: enhanced, Text: text}.WithCode(code)
		r.Reason, r.Err = info.Reason, info.Err
	case checks.StatusTemperror:
		r.Reply = checks.Reply{Code: 450, Enhanced: enhanced, Text: text}.WithCode(450)
		r.Reason, r.Err = info.Reason, info.Err
	case checks.StatusPass:
		r.Reason = "client name " + info.PTR
	default:
		r.Reason = info.Reason
	}
	return r
}
