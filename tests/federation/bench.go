package main

// Federation benchmarks (issue 12, item 8; figures in docs/benchmarks.md, "Federation").
// They are modes of this command, not tests: they print figures and fail only when
// something is not delivered or not joined at all.
//
//	-bench-fanout        three monoliths in one room; senders on A, long-polling readers on B
//	                     and C: delivery latency and events per transaction (bench_fanout.go)
//	-bench-join          a room of -bench-members members and -bench-state state events on A,
//	                     joined from B: time and peak RSS of B (this file)
//	-bench-synapse-join  the same join, smaller, from Synapse into an Axon room and from
//	                     Axon into a Synapse room (bench_synapse.go)

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

var (
	benchFanout        = flag.Bool("bench-fanout", false, "benchmark: delivery latency from A to long-polling clients on B and C, events per transaction (bench_fanout.go)")
	benchJoin          = flag.Bool("bench-join", false, "benchmark: B joins a room of -bench-members members and -bench-state state events held by A (bench.go)")
	benchSynapseJoin   = flag.Bool("bench-synapse-join", false, "benchmark: Synapse joins a room of A and A joins a room of Synapse, timed (bench_synapse.go)")
	benchMembers       = flag.Int("bench-members", 20000, "-bench-join: members of the room (the creator included)")
	benchState         = flag.Int("bench-state", 25000, "-bench-join: state events of the room (members included; the rest are org.axon.bench events)")
	benchSenders       = flag.Int("bench-senders", 10, "-bench-fanout: sending users on A")
	benchRate          = flag.Int("bench-rate", 200, "-bench-fanout: messages per second, all senders together")
	benchDuration      = flag.Duration("bench-duration", 20*time.Second, "-bench-fanout: how long the senders send")
	benchSetupWorkers  = flag.Int("bench-workers", 16, "-bench-join: concurrent requests while building the room")
	benchSynapseAxon   = flag.Int("bench-synapse-axon-members", 2000, "-bench-synapse-join: members of the Axon room Synapse joins (state: 5/4 of it)")
	benchSynapseState  = flag.Int("bench-synapse-state", 2000, "-bench-synapse-join: state events (org.axon.bench) of the Synapse room Axon joins")
	benchSynapseMember = flag.Int("bench-synapse-members", 20, "-bench-synapse-join: members of the Synapse room Axon joins (registered on Synapse)")
	benchSQLiteSync    = flag.String("bench-sqlite-synchronous", "", "benchmarks: global.sqlite_synchronous of every Axon server (full or normal; empty: the generated default)")
)

// benchScenario returns the benchmark chosen by the flags, if any.
func (r *run) benchScenario() (func() error, string) {
	switch {
	case *benchFanout:
		return r.fanoutBench, "fan-out benchmark: figures above"
	case *benchJoin:
		return r.joinBench, "large-room join benchmark: figures above"
	case *benchSynapseJoin:
		return r.synapseJoinBench, "Synapse join benchmark: figures above"
	}
	return nil, ""
}

// lowBcrypt is a configHook: bcrypt cost 4 (the minimum) so that registering thousands of
// users costs little, as scripts/bench-monolith.sh does. Only the benchmarks use it.
// With -bench-sqlite-synchronous it also sets global.sqlite_synchronous.
func lowBcrypt(cfg string) string {
	cfg = setKey(cfg, "bcrypt_cost: ", "4")
	if *benchSQLiteSync != "" {
		cfg = setKey(cfg, "sqlite_synchronous: ", strconv.Quote(*benchSQLiteSync))
	}
	return cfg
}

// setKey replaces the value of the first line holding key (e.g. "bcrypt_cost: ") in cfg.
func setKey(cfg, key, value string) string {
	i := strings.Index(cfg, key)
	if i < 0 {
		return cfg
	}
	j := strings.IndexByte(cfg[i:], '\n')
	if j < 0 {
		j = len(cfg) - i
	}
	return cfg[:i] + key + value + cfg[i+j:]
}

// benchHTTP is the HTTP client of the benchmarks' users: enough idle connections per host
// for the concurrent setup and no overall timeout (joins of large rooms take long).
var benchHTTP = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128}}

func benchClient(base string) *csapi.Client { return &csapi.Client{BaseURL: base, HTTP: benchHTTP} }

// procStatus reads VmRSS and VmHWM (peak RSS) of pid in MB.
func procStatus(pid int) (rss, hwm float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1, -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	return rss, hwm
}

// parallel runs do(i) for i in [0, n) on workers goroutines and returns the first error.
func parallel(n, workers int, do func(i int) error) error {
	var next atomic.Int64
	var first error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				mu.Lock()
				failed := first != nil
				mu.Unlock()
				if failed {
					return
				}
				if err := do(i); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("item %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// stateCount is the number of state events of roomID as c sees them (GET /state).
func stateCount(ctx context.Context, c *csapi.Client, roomID string) (int, error) {
	var st []struct {
		Type string `json:"type"`
	}
	err := c.Do(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/state", nil, &st)
	return len(st), err
}

// joinedCount is the number of joined members of roomID as c sees them.
func joinedCount(ctx context.Context, c *csapi.Client, roomID string) (int, error) {
	var jm struct {
		Joined map[string]json_ `json:"joined"`
	}
	err := c.Do(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/joined_members", nil, &jm)
	return len(jm.Joined), err
}

// json_ skips a value while decoding.
type json_ struct{}

func (json_) UnmarshalJSON([]byte) error { return nil }

// buildBigRoom creates on owner's server a public room of members members (owner
// included; the others registered on base as bench%05d with prefix) and state state events
// in all (the ones beyond the members and the initial state are org.axon.bench events of
// the owner). It returns the room ID.
func (r *run) buildBigRoom(ctx context.Context, base string, owner *csapi.Client, prefix string, members, state, workers int) (string, error) {
	roomID, err := owner.CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "public_chat", Name: "big " + prefix})
	if err != nil {
		return "", err
	}
	start := time.Now()
	var done atomic.Int64
	stopProgress := r.progress("members", &done, members-1)
	err = parallel(members-1, workers, func(i int) error {
		u := benchClient(base)
		if _, err := u.Register(ctx, fmt.Sprintf("%s%05d", prefix, i), "bench-password-1", "bench"); err != nil {
			return err
		}
		if err := u.Join(ctx, roomID); err != nil {
			return err
		}
		done.Add(1)
		return nil
	})
	stopProgress()
	if err != nil {
		return "", err
	}
	r.say("%d users registered and joined in %s", members-1, time.Since(start).Round(time.Second))
	have, err := stateCount(ctx, owner, roomID)
	if err != nil {
		return "", err
	}
	extra := state - have
	start = time.Now()
	done.Store(0)
	stopProgress = r.progress("state events", &done, max(extra, 0))
	err = parallel(max(extra, 0), workers, func(i int) error {
		if err := owner.Do(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/state/org.axon.bench/"+strconv.Itoa(i),
			map[string]any{"i": i, "pad": "some state of the room"}, nil); err != nil {
			return err
		}
		done.Add(1)
		return nil
	})
	stopProgress()
	if err != nil {
		return "", err
	}
	r.say("%d further state events in %s", max(extra, 0), time.Since(start).Round(time.Second))
	if have, err = stateCount(ctx, owner, roomID); err != nil {
		return "", err
	}
	if n, err := joinedCount(ctx, owner, roomID); err != nil || n != members {
		return "", fmt.Errorf("the room has %d joined members (%v), want %d", n, err, members)
	}
	r.say("room %s: %d members, %d state events", roomID, members, have)
	return roomID, nil
}

// progress prints done/total every 15 s until the returned stop is called.
func (r *run) progress(what string, done *atomic.Int64, total int) func() {
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r.say("  %d/%d %s", done.Load(), total, what)
			}
		}
	}()
	return func() { close(stop) }
}

// timedJoin joins joiner to roomID through via and waits until its server lists want
// joined members; it returns how long the /join request took and how long until then.
func (r *run) timedJoin(ctx context.Context, joiner *csapi.Client, roomID, via string, want int, wait time.Duration) (joinTook, complete time.Duration, err error) {
	start := time.Now()
	if err := joiner.Do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomID)+"?server_name="+url.QueryEscape(via), map[string]any{}, nil); err != nil {
		return 0, 0, fmt.Errorf("join: %w", err)
	}
	joinTook = time.Since(start)
	last := 0
	for {
		n, err := joinedCount(ctx, joiner, roomID)
		if err == nil && n >= want {
			return joinTook, time.Since(start), nil
		}
		last = n
		if time.Since(start) > wait {
			return joinTook, 0, fmt.Errorf("after %s the joining server lists %d joined members (%v), want %d", wait, last, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// joinBench (issue 12 item 8 b): A holds a room of -bench-members members and
// -bench-state state events; bob@B joins it (make_join/send_join, arrow 17 of B): the
// time of the /join, the time until B lists every member, and B's peak RSS.
func (r *run) joinBench() error {
	ctx := context.Background()
	r.configHook = lowBcrypt
	r.begin("build axon-monolith and axon-generate-config")
	bin, err := r.build()
	if err != nil {
		return err
	}
	for _, label := range []string{"A", "B"} {
		r.begin("configure and start server " + label)
		s, err := r.start(bin, label)
		if s != nil {
			r.servers = append(r.servers, s)
		}
		if err != nil {
			return err
		}
	}
	a, b := r.servers[0], r.servers[1]
	if *benchMembers < 2 || *benchState < *benchMembers {
		return errors.New("-bench-members must be at least 2 and -bench-state at least -bench-members")
	}
	r.begin(fmt.Sprintf("build the room on A: %d members, %d state events (bcrypt cost 4, %d concurrent requests)", *benchMembers, *benchState, *benchSetupWorkers))
	owner := benchClient(a.clientURL)
	if _, err := owner.Register(ctx, "owner", "owner-password-1", "bench"); err != nil {
		return err
	}
	setup := time.Now()
	roomID, err := r.buildBigRoom(ctx, a.clientURL, owner, "m", *benchMembers, *benchState, *benchSetupWorkers)
	if err != nil {
		return err
	}
	setupTook := time.Since(setup)
	aRSS, aHWM := procStatus(a.cmd.Process.Pid)

	r.begin("bob@B joins the room through A")
	bob := benchClient(b.clientURL)
	if _, err := bob.Register(ctx, "bob", "bob-password-1", "bench"); err != nil {
		return err
	}
	bRSS0, bHWM0 := procStatus(b.cmd.Process.Pid)
	joinTook, complete, err := r.timedJoin(ctx, bob, roomID, a.name, *benchMembers+1, 10*time.Minute)
	if err != nil {
		return err
	}
	bRSS1, bHWM1 := procStatus(b.cmd.Process.Pid)
	n, err := stateCount(ctx, bob, roomID)
	if err != nil {
		return err
	}
	r.say("RESULT join-large: room of %d members and %d state events on A (built in %s; A RSS %.0f MB, peak %.0f MB)",
		*benchMembers, *benchState, setupTook.Round(time.Second), aRSS, aHWM)
	r.say("RESULT join-large: B's /join answered in %s; B listed all %d members after %s; B serves %d state events",
		joinTook.Round(time.Millisecond), *benchMembers+1, complete.Round(time.Millisecond), n)
	r.say("RESULT join-large: B RSS before the join %.0f MB (peak so far %.0f MB), after %.0f MB, peak %.0f MB", bRSS0, bHWM0, bRSS1, bHWM1)
	if n < *benchState+1 {
		return fmt.Errorf("B serves %d state events, want at least %d", n, *benchState+1)
	}
	r.step = "done"
	return nil
}
