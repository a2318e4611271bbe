package dnsbl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/resolver"
)

// ErrUnhealthy is wrapped by a failed health check.
var ErrUnhealthy = errors.New("dnsbl: list failed its health check")

// Health tracks whether lists pass the test of RFC 5782 §5: an IP list
// must list 127.0.0.2 and must not list 127.0.0.1; a domain list must
// list the name TEST and must not list INVALID. A list that fails is
// marked unhealthy, and the checks that share this Health skip it (Status
// none, Reason "list unhealthy") until a later check passes. Lists that
// were never checked count as healthy.
//
// What others do / what we do. mox checks health once, on demand, and
// reports any failure. A list that is down (timeouts) already counts as
// "not listed" at every lookup, so a temporary failure of the health
// check leaves the list's state as it was and is only reported: only a
// definitive failure (test entry missing, 127.0.0.1 listed, a refusal
// code such as Spamhaus' 127.255.255.254 for public resolvers) marks a
// list unhealthy. Without that, one lost packet at start-up would disable
// a list for a whole interval.
//
// The zero Health is usable once Resolver and Lists are set; a nil
// *Health reports every list healthy. Its methods are safe for concurrent
// use.
type Health struct {
	// Resolver is used by CheckAll and Run.
	Resolver resolver.Resolver
	// Lists are the lists CheckAll and Run check; one check per zone.
	Lists []Spec
	// Timeout bounds one list's check (DefaultTimeout when 0).
	Timeout time.Duration
	// Log gets a warning when a list becomes unhealthy and an info line
	// when it recovers (public names only). Nil: slog.Default().
	Log *slog.Logger
	// Report, when set, is called after every check of a list with its
	// public name, its state after the check, and the check's error (nil
	// when it passed): the hook for a gauge such as
	// mxguard_dnsbl_list_healthy{list}. It must be fast and safe for
	// concurrent use.
	Report func(list string, healthy bool, err error)

	mu    sync.Mutex
	state map[string]bool // zone -> unhealthy
}

// Healthy reports whether spec's zone may be used: true unless its last
// definitive health check failed.
func (h *Health) Healthy(spec Spec) bool {
	if h == nil {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.state[spec.Zone]
}

// Check runs the RFC 5782 §5 test for spec with r and records the
// outcome; it returns nil when the list passed. The error wraps
// ErrUnhealthy for a definitive failure (the list is then marked
// unhealthy) and ErrDNS for a temporary one (the state is kept). It
// names the list by its public name only.
func (h *Health) Check(ctx context.Context, r resolver.Resolver, spec Spec) error {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// RFC 5782 §5: the test entries. The filter does not apply: any
	// listing code will do, a refusal will not.
	probe := spec
	probe.Filter = Filter{}
	listed, unlisted := AddrTarget(netip.AddrFrom4([4]byte{127, 0, 0, 2})), AddrTarget(netip.AddrFrom4([4]byte{127, 0, 0, 1}))
	if spec.Domain {
		listed, unlisted = DomainTarget("test"), DomainTarget("invalid")
	}
	var pos, neg Result
	var wg sync.WaitGroup
	wg.Go(func() { pos = lookupNoTXT(ctx, r, probe, listed) })
	neg = lookupNoTXT(ctx, r, probe, unlisted)
	wg.Wait()

	var err error
	switch {
	case pos.Status == checks.StatusPermerror:
		err = fmt.Errorf("%w: %s: %v", ErrUnhealthy, spec.Display(), pos.Err)
	case neg.Status == checks.StatusPermerror:
		err = fmt.Errorf("%w: %s: %v", ErrUnhealthy, spec.Display(), neg.Err)
	case pos.Status == checks.StatusTemperror:
		err = pos.Err
	case neg.Status == checks.StatusTemperror:
		err = neg.Err
	case pos.Status != checks.StatusFail:
		err = fmt.Errorf("%w: %s does not list the test entry %s (RFC 5782 §5)", ErrUnhealthy, spec.Display(), listed)
	case neg.Status != checks.StatusPass || len(neg.Answers) > 0:
		err = fmt.Errorf("%w: %s lists %s, which must never be listed (RFC 5782 §5): it may list everything", ErrUnhealthy, spec.Display(), unlisted)
	}
	h.record(spec, err)
	return err
}

func lookupNoTXT(ctx context.Context, r resolver.Resolver, spec Spec, t Target) Result {
	q, err := QueryName(spec.Zone, t)
	if err != nil {
		return skipped(spec, t, err)
	}
	addrs, err := r.LookupA(ctx, q)
	return classify(spec, t, addrs, err)
}

// record updates the state after a check, logs transitions and reports.
func (h *Health) record(spec Spec, err error) {
	definitive := err == nil || errors.Is(err, ErrUnhealthy)
	h.mu.Lock()
	if h.state == nil {
		h.state = map[string]bool{}
	}
	was := h.state[spec.Zone]
	if definitive {
		h.state[spec.Zone] = err != nil
	}
	unhealthy := h.state[spec.Zone]
	h.mu.Unlock()

	log := h.Log
	if log == nil {
		log = slog.Default()
	}
	switch {
	case unhealthy && !was:
		log.Warn("dnsbl list unhealthy, not used until it recovers", "list", spec.Display(), "err", err)
	case !unhealthy && was:
		log.Info("dnsbl list healthy again", "list", spec.Display())
	case !definitive:
		log.Info("dnsbl health check failed temporarily, state kept", "list", spec.Display(), "healthy", !unhealthy, "err", err)
	}
	if h.Report != nil {
		h.Report(spec.Display(), !unhealthy, err)
	}
}

// CheckAll checks every zone of Lists concurrently and returns the
// failures joined.
func (h *Health) CheckAll(ctx context.Context) error {
	seen := map[string]bool{}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, spec := range h.Lists {
		if seen[spec.Zone] {
			continue
		}
		seen[spec.Zone] = true
		wg.Go(func() {
			if err := h.Check(ctx, h.Resolver, spec); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Run checks every list at once, then every interval, until ctx ends.
func (h *Health) Run(ctx context.Context, interval time.Duration) {
	h.CheckAll(ctx)
	if interval <= 0 {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			h.CheckAll(ctx)
		}
	}
}
