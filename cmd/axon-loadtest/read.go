package main

// Read mode (-mode read): a read-heavy load for the syncapi's public paths, which a
// homeserver serves from its sync view (in Axon the syncapi, fed by topics 1 and 2; in the
// polylith each sync instance behind client-api-proxy builds its own). It is the load of
// docs/benchmarks.md "Sync scale-out" (scripts/bench-sync-scaleout.sh).
//
//  1. Setup (skipped when -state names an existing file): register the users, create the
//     rooms and join them as send mode does; each user takes a /sync position; then K
//     messages (-seed) are sent to every room, in order within a room. Users, tokens,
//     positions and each room's last event ID are written to -state, so later runs (for
//     instance against more sync instances) read the same data without sending anything.
//  2. Ready: for every base URL in -ready-urls (e.g. each sync instance directly) and every
//     room, /messages must show the room's last seeded event before reading starts, so no
//     request is answered by a view that is still catching up.
//  3. Read: C readers (-readers) issue requests back to back for -duration, each walking the
//     request mix (-read-mix) from its own offset. Reader r acts as user r mod users. Kinds:
//     - sync_incremental: GET /sync?since=<the reader's latest next_batch>&timeout=0 — the
//       "anything new?" poll of a client that is up to date (the reader starts from its
//       user's pre-seed position, so its first one returns the seeded messages);
//     - sync_catchup: GET /sync?since=<the user's pre-seed position>&timeout=0 — a client
//       coming back after -seed messages per room were sent;
//     - sync_initial: GET /sync without since — a fresh login;
//     - messages: GET /rooms/{id}/messages?dir=b&limit=20 — scrollback in one of the
//       user's rooms, following the end token page after page and starting again from
//       the newest message when a room's history runs out.
//     The three /sync kinds use readFilter (timeline limit 10, members lazy-loaded, no
//     presence).
//  4. Report: requests/s in total and per kind, p50/p99/max latency per kind, errors per
//     kind, and for each -measure-pids process (and the load tool itself) the CPU seconds
//     it used during the read phase, its CPU milliseconds per request and its RSS; with
//     -measure-match the same summed over every process whose command line holds a text
//     (Postgres names the database in its backends' command lines); and the share of all
//     the machine's cores that was busy.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

// readKind is one kind of read request.
type readKind int

const (
	kindSyncIncremental readKind = iota
	kindSyncCatchup
	kindSyncInitial
	kindMessages
	numReadKinds
)

var readKindNames = [numReadKinds]string{"sync_incremental", "sync_catchup", "sync_initial", "messages"}

func (k readKind) String() string { return readKindNames[k] }

// defaultReadMix weighs the kinds the way a busy server's reads lean: mostly polls of
// up-to-date clients and scrollback, some returning clients and few fresh logins.
const defaultReadMix = "sync_incremental=4,messages=3,sync_catchup=2,sync_initial=1"

// readFilter is the inline filter of the read mode's /sync requests.
const readFilter = `{"presence":{"types":[]},"account_data":{"types":[]},"room":{"state":{"lazy_load_members":true},"timeline":{"limit":10},"ephemeral":{"types":[]}}}`

// messagesPage is the limit of a read mode /messages request.
const messagesPage = 20

// Read mode flags, registered with the send mode's in main.
var (
	modeFlag      = flag.String("mode", "send", `"send": senders and long-polling /sync clients (delivery); "read": read-heavy load on /sync and /messages (read.go)`)
	readSeed      = flag.Int("seed", 50, "read mode: messages sent to each room before reading")
	readReaders   = flag.Int("readers", 16, "read mode: concurrent readers")
	readMixFlag   = flag.String("read-mix", defaultReadMix, "read mode: request kinds and their weights, kind=weight,…")
	readState     = flag.String("state", "", "read mode: file holding users, rooms and seeded events; set up and seeded if missing, reused if present")
	readSeedOnly  = flag.Bool("seed-only", false, "read mode: set up, seed, write -state and exit without reading")
	readReadyURLs = flag.String("ready-urls", "", "read mode: base URLs (comma-separated) that must each show every room's last seeded event before reading (default: -hs)")
	readPIDs      = flag.String("measure-pids", "", "read mode: processes whose CPU and RSS to report, name=pid,… (Linux /proc)")
	readMatch     = flag.String("measure-match", "", "read mode: name=text: also report the summed CPU and RSS of every process whose command line holds text (e.g. a database's Postgres backends)")
)

// parseReadMix turns "kind=weight,…" into a schedule: a cycle of kinds in which each kind
// appears weight times, spread out by smooth weighted round robin so that a reader's
// consecutive requests alternate kinds instead of running in blocks.
func parseReadMix(s string) ([]readKind, error) {
	var weights [numReadKinds]int
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("read mix %q: want kind=weight", part)
		}
		k := readKind(-1)
		for i, n := range readKindNames {
			if n == strings.TrimSpace(name) {
				k = readKind(i)
			}
		}
		if k < 0 {
			return nil, fmt.Errorf("read mix: unknown kind %q (want one of %s)", name, strings.Join(readKindNames[:], ", "))
		}
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 || n > 100 {
			return nil, fmt.Errorf("read mix %q: weight must be 0–100", part)
		}
		weights[k] += n
		total += n
	}
	if total == 0 {
		return nil, errors.New("read mix: every weight is 0")
	}
	var current [numReadKinds]int
	out := make([]readKind, 0, total)
	for range total {
		best := readKind(0)
		for k := range numReadKinds {
			current[k] += weights[k]
			if current[k] > current[best] {
				best = k
			}
		}
		current[best] -= total
		out = append(out, best)
	}
	return out, nil
}

// parsePIDs turns "name=pid,…" into an ordered list.
func parsePIDs(s string) ([]namedPID, error) {
	var out []namedPID
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, p, ok := strings.Cut(part, "=")
		pid, err := strconv.Atoi(p)
		if !ok || name == "" || err != nil || pid <= 0 {
			return nil, fmt.Errorf("-measure-pids %q: want name=pid", part)
		}
		out = append(out, namedPID{name, pid})
	}
	return out, nil
}

type namedPID struct {
	name string
	pid  int
}

// readStateFile is what -state holds between runs.
type readStateFile struct {
	RunID     string          `json:"run_id"`
	Users     []readStateUser `json:"users"`
	Rooms     []string        `json:"rooms"`
	LastEvent []string        `json:"last_event"` // per room, the last seeded event
	Seed      int             `json:"seed"`
}

type readStateUser struct {
	ID    string `json:"user_id"`
	Token string `json:"access_token"`
	Since string `json:"since"` // a /sync position taken before seeding
	Rooms []int  `json:"rooms"` // indexes into Rooms
}

// kindStats counts one kind's requests.
type kindStats struct {
	lat    latencies
	errors atomic.Int64
}

// readReport is the read mode's result.
type readReport struct {
	Options        string           `json:"options"`
	SetupSeconds   float64          `json:"setup_seconds,omitempty"`
	ReadySeconds   float64          `json:"ready_seconds"`
	Seconds        float64          `json:"seconds"`
	Requests       int              `json:"requests"`
	Errors         int64            `json:"errors"`
	RequestsPerSec float64          `json:"requests_per_second"`
	Kinds          []readKindReport `json:"kinds"`
	Processes      []processReport  `json:"processes,omitempty"`
	// MachineBusyPercent is the share of all the machine's cores that was busy during the
	// read phase (/proc/stat), whoever used it: every process of the test, Postgres, Kafka
	// and anything else running.
	MachineBusyPercent float64 `json:"machine_busy_percent,omitempty"`
	FirstError         string  `json:"first_error,omitempty"`
}

type readKindReport struct {
	Kind           string  `json:"kind"`
	Requests       int     `json:"requests"`
	Errors         int64   `json:"errors"`
	RequestsPerSec float64 `json:"requests_per_second"`
	P50ms          float64 `json:"p50_ms"`
	P99ms          float64 `json:"p99_ms"`
	Maxms          float64 `json:"max_ms"`
}

type processReport struct {
	Name        string  `json:"name"`
	PID         int     `json:"pid"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	CPUPercent  float64 `json:"cpu_percent"` // of one core, over the read phase
	CPUmsPerReq float64 `json:"cpu_ms_per_request"`
	RSSKB       int64   `json:"rss_kb"`
}

// buildReadReport turns the counters into the report (elapsed: the read phase).
func buildReadReport(stats *[numReadKinds]kindStats, elapsed time.Duration) *readReport {
	rep := &readReport{Seconds: elapsed.Seconds()}
	for k := range numReadKinds {
		n, p50, p99, mx := stats[k].lat.summary()
		e := stats[k].errors.Load()
		if n == 0 && e == 0 {
			continue
		}
		rep.Requests += n
		rep.Errors += e
		kr := readKindReport{Kind: k.String(), Requests: n, Errors: e, P50ms: ms(p50), P99ms: ms(p99), Maxms: ms(mx)}
		if elapsed > 0 {
			kr.RequestsPerSec = float64(n) / elapsed.Seconds()
		}
		rep.Kinds = append(rep.Kinds, kr)
	}
	if elapsed > 0 {
		rep.RequestsPerSec = float64(rep.Requests) / elapsed.Seconds()
	}
	return rep
}

// readMain runs the read mode with the send mode's user and room options and returns the
// exit status.
func readMain(o options) int {
	mix, err := parseReadMix(*readMixFlag)
	if err == nil && (*readSeed < 1 || *readReaders < 1) {
		err = errors.New("read mode needs -seed ≥ 1 and -readers ≥ 1")
	}
	var pids []namedPID
	if err == nil {
		pids, err = parsePIDs(*readPIDs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "axon-loadtest:", err)
		return 2
	}
	rep, err := runRead(context.Background(), o, mix, pids)
	if err != nil {
		fmt.Fprintln(os.Stderr, "axon-loadtest:", explainRateLimit(err))
		return 1
	}
	if rep == nil { // -seed-only
		return 0
	}
	rep.print(o.jsonOut)
	if rep.Errors > 0 {
		return 3
	}
	return 0
}

func runRead(ctx context.Context, o options, mix []readKind, pids []namedPID) (*readReport, error) {
	tr := &http.Transport{MaxIdleConns: 0, MaxIdleConnsPerHost: *readReaders + o.setupPar + 16, IdleConnTimeout: 90 * time.Second}
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	t0 := time.Now()
	st, err := loadReadState(*readState)
	if err != nil {
		return nil, err
	}
	var setupSeconds float64
	if st == nil {
		if st, err = setupRead(ctx, o, hc); err != nil {
			return nil, err
		}
		setupSeconds = time.Since(t0).Seconds()
		if *readState != "" {
			b, _ := json.Marshal(st)
			if err := os.WriteFile(*readState, b, 0o600); err != nil {
				return nil, err
			}
		}
		fmt.Fprintf(os.Stderr, "axon-loadtest: set up %d users, %d rooms, %d messages per room in %.1f s\n",
			len(st.Users), len(st.Rooms), st.Seed, setupSeconds)
	}
	if *readSeedOnly {
		return nil, nil
	}

	// Ready: every view shows every room's last seeded event.
	t1 := time.Now()
	readyURLs := []string{o.hs}
	if *readReadyURLs != "" {
		readyURLs = strings.Split(*readReadyURLs, ",")
	}
	if err := waitSeeded(ctx, hc, st, readyURLs, 2*time.Minute); err != nil {
		return nil, err
	}
	readySeconds := time.Since(t1).Seconds()

	// Read.
	var stats [numReadKinds]kindStats
	var firstErr atomic.Value
	cpu0 := make([]float64, len(pids))
	for i, p := range pids {
		cpu0[i] = cpuSeconds(p.pid)
	}
	self := os.Getpid()
	selfCPU0 := cpuSeconds(self)
	busy0, total0 := machineTicks()
	matchName, matchText, _ := strings.Cut(*readMatch, "=")
	match0 := matchingCPU(matchText)
	start := time.Now()
	deadline := start.Add(o.duration)
	var wg sync.WaitGroup
	for r := range *readReaders {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			u := st.Users[r%len(st.Users)]
			rd := &reader{c: &csapi.Client{BaseURL: o.hs, HTTP: hc, AccessToken: u.Token}, u: u, rooms: st.Rooms, since: u.Since, from: map[int]string{}}
			for i := r; time.Now().Before(deadline); i++ {
				k := mix[i%len(mix)]
				t := time.Now()
				if err := rd.do(ctx, k, i); err != nil {
					stats[k].errors.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %v", k, err))
					continue
				}
				stats[k].lat.add(time.Since(t))
			}
		}(r)
	}
	wg.Wait()
	elapsed := time.Since(start)
	busy1, total1 := machineTicks()
	rep := buildReadReport(&stats, elapsed)
	if total1 > total0 {
		rep.MachineBusyPercent = 100 * float64(busy1-busy0) / float64(total1-total0)
	}
	rep.Options = fmt.Sprintf("mode=read users=%d rooms=%d seed=%d readers=%d duration=%s mix=%s",
		len(st.Users), len(st.Rooms), st.Seed, *readReaders, o.duration, *readMixFlag)
	rep.SetupSeconds, rep.ReadySeconds = setupSeconds, readySeconds
	if e, ok := firstErr.Load().(string); ok {
		rep.FirstError = e
	}
	measure := func(name string, pid int, c0 float64) {
		pr := processReport{Name: name, PID: pid, CPUSeconds: cpuSeconds(pid) - c0, RSSKB: rssKB(pid)}
		pr.CPUPercent = 100 * pr.CPUSeconds / elapsed.Seconds()
		if rep.Requests > 0 {
			pr.CPUmsPerReq = pr.CPUSeconds * 1000 / float64(rep.Requests)
		}
		rep.Processes = append(rep.Processes, pr)
	}
	for i, p := range pids {
		measure(p.name, p.pid, cpu0[i])
	}
	measure("axon-loadtest", self, selfCPU0)
	if matchText != "" {
		pr := processReport{Name: matchName}
		for pid, c := range matchingCPU(matchText) {
			pr.CPUSeconds += c - match0[pid] // 0 for a process that started during the phase
			pr.RSSKB += rssKB(pid)
		}
		pr.CPUPercent = 100 * pr.CPUSeconds / elapsed.Seconds()
		if rep.Requests > 0 {
			pr.CPUmsPerReq = pr.CPUSeconds * 1000 / float64(rep.Requests)
		}
		rep.Processes = append(rep.Processes, pr)
	}
	return rep, nil
}

// reader is one read-phase client: its user, its latest /sync position and, per room, where
// its scrollback stands.
type reader struct {
	c     *csapi.Client
	u     readStateUser
	rooms []string
	since string
	from  map[int]string // room index → /messages from token ("" = newest)
}

type readSyncResp struct {
	NextBatch string `json:"next_batch"`
}

// do issues one request of kind k; i picks the room for /messages.
func (rd *reader) do(ctx context.Context, k readKind, i int) error {
	switch k {
	case kindSyncIncremental, kindSyncCatchup, kindSyncInitial:
		req := csapi.SyncRequest{Filter: readFilter} // timeout=0
		switch k {
		case kindSyncIncremental:
			req.Since = rd.since
		case kindSyncCatchup:
			req.Since = rd.u.Since
		}
		var res readSyncResp
		if err := rd.c.SyncInto(ctx, req, &res); err != nil {
			return err
		}
		if res.NextBatch == "" {
			return errors.New("no next_batch")
		}
		rd.since = res.NextBatch
		return nil
	case kindMessages:
		room := rd.u.Rooms[i%len(rd.u.Rooms)]
		res, err := csapi.Messages[struct{}](ctx, rd.c, rd.rooms[room], csapi.MessagesRequest{Dir: "b", From: rd.from[room], Limit: messagesPage})
		if err != nil {
			return err
		}
		if len(res.Chunk) == 0 || res.End == "" {
			rd.from[room] = "" // history exhausted: start again from the newest
		} else {
			rd.from[room] = res.End
		}
		return nil
	}
	return fmt.Errorf("unknown read kind %d", k)
}

// loadReadState reads -state; nil without error if there is no such file (or no flag).
func loadReadState(path string) (*readStateFile, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st readStateFile
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(st.Users) == 0 || len(st.Rooms) == 0 || len(st.LastEvent) != len(st.Rooms) {
		return nil, fmt.Errorf("%s: no users or rooms", path)
	}
	for _, u := range st.Users {
		if len(u.Rooms) == 0 {
			return nil, fmt.Errorf("%s: user %s is in no room", path, u.ID)
		}
	}
	return &st, nil
}

// setupRead registers the users, creates and joins the rooms, takes each user's /sync
// position and then sends -seed messages to every room (in order within a room).
func setupRead(ctx context.Context, o options, hc *http.Client) (*readStateFile, error) {
	runID := strconv.FormatInt(time.Now().UnixNano()%1e10, 36) + strconv.Itoa(rand.IntN(1000))
	st := &readStateFile{RunID: runID, Seed: *readSeed, Users: make([]readStateUser, o.users),
		LastEvent: make([]string, o.rooms)}
	clients, err := registerUsers(ctx, o, hc, "lr", runID)
	if err != nil {
		return nil, err
	}
	for i, c := range clients {
		st.Users[i] = readStateUser{ID: c.UserID, Token: c.AccessToken}
	}
	roomIDs, members, err := setupRooms(ctx, o, clients)
	if err != nil {
		return nil, err
	}
	st.Rooms = roomIDs
	for r := range o.rooms {
		for _, u := range members[r] {
			if !containsInt(st.Users[u].Rooms, r) {
				st.Users[u].Rooms = append(st.Users[u].Rooms, r)
			}
		}
	}
	for i, u := range st.Users {
		if len(u.Rooms) == 0 {
			return nil, fmt.Errorf("user %d is in no room: need rooms×members ≥ users", i)
		}
	}
	if err := parallel(o.setupPar, o.users, func(i int) error {
		var res readSyncResp
		err := clients[i].SyncInto(ctx, csapi.SyncRequest{Filter: syncFilter}, &res)
		st.Users[i].Since = res.NextBatch
		return err
	}); err != nil {
		return nil, fmt.Errorf("sync before seeding: %w", err)
	}
	if err := parallel(o.setupPar, o.rooms, func(r int) error {
		c := clients[members[r][0]]
		for m := range *readSeed {
			txn := fmt.Sprintf("seed.%s.%d.%d", runID, r, m)
			id, err := c.Send(ctx, st.Rooms[r], txn, map[string]any{"msgtype": "m.text", "body": fmt.Sprintf("seed message %d of room %d", m, r)})
			if err != nil {
				return fmt.Errorf("seeding room %d: %w", r, err)
			}
			st.LastEvent[r] = id
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return st, nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// waitSeeded waits until /messages at every base URL shows every room's last seeded event
// as the room's newest.
func waitSeeded(ctx context.Context, hc *http.Client, st *readStateFile, bases []string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	// A member's token for each room.
	token := make([]string, len(st.Rooms))
	for _, u := range st.Users {
		for _, r := range u.Rooms {
			token[r] = u.Token
		}
	}
	for _, base := range bases {
		base = strings.TrimRight(strings.TrimSpace(base), "/")
		for r, room := range st.Rooms {
			c := &csapi.Client{BaseURL: base, HTTP: hc, AccessToken: token[r]}
			for {
				res, err := csapi.Messages[struct{}](ctx, c, room, csapi.MessagesRequest{Dir: "b", Limit: 1})
				if err == nil && len(res.Chunk) > 0 && res.Chunk[0].EventID == st.LastEvent[r] {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%s: room %s does not show its last seeded event %s after %s (last error: %v)",
						base, room, st.LastEvent[r], limit, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	return nil
}

func (r *readReport) print(asJSON bool) {
	if asJSON {
		printJSON(r)
		return
	}
	fmt.Printf("axon-loadtest: %s\n", r.Options)
	if r.SetupSeconds > 0 {
		fmt.Printf("  setup and seeding: %.1f s\n", r.SetupSeconds)
	}
	fmt.Printf("  ready after %.1f s; read for %.1f s\n", r.ReadySeconds, r.Seconds)
	fmt.Printf("  requests: %d ok, %d errors, %.0f requests/s\n", r.Requests, r.Errors, r.RequestsPerSec)
	kinds := append([]readKindReport(nil), r.Kinds...)
	sort.Slice(kinds, func(i, j int) bool { return kinds[i].Kind < kinds[j].Kind })
	for _, k := range kinds {
		fmt.Printf("  %-17s %7d ok %5d errors %7.0f/s  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n",
			k.Kind, k.Requests, k.Errors, k.RequestsPerSec, k.P50ms, k.P99ms, k.Maxms)
	}
	for _, p := range r.Processes {
		fmt.Printf("  process %-16s pid %-7d CPU %6.2f s (%5.1f%% of a core)  %.3f ms per request  RSS %.1f MB\n",
			p.Name, p.PID, p.CPUSeconds, p.CPUPercent, p.CPUmsPerReq, float64(p.RSSKB)/1024)
	}
	if r.MachineBusyPercent > 0 {
		fmt.Printf("  machine: %.0f%% of all cores busy during the read phase\n", r.MachineBusyPercent)
	}
	if r.FirstError != "" {
		fmt.Printf("  first error: %s\n", r.FirstError)
	}
}

// matchingCPU returns the CPU seconds of every process whose command line holds text (none
// for ""). A process that exits during the read phase drops out, so its CPU is not counted.
func matchingCPU(text string) map[int]float64 {
	out := map[int]float64{}
	if text == "" {
		return out
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), text) {
			continue
		}
		out[pid] = cpuSeconds(pid)
	}
	return out
}

// machineTicks reads the busy and total CPU ticks of all cores from /proc/stat (Linux only;
// 0, 0 elsewhere).
func machineTicks() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	return parseProcStat(string(b))
}

// parseProcStat reads the aggregate "cpu" line of /proc/stat: user nice system idle iowait
// irq softirq steal (guest time is already inside user and nice). Idle and iowait are not
// busy.
func parseProcStat(stat string) (busy, total int64) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}
