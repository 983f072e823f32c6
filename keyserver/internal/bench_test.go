package internal

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/devicetest"
	"github.com/axon-matrix/axon/keyserver/storage"
)

// BenchmarkQueryKeys100x10 is one /keys/query for 100 local users with 10 devices each
// (1,000 device keys; every user also has cross-signing keys) through the direct
// keyserver, on SQLite and (with AXON_TEST_POSTGRES_DSN) Postgres. It reports the p50 and
// p99 latency of the ops in ms (docs/benchmarks.md; target p99 < 20 ms).
func BenchmarkQueryKeys100x10(b *testing.B) {
	dbs := map[string]func(b *testing.B) string{"sqlite": func(b *testing.B) string { return testenv.SQLitePath(b, "bench") }}
	if os.Getenv("AXON_TEST_POSTGRES_DSN") != "" {
		dbs["postgres"] = func(b *testing.B) string { return testenv.PostgresDSN(b) }
	}
	for name, dsn := range dbs {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			sdb, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn(b)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { sdb.Close() })
			db, err := storage.Open(ctx, sdb)
			if err != nil {
				b.Fatal(err)
			}
			k := New(db, testServer)
			req := &api.QueryKeysRequest{Requester: "@requester:" + testServer, DeviceKeys: map[string][]string{}}
			for u := range 100 {
				userID := fmt.Sprintf("@u%d:%s", u, testServer)
				req.DeviceKeys[userID] = nil
				for d := range 10 {
					if _, err := k.UploadKeys(ctx, devicetest.New(b, userID, fmt.Sprint("D", d)).Upload(0, false)); err != nil {
						b.Fatal(err)
					}
				}
				cs := devicetest.NewCrossSigning(b, userID)
				if err := k.UploadCrossSigningKeys(ctx, &api.UploadCrossSigningKeysRequest{UserID: userID, MasterKey: cs.MasterKey(),
					SelfSigningKey: cs.SelfSigningKey(), UserSigningKey: cs.UserSigningKey()}); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				resp, err := k.QueryKeys(ctx, req)
				lat = append(lat, time.Since(start))
				if err != nil || len(resp.DeviceKeys) != 100 || len(resp.DeviceKeys["@u7:"+testServer]) != 10 || len(resp.MasterKeys) != 100 {
					b.Fatalf("query: %d users, %v", len(resp.DeviceKeys), err)
				}
			}
			b.StopTimer()
			reportPercentiles(b, lat)
		})
	}
}

// reportPercentiles reports the p50 and p99 of lat in ms.
func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
