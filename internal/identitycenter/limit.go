package identitycenter

import (
	"context"
	"sync"
	"time"
)

// limiter spaces calls at least 1/rate apart across all goroutines (a token
// bucket holding one token). A caller reserves its slot, then sleeps
// outside the lock until it comes.
type limiter struct {
	interval time.Duration
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error

	mu   sync.Mutex
	next time.Time // the earliest start of the next call
}

func newLimiter(rate float64, now func() time.Time, sleep func(context.Context, time.Duration) error) *limiter {
	return &limiter{interval: time.Duration(float64(time.Second) / rate), now: now, sleep: sleep}
}

func (l *limiter) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	now := l.now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.interval)
	l.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return l.sleep(ctx, d)
	}
	return nil
}

// ctxMutex is a mutex whose Lock gives up when the context ends.
type ctxMutex chan struct{}

func newCtxMutex() ctxMutex { return make(ctxMutex, 1) }

func (m ctxMutex) lock(ctx context.Context) error {
	select {
	case m <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m ctxMutex) unlock() { <-m }

// keyedLock is one ctxMutex per key, dropped when nobody holds or waits
// for it.
type keyedLock[K comparable] struct {
	mu sync.Mutex
	m  map[K]*keyedEntry
}

type keyedEntry struct {
	mu   ctxMutex
	refs int
}

func (l *keyedLock[K]) lock(ctx context.Context, k K) (unlock func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[K]*keyedEntry{}
	}
	e := l.m[k]
	if e == nil {
		e = &keyedEntry{mu: newCtxMutex()}
		l.m[k] = e
	}
	e.refs++
	l.mu.Unlock()
	if err := e.mu.lock(ctx); err != nil {
		l.release(k, e)
		return nil, err
	}
	return func() {
		e.mu.unlock()
		l.release(k, e)
	}, nil
}

func (l *keyedLock[K]) release(k K, e *keyedEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.refs--
	if e.refs == 0 {
		delete(l.m, k)
	}
}

// memo caches one value per key. Concurrent gets of a missing key share
// one load; a failed load is not cached, so a later get tries again.
type memo[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]*memoEntry[V]
}

type memoEntry[V any] struct {
	done chan struct{}
	v    V
	err  error
}

func (m *memo[K, V]) get(ctx context.Context, k K, load func(context.Context) (V, error)) (V, error) {
	m.mu.Lock()
	if m.m == nil {
		m.m = map[K]*memoEntry[V]{}
	}
	if e, ok := m.m[k]; ok {
		m.mu.Unlock()
		select {
		case <-e.done:
			return e.v, e.err
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
	}
	e := &memoEntry[V]{done: make(chan struct{})}
	m.m[k] = e
	m.mu.Unlock()

	e.v, e.err = load(ctx)
	if e.err != nil {
		m.mu.Lock()
		if m.m[k] == e {
			delete(m.m, k)
		}
		m.mu.Unlock()
	}
	close(e.done)
	return e.v, e.err
}

// put stores v for k unless k is already cached or loading.
func (m *memo[K, V]) put(k K, v V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[K]*memoEntry[V]{}
	}
	if _, ok := m.m[k]; ok {
		return
	}
	e := &memoEntry[V]{done: make(chan struct{}), v: v}
	close(e.done)
	m.m[k] = e
}

// forgetAll drops every key.
func (m *memo[K, V]) forgetAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.m)
}

// forget drops k, so the next get loads it again.
func (m *memo[K, V]) forget(k K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, k)
}
