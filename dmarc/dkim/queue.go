package dkim

import (
	"io"
	"sync"
)

// bodyQueue carries the message from the milter's goroutine (write) to
// go-msgauth's (Read) with at most max bytes in between, so Body returns
// at once while the verifier waits for a key, and memory stays bounded
// when the verifier falls behind: a write that does not fit waits. One
// chunk larger than max is accepted when the queue is empty, so the bound
// is max plus one chunk.
//
// Read never returns an error other than io.EOF: go-msgauth v0.7.0's
// parallelVerify leaks its per-signature goroutines when its reader fails
// (it returns without closing their pipes), so an aborted verification
// ends with a clean EOF instead.
type bodyQueue struct {
	mu     sync.Mutex
	cond   sync.Cond
	bufs   [][]byte
	n      int64 // bytes queued
	max    int64
	closed bool // no more writes: Read returns EOF once drained
	gone   bool // the reader has finished: writes are dropped
}

func newBodyQueue(max int64) *bodyQueue {
	q := &bodyQueue{max: max}
	q.cond.L = &q.mu
	return q
}

// write queues p, copied unless owned. It blocks while the queue is full
// and returns false when the data was dropped (reader gone or closed).
func (q *bodyQueue) write(p []byte, owned bool) bool {
	if len(p) == 0 {
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for !q.gone && !q.closed && q.n > 0 && q.n+int64(len(p)) > q.max {
		q.cond.Wait()
	}
	if q.gone || q.closed {
		return false
	}
	if !owned {
		p = append([]byte(nil), p...)
	}
	q.bufs = append(q.bufs, p)
	q.n += int64(len(p))
	q.cond.Broadcast()
	return true
}

// Read implements io.Reader for go-msgauth.
func (q *bodyQueue) Read(p []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.bufs) == 0 && !q.closed {
		q.cond.Wait()
	}
	if len(q.bufs) == 0 {
		return 0, io.EOF
	}
	n := copy(p, q.bufs[0])
	if n == len(q.bufs[0]) {
		q.bufs[0] = nil
		q.bufs = q.bufs[1:]
	} else {
		q.bufs[0] = q.bufs[0][n:]
	}
	q.n -= int64(n)
	q.cond.Broadcast()
	return n, nil
}

// closeWrite ends the input: the reader gets what is queued, then EOF.
func (q *bodyQueue) closeWrite() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// abort ends the input now: what is queued is dropped and the reader gets
// EOF; a blocked write returns.
func (q *bodyQueue) abort() {
	q.mu.Lock()
	q.closed = true
	q.bufs, q.n = nil, 0
	q.cond.Broadcast()
	q.mu.Unlock()
}

// readerDone says the reader will read no more (go-msgauth may return
// before the end of the body): queued and future data are dropped.
func (q *bodyQueue) readerDone() {
	q.mu.Lock()
	q.gone = true
	q.bufs, q.n = nil, 0
	q.cond.Broadcast()
	q.mu.Unlock()
}
