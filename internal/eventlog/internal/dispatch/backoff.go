package dispatch

import "time"

// Backoff is the wait between retries of a failing handler: Min after the first failure,
// doubling up to Max.
type Backoff struct {
	Min, Max time.Duration
}

// DefaultBackoff is used when a Config leaves Backoff zero.
var DefaultBackoff = Backoff{Min: 100 * time.Millisecond, Max: 10 * time.Second}

// Delay returns the wait before retry number attempt (1 for the first retry).
func (b Backoff) Delay(attempt int) time.Duration {
	if b.Min <= 0 {
		b = DefaultBackoff
	}
	if b.Max < b.Min {
		b.Max = b.Min
	}
	d := b.Min
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	return d
}
