package ratelimit

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/httputil"
)

// clock is a fake clock the tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Unix(1_700_000_000, 0)} }
func ms(n int) time.Duration         { return time.Duration(n) * time.Millisecond }
func sec(f float64) time.Duration    { return time.Duration(f * float64(time.Second)) }

func TestLimiterBucket(t *testing.T) {
	type step struct {
		advance time.Duration
		op      string // "allow", "wait", "refund"
		key     string
		want    time.Duration // wanted wait (0: allowed)
	}
	tests := []struct {
		name  string
		rate  config.Rate
		steps []step
	}{
		{"burst then one per interval", config.Rate{PerSecond: 1, BurstCount: 3}, []step{
			{0, "allow", "a", 0}, {0, "allow", "a", 0}, {0, "allow", "a", 0},
			{0, "allow", "a", time.Second},
			{ms(400), "allow", "a", ms(600)}, // refused requests take nothing
			{ms(600), "allow", "a", 0},       // one token back after 1 s
			{0, "allow", "a", time.Second},
			{10 * time.Second, "allow", "a", 0}, // full again: a burst of 3
			{0, "allow", "a", 0}, {0, "allow", "a", 0},
			{0, "allow", "a", time.Second},
		}},
		{"keys are independent", config.Rate{PerSecond: 0.5, BurstCount: 1}, []step{
			{0, "allow", "a", 0}, {0, "allow", "a", 2 * time.Second},
			{0, "allow", "b", 0}, {0, "allow", "b", 2 * time.Second},
			{sec(1.5), "allow", "a", ms(500)},
		}},
		{"fractional rate (Synapse's 0.17/s)", config.Rate{PerSecond: 0.17, BurstCount: 3}, []step{
			{0, "allow", "ip", 0}, {0, "allow", "ip", 0}, {0, "allow", "ip", 0},
			{0, "allow", "ip", 5882352941 * time.Nanosecond}, // round(1 s / 0.17)
			{6 * time.Second, "allow", "ip", 0},
		}},
		{"wait takes nothing, refund gives back", config.Rate{PerSecond: 1, BurstCount: 2}, []step{
			{0, "wait", "u", 0}, {0, "wait", "u", 0}, {0, "wait", "u", 0},
			{0, "allow", "u", 0}, {0, "allow", "u", 0},
			{0, "wait", "u", time.Second},
			{0, "refund", "u", 0},
			{0, "wait", "u", 0},
			{0, "allow", "u", 0},
			{0, "allow", "u", time.Second},
			{0, "refund", "u", 0}, {0, "refund", "u", 0}, {0, "refund", "u", 0}, // never beyond full
			{0, "allow", "u", 0}, {0, "allow", "u", 0}, {0, "allow", "u", time.Second},
			{0, "refund", "never-seen", 0},
			{0, "wait", "never-seen", 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			l := New("test_bucket", tt.rate, WithClock(c.now))
			for i, s := range tt.steps {
				c.add(s.advance)
				var got time.Duration
				switch s.op {
				case "allow":
					got = l.Allow(s.key)
				case "wait":
					got = l.Wait(s.key)
				case "refund":
					l.Refund(s.key)
				}
				if got != s.want {
					t.Fatalf("step %d (%s %s after %v): wait %v, want %v", i, s.op, s.key, s.advance, got, s.want)
				}
			}
		})
	}
}

func TestLimitAnswersTheSpecWay(t *testing.T) {
	c := newClock()
	l := New("test_answer", config.Rate{PerSecond: 0.2, BurstCount: 2}, WithClock(c.now))
	before := counterValue(limitedTotal.WithLabelValues("test_answer"))
	for i := 0; i < 2; i++ {
		if err := l.Limit("@a:x"); err != nil {
			t.Fatalf("request %d refused: %v", i, err)
		}
	}
	c.add(ms(1))
	err := l.Limit("@a:x")
	var me *httputil.MatrixError
	if !errors.As(err, &me) || me.Status != 429 || me.ErrCode != "M_LIMIT_EXCEEDED" {
		t.Fatalf("third request: %v", err)
	}
	if got := me.Extra["retry_after_ms"]; got != int64(4999) {
		t.Fatalf("retry_after_ms = %v, want 4999", got)
	}
	if err := l.Check("@a:x"); err == nil {
		t.Fatal("Check allowed an empty bucket")
	}
	if got := counterValue(limitedTotal.WithLabelValues("test_answer")) - before; got != 2 {
		t.Fatalf("axon_rate_limited_total grew by %v, want 2", got)
	}
	// A wait under a millisecond still says 1 ms, never 0.
	if got := LimitExceeded(time.Nanosecond).(*httputil.MatrixError).Extra["retry_after_ms"]; got != int64(1) {
		t.Fatalf("retry_after_ms for 1ns = %v", got)
	}
}

func TestDisabledLimitersNeverLimit(t *testing.T) {
	var nilLimiter *Limiter
	for _, l := range []*Limiter{
		nilLimiter,
		New("x", config.Rate{PerSecond: 0, BurstCount: 5}),
		New("x", config.Rate{PerSecond: 1, BurstCount: 0}),
	} {
		if l != nil {
			t.Fatalf("New with an invalid rate gave a limiter: %+v", l)
		}
		for i := 0; i < 1000; i++ {
			if l.Allow("k") != 0 || l.Limit("k") != nil || l.Check("k") != nil {
				t.Fatal("nil limiter limited")
			}
			l.Refund("k")
		}
	}
	rl := config.Defaults("/d").Global.RateLimits
	rl.Enabled = false
	s := NewSet(rl)
	for _, name := range []string{Message, Registration, RegistrationTokenValidity, LoginAddress, LoginAccount, LoginFailedAttempts,
		Joins, InvitesPerRoom, InvitesPerUser, InvitesPerIssuer, ThreePIDValidation} {
		if s.Get(name) != nil {
			t.Errorf("disabled set has limiter %s", name)
		}
	}
}

func TestSet(t *testing.T) {
	rl := config.Defaults("/d").Global.RateLimits
	rl.ExemptUserIDs = []string{"@bridge:x"}
	s := NewSet(rl)
	rates := rl.Rates()
	for _, name := range []string{Message, Registration, RegistrationTokenValidity, LoginAddress, LoginAccount, LoginFailedAttempts,
		Joins, InvitesPerRoom, InvitesPerUser, InvitesPerIssuer, ThreePIDValidation} {
		l := s.Get(name)
		if l == nil || l.Name() != name {
			t.Fatalf("limit %s: %+v", name, l)
		}
		if want := int64(float64(rates[name].BurstCount) * float64(l.interval)); l.window != want {
			t.Errorf("%s: window %d, want %d", name, l.window, want)
		}
	}
	if len(rates) != len(s.limiters) {
		t.Errorf("config has %d limits, set %d: a name constant is missing", len(rates), len(s.limiters))
	}
	tests := []struct {
		user  string
		admin bool
		want  bool
	}{
		{"@alice:x", false, false},
		{"@alice:x", true, true},
		{"@bridge:x", false, true},
		{"@bridge:y", false, false},
	}
	for _, tt := range tests {
		if got := s.Exempt(tt.user, tt.admin); got != tt.want {
			t.Errorf("Exempt(%s, admin=%v) = %v, want %v", tt.user, tt.admin, got, tt.want)
		}
	}
	var none *Set
	if none.Get(Message) != nil || none.Exempt("@a:x", false) {
		t.Fatal("nil set limits or exempts")
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	c := newClock()
	l := New("test_memory", config.Rate{PerSecond: 1, BurstCount: 2}, WithClock(c.now), WithMaxKeys(100))
	for i := 0; i < 100; i++ {
		l.Allow(fmt.Sprint("k", i))
	}
	if got := l.keys(); got != 100 {
		t.Fatalf("keys = %d, want 100", got)
	}
	// Idle keys are full again after one interval: the next new key sweeps them away.
	c.add(2 * time.Second)
	l.Allow("fresh")
	if got := l.keys(); got != 1 {
		t.Fatalf("after idle sweep: %d keys, want 1", got)
	}
	// A flood of distinct keys that are all still counting: forgotten down to 9/10.
	for i := 0; i < 1000; i++ {
		l.Allow(fmt.Sprint("flood", i))
		if l.keys() > 100 {
			t.Fatalf("limiter holds %d keys, max 100", l.keys())
		}
	}
	if counterValue(evictionsTotal.WithLabelValues("test_memory")) == 0 {
		t.Fatal("evictions not counted")
	}
	// Without pressure, the periodic sweep forgets full buckets once a minute.
	c.add(time.Hour)
	l.Allow("x")
	if got := l.keys(); got != 1 {
		t.Fatalf("after an hour: %d keys, want 1", got)
	}
}

// counterValue reads a counter's current value.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
