package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// LockTimeout is how long OpenBolt waits for the database file's lock
// before it gives up with ErrLocked. It covers a restart in which the old
// process is still closing the file.
const LockTimeout = 3 * time.Second

// Bolt is a Store in one bbolt file: the default, for a single MX host.
// Only one process can have the file open (bbolt takes an exclusive lock).
//
// The file holds three top-level buckets:
//   - "meta": "version" → the layout version (boltVersion);
//   - "kv": one nested bucket per key/value bucket; each value is its
//     expiry (8 bytes, big-endian nanoseconds since 1970, 0 = never)
//     followed by the caller's bytes;
//   - "log": one nested bucket per log bucket; each key is the record time
//     (8 bytes, big-endian, sign bit flipped so that the byte order is the
//     time order) followed by the bucket's sequence number (8 bytes,
//     big-endian), so a cursor walks records in time, then insertion, order.
//
// Every write is its own fsync'ed transaction.
type Bolt struct {
	db   *bolt.DB
	path string
	now  func() time.Time
}

var (
	_ Store   = (*Bolt)(nil)
	_ Sweeper = (*Bolt)(nil)
	_ Trimmer = (*Bolt)(nil)
)

// boltVersion is the layout described on Bolt. A file with a newer version
// was written by a newer mxguard and is refused rather than misread.
const boltVersion = 1

var (
	metaBucket = []byte("meta")
	kvBucket   = []byte("kv")
	logBucket  = []byte("log")
	versionKey = []byte("version")
)

// scanBatch is how many log records Scan reads per read transaction: fn
// runs between transactions, so it may write to the store.
const scanBatch = 256

// OpenBolt opens or creates (mode 0600) the bbolt file at path; its
// directory must exist. TTLs follow now (time.Now when nil). When another
// process holds the file, OpenBolt gives up after LockTimeout with an error
// that wraps ErrLocked and names the file.
func OpenBolt(path string, now func() time.Time) (*Bolt, error) {
	return openBolt(path, now, LockTimeout)
}

func openBolt(path string, now func() time.Time, lockTimeout time.Duration) (*Bolt, error) {
	if now == nil {
		now = time.Now
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s is held by another process (is another mxguard running?); gave up after %s", ErrLocked, path, lockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if v := meta.Get(versionKey); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("layout version is %d bytes long, want 8", len(v))
			}
			if got := binary.BigEndian.Uint64(v); got != boltVersion {
				return fmt.Errorf("layout version %d, this mxguard reads version %d", got, boltVersion)
			}
		} else if err := meta.Put(versionKey, binary.BigEndian.AppendUint64(nil, boltVersion)); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(kvBucket); err != nil {
			return err
		}
		_, err = tx.CreateBucketIfNotExists(logBucket)
		return err
	})
	if err != nil {
		_ = db.Close() // the error worth reporting is err
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return &Bolt{db: db, path: path, now: now}, nil
}

// Path returns the file's path.
func (b *Bolt) Path() string { return b.path }

// closedErr maps bbolt's error for a closed database to ErrClosed.
func closedErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

func (b *Bolt) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return closedErr(b.db.View(fn))
}

func (b *Bolt) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return closedErr(b.db.Update(fn))
}

// nested returns the nested bucket name of top-level bucket top, nil when
// it does not exist yet.
func nested(tx *bolt.Tx, top []byte, name string) *bolt.Bucket {
	return tx.Bucket(top).Bucket([]byte(name))
}

// decodeValue splits a stored key/value value into expiry and bytes.
func decodeValue(bucket string, key []byte, v []byte) (expires int64, value []byte, err error) {
	if len(v) < 8 {
		return 0, nil, fmt.Errorf("store: bucket %q key %q: stored value is %d bytes long, want at least 8", bucket, key, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), v[8:], nil
}

// Get implements Store. An expired value is reported absent and then
// deleted in a write transaction of its own.
func (b *Bolt) Get(ctx context.Context, bucket, key string) ([]byte, bool, error) {
	if err := checkNames(bucket, &key); err != nil {
		return nil, false, err
	}
	var (
		value []byte
		found bool
		stale bool
	)
	err := b.view(ctx, func(tx *bolt.Tx) error {
		bk := nested(tx, kvBucket, bucket)
		if bk == nil {
			return nil
		}
		v := bk.Get([]byte(key))
		if v == nil {
			return nil
		}
		expires, val, err := decodeValue(bucket, []byte(key), v)
		if err != nil {
			return err
		}
		if expired(expires, b.now().UnixNano()) {
			stale = true
			return nil
		}
		value, found = clone(val), true
		return nil
	})
	if err != nil || !stale {
		return value, found, err
	}
	err = b.update(ctx, func(tx *bolt.Tx) error {
		bk := nested(tx, kvBucket, bucket)
		if bk == nil {
			return nil
		}
		v := bk.Get([]byte(key))
		if v == nil {
			return nil
		}
		// Put may have replaced it since the read.
		if expires, _, err := decodeValue(bucket, []byte(key), v); err != nil || !expired(expires, b.now().UnixNano()) {
			return err
		}
		return bk.Delete([]byte(key))
	})
	return nil, false, err
}

// Put implements Store.
func (b *Bolt) Put(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) error {
	if err := checkNames(bucket, &key); err != nil {
		return err
	}
	if err := checkTTL(ttl); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		bk, err := tx.Bucket(kvBucket).CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return fmt.Errorf("store: bucket %q: %w", bucket, err)
		}
		var expires int64
		if ttl > 0 {
			expires = b.now().Add(ttl).UnixNano()
		}
		v := make([]byte, 8, 8+len(value))
		binary.BigEndian.PutUint64(v, uint64(expires))
		v = append(v, value...)
		if err := bk.Put([]byte(key), v); err != nil {
			return fmt.Errorf("store: bucket %q key %q: %w", bucket, key, err)
		}
		return nil
	})
}

// Delete implements Store.
func (b *Bolt) Delete(ctx context.Context, bucket, key string) error {
	if err := checkNames(bucket, &key); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		bk := nested(tx, kvBucket, bucket)
		if bk == nil {
			return nil
		}
		return bk.Delete([]byte(key))
	})
}

// timeKey is the first 8 bytes of a log key: t with the sign bit flipped,
// big-endian, so that byte order is numeric order.
func timeKey(t int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(t)^(1<<63))
}

func keyTime(k []byte) int64 { return int64(binary.BigEndian.Uint64(k) ^ (1 << 63)) }

// Append implements Store.
func (b *Bolt) Append(ctx context.Context, bucket string, at time.Time, value []byte) error {
	if err := checkNames(bucket, nil); err != nil {
		return err
	}
	t, err := logTime(at)
	if err != nil {
		return err
	}
	return b.update(ctx, func(tx *bolt.Tx) error {
		bk, err := tx.Bucket(logBucket).CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return fmt.Errorf("store: log bucket %q: %w", bucket, err)
		}
		seq, err := bk.NextSequence()
		if err != nil {
			return err
		}
		k := binary.BigEndian.AppendUint64(timeKey(t), seq)
		return bk.Put(k, clone(value))
	})
}

type boltRecord struct {
	at    int64
	value []byte
}

// Scan implements Store. It reads scanBatch records per read transaction
// and calls fn between transactions.
func (b *Bolt) Scan(ctx context.Context, bucket string, from, to time.Time, fn func(at time.Time, value []byte) error) error {
	if err := checkNames(bucket, nil); err != nil {
		return err
	}
	w := window(from, to)
	if w.empty {
		return b.view(ctx, func(*bolt.Tx) error { return nil })
	}
	seek := timeKey(w.lo)
	var last []byte // the last key handed out; resume after it
	for {
		var batch []boltRecord
		err := b.view(ctx, func(tx *bolt.Tx) error {
			bk := nested(tx, logBucket, bucket)
			if bk == nil {
				return nil
			}
			c := bk.Cursor()
			k, v := c.Seek(seek)
			if last != nil && bytes.Equal(k, last) {
				k, v = c.Next()
			}
			for ; k != nil && len(batch) < scanBatch; k, v = c.Next() {
				if len(k) != 16 {
					return fmt.Errorf("store: log bucket %q: key is %d bytes long, want 16", bucket, len(k))
				}
				t := keyTime(k)
				if !w.contains(t) {
					break
				}
				batch = append(batch, boltRecord{at: t, value: clone(v)})
				last = append(last[:0], k...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(utc(r.at), r.value); err != nil {
				return err
			}
		}
		if len(batch) < scanBatch {
			return nil
		}
		seek = last
	}
}

// Sweep implements Sweeper: one write transaction per key/value bucket
// that holds expired values.
func (b *Bolt) Sweep(ctx context.Context) (int, error) {
	var names [][]byte
	err := b.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(kvBucket).ForEachBucket(func(k []byte) error {
			names = append(names, clone(k))
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		removed := 0
		err := b.update(ctx, func(tx *bolt.Tx) error {
			bk := tx.Bucket(kvBucket).Bucket(name)
			if bk == nil {
				return nil
			}
			now := b.now().UnixNano()
			var gone [][]byte
			err := bk.ForEach(func(k, v []byte) error {
				expires, _, err := decodeValue(string(name), k, v)
				if err != nil {
					return err
				}
				if expired(expires, now) {
					gone = append(gone, clone(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range gone {
				if err := bk.Delete(k); err != nil {
					return err
				}
			}
			removed = len(gone)
			return nil
		})
		if err != nil {
			return n, err
		}
		n += removed
	}
	return n, nil
}

// trimBatch bounds the records one Trim transaction deletes.
const trimBatch = 10000

// Trim implements Trimmer, in transactions of at most trimBatch records.
func (b *Bolt) Trim(ctx context.Context, bucket string, before time.Time) (int, error) {
	if err := checkNames(bucket, nil); err != nil {
		return 0, err
	}
	w, err := trimSpan(before)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		var removed int
		err := b.update(ctx, func(tx *bolt.Tx) error {
			bk := nested(tx, logBucket, bucket)
			if bk == nil || w.empty {
				return nil
			}
			var gone [][]byte
			c := bk.Cursor()
			for k, _ := c.First(); k != nil && len(gone) < trimBatch; k, _ = c.Next() {
				if len(k) != 16 || !w.contains(keyTime(k)) {
					break
				}
				gone = append(gone, clone(k))
			}
			for _, k := range gone {
				if err := bk.Delete(k); err != nil {
					return err
				}
			}
			removed = len(gone)
			return nil
		})
		if err != nil {
			return n, err
		}
		n += removed
		if removed < trimBatch {
			return n, nil
		}
	}
}

// Close implements Store: it releases the file and its lock. Closing twice
// is no error.
func (b *Bolt) Close() error { return b.db.Close() }
