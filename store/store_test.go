package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// clock is an injected clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// impl opens a fresh, empty store of one kind on the given clock; the test
// closes it.
type impl struct {
	name string
	open func(t *testing.T, now func() time.Time) Store
}

var impls = []impl{
	{"memory", func(t *testing.T, now func() time.Time) Store {
		return NewMemory(now)
	}},
	{"bolt", func(t *testing.T, now func() time.Time) Store {
		t.Helper()
		b, err := OpenBolt(filepath.Join(t.TempDir(), "test.db"), now)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}},
}

// forEach runs the contract test fn against every implementation, each on
// a fresh store and clock.
func forEach(t *testing.T, fn func(t *testing.T, s Store, clk *clock)) {
	t.Helper()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			clk := newClock()
			s := im.open(t, clk.Now)
			t.Cleanup(func() { s.Close() })
			fn(t, s, clk)
		})
	}
}

func mustGet(t *testing.T, s Store, bucket, key string, want string, wantOK bool) {
	t.Helper()
	got, ok, err := s.Get(t.Context(), bucket, key)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", bucket, key, err)
	}
	if ok != wantOK || string(got) != want {
		t.Fatalf("Get(%q, %q) = %q, %v; want %q, %v", bucket, key, got, ok, want, wantOK)
	}
}

func mustPut(t *testing.T, s Store, bucket, key, value string, ttl time.Duration) {
	t.Helper()
	if err := s.Put(t.Context(), bucket, key, []byte(value), ttl); err != nil {
		t.Fatalf("Put(%q, %q): %v", bucket, key, err)
	}
}

type rec struct {
	at    time.Time
	value string
}

func scanAll(t *testing.T, s Store, bucket string, from, to time.Time) []rec {
	t.Helper()
	var got []rec
	err := s.Scan(t.Context(), bucket, from, to, func(at time.Time, v []byte) error {
		got = append(got, rec{at, string(v)})
		return nil
	})
	if err != nil {
		t.Fatalf("Scan(%q): %v", bucket, err)
	}
	return got
}

func values(rs []rec) []string {
	var vs []string
	for _, r := range rs {
		vs = append(vs, r.value)
	}
	return vs
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGetPutDelete(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, _ *clock) {
		ctx := t.Context()
		mustGet(t, s, "grey", "a", "", false) // bucket does not exist yet
		mustPut(t, s, "grey", "a", "1", 0)
		mustGet(t, s, "grey", "a", "1", true)
		mustGet(t, s, "grey", "b", "", false)
		mustPut(t, s, "grey", "a", "2", 0) // overwrite
		mustGet(t, s, "grey", "a", "2", true)
		mustPut(t, s, "grey", "empty", "", 0)
		if v, ok, err := s.Get(ctx, "grey", "empty"); err != nil || !ok || v == nil || len(v) != 0 {
			t.Fatalf("Get(empty value) = %q (nil %v), %v, %v; want a non-nil empty value", v, v == nil, ok, err)
		}
		if err := s.Delete(ctx, "grey", "a"); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "grey", "a", "", false)
		if err := s.Delete(ctx, "grey", "a"); err != nil {
			t.Fatalf("Delete(missing key) = %v", err)
		}
		if err := s.Delete(ctx, "nobucket", "a"); err != nil {
			t.Fatalf("Delete(missing bucket) = %v", err)
		}
	})
}

func TestValuesAreCopied(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, _ *clock) {
		ctx := t.Context()
		in := []byte("abc")
		if err := s.Put(ctx, "b", "k", in, 0); err != nil {
			t.Fatal(err)
		}
		in[0] = 'X'
		out, _, _ := s.Get(ctx, "b", "k")
		out[1] = 'Y'
		mustGet(t, s, "b", "k", "abc", true)

		at := newClock().Now()
		if err := s.Append(ctx, "log", at, in); err != nil {
			t.Fatal(err)
		}
		in[0] = 'Z'
		err := s.Scan(ctx, "log", time.Time{}, time.Time{}, func(_ time.Time, v []byte) error {
			v[0] = 'W'
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := values(scanAll(t, s, "log", time.Time{}, time.Time{})); !equalStrings(got, []string{"Xbc"}) {
			t.Fatalf("log = %q, want [Xbc]", got)
		}
	})
}

func TestInvalidArguments(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, _ *clock) {
		ctx := t.Context()
		at := newClock().Now()
		nop := func(time.Time, []byte) error { return nil }
		_, _, errGet := s.Get(ctx, "", "k")
		for name, err := range map[string]error{
			"get empty bucket":      errGet,
			"put empty key":         s.Put(ctx, "b", "", []byte("v"), 0),
			"put empty bucket":      s.Put(ctx, "", "k", []byte("v"), 0),
			"put negative ttl":      s.Put(ctx, "b", "k", []byte("v"), -time.Second),
			"delete empty key":      s.Delete(ctx, "b", ""),
			"append empty bucket":   s.Append(ctx, "", at, nil),
			"append zero time":      s.Append(ctx, "log", time.Time{}, nil),
			"append time too early": s.Append(ctx, "log", time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), nil),
			"append time too late":  s.Append(ctx, "log", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), nil),
			"scan empty bucket":     s.Scan(ctx, "", at, at, nop),
		} {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: err = %v, want ErrInvalid", name, err)
			}
		}
		if got := scanAll(t, s, "log", time.Time{}, time.Time{}); len(got) != 0 {
			t.Errorf("refused appends left records: %v", got)
		}
	})
}

func TestTTL(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, clk *clock) {
		mustPut(t, s, "grey", "short", "s", 10*time.Second)
		mustPut(t, s, "grey", "forever", "f", 0)
		mustPut(t, s, "grey", "long", "l", time.Hour)

		clk.Advance(10*time.Second - time.Nanosecond)
		mustGet(t, s, "grey", "short", "s", true)
		clk.Advance(time.Nanosecond) // expires at exactly put time + ttl
		mustGet(t, s, "grey", "short", "", false)
		mustGet(t, s, "grey", "long", "l", true)

		// Put replaces the TTL: a value re-put without one stays.
		mustPut(t, s, "grey", "long", "l2", 0)
		clk.Advance(100 * 365 * 24 * time.Hour)
		mustGet(t, s, "grey", "long", "l2", true)
		mustGet(t, s, "grey", "forever", "f", true)

		// Re-putting an expired key brings it back with a new TTL.
		mustPut(t, s, "grey", "short", "s2", time.Minute)
		mustGet(t, s, "grey", "short", "s2", true)
	})
}

func TestSweep(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, clk *clock) {
		sw, ok := s.(Sweeper)
		if !ok {
			t.Fatalf("%T is not a Sweeper", s)
		}
		ctx := t.Context()
		mustPut(t, s, "a", "1", "x", time.Minute)
		mustPut(t, s, "a", "2", "x", time.Hour)
		mustPut(t, s, "b", "1", "x", time.Minute)
		mustPut(t, s, "b", "2", "x", 0)
		if n, err := sw.Sweep(ctx); err != nil || n != 0 {
			t.Fatalf("Sweep before expiry = %d, %v; want 0", n, err)
		}
		clk.Advance(time.Minute)
		if n, err := sw.Sweep(ctx); err != nil || n != 2 {
			t.Fatalf("Sweep = %d, %v; want 2", n, err)
		}
		// Gone even when the clock goes back: Sweep deleted them.
		clk.Advance(-time.Hour)
		mustGet(t, s, "a", "1", "", false)
		mustGet(t, s, "b", "1", "", false)
		mustGet(t, s, "a", "2", "x", true)
		mustGet(t, s, "b", "2", "x", true)
	})
}

func TestExpiredValueDeletedOnGet(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, clk *clock) {
		mustPut(t, s, "grey", "k", "v", time.Minute)
		clk.Advance(time.Minute)
		mustGet(t, s, "grey", "k", "", false)
		if n, err := s.(Sweeper).Sweep(t.Context()); err != nil || n != 0 {
			t.Fatalf("Sweep after Get of an expired value = %d, %v; want 0 (Get removed it)", n, err)
		}
	})
}

func TestBucketsIsolated(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, _ *clock) {
		ctx := t.Context()
		mustPut(t, s, "grey", "k", "grey", 0)
		mustPut(t, s, "rate", "k", "rate", 0)
		mustGet(t, s, "grey", "k", "grey", true)
		mustGet(t, s, "rate", "k", "rate", true)
		if err := s.Delete(ctx, "grey", "k"); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "grey", "k", "", false)
		mustGet(t, s, "rate", "k", "rate", true)

		// Log buckets are a name space of their own.
		at := newClock().Now()
		if err := s.Append(ctx, "rate", at, []byte("log")); err != nil {
			t.Fatal(err)
		}
		if err := s.Append(ctx, "other", at, []byte("other")); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "rate", "k", "rate", true)
		if got := values(scanAll(t, s, "rate", time.Time{}, time.Time{})); !equalStrings(got, []string{"log"}) {
			t.Fatalf("log rate = %q, want [log]", got)
		}
		if got := scanAll(t, s, "grey", time.Time{}, time.Time{}); len(got) != 0 {
			t.Fatalf("log grey = %v, want none (grey is a key/value bucket)", got)
		}
	})
}

func TestAppendScan(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, _ *clock) {
		ctx := t.Context()
		t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))
		appendAt := func(at time.Time, v string) {
			t.Helper()
			if err := s.Append(ctx, "dmarc", at, []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		// Out of time order, with ties, and one before 1970.
		appendAt(t0.Add(2*time.Hour), "c")
		appendAt(t0, "a1")
		appendAt(t0.Add(time.Hour), "b")
		appendAt(t0, "a2")
		appendAt(t0.Add(2*time.Hour), "d")
		appendAt(t0, "a3")
		appendAt(time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), "old")

		all := scanAll(t, s, "dmarc", time.Time{}, time.Time{})
		if want := []string{"old", "a1", "a2", "a3", "b", "c", "d"}; !equalStrings(values(all), want) {
			t.Fatalf("Scan(all) = %q, want %q", values(all), want)
		}
		for _, r := range all {
			if r.at.Location() != time.UTC {
				t.Errorf("record %q time %v is not in UTC", r.value, r.at)
			}
		}
		if !all[1].at.Equal(t0) || !all[4].at.Equal(t0.Add(time.Hour)) {
			t.Errorf("times = %v, %v; want %v, %v", all[1].at, all[4].at, t0, t0.Add(time.Hour))
		}

		for _, tc := range []struct {
			name     string
			from, to time.Time
			want     []string
		}{
			{"from inclusive, to exclusive", t0, t0.Add(2 * time.Hour), []string{"a1", "a2", "a3", "b"}},
			{"one hour", t0.Add(time.Hour), t0.Add(time.Hour + 1), []string{"b"}},
			{"open start", time.Time{}, t0, []string{"old"}},
			{"open end", t0.Add(time.Hour + 1), time.Time{}, []string{"c", "d"}},
			{"empty window", t0.Add(time.Minute), t0.Add(time.Hour - 1), nil},
			{"from after to", t0.Add(time.Hour), t0, nil},
			{"from equals to", t0, t0, nil},
			{"far past", time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1000, 1, 2, 0, 0, 0, 0, time.UTC), nil},
			{"far future", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}, nil},
			{"wider than the range", time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), []string{"old", "a1", "a2", "a3", "b", "c", "d"}},
		} {
			if got := values(scanAll(t, s, "dmarc", tc.from, tc.to)); !equalStrings(got, tc.want) {
				t.Errorf("%s: Scan = %q, want %q", tc.name, got, tc.want)
			}
		}

		if got := scanAll(t, s, "missing", time.Time{}, time.Time{}); len(got) != 0 {
			t.Errorf("Scan(missing bucket) = %v", got)
		}

		// An error from fn stops the scan and comes back as it is.
		stop := errors.New("stop")
		n := 0
		err := s.Scan(ctx, "dmarc", time.Time{}, time.Time{}, func(time.Time, []byte) error {
			n++
			if n == 2 {
				return stop
			}
			return nil
		})
		if err != stop || n != 2 {
			t.Errorf("Scan with failing fn = %v after %d calls; want stop after 2", err, n)
		}
	})
}

// TestScanLarge crosses Bolt's read batches, and fn writes to the store
// while it scans (it must not deadlock).
func TestScanLarge(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, clk *clock) {
		ctx := t.Context()
		const n = 3*scanBatch + 7
		t0 := clk.Now()
		for i := range n {
			// Pairs share a time, so batch edges fall between ties too.
			if err := s.Append(ctx, "log", t0.Add(time.Duration(i/2)*time.Second), fmt.Appendf(nil, "%04d", i)); err != nil {
				t.Fatal(err)
			}
		}
		i := 0
		err := s.Scan(ctx, "log", time.Time{}, time.Time{}, func(at time.Time, v []byte) error {
			if want := fmt.Sprintf("%04d", i); string(v) != want {
				return fmt.Errorf("record %d = %q, want %q", i, v, want)
			}
			if want := t0.Add(time.Duration(i/2) * time.Second); !at.Equal(want) {
				return fmt.Errorf("record %d at %v, want %v", i, at, want)
			}
			i++
			if err := s.Put(ctx, "seen", "n", fmt.Appendf(nil, "%d", i), 0); err != nil {
				return err
			}
			// Appending later records while scanning: they may or may
			// not be seen, but must not break the scan.
			return s.Append(ctx, "other", at, v)
		})
		if err != nil {
			t.Fatal(err)
		}
		if i != n {
			t.Fatalf("scanned %d records, want %d", i, n)
		}
		mustGet(t, s, "seen", "n", fmt.Sprint(n), true)
	})
}

func TestTrim(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, clk *clock) {
		tr, ok := s.(Trimmer)
		if !ok {
			t.Fatalf("%T is not a Trimmer", s)
		}
		ctx := t.Context()
		t0 := clk.Now()
		for i := range 5 {
			if err := s.Append(ctx, "log", t0.Add(time.Duration(i)*time.Hour), fmt.Appendf(nil, "%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tr.Trim(ctx, "log", time.Time{}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Trim(zero time) = %v, want ErrInvalid", err)
		}
		if n, err := tr.Trim(ctx, "log", t0.Add(2*time.Hour)); err != nil || n != 2 {
			t.Fatalf("Trim = %d, %v; want 2", n, err)
		}
		if got := values(scanAll(t, s, "log", time.Time{}, time.Time{})); !equalStrings(got, []string{"2", "3", "4"}) {
			t.Fatalf("after Trim: %q", got)
		}
		if n, err := tr.Trim(ctx, "missing", t0); err != nil || n != 0 {
			t.Fatalf("Trim(missing bucket) = %d, %v", n, err)
		}
		if n, err := tr.Trim(ctx, "log", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil || n != 3 {
			t.Fatalf("Trim(everything) = %d, %v; want 3", n, err)
		}
	})
}

func TestConcurrentWriters(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, clk *clock) {
		ctx := t.Context()
		const writers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					key := fmt.Sprintf("w%d-%d", w, i)
					if err := s.Put(ctx, "grey", key, []byte(key), time.Hour); err != nil {
						errs <- err
						return
					}
					if err := s.Put(ctx, "shared", "last", []byte(key), 0); err != nil {
						errs <- err
						return
					}
					if v, ok, err := s.Get(ctx, "grey", key); err != nil || !ok || string(v) != key {
						errs <- fmt.Errorf("Get(%s) = %q, %v, %v", key, v, ok, err)
						return
					}
					if err := s.Append(ctx, "log", clk.Now(), []byte(key)); err != nil {
						errs <- err
						return
					}
					clk.Advance(time.Millisecond)
				}
			})
		}
		wg.Go(func() { // a reader and a sweeper alongside
			for range each {
				if err := s.Scan(ctx, "log", time.Time{}, time.Time{}, func(time.Time, []byte) error { return nil }); err != nil {
					errs <- err
					return
				}
				if _, err := s.(Sweeper).Sweep(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		got := scanAll(t, s, "log", time.Time{}, time.Time{})
		if len(got) != writers*each {
			t.Fatalf("log has %d records, want %d", len(got), writers*each)
		}
		seen := map[string]bool{}
		for i, r := range got {
			if i > 0 && r.at.Before(got[i-1].at) {
				t.Fatalf("record %d (%v) before record %d (%v)", i, r.at, i-1, got[i-1].at)
			}
			seen[r.value] = true
		}
		if len(seen) != writers*each {
			t.Fatalf("log has %d distinct records, want %d", len(seen), writers*each)
		}
		for w := range writers {
			for i := range each {
				key := fmt.Sprintf("w%d-%d", w, i)
				mustGet(t, s, "grey", key, key, true)
			}
		}
	})
}

func TestClosed(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, _ *clock) {
		ctx := t.Context()
		mustPut(t, s, "b", "k", "v", 0)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close = %v", err)
		}
		at := newClock().Now()
		_, _, errGet := s.Get(ctx, "b", "k")
		for name, err := range map[string]error{
			"get":    errGet,
			"put":    s.Put(ctx, "b", "k", nil, 0),
			"delete": s.Delete(ctx, "b", "k"),
			"append": s.Append(ctx, "log", at, nil),
			"scan":   s.Scan(ctx, "log", time.Time{}, time.Time{}, func(time.Time, []byte) error { return nil }),
		} {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close: %v, want ErrClosed", name, err)
			}
		}
		if _, err := s.(Sweeper).Sweep(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("sweep after Close: %v, want ErrClosed", err)
		}
		if _, err := s.(Trimmer).Trim(ctx, "log", at); !errors.Is(err, ErrClosed) {
			t.Errorf("trim after Close: %v, want ErrClosed", err)
		}
	})
}

func TestCanceledContext(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, clk *clock) {
		ctx, cancel := context.WithCancel(t.Context())
		mustPut(t, s, "b", "k", "v", 0)
		for i := range 3 {
			if err := s.Append(ctx, "log", clk.Now(), []byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		// Canceled in the middle of a scan: the scan stops.
		n := 0
		err := s.Scan(ctx, "log", time.Time{}, time.Time{}, func(time.Time, []byte) error {
			n++
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) || n != 1 {
			t.Errorf("Scan canceled during fn = %v after %d calls; want Canceled after 1", err, n)
		}
		_, _, errGet := s.Get(ctx, "b", "k")
		for name, err := range map[string]error{
			"get":    errGet,
			"put":    s.Put(ctx, "b", "k2", nil, 0),
			"delete": s.Delete(ctx, "b", "k"),
			"append": s.Append(ctx, "log", clk.Now(), nil),
		} {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: %v, want context.Canceled", name, err)
			}
		}
		mustGet(t, s, "b", "k", "v", true)
		mustGet(t, s, "b", "k2", "", false)
	})
}

func TestDMARCRoundTrip(t *testing.T) {
	forEach(t, func(t *testing.T, s Store, clk *clock) {
		ctx := t.Context()
		t0 := clk.Now()
		r1 := DMARCRecord{
			Time:         t0.Add(time.Minute).In(time.FixedZone("EST", -5*3600)),
			SourceIP:     "192.0.2.1",
			HeaderFrom:   "example.org",
			EnvelopeFrom: "bounce.example.org",
			EnvelopeTo:   "example.net",
			PolicyDomain: "example.org", Policy: "reject", SubdomainPolicy: "quarantine",
			Disposition: "none", DMARC: "fail",
			DKIM: []DMARCDKIM{
				{Domain: "example.org", Selector: "s1", Result: "fail"},
				{Domain: "lists.example.com", Selector: "k", Result: "pass"},
			},
			SPF:        DMARCSPF{Domain: "bounce.example.org", Scope: "mfrom", Result: "softfail"},
			SPFAligned: false, DKIMAligned: false,
			Reason: "mailing_list", ReasonComment: "lists.example.com",
		}
		r2 := DMARCRecord{
			Time: t0, SourceIP: "2001:db8::25", HeaderFrom: "example.com", EnvelopeFrom: "example.com",
			PolicyDomain: "example.com", Policy: "none", Disposition: "none", DMARC: "pass",
			SPF:        DMARCSPF{Domain: "example.com", Scope: "mfrom", Result: "pass"},
			SPFAligned: true,
		}
		r3 := r2
		r3.Time = t0.Add(time.Hour)
		for _, r := range []DMARCRecord{r1, r2, r3} {
			if err := RecordDMARC(ctx, s, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := RecordDMARC(ctx, s, DMARCRecord{SourceIP: "192.0.2.9"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("RecordDMARC without a time = %v, want ErrInvalid", err)
		}

		got, err := DMARCRecords(ctx, s, t0, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("DMARCRecords = %d records, want 2: %+v", len(got), got)
		}
		for i, want := range []DMARCRecord{r2, r1} {
			g := got[i]
			if !g.Time.Equal(want.Time) || g.Time.Location() != time.UTC {
				t.Errorf("record %d time %v, want %v in UTC", i, g.Time, want.Time)
			}
			g.Time, want.Time = time.Time{}, time.Time{}
			if fmt.Sprintf("%#v", g) != fmt.Sprintf("%#v", want) {
				t.Errorf("record %d:\n got %#v\nwant %#v", i, g, want)
			}
		}

		// The stored form is JSON with the report's element names.
		var raw []byte
		err = s.Scan(ctx, DMARCBucket, r1.Time, r1.Time.Add(1), func(_ time.Time, v []byte) error {
			raw = v
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range []string{`"source_ip":"192.0.2.1"`, `"header_from":"example.org"`, `"p":"reject"`, `"sp":"quarantine"`, `"scope":"mfrom"`, `"selector":"s1"`, `"reason":"mailing_list"`} {
			if !bytes.Contains(raw, []byte(field)) {
				t.Errorf("stored record lacks %s: %s", field, raw)
			}
		}

		// A record that does not decode is an error naming its time.
		bad := t0.Add(30 * time.Minute)
		if err := s.Append(ctx, DMARCBucket, bad, []byte("{not json")); err != nil {
			t.Fatal(err)
		}
		if _, err := DMARCRecords(ctx, s, time.Time{}, time.Time{}); err == nil || !bytes.Contains([]byte(err.Error()), []byte(bad.Format(time.RFC3339))) {
			t.Fatalf("DMARCRecords with a corrupt record = %v, want an error naming %s", err, bad.Format(time.RFC3339))
		}
	})
}
