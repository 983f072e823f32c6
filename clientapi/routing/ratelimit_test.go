package routing

import (
	"testing"
	"time"
)

func TestFailureLimiter(t *testing.T) {
	l := newFailureLimiter(3, 10*time.Second)
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at       time.Duration
		fail     bool
		wantWait time.Duration
	}{
		{0, false, 0},
		{0, true, 0},
		{0, true, 0},
		{0, true, 10 * time.Second}, // burst of 3 used up
		{4 * time.Second, false, 6 * time.Second},
		{10 * time.Second, false, 0}, // one token back
		{10 * time.Second, true, 10 * time.Second},
		{60 * time.Second, false, 0},
	}
	for i, s := range steps {
		now := t0.Add(s.at)
		if s.fail {
			l.fail("@a:b", now)
		}
		if got := l.retryAfter("@a:b", now); got != s.wantWait {
			t.Fatalf("step %d: wait %v, want %v", i, got, s.wantWait)
		}
	}
	if got := l.retryAfter("@other:b", t0); got != 0 {
		t.Fatalf("other key limited: %v", got)
	}
}
