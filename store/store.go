// Package store keeps the state that outlives an SMTP connection:
// greylisting triplets, rate-limit counters and the DMARC evaluation
// records that aggregate reports (RFC 9990) are built from (DESIGN.md §1).
//
// A Store has two kinds of bucket, in separate name spaces:
//   - key/value buckets (Get, Put, Delete) of small values, each with an
//     optional time to live;
//   - append-only log buckets (Append, Scan) of time-stamped records.
//
// Three implementations sit behind the one interface: Memory (tests and
// single-process throwaway state), Bolt (the default: one bbolt file under
// the state directory, for one MX host) and, later, Redis (several MX hosts
// sharing state). The interface is kept to what Redis does natively: a
// key/value pair with a TTL is SET key value PX ttl, a log bucket is a
// sorted set scored by time (ZADD, ZRANGEBYSCORE).
//
// What others do / what we do: postgrey keeps its triplets in a Berkeley DB
// and OpenDMARC writes its evaluation history to a flat file that a cron
// job imports into MySQL. We keep both in one embedded file by default so a
// single MX host needs nothing else installed.
package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Store keeps state that outlives a connection. Implementations are safe
// for concurrent use.
//
// Bucket names and keys are non-empty strings; a key/value bucket and a log
// bucket of the same name are distinct. Values are copied in and out: a
// caller may reuse or modify a slice it passed to Put or got from Get.
// Once Close has been called every method returns ErrClosed.
type Store interface {
	// Get returns the value stored under key in bucket and true, or
	// false when there is none or it has expired.
	Get(ctx context.Context, bucket, key string) ([]byte, bool, error)
	// Put stores value under key in bucket, replacing any previous value
	// and its TTL. A ttl of 0 keeps the value until it is deleted; a
	// positive ttl makes it expire ttl after now (by the store's clock).
	Put(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) error
	// Delete removes key from bucket; deleting a missing key is no error.
	Delete(ctx context.Context, bucket, key string) error
	// Append adds a record with time at to the append-only log bucket. A
	// zero at, or one outside the years 1678 to 2262 (nanoseconds since
	// 1970 in an int64), is an error.
	Append(ctx context.Context, bucket string, at time.Time, value []byte) error
	// Scan calls fn for each record of the log bucket with from <= at < to,
	// in time order and, for records with the same time, in insertion
	// order. A zero from or to leaves that side of the window open. The
	// times passed to fn are in UTC. fn may use the store. An error from
	// fn stops the scan and is returned as it is.
	Scan(ctx context.Context, bucket string, from, to time.Time, fn func(at time.Time, value []byte) error) error
	// Close releases the store (for Bolt, the file and its lock).
	Close() error
}

// Sweeper is implemented by stores whose expired values take space until
// they are removed (Memory and Bolt; Redis expires keys by itself). Sweep
// removes every expired value and returns how many it removed. Get already
// treats an expired value as absent, so sweeping is housekeeping only.
type Sweeper interface {
	Sweep(ctx context.Context) (int, error)
}

// Trimmer is implemented by stores that can drop old log records, for
// example the DMARC records of a period whose reports were sent. Trim
// removes the records of bucket with at < before and returns how many; a
// zero before is an error, not "everything".
type Trimmer interface {
	Trim(ctx context.Context, bucket string, before time.Time) (int, error)
}

var (
	// ErrClosed is returned by every method of a closed store.
	ErrClosed = errors.New("store: closed")
	// ErrLocked is returned by OpenBolt when another process (usually
	// another mxguard) holds the database file's lock.
	ErrLocked = errors.New("store: database is locked")
	// ErrSpec is returned by Open for a store specification it does not
	// know.
	ErrSpec = errors.New("store: unknown store")
	// ErrNotImplemented is returned by Open for a kind of store that is
	// planned but not built yet (redis://).
	ErrNotImplemented = errors.New("store: not implemented yet")
	// ErrInvalid is returned for an empty bucket name or key, a negative
	// TTL, or a log time out of range.
	ErrInvalid = errors.New("store: invalid argument")
)

// BoltFile is the name of the bbolt database in the state directory.
const BoltFile = "mxguard.db"

// Open opens the store named by spec, the configuration's store key:
//   - "memory": a Memory store on the system clock (state is lost on exit);
//   - "bolt": the bbolt file stateDir/mxguard.db, creating stateDir with
//     mode 0700 and the file with mode 0600 when they do not exist;
//   - "redis://..." or "rediss://...": ErrNotImplemented for now.
//
// Anything else is ErrSpec, with a hint listing what is accepted.
func Open(spec string, stateDir string) (Store, error) {
	switch {
	case spec == "memory":
		return NewMemory(nil), nil
	case spec == "bolt":
		if strings.TrimSpace(stateDir) == "" {
			return nil, fmt.Errorf("%w: store bolt needs a state directory (state_dir) for its file %s", ErrInvalid, BoltFile)
		}
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return nil, fmt.Errorf("store: creating state directory: %w", err)
		}
		return OpenBolt(filepath.Join(stateDir, BoltFile), nil)
	case strings.HasPrefix(spec, "redis://") || strings.HasPrefix(spec, "rediss://"):
		// The URL may hold a password: it is not repeated here.
		return nil, fmt.Errorf("%w: the redis store (use store: bolt on a single MX host for now)", ErrNotImplemented)
	default:
		return nil, fmt.Errorf("%w %q: use bolt (a file in the state directory), memory (lost on exit), or redis://host:6379/0", ErrSpec, spec)
	}
}

// checkNames validates a bucket name and, unless key is nil, a key.
func checkNames(bucket string, key *string) error {
	if bucket == "" {
		return fmt.Errorf("%w: empty bucket name", ErrInvalid)
	}
	if key != nil && *key == "" {
		return fmt.Errorf("%w: empty key in bucket %q", ErrInvalid, bucket)
	}
	return nil
}

func checkTTL(ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("%w: negative TTL %s", ErrInvalid, ttl)
	}
	return nil
}

// The range of times a log record can carry: UnixNano is defined only
// between these.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// logTime returns at as nanoseconds since 1970.
func logTime(at time.Time) (int64, error) {
	if at.IsZero() {
		return 0, fmt.Errorf("%w: zero record time", ErrInvalid)
	}
	if at.Before(minTime) || at.After(maxTime) {
		return 0, fmt.Errorf("%w: record time %s out of range", ErrInvalid, at.UTC().Format(time.RFC3339))
	}
	return at.UnixNano(), nil
}

// span is a scan window in nanoseconds since 1970: lo <= t, and t < hi
// when bounded.
type span struct {
	lo, hi  int64
	bounded bool
	empty   bool // no record can fall in the window
}

// window returns the span of [from, to); a zero from or to is open, and
// times beyond the representable range are clamped.
func window(from, to time.Time) span {
	s := span{lo: math.MinInt64}
	if !from.IsZero() {
		if from.After(maxTime) {
			return span{empty: true}
		}
		if from.After(minTime) {
			s.lo = from.UnixNano()
		}
	}
	if !to.IsZero() && !to.After(maxTime) {
		if !to.After(minTime) {
			return span{empty: true}
		}
		s.hi, s.bounded = to.UnixNano(), true
		if s.hi <= s.lo {
			return span{empty: true}
		}
	}
	return s
}

// trimSpan is the span of records that Trim(before) removes. A zero before
// is refused rather than read as "everything".
func trimSpan(before time.Time) (span, error) {
	if before.IsZero() {
		return span{}, fmt.Errorf("%w: zero trim time", ErrInvalid)
	}
	return window(time.Time{}, before), nil
}

func (s span) contains(t int64) bool {
	return !s.empty && t >= s.lo && (!s.bounded || t < s.hi)
}

func utc(n int64) time.Time { return time.Unix(0, n).UTC() }

func clone(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}
