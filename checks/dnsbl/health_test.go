package dnsbl_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mxguard/mxguard/checks/dnsbl"
	"github.com/mxguard/mxguard/internal/dnstest"
)

// TestHealthCheck: RFC 5782 §5 per list, one line per case.
func TestHealthCheck(t *testing.T) {
	srv := startServer(t)
	r := newResolver(t, srv, -1)
	log, _ := newLogger()
	h := &dnsbl.Health{Log: log}
	test := func(list string, domain bool, healthy bool, wantErr error, msg string) {
		t.Helper()
		spec := mustSpec(t, list)
		spec.Domain = domain
		err := h.Check(ctxT(t), r, spec)
		if h.Healthy(spec) != healthy || !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) || err != nil && !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: healthy %v, err %v; want %v, %v %q", list, h.Healthy(spec), err, healthy, wantErr, msg)
		}
	}
	test("bl.test", false, true, nil, "")
	test("bl.test=127.0.0.[10;11]", false, true, nil, "") // the filter does not apply to the test entry
	test("wl.test", false, true, nil, "")
	test("dbl.test", true, true, nil, "")
	test("swl.test", true, true, nil, "")
	test("nolist.test", false, false, dnsbl.ErrUnhealthy, "does not list the test entry 127.0.0.2")
	test("all.test", false, false, dnsbl.ErrUnhealthy, "lists 127.0.0.1")
	test("all.test", true, false, dnsbl.ErrUnhealthy, "lists invalid")
	test("pub.test", false, false, dnsbl.ErrUnhealthy, "use a local recursive resolver")
	test("bl.test", true, false, dnsbl.ErrUnhealthy, "does not list the test entry test") // an IP list checked as a domain list
	// A temporary failure keeps the state: unknown (healthy) here.
	test("flaky.test", false, true, dnsbl.ErrDNS, "SERVFAIL")
	var nilHealth *dnsbl.Health
	if !nilHealth.Healthy(mustSpec(t, "nolist.test")) {
		t.Error("a nil Health reports unhealthy")
	}
}

// TestHealthTransitions: unhealthy -> healthy -> unhealthy, with the
// report hook and the log lines; a temporary failure in between changes
// nothing.
func TestHealthTransitions(t *testing.T) {
	srv := dnstest.Start(t, dnstest.WithZone(`
$ORIGIN cycle.test.
2.0.0.127 A 127.0.0.2
`))
	srv.Fail("2.0.0.127.cycle.test.", dns.TypeA, dns.RcodeNameError) // the test entry is missing
	r := newResolver(t, srv, -1)
	log, buf := newLogger()
	type report struct {
		healthy bool
		err     bool
	}
	var (
		mu      sync.Mutex
		reports []report
	)
	spec := mustSpec(t, "cycle.test")
	h := &dnsbl.Health{Resolver: r, Lists: []dnsbl.Spec{spec, spec}, Log: log,
		Report: func(list string, healthy bool, err error) {
			if list != "cycle.test" {
				t.Errorf("report for %q", list)
			}
			mu.Lock()
			reports = append(reports, report{healthy, err != nil})
			mu.Unlock()
		}}
	step := func(want bool) {
		t.Helper()
		h.CheckAll(ctxT(t))
		if h.Healthy(spec) != want {
			t.Fatalf("healthy = %v, want %v; log:\n%s", h.Healthy(spec), want, buf)
		}
	}
	step(false)
	srv.ClearFaults()
	step(true)
	srv.Fail("*.cycle.test.", 0, dns.RcodeServerFailure)
	step(true) // temporary: state kept
	srv.ClearFaults()
	if err := srv.AddZone("$ORIGIN cycle.test.\n1.0.0.127 A 127.0.0.2\n"); err != nil {
		t.Fatal(err)
	}
	step(false)
	mu.Lock()
	got := reports
	mu.Unlock()
	want := []report{{false, true}, {true, false}, {true, true}, {false, true}}
	if len(got) != len(want) {
		t.Fatalf("reports %v, want %v (one per zone and check)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("report %d = %v, want %v", i, got[i], want[i])
		}
	}
	logs := buf.String()
	for _, line := range []string{`msg="dnsbl list unhealthy, not used until it recovers" list=cycle.test`,
		`msg="dnsbl list healthy again" list=cycle.test`, `msg="dnsbl health check failed temporarily, state kept"`} {
		if !strings.Contains(logs, line) {
			t.Errorf("log lacks %q:\n%s", line, logs)
		}
	}
	if n := strings.Count(logs, "dnsbl list unhealthy"); n != 2 {
		t.Errorf("%d unhealthy lines, want 2 (one per transition)", n)
	}
}

// TestHealthRun: Run checks at once, then periodically, until ctx ends.
// The reports are counted through a channel, no sleeping.
func TestHealthRun(t *testing.T) {
	srv := startServer(t)
	r := newResolver(t, srv, -1)
	reports := make(chan bool, 16)
	h := &dnsbl.Health{Resolver: r, Lists: []dnsbl.Spec{mustSpec(t, "bl.test")},
		Report: func(_ string, healthy bool, _ error) {
			select {
			case reports <- healthy:
			default:
			}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx, time.Millisecond); close(done) }()
	for range 3 {
		select {
		case ok := <-reports:
			if !ok {
				t.Error("bl.test unhealthy")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no health report")
		}
	}
	cancel()
	<-done
}
