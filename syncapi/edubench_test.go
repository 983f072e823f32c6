package syncapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/axon-matrix/axon/eduserver"
	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/eventlog/outbox"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/syncapi"
)

// The EDU benchmarks of docs/benchmarks.md: the real eduserver (direct) whose topic 3
// records go through its outbox and the embedded log to the syncapi's consumer, and 1,000
// /sync long-polls through the HTTP handler, on SQLite. Each op is one EDU; its figures
// are the time from the eduserver call until each long-poll has answered with it.

// eduBenchFilter keeps the long-polls' answers small: no presence, account data or
// timeline, members lazy-loaded.
const eduBenchFilter = `{"presence":{"types":[]},"account_data":{"types":[]},"room":{"state":{"lazy_load_members":true},` +
	`"timeline":{"limit":0},"account_data":{"types":[]}}}`

// eduBenchFilterQuery is eduBenchFilter escaped once (the client's own work, not the server's).
var eduBenchFilterQuery = url.QueryEscape(eduBenchFilter)

// newEDUBenchStack is a syncapi harness fed by a real eduserver through the embedded log.
func newEDUBenchStack(b *testing.B) (*harness, *eduserver.EDUServer) {
	dsn := testenv.SQLitePath(b, "edubench")
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	log, err := embedded.New(ctx, db, embedded.Config{PollInterval: 20 * time.Millisecond, RetentionInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { log.Close() })
	topics := syncapi.Topics{RoomEvent: "axon." + eventlog.TopicRoomEvent, AccountData: "axon." + eventlog.TopicAccountData,
		EDU: "axon." + eventlog.TopicEDU}
	if err := log.EnsureTopics(ctx, 3, topics.RoomEvent, topics.AccountData, topics.EDU); err != nil {
		b.Fatal(err)
	}
	ob, err := outbox.NewOutbox(db, "eduserver", log.Producer(), outbox.WithPollInterval(20*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = ob.Run(ctx) }()
	edu, err := eduserver.NewInternalAPI(ctx, db, "test", ob, topics.EDU)
	if err != nil {
		b.Fatal(err)
	}
	h := newHarness(b, dsn)
	h.api.StartConsumers(log.Consumer(), topics, "syncapi-bench")
	b.Cleanup(func() { _ = h.api.Stop() })
	return h, edu
}

// longPoll is one /sync long-poll (safe in goroutines: errors are returned).
func (h *harness) longPoll(token, since string, timeout time.Duration) (eduSync, error) {
	q := fmt.Sprintf("timeout=%d&filter=%s", timeout.Milliseconds(), eduBenchFilterQuery)
	if since != "" {
		q += "&since=" + since
	}
	req := httptest.NewRequest("GET", "/_matrix/client/v3/sync?"+q, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.router.ServeHTTP(rec, req)
	var r eduSync
	if rec.Code != 200 {
		return r, fmt.Errorf("sync: %d %s", rec.Code, rec.Body.String())
	}
	return r, json.Unmarshal(rec.Body.Bytes(), &r)
}

// processCPU is the CPU time this process used so far (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fanOut runs one op: every syncer long-polls from its since, then (once they wait) send
// is called; it returns each syncer's time from send until its answer had the EDU (has),
// and the process's CPU time from send until the last answer (server and the in-process
// clients together: the figure the machine's other load distorts least).
func fanOut(b *testing.B, h *harness, tokens, since []string, send func(), has func(eduSync) bool) ([]time.Duration, time.Duration) {
	var wg sync.WaitGroup
	lat := make([]time.Duration, len(tokens))
	errs := make([]error, len(tokens))
	start := make(chan time.Time, 1)
	var sent time.Time
	var once sync.Once
	for i, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				s, err := h.longPoll(tok, since[i], 10*time.Second)
				if err != nil {
					errs[i] = err
					return
				}
				since[i] = s.NextBatch
				if has(s) {
					once.Do(func() { sent = <-start })
					lat[i] = time.Since(sent)
					return
				}
			}
			errs[i] = fmt.Errorf("%s: no EDU within 20s", tok)
		}()
	}
	time.Sleep(500 * time.Millisecond) // the long-polls are parked
	cpu0 := processCPU()
	t0 := time.Now()
	start <- t0
	send()
	wg.Wait()
	cpu := processCPU() - cpu0
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return lat, cpu
}

func reportLatencies(b *testing.B, lat []time.Duration, maxPerOp []time.Duration, cpu time.Duration) {
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(maxPerOp)), "cpu-ms/op")
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	slices.Sort(maxPerOp)
	b.ReportMetric(float64(maxPerOp[len(maxPerOp)-1].Microseconds())/1000, "all-delivered-max-ms")
}

// BenchmarkToDeviceFanOut1000: one send-to-device request with one message for each of
// 1,000 devices (1,000 users, one device each), until every device's /sync has it.
func BenchmarkToDeviceFanOut1000(b *testing.B) {
	h, edu := newEDUBenchStack(b)
	const n = 1000
	tokens, since := make([]string, n), make([]string, n)
	msgs := map[string]map[string]json.RawMessage{}
	for i := range n {
		lp := fmt.Sprint("d", i)
		tokens[i] = lp + "_tok"
		msgs[user(lp)] = map[string]json.RawMessage{fmt.Sprintf("D%dDEV", i): json.RawMessage(`{"body":"hello"}`)}
	}
	pos := h.api.Notifier.Position().String()
	for i := range since {
		since[i] = pos
	}
	var all, maxes []time.Duration
	var cpu time.Duration
	b.ResetTimer()
	for op := range b.N {
		lat, c := fanOut(b, h, tokens, since, func() {
			if err := edu.SendToDevice(context.Background(), &eduapi.SendToDeviceRequest{Sender: user("sender"), SenderDevice: "SENDERDEV",
				TxnID: fmt.Sprint("txn", op), Type: "m.bench", Messages: msgs}); err != nil {
				b.Error(err)
			}
		}, func(s eduSync) bool { return len(s.ToDevice.Events) > 0 })
		cpu += c
		all = append(all, lat...)
		maxes = append(maxes, slices.Max(lat))
	}
	b.StopTimer()
	reportLatencies(b, all, maxes, cpu)
}

// BenchmarkTyping1000: typing in a room of 1,000 members, each long-polling /sync, until
// every member's /sync has the m.typing change (starts and stops alternate).
func BenchmarkTyping1000(b *testing.B) {
	h, edu := newEDUBenchStack(b)
	const n, room = 1000, "!typing:test"
	tokens, since := make([]string, n), make([]string, n)
	for i := range n {
		lp := fmt.Sprint("t", i)
		tokens[i] = lp + "_tok"
		if i == 0 {
			h.createRoom(room, user(lp))
		} else {
			h.member(room, user(lp), user(lp), "join")
		}
	}
	pos := h.api.Notifier.Position().String()
	for i := range since {
		since[i] = pos
	}
	var all, maxes []time.Duration
	var cpu time.Duration
	b.ResetTimer()
	for op := range b.N {
		typing := op%2 == 0
		lat, c := fanOut(b, h, tokens, since, func() {
			if err := edu.SetTyping(context.Background(), &eduapi.SetTypingRequest{RoomID: room, UserID: user("t1"), Typing: typing,
				TimeoutMS: 60000}); err != nil {
				b.Error(err)
			}
		}, func(s eduSync) bool {
			c, ok := s.ephemeralOf(room)["m.typing"]
			return ok && c["user_ids"] != nil && typing == slices.Contains(typers(c), user("t1"))
		})
		cpu += c
		all = append(all, lat...)
		maxes = append(maxes, slices.Max(lat))
	}
	b.StopTimer()
	reportLatencies(b, all, maxes, cpu)
}
