package store

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Memory is a Store held in memory: for tests, and for `store: memory`
// when losing greylisting and report state on restart is acceptable.
type Memory struct {
	now func() time.Time

	mu     sync.Mutex
	closed bool
	kv     map[string]map[string]memValue
	logs   map[string][]memRecord
}

type memValue struct {
	value   []byte
	expires int64 // nanoseconds since 1970; 0 = never
}

type memRecord struct {
	at    int64
	value []byte
}

var (
	_ Store   = (*Memory)(nil)
	_ Sweeper = (*Memory)(nil)
	_ Trimmer = (*Memory)(nil)
)

// NewMemory returns an empty Memory store whose TTLs follow now (time.Now
// when nil).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{
		now:  now,
		kv:   map[string]map[string]memValue{},
		logs: map[string][]memRecord{},
	}
}

// lock checks ctx, then takes the lock of an open store; the caller
// unlocks m.mu when the returned error is nil.
func (m *Memory) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// expired reports whether a value with the given expiry is gone at now.
func expired(expires, now int64) bool { return expires != 0 && now >= expires }

// Get implements Store. An expired value is removed as it is found.
func (m *Memory) Get(ctx context.Context, bucket, key string) ([]byte, bool, error) {
	if err := checkNames(bucket, &key); err != nil {
		return nil, false, err
	}
	if err := m.lock(ctx); err != nil {
		return nil, false, err
	}
	defer m.mu.Unlock()
	v, ok := m.kv[bucket][key]
	if !ok {
		return nil, false, nil
	}
	if expired(v.expires, m.now().UnixNano()) {
		delete(m.kv[bucket], key)
		return nil, false, nil
	}
	return clone(v.value), true, nil
}

// Put implements Store.
func (m *Memory) Put(ctx context.Context, bucket, key string, value []byte, ttl time.Duration) error {
	if err := checkNames(bucket, &key); err != nil {
		return err
	}
	if err := checkTTL(ttl); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	v := memValue{value: clone(value)}
	if ttl > 0 {
		v.expires = m.now().Add(ttl).UnixNano()
	}
	b := m.kv[bucket]
	if b == nil {
		b = map[string]memValue{}
		m.kv[bucket] = b
	}
	b[key] = v
	return nil
}

// Delete implements Store.
func (m *Memory) Delete(ctx context.Context, bucket, key string) error {
	if err := checkNames(bucket, &key); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	delete(m.kv[bucket], key)
	return nil
}

// Append implements Store.
func (m *Memory) Append(ctx context.Context, bucket string, at time.Time, value []byte) error {
	if err := checkNames(bucket, nil); err != nil {
		return err
	}
	t, err := logTime(at)
	if err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	recs := m.logs[bucket]
	// After every record with the same time: insertion order among equals.
	i := sort.Search(len(recs), func(i int) bool { return recs[i].at > t })
	recs = append(recs, memRecord{})
	copy(recs[i+1:], recs[i:])
	recs[i] = memRecord{at: t, value: clone(value)}
	m.logs[bucket] = recs
	return nil
}

// Scan implements Store. The records in the window are copied first, so fn
// runs without the store's lock.
func (m *Memory) Scan(ctx context.Context, bucket string, from, to time.Time, fn func(at time.Time, value []byte) error) error {
	if err := checkNames(bucket, nil); err != nil {
		return err
	}
	w := window(from, to)
	if err := m.lock(ctx); err != nil {
		return err
	}
	recs := m.logs[bucket]
	i := sort.Search(len(recs), func(i int) bool { return recs[i].at >= w.lo })
	var found []memRecord
	for ; i < len(recs) && w.contains(recs[i].at); i++ {
		found = append(found, memRecord{at: recs[i].at, value: clone(recs[i].value)})
	}
	m.mu.Unlock()
	for _, r := range found {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(utc(r.at), r.value); err != nil {
			return err
		}
	}
	return nil
}

// Sweep implements Sweeper.
func (m *Memory) Sweep(ctx context.Context) (int, error) {
	if err := m.lock(ctx); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	now := m.now().UnixNano()
	n := 0
	for _, b := range m.kv {
		for k, v := range b {
			if expired(v.expires, now) {
				delete(b, k)
				n++
			}
		}
	}
	return n, nil
}

// Trim implements Trimmer.
func (m *Memory) Trim(ctx context.Context, bucket string, before time.Time) (int, error) {
	if err := checkNames(bucket, nil); err != nil {
		return 0, err
	}
	w, err := trimSpan(before)
	if err != nil {
		return 0, err
	}
	if err := m.lock(ctx); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	recs := m.logs[bucket]
	n := 0
	if !w.empty {
		n = sort.Search(len(recs), func(i int) bool { return !w.contains(recs[i].at) })
	}
	if n > 0 {
		m.logs[bucket] = append([]memRecord(nil), recs[n:]...)
	}
	return n, nil
}

// Close implements Store. Closing twice is no error.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.kv, m.logs = nil, nil
	return nil
}
