package internal

import (
	"math/rand/v2"
	"time"
)

// Backoff is the retry schedule of a destination that failed: the n-th consecutive
// failure waits a random time in [d/2, d] with d = min(Max, Base·2^(n-1)) (exponential
// backoff with jitter, so destinations that failed together do not retry together).
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// DefaultBackoff is the production schedule: 2s, 4s, 8s … up to 10 minutes.
var DefaultBackoff = Backoff{Base: 2 * time.Second, Max: 10 * time.Minute}

// Delay is the wait after the failures-th consecutive failure (failures ≥ 1).
func (b Backoff) Delay(failures int) time.Duration {
	if failures < 1 {
		failures = 1
	}
	d := b.Base
	for i := 1; i < failures && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}
