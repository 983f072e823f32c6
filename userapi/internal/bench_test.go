package internal

import (
	"context"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/testenv"
)

// BenchmarkQueryAccessToken measures the hot path of every authenticated request on SQLite:
// "cached" is a token-cache hit, "uncached" the single indexed query (with 1000 devices in
// the table).
func BenchmarkQueryAccessToken(b *testing.B) {
	for _, c := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", time.Hour}, {"uncached", -1}} {
		b.Run(c.name, func(b *testing.B) {
			e := newTestEnv(b, testenv.SQLitePath(b, "bench"), Config{TokenCacheTTL: c.ttl, LastSeenInterval: time.Hour})
			alice := e.mustAccount(b, "alice", "")
			var tokens []string
			for range 1000 {
				tokens = append(tokens, e.mustDevice(b, alice.UserID, "").AccessToken)
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				if _, err := e.api.QueryAccessToken(ctx, tokens[i%len(tokens)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
