// Package ratelimit holds the request limits every Tier 1 component applies to what it
// serves (global.rate_limits, in the spirit of Synapse's rc_* settings): one Limiter per
// kind of request, each a token bucket per key (a user ID, a client IP, a room ID).
// Limits live in the memory of one process: each instance of a polylith component counts
// on its own.
//
// A component adds a limit with one line, e.g. the mediaapi's uploads:
//
//	if err := limits.Get(ratelimit.MediaUpload).Limit(dev.UserID); err != nil { return err }
//
// after adding the key to config.RateLimits (and its name below).
package ratelimit

import (
	"math"
	"sync"
	"time"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/httputil"
)

// The limits' names: their keys under global.rate_limits and their label on
// axon_rate_limited_total.
const (
	Message                   = "message"
	Registration              = "registration"
	RegistrationTokenValidity = "registration_token_validity"
	LoginAddress              = "login_address"
	LoginAccount              = "login_account"
	LoginFailedAttempts       = "login_failed_attempts"
	Joins                     = "joins"
	InvitesPerRoom            = "invites_per_room"
	InvitesPerUser            = "invites_per_user"
	InvitesPerIssuer          = "invites_per_issuer"
	ThreePIDValidation        = "threepid_validation"
	MediaUpload               = "media_upload"
)

// DefaultMaxKeys bounds the keys one Limiter remembers.
const DefaultMaxKeys = 100_000

// sweepEvery is how often (at most) a Limiter forgets the keys whose buckets are full again.
const sweepEvery = time.Minute

// Limiter is a token bucket per key: burst requests at once, then one per interval. A nil
// *Limiter never limits, so a disabled limit costs one nil check.
//
// Each key stores one number, its "theoretical arrival time" (GCRA): the time at which its
// bucket is full again. A request at now is allowed when that time, moved on by one
// interval, is at most burst intervals ahead of now. A key whose time has passed holds a
// full bucket, exactly like a key never seen, so it can be forgotten at no cost: memory
// holds only keys that are in use, bounded by maxKeys.
type Limiter struct {
	name     string
	interval int64 // nanoseconds per token
	window   int64 // burst × interval
	maxKeys  int
	now      func() time.Time

	mu        sync.Mutex
	full      map[string]int64 // key → unix nanoseconds at which its bucket is full
	lastSweep int64
}

// Option changes a Limiter made by New or NewSet.
type Option func(*Limiter)

// WithClock makes the Limiter read the time from now (tests: a fake clock).
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// WithMaxKeys bounds the keys a Limiter remembers (default DefaultMaxKeys).
func WithMaxKeys(n int) Option { return func(l *Limiter) { l.maxKeys = max(n, 1) } }

// New returns a Limiter named name (the metric label) for rate r. r must have a positive
// PerSecond and BurstCount (config.Validate checks it); otherwise New returns nil, a
// Limiter that never limits.
func New(name string, r config.Rate, opts ...Option) *Limiter {
	if !(r.PerSecond > 0) || r.BurstCount < 1 {
		return nil
	}
	interval := math.Max(1, math.Round(float64(time.Second)/r.PerSecond))
	window := float64(r.BurstCount) * interval
	if window > math.MaxInt64/4 {
		window = math.MaxInt64 / 4
		interval = math.Min(interval, window)
	}
	l := &Limiter{name: name, interval: int64(interval), window: int64(window), maxKeys: DefaultMaxKeys,
		now: time.Now, full: map[string]int64{}}
	for _, o := range opts {
		o(l)
	}
	limitedCounter(name) // the series exists (at 0) from the start
	return l
}

// Name is the limit's name.
func (l *Limiter) Name() string { return l.name }

// Allow takes a token of key's bucket and returns 0, or, when the bucket is empty, takes
// nothing and returns how long until a token is back.
func (l *Limiter) Allow(key string) time.Duration {
	if l == nil {
		return 0
	}
	now := l.now().UnixNano()
	l.mu.Lock()
	wait := l.take(key, now)
	l.mu.Unlock()
	return wait
}

// Wait returns how long until key's bucket holds a token (0: now), taking nothing.
func (l *Limiter) Wait(key string) time.Duration {
	if l == nil {
		return 0
	}
	now := l.now().UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	next := max(l.full[key], now) + l.interval
	if over := next - now - l.window; over > 0 {
		return time.Duration(over)
	}
	return 0
}

// Refund gives back a token Allow or Limit took for a request that, in the end, does not
// count (a registration attempt that created no account, a login with the right password
// for the failed-attempts limit).
func (l *Limiter) Refund(key string) {
	if l == nil {
		return
	}
	now := l.now().UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.full[key]
	if !ok {
		return
	}
	if t -= l.interval; t <= now {
		delete(l.full, key) // a full bucket, as if never seen
	} else {
		l.full[key] = t
	}
}

// Limit is Allow answered the spec's way: nil, or 429 M_LIMIT_EXCEEDED with
// retry_after_ms, counted in axon_rate_limited_total{limit=name}.
func (l *Limiter) Limit(key string) error {
	return l.exceeded(l.Allow(key))
}

// Check is Wait answered like Limit: it tells whether key may go ahead, taking nothing.
func (l *Limiter) Check(key string) error {
	return l.exceeded(l.Wait(key))
}

func (l *Limiter) exceeded(wait time.Duration) error {
	if wait <= 0 {
		return nil
	}
	limitedCounter(l.name).Inc()
	return LimitExceeded(wait)
}

// LimitExceeded is 429 M_LIMIT_EXCEEDED with retry_after_ms (at least 1) for wait.
func LimitExceeded(wait time.Duration) error {
	ms := (wait + time.Millisecond - 1) / time.Millisecond
	return httputil.LimitExceeded(max(int64(ms), 1))
}

// take moves key's time on by one interval if that stays within the window; it returns
// 0 or the wait. The caller holds mu.
func (l *Limiter) take(key string, now int64) time.Duration {
	t, known := l.full[key]
	next := max(t, now) + l.interval
	if over := next - now - l.window; over > 0 {
		return time.Duration(over)
	}
	if !known {
		l.makeRoom(now)
	}
	l.full[key] = next
	return 0
}

// makeRoom keeps the map bounded before a new key goes in: at most once per sweepEvery,
// or whenever the map is at maxKeys, it forgets every key whose bucket is full again;
// if the map is still at maxKeys (a flood of distinct keys), it forgets arbitrary keys
// down to nine tenths of maxKeys: those keys start again with a full bucket. The caller
// holds mu.
func (l *Limiter) makeRoom(now int64) {
	if len(l.full) < l.maxKeys && now-l.lastSweep < int64(sweepEvery) {
		return
	}
	l.lastSweep = now
	for k, t := range l.full {
		if t <= now {
			delete(l.full, k)
		}
	}
	if len(l.full) < l.maxKeys {
		return
	}
	target := l.maxKeys * 9 / 10
	for k := range l.full {
		if len(l.full) <= target {
			break
		}
		delete(l.full, k)
	}
	evictedCounter(l.name).Inc()
}

// keys is how many keys l remembers (tests).
func (l *Limiter) keys() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.full)
}
