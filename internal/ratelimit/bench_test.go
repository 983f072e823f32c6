package ratelimit

import (
	"strconv"
	"testing"

	"github.com/axon-matrix/axon/internal/config"
)

// BenchmarkMessageLimit is the cost the message limit adds to each room send: one map
// lookup under a mutex, for 1,000 senders that stay under their limit.
func BenchmarkMessageLimit(b *testing.B) {
	l := New(Message, config.Rate{PerSecond: 1e9, BurstCount: 10})
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "@user" + strconv.Itoa(i) + ":example.org"
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := l.Limit(keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessageLimitDisabled is the same with limits off (a nil *Limiter).
func BenchmarkMessageLimitDisabled(b *testing.B) {
	var l *Limiter
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := l.Limit("@u:example.org"); err != nil {
			b.Fatal(err)
		}
	}
}
