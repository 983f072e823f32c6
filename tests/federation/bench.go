package main

// Federation benchmarks (issue 12, item 8; figures in docs/benchmarks.md, "Federation").
// They are modes of this command, not tests: they print figures and fail only when
// something is not delivered or not joined at all.
//
//	-bench-fanout        three monoliths in one room; senders on A, long-polling readers on B
//	                     and C: delivery latency and events per transaction (bench_fanout.go)
//	-bench-join          a room of -bench-members members and -bench-state state events on A,
//	                     joined from B: time and peak RSS of B (this file)
//	-bench-keep DIR      with -bench-join: keep A's built room in DIR and reuse it. If DIR
//	                     holds a room of the same sizes (DIR/room.json, DIR/A: A's config,
//	                     signing key and databases, saved while A was stopped), A starts on a
//	                     copy of it under its old name 127.0.0.1:PORT (PORT must be free);
//	                     else the room is built through the client API as usual, then A is
//	                     stopped, saved to DIR and started again. The room stays a real room
//	                     (events signed by A, authorised when they were sent); only the ~10
//	                     minutes of building it are saved.
//	-bench-pprof         with -bench-join or -bench-fanout: A and B serve net/http/pprof, and
//	                     CPU profiles of A and B during the join or the sending window are
//	                     written to the run's directory (A.cpu.pprof, B.cpu.pprof; kept
//	                     with -keep)
//	-bench-synapse-join  the same join, smaller, from Synapse into an Axon room and from
//	                     Axon into a Synapse room (bench_synapse.go)

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
	"github.com/axon-matrix/axon/internal/setup"
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
	benchKeep          = flag.String("bench-keep", "", "-bench-join: directory where A's built room is kept and reused across runs (see bench.go)")
	benchPprof         = flag.Bool("bench-pprof", false, "-bench-join, -bench-fanout: CPU profiles of A and B during the join or the sending window, written to the run's directory")
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

// keptRoom describes the room saved by -bench-keep DIR: DIR/room.json beside DIR/A, a copy
// of server A's directory taken while A was stopped.
type keptRoom struct {
	Members int    `json:"members"`
	State   int    `json:"state"`
	Name    string `json:"server_name"` // 127.0.0.1:PORT: A serves federation on PORT again
	Dir     string `json:"dir"`         // A's directory when it was saved (the paths in axon.yaml)
	RoomID  string `json:"room_id"`
	Built   string `json:"built_in"`
}

// loadKept returns the room kept in dir if it has the sizes asked for, else nil.
func loadKept(dir string, members, state int) *keptRoom {
	raw, err := os.ReadFile(filepath.Join(dir, "room.json"))
	if err != nil {
		return nil
	}
	var k keptRoom
	if json.Unmarshal(raw, &k) != nil || k.Members != members || k.State != state || k.RoomID == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "A", "axon.yaml")); err != nil {
		return nil
	}
	return &k
}

// copyTree copies the regular files and directories under src to dst (created).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// stopServer stops s with SIGTERM and waits (so that its databases are complete on disk).
func stopServer(s *server) error {
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		return err
	}
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		return fmt.Errorf("server %s did not stop within 60 s", s.label)
	}
	return s.logFile.Close()
}

// relaunch starts the monolith of s again from s.dir (config, data and name as they are),
// serving federation on s.tlsAddr and clients and metrics on new ports; with pprof also
// net/http/pprof on a further port, returned as its base URL.
func (r *run) relaunch(bin string, s *server, pprof bool) (pprofURL string, err error) {
	ports := make([]int, 3)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return "", err
		}
	}
	s.clientURL = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	s.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[1])
	s.exited = make(chan struct{})
	cert, key := filepath.Join(s.dir, "tls.crt"), filepath.Join(s.dir, "tls.key")
	if err := setup.WriteSelfSignedCert(cert, key, 24*time.Hour, "127.0.0.1"); err != nil {
		return "", err
	}
	if s.logFile, err = os.OpenFile(filepath.Join(s.dir, "axon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return "", err
	}
	args := []string{"-config", filepath.Join(s.dir, "axon.yaml"), "-http-bind", fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"-metrics-bind", fmt.Sprintf("127.0.0.1:%d", ports[1]), "-https-bind", s.tlsAddr, "-tls-cert", cert, "-tls-key", key}
	if pprof {
		pprofURL = fmt.Sprintf("http://127.0.0.1:%d", ports[2])
		args = append(args, "-pprof-bind", fmt.Sprintf("127.0.0.1:%d", ports[2]))
	}
	s.cmd = exec.Command(filepath.Join(bin, "axon-monolith"), args...)
	s.cmd.Stdout, s.cmd.Stderr = s.logFile, s.logFile
	if err := s.cmd.Start(); err != nil {
		return "", err
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	r.say("server %s started again: %s (federation over TLS on %s), clients on %s", s.label, s.name, s.tlsAddr, s.clientURL)
	return pprofURL, r.waitUp(s)
}

// startKept starts server A on a copy of the kept room k in keepDir, under its old name.
func (r *run) startKept(bin, keepDir string, k *keptRoom) (*server, error) {
	s := &server{label: "A", name: k.Name, tlsAddr: k.Name, dir: filepath.Join(r.work, "A")}
	l, err := net.Listen("tcp", k.Name)
	if err != nil {
		return nil, fmt.Errorf("the kept room's server name %s needs that port free: %w", k.Name, err)
	}
	l.Close()
	if err := copyTree(filepath.Join(keepDir, "A"), s.dir); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(s.dir, "axon.yaml")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	// Every path of the generated config is under A's data directory.
	cfg := strings.ReplaceAll(string(raw), `"`+k.Dir+"/data", `"`+s.dir+"/data")
	if r.configHook != nil {
		cfg = r.configHook(cfg) // this run's -bench-sqlite-synchronous, say
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	if _, err := r.relaunch(bin, s, false); err != nil {
		return s, err
	}
	return s, nil
}

// saveKept stops A, copies its directory to keepDir/A with room.json, and starts it again.
func (r *run) saveKept(bin, keepDir string, a *server, roomID string, built time.Duration) error {
	if err := stopServer(a); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(keepDir, "A")); err != nil {
		return err
	}
	os.Remove(filepath.Join(keepDir, "room.json"))
	if err := copyTree(a.dir, filepath.Join(keepDir, "A")); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(keptRoom{Members: *benchMembers, State: *benchState, Name: a.name, Dir: a.dir,
		RoomID: roomID, Built: built.Round(time.Second).String()}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(keepDir, "room.json"), raw, 0o600); err != nil {
		return err
	}
	r.say("room saved in %s", keepDir)
	_, err = r.relaunch(bin, a, false)
	return err
}

// cpuProfile fetches a CPU profile of seconds from the pprof base URL into path, in the
// background; the returned wait blocks until it is written.
func cpuProfile(base, path string, seconds int) (wait func() error) {
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, seconds))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return func() error { return <-done }
}

// joinBench (issue 12 item 8 b): A holds a room of -bench-members members and
// -bench-state state events (built, or a copy of the one kept by -bench-keep); bob@B joins
// it (make_join/send_join, arrow 17 of B): the time of the /join, the time until B lists
// every member, A's send_join time (its log) and B's peak RSS.
func (r *run) joinBench() error {
	ctx := context.Background()
	r.configHook = lowBcrypt
	if *benchMembers < 2 || *benchState < *benchMembers {
		return errors.New("-bench-members must be at least 2 and -bench-state at least -bench-members")
	}
	r.begin("build axon-monolith and axon-generate-config")
	bin, err := r.build()
	if err != nil {
		return err
	}
	var kept *keptRoom
	if *benchKeep != "" {
		if err := os.MkdirAll(*benchKeep, 0o700); err != nil {
			return err
		}
		kept = loadKept(*benchKeep, *benchMembers, *benchState)
	}
	var a *server
	if kept != nil {
		r.begin(fmt.Sprintf("start server A on a copy of the room kept in %s (%s, built in %s)", *benchKeep, kept.RoomID, kept.Built))
		a, err = r.startKept(bin, *benchKeep, kept)
	} else {
		r.begin("configure and start server A")
		a, err = r.start(bin, "A")
	}
	if a != nil {
		r.servers = append(r.servers, a)
	}
	if err != nil {
		return err
	}
	r.begin("configure and start server B")
	b, err := r.start(bin, "B")
	if b != nil {
		r.servers = append(r.servers, b)
	}
	if err != nil {
		return err
	}
	var roomID, setupTook string
	if kept != nil {
		roomID, setupTook = kept.RoomID, kept.Built+" (kept)"
	} else {
		r.begin(fmt.Sprintf("build the room on A: %d members, %d state events (bcrypt cost 4, %d concurrent requests)", *benchMembers, *benchState, *benchSetupWorkers))
		owner := benchClient(a.clientURL)
		if _, err := owner.Register(ctx, "owner", "owner-password-1", "bench"); err != nil {
			return err
		}
		setup := time.Now()
		if roomID, err = r.buildBigRoom(ctx, a.clientURL, owner, "m", *benchMembers, *benchState, *benchSetupWorkers); err != nil {
			return err
		}
		took := time.Since(setup)
		setupTook = took.Round(time.Second).String()
		if *benchKeep != "" {
			r.begin("save A's room in " + *benchKeep)
			if err := r.saveKept(bin, *benchKeep, a, roomID, took); err != nil {
				return err
			}
		}
	}
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
	aRSS, aHWM := procStatus(a.cmd.Process.Pid)

	r.begin("bob@B joins the room through A")
	bob := benchClient(b.clientURL)
	if _, err := bob.Register(ctx, "bob", "bob-password-1", "bench"); err != nil {
		return err
	}
	bRSS0, bHWM0 := procStatus(b.cmd.Process.Pid)
	var waits []func() error
	if *benchPprof {
		secs := max(10, *benchMembers/500)
		waits = append(waits, cpuProfile(aPprof, filepath.Join(r.work, "A.cpu.pprof"), secs), cpuProfile(bPprof, filepath.Join(r.work, "B.cpu.pprof"), secs))
		time.Sleep(200 * time.Millisecond)
	}
	joinTook, complete, err := r.timedJoin(ctx, bob, roomID, a.name, *benchMembers+1, 10*time.Minute)
	if err != nil {
		return err
	}
	bRSS1, bHWM1 := procStatus(b.cmd.Process.Pid)
	for _, w := range waits {
		if err := w(); err != nil {
			return fmt.Errorf("CPU profile: %w", err)
		}
	}
	if *benchPprof {
		r.say("CPU profiles: %s, %s (go tool pprof -top FILE)", filepath.Join(r.work, "A.cpu.pprof"), filepath.Join(r.work, "B.cpu.pprof"))
	}
	n, err := stateCount(ctx, bob, roomID)
	if err != nil {
		return err
	}
	r.say("RESULT join-large: room of %d members and %d state events on A (built in %s; A RSS %.0f MB, peak %.0f MB)",
		*benchMembers, *benchState, setupTook, aRSS, aHWM)
	r.say("RESULT join-large: B's /join answered in %s; B listed all %d members after %s; B serves %d state events",
		joinTook.Round(time.Millisecond), *benchMembers+1, complete.Round(time.Millisecond), n)
	r.say("RESULT join-large: B RSS before the join %.0f MB (peak so far %.0f MB), after %.0f MB, peak %.0f MB", bRSS0, bHWM0, bRSS1, bHWM1)
	if d, ok := sendJoinTime(a); ok {
		r.say("RESULT join-large: A answered send_join in %s (its log)", d)
	}
	if n < *benchState+1 {
		return fmt.Errorf("B serves %d state events, want at least %d", n, *benchState+1)
	}
	r.step = "done"
	return nil
}

// sendJoinDuration finds A's duration_ms and bytes of its last send_join in its access log.
var sendJoinDuration = regexp.MustCompile(`duration_ms"?[=:]\s*([0-9.]+)`)
var sendJoinBytes = regexp.MustCompile(`bytes"?[=:]\s*([0-9]+)`)

// sendJoinTime is how long A took to answer its last send_join, and its size, as its log says.
func sendJoinTime(a *server) (string, bool) {
	raw, err := os.ReadFile(filepath.Join(a.dir, "axon.log"))
	if err != nil {
		return "", false
	}
	lines := strings.Split(string(raw), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.Contains(lines[i], "/send_join/") {
			continue
		}
		d, b := sendJoinDuration.FindStringSubmatch(lines[i]), sendJoinBytes.FindStringSubmatch(lines[i])
		if d == nil || b == nil {
			continue
		}
		ms, _ := strconv.ParseFloat(d[1], 64)
		n, _ := strconv.ParseFloat(b[1], 64)
		return fmt.Sprintf("%s (%.1f MB)", (time.Duration(ms * float64(time.Millisecond))).Round(time.Millisecond), n/1e6), true
	}
	return "", false
}
