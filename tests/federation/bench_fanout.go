package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

// fanoutBench (issue 12 item 8 a): A, B and C share a room; -bench-senders users of A send
// -bench-rate messages per second in all for -bench-duration; one long-polling client on
// B and one on C (/sync with timeout 30 s) note when each message arrives. Delivery latency
// is arrival minus the start of the PUT /send on A (arrows 4 → topic 2 → 5/6 → PUT /send on
// B and C → their roomservers → topic 2 → their syncapi → the waiting /sync). Events per
// transaction come from A's federation sender counters (axon_federationsender_pdus_sent_total
// over axon_federationsender_transactions_total{result="ok"}) across the sending window, and
// the stage timings from the histograms of A (queue, transaction round trip) and of B and C
// (PUT /send, roomserver writes, roomserver commit → syncapi stored / /sync woken),
// bench_stages.go. With -bench-pprof, CPU profiles of A and B over the sending window.
func (r *run) fanoutBench() error {
	ctx := context.Background()
	r.configHook = lowBcrypt
	r.begin("build axon-monolith and axon-generate-config")
	bin, err := r.build()
	if err != nil {
		return err
	}
	for _, label := range []string{"A", "B", "C"} {
		r.begin("configure and start server " + label)
		s, err := r.start(bin, label)
		if s != nil {
			r.servers = append(r.servers, s)
		}
		if err != nil {
			return err
		}
	}
	a, b, c := r.servers[0], r.servers[1], r.servers[2]
	var aPprof, bPprof string
	if *benchPprof {
		r.begin("restart A and B with -pprof-bind")
		for _, s := range []*server{a, b} {
			if err := stopServer(s); err != nil {
				return err
			}
			u, err := r.relaunch(bin, s, true)
			if err != nil {
				return err
			}
			if s == a {
				aPprof = u
			} else {
				bPprof = u
			}
		}
	}
	n := *benchSenders
	if n < 1 || *benchRate < 1 {
		return fmt.Errorf("-bench-senders and -bench-rate must be positive")
	}

	r.begin(fmt.Sprintf("register %d senders on A, bob on B, carol on C; all join one room of A", n))
	senders := make([]*csapi.Client, n)
	for i := range senders {
		senders[i] = benchClient(a.clientURL)
		if _, err := senders[i].Register(ctx, fmt.Sprintf("sender%02d", i), "sender-password-1", "bench"); err != nil {
			return err
		}
	}
	roomID, err := senders[0].CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "public_chat", Name: "fan-out"})
	if err != nil {
		return err
	}
	for _, s := range senders[1:] {
		if err := s.Join(ctx, roomID); err != nil {
			return err
		}
	}
	bob, carol := benchClient(b.clientURL), benchClient(c.clientURL)
	readers := []*csapi.Client{bob, carol}
	for i, u := range readers {
		if _, err := u.Register(ctx, []string{"bob", "carol"}[i], "reader-password-1", "bench"); err != nil {
			return err
		}
		if err := joinVia(ctx, u, roomID, a.name); err != nil {
			return err
		}
	}
	for _, u := range append([]*csapi.Client{senders[0]}, readers...) {
		if err := r.waitSync(ctx, u, roomID, func(v *roomView) bool {
			return v.members[bob.UserID] == "join" && v.members[carol.UserID] == "join"
		}); err != nil {
			return err
		}
	}

	r.begin(fmt.Sprintf("%d senders send %d messages/s for %s; bob@B and carol@C long-poll /sync", n, *benchRate, *benchDuration))
	filter := fmt.Sprintf(`{"room":{"rooms":[%q],"timeline":{"limit":2000},"state":{"lazy_load_members":true}},"presence":{"types":[]},"account_data":{"types":[]}}`, roomID)
	arrivals := make([]*arrivalLog, len(readers))
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var rwg sync.WaitGroup
	for i, u := range readers {
		arrivals[i] = &arrivalLog{at: map[string]time.Time{}}
		var first struct {
			NextBatch string `json:"next_batch"`
		}
		if err := u.SyncInto(ctx, csapi.SyncRequest{Filter: filter}, &first); err != nil {
			return err
		}
		rwg.Add(1)
		go func(u *csapi.Client, log *arrivalLog, since string) {
			defer rwg.Done()
			log.err = longPoll(rctx, u, roomID, filter, since, log)
		}(u, arrivals[i], first.NextBatch)
	}

	before, err := fedSenderCounters(a.metricsURL)
	if err != nil {
		return err
	}
	stagesBefore, err := r.scrapeStages(a, b, c)
	if err != nil {
		return err
	}
	var profiles []func() error
	if *benchPprof {
		secs := max(1, int(benchDuration.Seconds()))
		profiles = append(profiles, cpuProfile(aPprof, filepath.Join(r.work, "A.cpu.pprof"), secs),
			cpuProfile(bPprof, filepath.Join(r.work, "B.cpu.pprof"), secs))
	}
	type sent struct {
		key   string
		start time.Time
		took  time.Duration
	}
	var mu sync.Mutex
	var sends []sent
	var sendErrs int
	interval := time.Duration(float64(time.Second) * float64(n) / float64(*benchRate))
	end := time.Now().Add(*benchDuration)
	var swg sync.WaitGroup
	for i, s := range senders {
		swg.Add(1)
		go func(i int, s *csapi.Client) {
			defer swg.Done()
			// Senders start spread over one interval, then each sends one message per
			// interval; a send that takes longer than the interval delays the next one
			// (the achieved rate is reported).
			time.Sleep(interval * time.Duration(i) / time.Duration(n))
			next := time.Now()
			for seq := 0; time.Now().Before(end); seq++ {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				next = next.Add(interval)
				key := fmt.Sprintf("s%02d-%05d", i, seq)
				start := time.Now()
				_, err := s.Send(ctx, roomID, key, map[string]any{"msgtype": "m.text", "body": "bench " + key})
				took := time.Since(start)
				mu.Lock()
				if err != nil {
					sendErrs++
				} else {
					sends = append(sends, sent{key, start, took})
				}
				mu.Unlock()
			}
		}(i, s)
	}
	swg.Wait()
	sendWindow := *benchDuration

	r.begin("wait for every message on B and C (up to 60 s)")
	deadline := time.Now().Add(60 * time.Second)
	for {
		all := true
		for _, l := range arrivals {
			if l.count() < len(sends) {
				all = false
			}
		}
		if all || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The last transactions' counters: give A's sender a moment to note the answers.
	time.Sleep(500 * time.Millisecond)
	after, err := fedSenderCounters(a.metricsURL)
	if err != nil {
		return err
	}
	stagesAfter, err := r.scrapeStages(a, b, c)
	if err != nil {
		return err
	}
	for _, w := range profiles {
		if err := w(); err != nil {
			return fmt.Errorf("CPU profile: %w", err)
		}
	}
	cancel()
	rwg.Wait()

	sendTimes := make([]time.Duration, len(sends))
	for i, s := range sends {
		sendTimes[i] = s.took
	}
	r.say("RESULT fan-out: %d messages sent in %s (%.0f/s achieved, %d failed); PUT /send on A: %s",
		len(sends), sendWindow, float64(len(sends))/sendWindow.Seconds(), sendErrs, percentiles(sendTimes))
	missing := 0
	for i, l := range arrivals {
		var lat []time.Duration
		l.mu.Lock()
		for _, s := range sends {
			if at, ok := l.at[s.key]; ok {
				lat = append(lat, at.Sub(s.start))
			}
		}
		limited := l.limited
		l.mu.Unlock()
		missing += len(sends) - len(lat)
		r.say("RESULT fan-out: %s on %s received %d/%d (limited timelines %d); delivery latency %s",
			readers[i].UserID, []string{"B", "C"}[i], len(lat), len(sends), limited, percentiles(lat))
	}
	pdus, txns := after.pdus-before.pdus, after.txnOK-before.txnOK
	if txns > 0 {
		r.say("RESULT fan-out: A's federation sender: %.0f PDUs in %.0f transactions (2 destinations): %.1f PDUs per transaction; failed transactions %.0f",
			pdus, txns, pdus/txns, after.txnFailed-before.txnFailed)
	}
	for i, label := range []string{"A", "B", "C"} {
		for _, line := range stageLines(stagesBefore[i], stagesAfter[i]) {
			r.say("RESULT fan-out stage on %s: %s", label, line)
		}
	}
	if *benchPprof {
		r.say("CPU profiles of the sending window: %s, %s (go tool pprof -top FILE)", filepath.Join(r.work, "A.cpu.pprof"), filepath.Join(r.work, "B.cpu.pprof"))
	}
	if missing > 0 {
		return fmt.Errorf("%d deliveries missing after 60 s", missing)
	}
	r.step = "done"
	return nil
}

// scrapeStages reads the stage histograms of the sender a and the receivers b and c
// (bench_stages.go).
func (r *run) scrapeStages(a, b, c *server) ([]histograms, error) {
	out := make([]histograms, 3)
	for i, s := range []*server{a, b, c} {
		names := receiverStages
		if s == a {
			names = senderStages
		}
		h, err := scrapeHistograms(s.metricsURL, names)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// arrivalLog is when one reader saw each message (by its transaction key).
type arrivalLog struct {
	mu      sync.Mutex
	at      map[string]time.Time
	limited int
	err     error
}

func (l *arrivalLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.at)
}

// longPoll syncs as c from since, with a 30 s timeout, until ctx ends, noting arrivals.
func longPoll(ctx context.Context, c *csapi.Client, roomID, filter, since string, log *arrivalLog) error {
	for ctx.Err() == nil {
		var res struct {
			NextBatch string `json:"next_batch"`
			Rooms     struct {
				Join map[string]struct {
					Timeline struct {
						Limited bool `json:"limited"`
						Events  []struct {
							Type    string `json:"type"`
							Content struct {
								Body string `json:"body"`
							} `json:"content"`
						} `json:"events"`
					} `json:"timeline"`
				} `json:"join"`
			} `json:"rooms"`
		}
		if err := c.SyncInto(ctx, csapi.SyncRequest{Since: since, Timeout: 30 * time.Second, Filter: filter}, &res); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		now := time.Now()
		since = res.NextBatch
		room := res.Rooms.Join[roomID]
		log.mu.Lock()
		if room.Timeline.Limited {
			log.limited++
		}
		for _, e := range room.Timeline.Events {
			if key, ok := strings.CutPrefix(e.Content.Body, "bench "); ok && e.Type == "m.room.message" {
				if _, seen := log.at[key]; !seen {
					log.at[key] = now
				}
			}
		}
		log.mu.Unlock()
	}
	return nil
}

// percentiles formats p50, p95, p99 and max of ds in ms.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(p float64) float64 {
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
	}
	return fmt.Sprintf("p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms", at(0.50), at(0.95), at(0.99), float64(ds[len(ds)-1].Microseconds())/1000)
}

type senderCounters struct{ pdus, txnOK, txnFailed float64 }

// fedSenderCounters reads the federation sender's counters from a /metrics page.
func fedSenderCounters(metricsURL string) (senderCounters, error) {
	var c senderCounters
	resp, err := http.Get(metricsURL)
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c, fmt.Errorf("GET %s: %s", metricsURL, resp.Status)
	}
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "axon_federationsender_pdus_sent_total":
			c.pdus, found = v, true
		case `axon_federationsender_transactions_total{result="ok"}`:
			c.txnOK = v
		case `axon_federationsender_transactions_total{result="failed"}`:
			c.txnFailed = v
		}
	}
	if !found {
		return c, fmt.Errorf("%s has no axon_federationsender_pdus_sent_total", metricsURL)
	}
	return c, sc.Err()
}
