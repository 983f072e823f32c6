package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
)

// TestTransactionThroughput is the bounded benchmark of docs/benchmarks.md ("Application
// service transactions"): it publishes AXON_APPSERVICE_BENCH_RATE events/s (default
// 1,000) for AXON_APPSERVICE_BENCH_SECONDS (default 10) on topic 2 (embedded event log)
// in 10 rooms where one bridge's ghost is joined, through the real consumer, queue
// table and senders (the log and the component on separate SQLite files, as in the
// monolith), to a loopback HTTP receiver, and reports transactions/s, events per
// transaction and the p50/p99 time from publish to the receiver's receipt. It fails if an
// event is lost, doubled or out of order in its room. It runs only with
// AXON_APPSERVICE_BENCH=1 (on the database of AXON_TEST_POSTGRES_DSN when set to
// "postgres", else SQLite).
func TestTransactionThroughput(t *testing.T) {
	if os.Getenv("AXON_APPSERVICE_BENCH") == "" {
		t.Skip("set AXON_APPSERVICE_BENCH=1 to run the application-service throughput benchmark")
	}
	rate := envInt("AXON_APPSERVICE_BENCH_RATE", 1000)
	seconds := envInt("AXON_APPSERVICE_BENCH_SECONDS", 10)
	total := rate * seconds
	const rooms = 10

	ctx := context.Background()
	dsn := testenv.SQLitePath(t, "appservice")
	if os.Getenv("AXON_APPSERVICE_BENCH_DB") == "postgres" {
		dsn = testenv.Databases(t)["postgres"](t)
	}
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The event log has its own database, as in the monolith (global.event_log.database).
	logDB, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "eventlog")})
	if err != nil {
		t.Fatal(err)
	}
	defer logDB.Close()
	log, err := embedded.New(ctx, logDB, embedded.Config{RetentionInterval: -1, LeaseTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if err := log.EnsureTopics(ctx, 4, testTopic); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	sentAt := map[string]time.Time{}
	var latencies []time.Duration
	var sizes []int
	perRoom := map[string][]int{}
	done := make(chan struct{})
	received := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		var txn struct {
			Events []struct {
				EventID string `json:"event_id"`
				RoomID  string `json:"room_id"`
				Type    string `json:"type"`
			} `json:"events"`
		}
		if err := json.NewDecoder(r.Body).Decode(&txn); err != nil {
			t.Errorf("body: %v", err)
		}
		mu.Lock()
		sizes = append(sizes, len(txn.Events))
		for _, e := range txn.Events {
			if e.Type != "m.room.message" {
				continue
			}
			if at, ok := sentAt[e.EventID]; ok {
				latencies = append(latencies, now.Sub(at))
			}
			var room, n int
			if _, err := fmt.Sscanf(e.EventID, "$r%d_%d", &room, &n); err == nil {
				perRoom[e.RoomID] = append(perRoom[e.RoomID], n)
			}
			received++
			if received == total {
				close(done)
			}
		}
		mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	regs := testRegs(t, srv.URL)
	c := start(t, db, log, regs)
	defer c.stop(t)

	ghost := "@_echo_bob:" + testServer
	var joins []eventlog.Message
	for i := range rooms {
		joins = append(joins, member(t, fmt.Sprintf("$join%d", i), fmt.Sprintf("!room%d:hs.test", i), ghost, "join"))
	}
	if err := log.Producer().Publish(ctx, joins...); err != nil {
		t.Fatal(err)
	}
	// Publish in ticks of 10 ms, rate/100 events each, round-robin over the rooms.
	perTick := max(1, rate/100)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for sent := 0; sent < total; {
		<-tick.C
		var msgs []eventlog.Message
		now := time.Now()
		mu.Lock()
		for k := 0; k < perTick && sent < total; k++ {
			room := sent % rooms
			id := fmt.Sprintf("$r%d_%d", room, sent/rooms)
			sentAt[id] = now
			msgs = append(msgs, message(t, id, fmt.Sprintf("!room%d:hs.test", room), "@alice:hs.test"))
			sent++
		}
		mu.Unlock()
		if err := log.Producer().Publish(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	published := time.Since(start)
	select {
	case <-done:
	case <-time.After(time.Duration(seconds)*time.Second + 60*time.Second):
		t.Fatalf("the receiver got %d of %d events", received, total)
	}
	elapsed := time.Since(start)
	time.Sleep(200 * time.Millisecond) // a duplicate would show now

	mu.Lock()
	defer mu.Unlock()
	if received != total {
		t.Fatalf("received %d events, want %d (duplicates?)", received, total)
	}
	for room, ns := range perRoom {
		if !slices.IsSorted(ns) {
			t.Fatalf("room %s out of order", room)
		}
	}
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[int(float64(len(latencies)-1)*p)] }
	txns := len(sizes)
	t.Logf("%d events published in %s (%.0f/s; %d/s asked), all received after %s; %d transactions (%.1f/s), %.1f events/transaction (max %d); publish→receipt p50 %s, p99 %s, max %s",
		total, published.Round(time.Millisecond), float64(total)/published.Seconds(), rate, elapsed.Round(time.Millisecond), txns, float64(txns)/elapsed.Seconds(),
		float64(total+rooms)/float64(txns), slices.Max(sizes), pct(0.5).Round(100*time.Microsecond), pct(0.99).Round(100*time.Microsecond),
		latencies[len(latencies)-1].Round(100*time.Microsecond))
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
