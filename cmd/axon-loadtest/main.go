// Command axon-loadtest measures a homeserver through the public client-server API only, so
// it can be pointed at Axon or any other homeserver: it registers N users, creates M rooms,
// runs S concurrent senders and C long-polling /sync clients (the spec's GET /sync, or sync
// v3 on POST /sync with -sync: syncv3.go) for a bounded time, and reports
// sends/s, p50/p99 send latency, p50/p99 send→sync delivery latency, and missing and
// duplicate deliveries. Figures for Axon are in docs/benchmarks.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

type options struct {
	hs        string
	users     int
	rooms     int
	members   int
	senders   int
	syncers   int
	duration  time.Duration
	rate      float64
	warmup    time.Duration
	noWarmup  bool
	pprofURL  string
	pprofOut  string
	pprofFor  time.Duration
	drain     time.Duration
	serverPID int
	jsonOut   bool
	setupPar  int
}

func main() {
	var o options
	flag.StringVar(&o.hs, "hs", "http://127.0.0.1:8008", "homeserver base URL")
	flag.IntVar(&o.users, "users", 2, "users to register")
	flag.IntVar(&o.rooms, "rooms", 1, "rooms to create")
	flag.IntVar(&o.members, "members", 0, "members per room (default: users/rooms, at least 1)")
	flag.IntVar(&o.senders, "senders", 1, "concurrent senders")
	flag.IntVar(&o.syncers, "syncers", -1, "users that long-poll /sync (default: all users)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long senders send (bounded)")
	flag.Float64Var(&o.rate, "rate", 0, "total sends per second across all senders (0: as fast as possible)")
	flag.DurationVar(&o.warmup, "warmup-timeout", time.Minute, "how long to wait for the warm-up messages (one per room) to reach every syncer before sending")
	flag.BoolVar(&o.noWarmup, "no-warmup", false, "send at once after every syncer's first long-poll, without the warm-up messages (what a load tool that does not warm up measures)")
	flag.StringVar(&o.pprofURL, "server-pprof", "", "base URL of the server's pprof listener (e.g. http://127.0.0.1:6060): a CPU profile of the first -server-pprof-seconds of the send phase goes to -server-pprof-out")
	flag.StringVar(&o.pprofOut, "server-pprof-out", "send-start.pprof", "where -server-pprof writes the profile")
	flag.DurationVar(&o.pprofFor, "server-pprof-seconds", time.Second, "how much of the send phase -server-pprof profiles (whole seconds, at least 1)")
	flag.DurationVar(&o.drain, "drain", 10*time.Second, "how long to wait after sending for deliveries to arrive")
	flag.IntVar(&o.serverPID, "server-pid", 0, "PID of a server on this machine whose RSS to report (optional)")
	flag.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	flag.IntVar(&o.setupPar, "setup-concurrency", 16, "parallel requests while registering and joining")
	flag.Parse()
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "axon-loadtest:", err)
		os.Exit(2)
	}
	if *syncFlag != syncSpec && *syncFlag != syncV3Room && *syncFlag != syncV3List {
		fmt.Fprintf(os.Stderr, "axon-loadtest: -sync %q: want spec, v3 or v3-list\n", *syncFlag)
		os.Exit(2)
	}
	if *modeFlag != "send" { // -mode read: read.go
		if *modeFlag != "read" {
			fmt.Fprintf(os.Stderr, "axon-loadtest: -mode %q: want send or read\n", *modeFlag)
			os.Exit(2)
		}
		os.Exit(readMain(o))
	}
	rep, err := run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "axon-loadtest:", err)
		os.Exit(1)
	}
	rep.print(o.jsonOut)
	if rep.Missing > 0 || rep.Duplicates > 0 {
		os.Exit(3)
	}
}

func (o *options) validate() error {
	if o.users < 1 || o.rooms < 1 || o.senders < 0 {
		return fmt.Errorf("need users ≥ 1, rooms ≥ 1, senders ≥ 0")
	}
	if o.members <= 0 {
		o.members = max(1, o.users/o.rooms)
	}
	if o.members > o.users {
		return fmt.Errorf("members per room (%d) > users (%d)", o.members, o.users)
	}
	if o.syncers < 0 || o.syncers > o.users {
		o.syncers = o.users
	}
	if o.duration <= 0 || o.duration > time.Hour {
		return fmt.Errorf("duration must be in (0, 1h]")
	}
	return nil
}

func run(ctx context.Context, o options) (*report, error) {
	tr := &http.Transport{MaxIdleConns: 0, MaxIdleConnsPerHost: o.users + o.senders + 16, IdleConnTimeout: 90 * time.Second}
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	runID := strconv.FormatInt(time.Now().UnixNano()%1e10, 36) + strconv.Itoa(rand.IntN(1000))
	rep := &report{Options: o.summary()}
	if o.serverPID > 0 {
		rep.ServerRSSIdleKB = rssKB(o.serverPID)
	}

	// Setup: users, rooms, memberships.
	t0 := time.Now()
	users, err := registerUsers(ctx, o, hc, "lt", runID)
	if err != nil {
		return nil, explainRateLimit(err)
	}
	roomIDs, members, err := setupRooms(ctx, o, users) // members: user indexes per room
	if err != nil {
		return nil, explainRateLimit(err)
	}
	rep.SetupSeconds = time.Since(t0).Seconds()

	// Which syncing users must receive each room's messages.
	syncing := make([]bool, o.users)
	for i := range o.syncers {
		syncing[i] = true
	}
	roomRecipients := make([]int, o.rooms)
	for r := range o.rooms {
		for _, u := range members[r] {
			if syncing[u] {
				roomRecipients[r]++
			}
		}
	}

	// Syncers: one long-polling /sync loop per syncing user (-sync: syncv3.go).
	watched, err := watchedRooms(*syncFlag, o.syncers, members, roomIDs)
	if err != nil {
		return nil, err
	}
	sent := sync.Map{} // load ID → sendStamp
	var delivery latencies
	var bySecond secondLatencies // the same deliveries by the second of the run they were sent in
	received := make([]map[string]int, o.syncers)
	syncCtx, stopSync := context.WithCancel(ctx)
	defer stopSync()
	var syncWG, ready, polling sync.WaitGroup
	var syncErrors, limited atomic.Int64
	// Warm-up: one message per room, sent after every syncer is long-polling; the measured
	// phase starts when each has reached every syncing member (warmSeen counts those
	// deliveries), so it measures steady state, not the server still working through the
	// setup's joins or a thousand long-polls arriving at once.
	warmID := runID + ".warmup."
	var warmSeen atomic.Int64
	for i := range o.syncers {
		received[i] = map[string]int{}
		syncWG.Add(1)
		ready.Add(1)
		polling.Add(1)
		go func(i int) {
			defer syncWG.Done()
			p := newPoller(*syncFlag, users[i], watched[i])
			_, _, err := p.poll(syncCtx, 0)
			ready.Done()
			if err != nil {
				polling.Done()
				syncErrors.Add(1)
				return
			}
			polling.Done() // this syncer's first long-poll goes out next
			for syncCtx.Err() == nil {
				ids, skipped, err := p.poll(syncCtx, 30*time.Second)
				if err != nil {
					if syncCtx.Err() == nil {
						syncErrors.Add(1)
						time.Sleep(100 * time.Millisecond)
					}
					continue
				}
				now := time.Now()
				limited.Add(int64(skipped))
				for _, id := range ids {
					if strings.HasPrefix(id, warmID) {
						if received[i][id]++; received[i][id] == 1 {
							warmSeen.Add(1)
						}
						continue
					}
					received[i][id]++
					if v, ok := sent.Load(id); ok && received[i][id] == 1 {
						st := v.(sendStamp)
						d := now.Sub(st.at)
						delivery.add(d)
						bySecond.add(st.second, d)
					}
				}
			}
		}(i)
	}
	ready.Wait()
	polling.Wait()
	if !o.noWarmup {
		if err := warmUp(ctx, o, users, members, roomIDs, roomRecipients, warmID, &warmSeen); err != nil {
			return nil, err
		}
	}

	// Senders. The server's CPU time over the send and drain phases, divided by the sends,
	// is a cost per send that other load on a shared machine does not distort the way it
	// distorts throughput and latency.
	var cpuStart float64
	if o.serverPID > 0 {
		cpuStart = cpuSeconds(o.serverPID)
	}
	var sendLat latencies
	var okSends, failedSends, rateLimitedSends, expected atomic.Int64
	var sendWG sync.WaitGroup
	if o.pprofURL != "" {
		profileDone := profileServer(ctx, o.pprofURL, o.pprofOut, o.pprofFor)
		defer func() { <-profileDone }()
	}
	start := time.Now()
	deadline := start.Add(o.duration)
	for s := range o.senders {
		sendWG.Add(1)
		go func(s int) {
			defer sendWG.Done()
			r := s % o.rooms
			u := users[members[r][(s/o.rooms)%len(members[r])]]
			var interval time.Duration
			if o.rate > 0 {
				interval = time.Duration(float64(time.Second) * float64(o.senders) / o.rate)
			}
			// Stagger the senders across one interval so the total rate arrives evenly
			// (one send every interval/senders), not as a burst of every sender at once.
			next := start
			if interval > 0 {
				next = start.Add(interval * time.Duration(s) / time.Duration(o.senders))
			}
			for seq := 0; time.Now().Before(deadline); seq++ {
				if interval > 0 {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					next = next.Add(interval)
				}
				id := fmt.Sprintf("%s.%d.%d", runID, s, seq)
				st := time.Now()
				sent.Store(id, sendStamp{at: st, second: int(st.Sub(start) / time.Second)})
				_, err := u.Send(ctx, roomIDs[r], id, map[string]any{"msgtype": "m.text", "body": "load " + id, "axon_loadtest_id": id})
				if err != nil {
					failedSends.Add(1)
					if isRateLimited(err) {
						rateLimitedSends.Add(1)
					}
					sent.Delete(id)
					continue
				}
				sendLat.add(time.Since(st))
				okSends.Add(1)
				expected.Add(int64(roomRecipients[r]))
			}
		}(s)
	}
	sendWG.Wait()
	elapsed := time.Since(start)

	// Drain: wait for outstanding deliveries, then stop the syncers.
	drainEnd := time.Now().Add(o.drain)
	for time.Now().Before(drainEnd) && int64(delivery.count()) < expected.Load() {
		time.Sleep(50 * time.Millisecond)
	}
	stopSync()
	syncWG.Wait()
	if o.serverPID > 0 {
		rep.ServerCPUSeconds = cpuSeconds(o.serverPID) - cpuStart
	}

	// Count missing and duplicate deliveries against what each syncing member should have.
	var dup, got int64
	for i := range o.syncers {
		for _, n := range received[i] {
			got++
			if n > 1 {
				dup += int64(n - 1)
			}
		}
	}
	_ = got
	rep.Sends = okSends.Load()
	rep.FailedSends = failedSends.Load()
	if rep.RateLimitedSends = rateLimitedSends.Load(); rep.RateLimitedSends > 0 {
		fmt.Fprintf(os.Stderr, "axon-loadtest: %d sends refused: %s\n", rep.RateLimitedSends, rateLimitHint)
	}
	rep.SendsPerSecond = float64(rep.Sends) / elapsed.Seconds()
	if rep.Sends > 0 {
		rep.ServerCPUPerSendMs = rep.ServerCPUSeconds * 1000 / float64(rep.Sends)
	}
	n, p50, p99, mx := sendLat.summary()
	rep.SendLatency = latencyReport{N: n, P50ms: ms(p50), P99ms: ms(p99), Maxms: ms(mx)}
	n, p50, p99, mx = delivery.summary()
	rep.DeliveryLatency = latencyReport{N: n, P50ms: ms(p50), P99ms: ms(p99), Maxms: ms(mx)}
	rep.DeliveryBySecond = bySecond.reports()
	rep.ExpectedDeliveries = expected.Load()
	rep.Missing = max(0, expected.Load()-int64(n))
	rep.Duplicates = dup
	rep.SyncErrors = syncErrors.Load()
	rep.ReceiptErrors = receiptErrors.Load()
	rep.LimitedTimelines = limited.Load()
	if o.serverPID > 0 {
		rep.ServerRSSAfterKB = rssKB(o.serverPID)
	}
	return rep, nil
}

// warmUp sends one message to each room (from its first member) and waits until every
// syncing member has it, or o.warmup passes (then the run goes on, reporting that).
func warmUp(ctx context.Context, o options, users []*csapi.Client, members [][]int, roomIDs []string,
	recipients []int, prefix string, seen *atomic.Int64) error {
	want := int64(0)
	for r := range roomIDs {
		if _, err := users[members[r][0]].Send(ctx, roomIDs[r], fmt.Sprintf("%s%d", prefix, r),
			map[string]any{"msgtype": "m.text", "body": "warm-up", "axon_loadtest_id": fmt.Sprintf("%s%d", prefix, r)}); err != nil {
			return fmt.Errorf("warm-up send: %w", err)
		}
		want += int64(recipients[r])
	}
	deadline := time.Now().Add(o.warmup)
	for seen.Load() < want {
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "axon-loadtest: warm-up: %d of %d deliveries after %s; measuring anyway\n", seen.Load(), want, o.warmup)
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// parallel runs f(0…n-1) with at most par at once and returns the first error.
func parallel(par, n int, f func(i int) error) error {
	sem := make(chan struct{}, max(1, par))
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				once.Do(func() { first = err })
			}
		}(i)
	}
	wg.Wait()
	return first
}

// rssKB reads a process's resident set size from /proc (Linux only; 0 elsewhere).
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				return v
			}
		}
	}
	return 0
}

type latencyReport struct {
	N     int     `json:"n"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
	Maxms float64 `json:"max_ms"`
}

type report struct {
	Options          string        `json:"options"`
	SetupSeconds     float64       `json:"setup_seconds"`
	Sends            int64         `json:"sends"`
	FailedSends      int64         `json:"failed_sends"`
	RateLimitedSends int64         `json:"rate_limited_sends"`
	SendsPerSecond   float64       `json:"sends_per_second"`
	SendLatency      latencyReport `json:"send_latency"`
	DeliveryLatency  latencyReport `json:"delivery_latency"`
	// DeliveryBySecond splits the deliveries by the second of the send phase their message
	// was sent in (index 0: the first second after the warm-up), so a run shows whether its
	// p99 holds from the start or only after the server warmed up.
	DeliveryBySecond   []latencyReport `json:"delivery_by_second,omitempty"`
	ExpectedDeliveries int64           `json:"expected_deliveries"`
	Missing            int64           `json:"missing"`
	Duplicates         int64           `json:"duplicates"`
	SyncErrors         int64           `json:"sync_errors"`
	ReceiptErrors      int64           `json:"receipt_errors,omitempty"` // -receipts: receipts that failed
	LimitedTimelines   int64           `json:"limited_timelines"`
	ServerRSSIdleKB    int64           `json:"server_rss_idle_kb,omitempty"`
	ServerRSSAfterKB   int64           `json:"server_rss_after_kb,omitempty"`
	ServerCPUSeconds   float64         `json:"server_cpu_seconds,omitempty"`
	ServerCPUPerSendMs float64         `json:"server_cpu_ms_per_send,omitempty"`
}

func (o options) summary() string {
	return fmt.Sprintf("users=%d rooms=%d members=%d senders=%d syncers=%d duration=%s rate=%g sync=%s",
		o.users, o.rooms, o.members, o.senders, o.syncers, o.duration, o.rate, *syncFlag)
}

// printJSON prints a report as indented JSON (-json).
func printJSON(v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	fmt.Println(string(b))
}

func (r *report) print(asJSON bool) {
	if asJSON {
		printJSON(r)
		return
	}
	fmt.Printf("axon-loadtest: %s\n", r.Options)
	fmt.Printf("  setup:    %.1f s\n", r.SetupSeconds)
	fmt.Printf("  sends:    %d ok, %d failed, %.0f sends/s\n", r.Sends, r.FailedSends, r.SendsPerSecond)
	fmt.Printf("  send latency:     p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", r.SendLatency.P50ms, r.SendLatency.P99ms, r.SendLatency.Maxms)
	fmt.Printf("  send→sync delivery: p50 %.2f ms  p99 %.2f ms  max %.2f ms (%d deliveries)\n", r.DeliveryLatency.P50ms, r.DeliveryLatency.P99ms, r.DeliveryLatency.Maxms, r.DeliveryLatency.N)
	if len(r.DeliveryBySecond) > 0 {
		first, worst, at := r.DeliveryBySecond[0].P99ms, 0.0, 0
		for i, l := range r.DeliveryBySecond {
			if l.P99ms > worst {
				worst, at = l.P99ms, i
			}
		}
		fmt.Printf("  delivery p99 by second sent: first second %.2f ms, worst second %.2f ms (second %d of %d)\n", first, worst, at+1, len(r.DeliveryBySecond))
	}
	fmt.Printf("  deliveries: expected %d, missing %d, duplicate %d; sync errors %d; limited timelines %d\n", r.ExpectedDeliveries, r.Missing, r.Duplicates, r.SyncErrors, r.LimitedTimelines)
	if r.ServerRSSIdleKB > 0 {
		fmt.Printf("  server RSS: idle %.1f MB, after %.1f MB\n", float64(r.ServerRSSIdleKB)/1024, float64(r.ServerRSSAfterKB)/1024)
		fmt.Printf("  server CPU: %.2f s over send+drain, %.3f ms per send\n", r.ServerCPUSeconds, r.ServerCPUPerSendMs)
	}
}

// cpuSeconds reads a process's user+system CPU time from /proc/PID/stat (Linux only; 0
// elsewhere). Fields 14 and 15 (utime, stime) count clock ticks; Linux reports them in
// USER_HZ, which is 100 on every architecture Go supports there.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	return parseStatCPU(string(b))
}

// parseStatCPU extracts utime+stime in seconds from a /proc/PID/stat line. The command
// name (field 2) is in parentheses and may hold spaces, so fields count from its end.
func parseStatCPU(stat string) float64 {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(stat[i+1:])
	// After ")": state is field 3, so utime (14) and stime (15) are f[11] and f[12].
	if len(f) < 13 {
		return 0
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return float64(u+s) / userHZ
}

const userHZ = 100
