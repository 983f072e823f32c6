package internal

import (
	"math/rand/v2"
	"time"
)

// Backoff is the retry schedule of a service that failed: the n-th consecutive failure
// waits a random time in [d/2, d] with d = min(Max, Base·2^(n-1)).
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// DefaultBackoff is 1s, 2s, 4s … up to 5 minutes.
var DefaultBackoff = Backoff{Base: time.Second, Max: 5 * time.Minute}

// Delay is the wait after the failures-th consecutive failure (failures ≥ 1).
func (b Backoff) Delay(failures int) time.Duration {
	d := b.Base
	for i := 1; i < failures && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}
