// Command drill is the load side of the polylith's kill -9 drill (tests/e2e/polylith.sh,
// issue #4 point 6). Through the public client-server API only, at client-api-proxy, it
// registers users, puts them in rooms, and then runs, until the script says stop:
//
//   - senders at a bounded total rate, each retrying a failed send with the SAME
//     transaction ID until the server answers 200 (the spec's idempotency: the retry must
//     return the first event ID and create nothing);
//   - one long-polling /sync loop per user that records every m.room.message it receives.
//
// Meanwhile the script kills -9 and restarts the roomserver, a sync instance and the Kafka
// broker: arrow 4 (clientapi → roomserver) fails and comes back, a consumer of topic 2
// (roomserver → syncapi) dies with uncommitted offsets, and topic 2 itself goes away. When
// the stop file appears the senders finish their in-flight messages, every message that
// needed a retry (and a sample of the rest) is sent again with its transaction ID, delivery
// drains (bounded by -drain), and Check compares: every message a sender got a 200 for
// reached every member's stream exactly once, in each sender's order, and nothing else did.
// The exit status is 0 only if so.
//
//	drill -hs http://127.0.0.1:8008 -ready /tmp/x/ready -stop /tmp/x/stop
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

type options struct {
	hs          string
	users       int
	rooms       int
	roomsPer    int
	rate        float64
	readyFile   string
	stopFile    string
	maxSend     time.Duration
	drain       time.Duration
	retryFor    time.Duration
	idemSample  int
	jsonOut     string
	concurrency int
}

func main() {
	var o options
	flag.StringVar(&o.hs, "hs", "http://127.0.0.1:8008", "client-api-proxy's base URL")
	flag.IntVar(&o.users, "users", 20, "users to register; each sends and each syncs")
	flag.IntVar(&o.rooms, "rooms", 4, "rooms")
	flag.IntVar(&o.roomsPer, "rooms-per-user", 2, "rooms each user joins")
	flag.Float64Var(&o.rate, "rate", 60, "sends per second, all senders together")
	flag.StringVar(&o.readyFile, "ready", "", "file to create once the load runs")
	flag.StringVar(&o.stopFile, "stop", "", "stop sending when this file appears")
	flag.DurationVar(&o.maxSend, "max-send", 5*time.Minute, "stop sending after this long even without the stop file")
	flag.DurationVar(&o.drain, "drain", 60*time.Second, "how long to wait for every delivery once sending stopped")
	flag.DurationVar(&o.retryFor, "retry-for", 90*time.Second, "give a message up after retrying this long past the stop")
	flag.IntVar(&o.idemSample, "idem-sample", 20, "also re-send every Nth message that needed no retry (0: none)")
	flag.StringVar(&o.jsonOut, "json", "", "also write the report as JSON to this file")
	flag.IntVar(&o.concurrency, "setup-concurrency", 8, "parallel requests while registering and joining")
	flag.Parse()
	if o.users < 2 || o.rooms < 1 || o.roomsPer < 1 || o.roomsPer > o.rooms || o.rate <= 0 {
		fmt.Fprintln(os.Stderr, "drill: want -users ≥ 2, 1 ≤ -rooms-per-user ≤ -rooms, -rate > 0")
		os.Exit(2)
	}
	r, err := run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "drill:", err)
		os.Exit(1)
	}
	fmt.Println(r)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		_ = os.WriteFile(o.jsonOut, b, 0o644)
	}
	if !r.OK() {
		fmt.Println("drill: FAILED")
		os.Exit(1)
	}
	fmt.Println("drill: no message lost, duplicated or reordered")
}

// user is one drill account: its client, its rooms and what its /sync stream carried.
type user struct {
	id    string
	local string
	c     *csapi.Client
	rooms []string

	mu      sync.Mutex
	stream  []Delivery
	limited int
}

func (u *user) record(resp *syncResponse, at time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for roomID, jr := range resp.Rooms.Join {
		if jr.Timeline.Limited {
			u.limited++
		}
		for _, ev := range jr.Timeline.Events {
			if ev.Type != "m.room.message" {
				continue
			}
			u.stream = append(u.stream, Delivery{EventID: ev.EventID, Room: roomID, Sender: ev.Sender,
				DrillID: ev.Content.DrillID, Seq: ev.Content.Seq, At: at})
		}
	}
}

func run(ctx context.Context, o options) (Report, error) {
	start := time.Now()
	logf := func(format string, a ...any) {
		fmt.Printf("drill %6.1fs: %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}
	// One transport for all: a long-poll per user plus the senders need many connections.
	tr := &http.Transport{MaxIdleConnsPerHost: 2*o.users + 8, IdleConnTimeout: 30 * time.Second}
	newClient := func() *csapi.Client {
		return &csapi.Client{BaseURL: o.hs, HTTP: &http.Client{Transport: tr, Timeout: 45 * time.Second}}
	}
	runID := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffffff)

	// Setup, before any process is killed: it need not survive failures.
	users := make([]*user, o.users)
	err := parallel(o.concurrency, o.users, func(i int) error {
		u := &user{local: fmt.Sprintf("drill%s_%02d", runID, i), c: newClient()}
		if _, err := u.c.Register(ctx, u.local, "drill password "+runID, "drill"); err != nil {
			return fmt.Errorf("registering %s: %w", u.local, err)
		}
		id, err := u.c.WhoAmI(ctx)
		if err != nil {
			return err
		}
		u.id = id
		users[i] = u
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	// User i is in rooms i, i+1, … (mod rooms); the first member of each room creates it.
	roomIDs := make([]string, o.rooms)
	members := map[string][]string{}
	err = parallel(o.concurrency, o.rooms, func(r int) error {
		id, err := users[r%o.users].c.CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "public_chat", Name: fmt.Sprintf("drill %s room %d", runID, r)})
		roomIDs[r] = id
		return err
	})
	if err != nil {
		return Report{}, fmt.Errorf("creating rooms: %w", err)
	}
	var memMu sync.Mutex
	err = parallel(o.concurrency, o.users, func(i int) error {
		u := users[i]
		for k := 0; k < o.roomsPer; k++ {
			r := (i + k) % o.rooms
			if r%o.users != i { // the creator is in already
				if err := u.c.Join(ctx, roomIDs[r]); err != nil {
					return fmt.Errorf("%s joining room %d: %w", u.id, r, err)
				}
			}
			u.rooms = append(u.rooms, roomIDs[r])
			memMu.Lock()
			members[roomIDs[r]] = append(members[roomIDs[r]], u.id)
			memMu.Unlock()
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	// Creators not in their own room's rotation still receive its messages.
	for r, id := range roomIDs {
		c := users[r%o.users]
		if !contains(members[id], c.id) {
			members[id] = append(members[id], c.id)
		}
	}
	logf("%d users in %d rooms (%d members each at most)", o.users, o.rooms, maxLen(members))

	// The syncers: an initial sync each, then long-polls until the end of the drain.
	syncCtx, stopSync := context.WithCancel(ctx)
	defer stopSync()
	var syncErrs atomic.Int64
	var syncWG sync.WaitGroup
	sinces := make([]string, o.users)
	err = parallel(o.concurrency, o.users, func(i int) error {
		res, err := syncOnce(ctx, users[i].c, "", 0)
		if err != nil {
			return fmt.Errorf("initial sync of %s: %w", users[i].id, err)
		}
		sinces[i] = res.NextBatch
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	for i, u := range users {
		syncWG.Add(1)
		go func() {
			defer syncWG.Done()
			since := sinces[i]
			for syncCtx.Err() == nil {
				res, err := syncOnce(syncCtx, u.c, since, 5*time.Second)
				if err != nil {
					if syncCtx.Err() != nil {
						return
					}
					syncErrs.Add(1)
					sleepCtx(syncCtx, 250*time.Millisecond) // the same since again
					continue
				}
				u.record(res, time.Now())
				since = res.NextBatch
			}
		}()
	}

	// The senders: one per user, each taking its turn from a shared ticket at the rate.
	sendCtx, stopSend := context.WithCancel(ctx)
	defer stopSend()
	tickets := make(chan struct{}, 1)
	go func() {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
		defer t.Stop()
		for {
			select {
			case <-sendCtx.Done():
				close(tickets)
				return
			case <-t.C:
				select {
				case tickets <- struct{}{}:
				default: // every sender is busy retrying: the rate stays bounded
				}
			}
		}
	}()
	// retryCtx ends the retries of in-flight messages o.retryFor after the stop.
	retryCtx, giveUp := context.WithCancel(ctx)
	defer giveUp()
	var (
		sendMu      sync.Mutex
		sends       []Send
		unconfirmed int
		sendErrs    atomic.Int64
		sendWG      sync.WaitGroup
	)
	for _, u := range users {
		sendWG.Add(1)
		go func() {
			defer sendWG.Done()
			for seq := 0; ; seq++ {
				if _, ok := <-tickets; !ok {
					return
				}
				room := u.rooms[seq%len(u.rooms)]
				s := Send{DrillID: fmt.Sprintf("%s/%d", u.local, seq), TxnID: fmt.Sprintf("drill.%d", seq), Room: room, Sender: u.id, Seq: seq}
				content := map[string]any{"msgtype": "m.text", "body": "drill " + s.DrillID, "drill_id": s.DrillID, "drill_seq": seq}
				for {
					s.Attempts++
					id, err := u.c.Send(retryCtx, room, s.TxnID, content)
					if err == nil {
						s.EventID, s.Confirmed = id, time.Now()
						break
					}
					sendErrs.Add(1)
					if !retryable(err) || retryCtx.Err() != nil {
						if retryCtx.Err() == nil {
							logf("%s: %s: not retryable: %v", u.id, s.DrillID, err)
						}
						break
					}
					sleepCtx(retryCtx, min(2*time.Second, time.Duration(s.Attempts)*100*time.Millisecond))
				}
				sendMu.Lock()
				if s.EventID != "" {
					sends = append(sends, s)
				} else {
					unconfirmed++
				}
				sendMu.Unlock()
			}
		}()
	}
	if o.readyFile != "" {
		if err := os.WriteFile(o.readyFile, []byte("sending\n"), 0o644); err != nil {
			return Report{}, err
		}
	}
	logf("sending at %.0f/s until %s appears (at most %s)", o.rate, o.stopFile, o.maxSend)

	// Progress every 5 s, and the stop.
	deadline := time.Now().Add(o.maxSend)
	count := func() (int, int) { sendMu.Lock(); defer sendMu.Unlock(); return len(sends), unconfirmed }
	lastLog := time.Now()
	for time.Now().Before(deadline) {
		if o.stopFile != "" {
			if _, err := os.Stat(o.stopFile); err == nil {
				break
			}
		}
		if time.Since(lastLog) >= 5*time.Second {
			n, _ := count()
			logf("confirmed %d sends, %d failed requests, %d failed syncs", n, sendErrs.Load(), syncErrs.Load())
			lastLog = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopSend()
	logf("stop: finishing in-flight messages (retrying at most %s)", o.retryFor)
	t := time.AfterFunc(o.retryFor, giveUp)
	sendWG.Wait()
	t.Stop()
	n, un := count()
	logf("confirmed %d sends (%d given up), %d failed requests", n, un, sendErrs.Load())

	// Idempotency: the same transaction ID again must answer the same event ID and create
	// no event (an extra one would show up in the streams below). Every message that
	// needed a retry, and every idemSample-th of the others.
	byUser := map[string]*user{}
	for _, u := range users {
		byUser[u.id] = u
	}
	var again []Send
	for i, s := range sends {
		if s.Attempts > 1 || (o.idemSample > 0 && i%o.idemSample == 0) {
			again = append(again, s)
		}
	}
	var idemBroken atomic.Int64
	var idemMu sync.Mutex
	var idemExamples []string
	err = parallel(o.concurrency, len(again), func(i int) error {
		s := again[i]
		content := map[string]any{"msgtype": "m.text", "body": "drill " + s.DrillID, "drill_id": s.DrillID, "drill_seq": s.Seq}
		id, err := byUser[s.Sender].c.Send(ctx, s.Room, s.TxnID, content)
		if err != nil {
			return fmt.Errorf("re-sending %s: %w", s.DrillID, err)
		}
		if id != s.EventID {
			idemBroken.Add(1)
			idemMu.Lock()
			idemExamples = append(idemExamples, fmt.Sprintf("txn %s of %s answered %s, first %s", s.TxnID, s.Sender, id, s.EventID))
			idemMu.Unlock()
		}
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	logf("re-sent %d transactions: %d answered another event ID", len(again), idemBroken.Load())

	// Drain: until every member has every message, or the bound.
	streams := func() map[string][]Delivery {
		out := map[string][]Delivery{}
		for _, u := range users {
			u.mu.Lock()
			out[u.id] = append([]Delivery(nil), u.stream...)
			u.mu.Unlock()
		}
		return out
	}
	drainEnd := time.Now().Add(o.drain)
	for {
		rep := Check(sends, un, members, streams())
		if rep.Missing == 0 || time.Now().After(drainEnd) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	// One more long-poll round, so a duplicate or extra event right behind the last
	// expected one is seen too.
	time.Sleep(6 * time.Second)
	stopSync()
	syncWG.Wait()
	rep := Check(sends, un, members, streams())
	rep.IdemChecked, rep.IdemBroken = len(again), int(idemBroken.Load())
	for _, e := range idemExamples {
		rep.example("%s", e)
	}
	for _, u := range users {
		rep.Limited += u.limited
	}
	if rep.Limited > 0 {
		rep.example("%d sync responses had a limited timeline", rep.Limited)
	}
	logf("drained; %d failed sync requests during the drill", syncErrs.Load())
	return rep, nil
}

// parallel runs fn(0..n-1) with at most conc at once and returns the first error.
func parallel(conc, n int, fn func(i int) error) error {
	sem := make(chan struct{}, conc)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func maxLen(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n = max(n, len(v))
	}
	return n
}
