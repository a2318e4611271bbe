package pipeline_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/pipeline"
	"github.com/mxguard/mxguard/config"
	"github.com/mxguard/mxguard/internal/dnstest"
	"github.com/mxguard/mxguard/resolver"
)

const prefetchZone = `
$ORIGIN in-addr.arpa.
1.2.0.192   PTR mx.client.example.
$ORIGIN example.
mx.client   A   192.0.2.1
helo.client A   192.0.2.1
client      MX  10 mx.client
ours        MX  10 mx.ours
`

// TestPrefetch: the lookups of each stage start as soon as its input
// exists, and the verdict at RCPT then asks nothing more. The fixture's
// counts show it without timing.
func TestPrefetch(t *testing.T) {
	srv := dnstest.Start(t, dnstest.WithZone(prefetchZone))
	r, err := resolver.New(resolver.Config{Servers: []string{srv.Addr()}, Timeout: 300 * time.Millisecond, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, pipeline.Spec{
		Lists: lists(Rs("unknown_client_hostname"), Rs("unknown_helo_hostname"), Rs("unknown_sender_domain"),
			Rs("unknown_recipient_domain", "@later")),
		Classes:     map[string][]pipeline.Restriction{"later": {access("client_access", "static:DUNNO")}},
		DelayReject: true,
		Codes:       postfixCodes,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	env := checks.NewEnv(r, discard)
	env.Addr = netip.MustParseAddr("192.0.2.1")
	wait := func(stage checks.Stage, n int) {
		t.Helper()
		e.Prefetch(env, stage)
		if out := e.AtStage(ctx, env, stage); stage != checks.StageRcpt && show(out) != "continue" {
			t.Errorf("%v: %q", stage, show(out))
		}
		if err := srv.WaitQueries(ctx, n); err != nil {
			t.Fatalf("%v: %v (queries: %v)", stage, err, srv.Queries())
		}
	}
	wait(checks.StageConnect, 2) // PTR, then A of the name (the client's family only)
	env.Helo, env.HeloSeen = "helo.client.example", true
	wait(checks.StageHelo, 5) // A, AAAA, MX
	env.Mail, env.MailSeen = "a@client.example", true
	wait(checks.StageMail, 8) // MX, A, AAAA
	env.Rcpt = "b@ours.example"
	e.Prefetch(env, checks.StageRcpt)
	if err := srv.WaitQueries(ctx, 11); err != nil {
		t.Fatal(err)
	}
	out := e.AtStage(ctx, env, checks.StageRcpt)
	if got := show(out); got != "continue" {
		t.Errorf("RCPT: %q after %v", got, out.Results)
	}
	if n := srv.QueryCount(); n != 11 {
		t.Errorf("%d queries, want 11: %v", n, srv.Queries())
	}
	if n := srv.Count("1.2.0.192.in-addr.arpa.", dns.TypePTR); n != 1 {
		t.Errorf("PTR asked %d times", n)
	}
}

func TestFromConfig(t *testing.T) {
	run := func(e *pipeline.Engine, mod func(*checks.Env)) string {
		env := newEnv()
		mod(env)
		return show(e.AtStage(context.Background(), env, checks.StageRcpt))
	}
	e, err := pipeline.FromConfig(config.Default(), discard)
	if err != nil {
		t.Fatal(err)
	}
	if !e.DelayReject() {
		t.Error("the default configuration delays rejections")
	}
	if got := run(e, func(*checks.Env) {}); got != "continue" {
		t.Errorf("default configuration, good client: %q", got)
	}
	if got := run(e, func(env *checks.Env) { env.Addr = netip.MustParseAddr("127.0.0.1") }); got != "accept" {
		t.Errorf("default configuration, localhost: %q", got)
	}
	if got := run(e, func(env *checks.Env) { env.Addr = netip.MustParseAddr("198.51.100.9") }); got !=
		"tempfail 450 4.7.1 Client host rejected: cannot find your reverse hostname, [198.51.100.9]" {
		t.Errorf("default configuration, no PTR: %q", got)
	}

	// local_names are what a HELO must not claim.
	cfg := config.Default()
	cfg.LocalNames = []string{"Ours.Example.", "192.0.2.25"}
	cfg.Client = nil
	cfg.Helo = []config.Restriction{{Name: "helo_impersonation", Key: "helo[0]"}}
	if e, err = pipeline.FromConfig(cfg, discard); err != nil {
		t.Fatal(err)
	}
	for helo, want := range map[string]string{
		"ours.example":      "reject 550 5.7.1 <ours.example>: Helo command rejected: Host name impersonation",
		"[192.0.2.25]":      "reject 550 5.7.1 <[192.0.2.25]>: Helo command rejected: Host name impersonation",
		"mx.client.example": "continue",
	} {
		if got := run(e, func(env *checks.Env) { env.Helo = helo }); got != want {
			t.Errorf("local_names, HELO %s: %q, want %q", helo, got, want)
		}
	}
	// Without local_names: our host name and interface addresses.
	cfg.LocalNames = nil
	cfg.Hostname = "mx.ours.example"
	if e, err = pipeline.FromConfig(cfg, discard); err != nil {
		t.Fatal(err)
	}
	if got := run(e, func(env *checks.Env) { env.Helo = "MX.ours.example" }); !strings.HasPrefix(got, "reject 550") {
		t.Errorf("hostname: %q", got)
	}
	if hasLoopback(t) {
		if got := run(e, func(env *checks.Env) { env.Helo = "[127.0.0.1]" }); !strings.HasPrefix(got, "reject 550") {
			t.Errorf("loopback interface: %q", got)
		}
	}

	// Errors name the file and the key.
	cfg.Recipient = append(cfg.Recipient, config.Restriction{Name: "bogus", Key: "recipient[7]"})
	if _, err := pipeline.FromConfig(cfg, discard); err == nil || !strings.Contains(err.Error(), cfg.File()) ||
		!strings.Contains(err.Error(), `recipient[7]: unknown restriction "bogus"`) {
		t.Errorf("FromConfig error: %v", err)
	}
}

func hasLoopback(t *testing.T) bool {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == netip.MustParseAddr("127.0.0.1") {
			return true
		}
	}
	t.Log("no 127.0.0.1 interface: the interface-address case is skipped")
	return false
}
