package store

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestBoltPersistence(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	path := filepath.Join(t.TempDir(), "mxguard.db")
	b, err := OpenBolt(path, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, b, "grey", "forever", "f", 0)
	mustPut(t, b, "grey", "ttl", "t", time.Hour)
	t0 := clk.Now()
	for i, v := range []string{"one", "two", "three"} {
		if err := b.Append(ctx, "log", t0.Add(time.Duration(i)*time.Second), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, err = OpenBolt(path, clk.Now)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer b.Close()
	if b.Path() != path {
		t.Errorf("Path() = %q, want %q", b.Path(), path)
	}
	mustGet(t, b, "grey", "forever", "f", true)
	mustGet(t, b, "grey", "ttl", "t", true)
	if got := values(scanAll(t, b, "log", time.Time{}, time.Time{})); !equalStrings(got, []string{"one", "two", "three"}) {
		t.Fatalf("log after reopen = %q", got)
	}
	// The expiry was stored, not only the TTL.
	clk.Advance(time.Hour)
	mustGet(t, b, "grey", "ttl", "", false)
	// Sequence numbers go on after a reopen: a new record with a time
	// equal to an old one comes after it.
	if err := b.Append(ctx, "log", t0, []byte("one-bis")); err != nil {
		t.Fatal(err)
	}
	if got := values(scanAll(t, b, "log", time.Time{}, time.Time{})); !equalStrings(got, []string{"one", "one-bis", "two", "three"}) {
		t.Fatalf("log = %q", got)
	}
}

func TestBoltLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mxguard.db")
	first, err := OpenBolt(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	const timeout = 200 * time.Millisecond
	start := time.Now()
	second, err := openBolt(path, nil, timeout)
	elapsed := time.Since(start)
	if err == nil {
		second.Close()
		t.Fatal("second open of a locked file succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("err = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("err = %q, want it to name %s", err, path)
	}
	// bbolt polls the lock every 50ms and checks the deadline before it
	// sleeps, so it may give up a poll early.
	if elapsed > timeout+2*time.Second {
		t.Errorf("gave up after %s, want about %s", elapsed, timeout)
	}

	// Once the first store is closed the file opens again.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second, err = openBolt(path, nil, timeout)
	if err != nil {
		t.Fatalf("open after the holder closed: %v", err)
	}
	second.Close()
}

func TestBoltOpenErrors(t *testing.T) {
	dir := t.TempDir()
	// A directory where the file should be.
	if _, err := OpenBolt(dir, nil); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("OpenBolt(directory) = %v, want an error naming %s", err, dir)
	}
	// A missing parent directory: OpenBolt does not create it (Open does).
	missing := filepath.Join(dir, "nope", "mxguard.db")
	if _, err := OpenBolt(missing, nil); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("OpenBolt(missing dir) = %v, want an error naming %s", err, missing)
	}
	// A file that is not a bbolt database.
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database\n", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBolt(junk, nil); err == nil || !strings.Contains(err.Error(), junk) {
		t.Errorf("OpenBolt(junk) = %v, want an error naming %s", err, junk)
	}
}

func TestBoltNewerLayoutRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mxguard.db")
	b, err := OpenBolt(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(metaBucket).Put(versionKey, binary.BigEndian.AppendUint64(nil, boltVersion+1))
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := OpenBolt(path, nil); err == nil || !strings.Contains(err.Error(), "layout version 2") {
		t.Fatalf("OpenBolt(newer layout) = %v, want a layout version error", err)
	}
	// The refused open released the lock.
	if _, err := openBolt(path, nil, 100*time.Millisecond); errors.Is(err, ErrLocked) {
		t.Fatalf("lock still held after a refused open: %v", err)
	}
}

func TestLogKeyOrder(t *testing.T) {
	times := []int64{-1 << 63, -1e18, -1, 0, 1, 1e18, 1<<63 - 1}
	for i := 1; i < len(times); i++ {
		a, b := timeKey(times[i-1]), timeKey(times[i])
		if string(a) >= string(b) {
			t.Errorf("timeKey(%d) >= timeKey(%d)", times[i-1], times[i])
		}
		if got := keyTime(b); got != times[i] {
			t.Errorf("keyTime(timeKey(%d)) = %d", times[i], got)
		}
	}
}
