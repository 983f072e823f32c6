package routing

import (
	"sync"
	"time"
)

// failureLimiter counts failed attempts per key (a user ID) in a token bucket: burst
// failures are free, then one more per interval. It guards password guessing on
// POST /login, answered with M_LIMIT_EXCEEDED (429). It lives in memory, so each clientapi
// instance of the polylith counts on its own.
type failureLimiter struct {
	burst    float64
	interval time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newFailureLimiter(burst int, interval time.Duration) *failureLimiter {
	return &failureLimiter{burst: float64(burst), interval: interval, buckets: map[string]*bucket{}}
}

// refill brings b up to date at now; the caller holds mu.
func (l *failureLimiter) refill(b *bucket, now time.Time) {
	b.tokens += float64(now.Sub(b.at)) / float64(l.interval)
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.at = now
}

// retryAfter returns how long key must wait before its next attempt (0: it may try now).
func (l *failureLimiter) retryAfter(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return 0
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.interval))
}

// fail records one failed attempt of key.
func (l *failureLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
		if len(l.buckets) > 100000 { // bound memory: forget full buckets
			for k, x := range l.buckets {
				if l.refill(x, now); x.tokens >= l.burst {
					delete(l.buckets, k)
				}
			}
		}
	}
	l.refill(b, now)
	b.tokens--
}
