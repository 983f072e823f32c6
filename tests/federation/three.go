package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

// threeSummary describes the three-server scenario (flag -three).
const threeSummary = "three monoliths over TLS: rooms created on each and joined from the others by ID and by alias, invites, messages and state both ways, a redaction, leave, kick and ban; " +
	"C stopped while A and B talk and catching up after its restart; a forged signature, a wrong destination and tampered events refused; " +
	"a partition of B with concurrent topic and power-level changes on both sides resolving to the same current state on all three"

// threeScenario: servers A, B and C, each behind a front (fronts.go) whose address is its
// server name, with alice@A, bob@B and carol@C.
func (r *run) threeScenario() error {
	ctx := context.Background()
	r.begin("build axon-monolith and axon-generate-config")
	bin, err := r.build()
	if err != nil {
		return err
	}
	cuts := &partition{}
	var fronts []*front
	defer func() {
		for _, f := range fronts {
			f.close()
		}
	}()
	for _, label := range []string{"A", "B", "C"} {
		r.begin("configure and start server " + label + " behind its front")
		dir := filepath.Join(r.work, label)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		f, err := newFront(dir, cuts)
		if err != nil {
			return err
		}
		fronts = append(fronts, f)
		s, err := r.startNamed(bin, label, f.name)
		if s != nil {
			r.servers = append(r.servers, s)
		}
		if err != nil {
			return err
		}
		if err := f.forward("https://" + s.tlsAddr); err != nil {
			return err
		}
	}
	a, b, c := r.servers[0], r.servers[1], r.servers[2]

	r.begin("register alice on A, bob on B and carol on C")
	alice := &csapi.Client{BaseURL: a.clientURL}
	bob := &csapi.Client{BaseURL: b.clientURL}
	carol := &csapi.Client{BaseURL: c.clientURL}
	for _, u := range []struct {
		c    *csapi.Client
		name string
	}{{alice, "alice"}, {bob, "bob"}, {carol, "carol"}} {
		if _, err := u.c.Register(ctx, u.name, u.name+"-password-1", "test"); err != nil {
			return fmt.Errorf("%s: %w", u.name, err)
		}
	}

	// Room 1, created on A: bob joins through A, carol through B (B answers make_join and
	// send_join for a room it did not create).
	r.begin("alice creates room 1 on A with alias #three; bob@B joins it by that alias (resolved by A), carol@C by ID through B")
	room1, err := createRoom(ctx, alice, map[string]any{"preset": "public_chat", "name": "three", "room_alias_name": "three"})
	if err != nil {
		return err
	}
	if err := bob.Join(ctx, "#three:"+a.name); err != nil {
		return fmt.Errorf("join by alias: %w", err)
	}
	if err := joinVia(ctx, carol, room1, b.name); err != nil {
		return err
	}
	everyone := func(v *roomView) bool {
		return v.members[alice.UserID] == "join" && v.members[bob.UserID] == "join" && v.members[carol.UserID] == "join"
	}
	for _, u := range []*csapi.Client{alice, bob, carol} {
		if err := r.waitSync(ctx, u, room1, everyone); err != nil {
			return err
		}
	}

	r.begin("room 1: alice raises bob and carol to 50; each sends a message; bob names the room, carol sets the topic; all three see everything")
	if err := setPowerLevels(ctx, alice, room1, map[string]int{alice.UserID: 100, bob.UserID: 50, carol.UserID: 50}); err != nil {
		return err
	}
	// The power levels must have reached B and C before they use them.
	if err := r.waitState(ctx, []*csapi.Client{bob, carol}, room1, "power levels on B and C", func(st roomState) bool {
		return st.powerOf(carol.UserID) == 50
	}); err != nil {
		return err
	}
	for i, u := range []*csapi.Client{alice, bob, carol} {
		if _, err := u.Send(ctx, room1, fmt.Sprintf("hello%d", i), map[string]any{"msgtype": "m.text", "body": "hello from " + u.UserID}); err != nil {
			return err
		}
	}
	if err := putState(ctx, bob, room1, "m.room.name", "", map[string]any{"name": "named on B"}); err != nil {
		return err
	}
	if err := putState(ctx, carol, room1, "m.room.topic", "", map[string]any{"topic": "set on C"}); err != nil {
		return err
	}
	for _, u := range []*csapi.Client{alice, bob, carol} {
		if err := r.waitSync(ctx, u, room1, func(v *roomView) bool {
			return v.bodies["hello from "+alice.UserID] && v.bodies["hello from "+bob.UserID] && v.bodies["hello from "+carol.UserID] && v.topic == "set on C"
		}); err != nil {
			return err
		}
	}
	if err := r.waitState(ctx, []*csapi.Client{alice, bob, carol}, room1, "the name set on B", func(st roomState) bool {
		return st.content("m.room.name", "")["name"] == "named on B"
	}); err != nil {
		return err
	}

	r.begin("bob redacts his message on B; A and C serve it redacted")
	doomed, err := bob.Send(ctx, room1, "doomed", map[string]any{"msgtype": "m.text", "body": "redact me"})
	if err != nil {
		return err
	}
	for _, u := range []*csapi.Client{alice, carol} {
		if err := r.waitSync(ctx, u, room1, func(v *roomView) bool { return v.bodies["redact me"] }); err != nil {
			return err
		}
	}
	if err := bob.Do(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(room1)+"/redact/"+url.PathEscape(doomed)+"/r1",
		map[string]any{"reason": "test"}, nil); err != nil {
		return err
	}
	for _, u := range []*csapi.Client{alice, carol} {
		if err := r.eventually(r.timeout, "the redacted event on "+u.UserID+"'s server", func() (bool, string, error) {
			var ev struct {
				Content  map[string]any `json:"content"`
				Unsigned map[string]any `json:"unsigned"`
			}
			if err := u.Do(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(room1)+"/event/"+url.PathEscape(doomed), nil, &ev); err != nil {
				return false, "", err
			}
			return len(ev.Content) == 0 && ev.Unsigned["redacted_because"] != nil, fmt.Sprintf("content %v", ev.Content), nil
		}); err != nil {
			return err
		}
	}

	// Room 2, created on B, invite only: alice and carol are invited over federation.
	r.begin("bob creates invite-only room 2 on B and invites alice@A and carol@C; both accept")
	room2, err := bob.CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "private_chat", Name: "invites"})
	if err != nil {
		return err
	}
	for _, u := range []*csapi.Client{alice, carol} {
		if err := membership(ctx, bob, room2, "invite", u.UserID); err != nil {
			return err
		}
		if err := r.waitSync(ctx, u, room2, func(v *roomView) bool { return v.invited }); err != nil {
			return err
		}
		if err := membership(ctx, u, room2, "join", ""); err != nil {
			return err
		}
	}
	// A sends its next event to the servers in the room when it learns of them: it must
	// have seen carol's join (sent by C through B) first.
	if err := r.waitSync(ctx, alice, room2, func(v *roomView) bool { return v.members[carol.UserID] == "join" }); err != nil {
		return err
	}
	if _, err := alice.Send(ctx, room2, "r2a", map[string]any{"msgtype": "m.text", "body": "room 2 from A"}); err != nil {
		return err
	}
	for _, u := range []*csapi.Client{bob, carol} {
		if err := r.waitSync(ctx, u, room2, func(v *roomView) bool {
			return v.bodies["room 2 from A"] && v.members[alice.UserID] == "join" && v.members[carol.UserID] == "join"
		}); err != nil {
			return err
		}
	}

	if err := r.threeMembership(ctx, c, alice, carol); err != nil {
		return err
	}
	if err := r.threeCatchUp(ctx, bin, c, alice, bob, carol, room1); err != nil {
		return err
	}
	if err := r.forgeries(ctx, a, b, alice, room1); err != nil { // forgery.go
		return err
	}
	if err := r.threeFork(ctx, cuts, b, alice, bob, carol, room1); err != nil {
		return err
	}
	r.step = "done"
	return nil
}

// threeMembership: room 3, created on C; alice@A joins it through C, leaves, rejoins, is
// kicked, rejoins and is banned, each seen on the other server.
func (r *run) threeMembership(ctx context.Context, c *server, alice, carol *csapi.Client) error {
	memberIs := func(user, m string) func(*roomView) bool {
		return func(v *roomView) bool { return v.members[user] == m }
	}
	r.begin("carol creates public room 3 on C with alias #onc; alice@A joins it by that alias")
	room3, err := createRoom(ctx, carol, map[string]any{"preset": "public_chat", "name": "on C", "room_alias_name": "onc"})
	if err != nil {
		return err
	}
	if err := alice.Join(ctx, "#onc:"+c.name); err != nil {
		return fmt.Errorf("join by alias: %w", err)
	}
	if err := r.waitSync(ctx, carol, room3, memberIs(alice.UserID, "join")); err != nil {
		return err
	}
	r.begin("room 3: alice leaves from A; carol sees it; alice joins again by ID through C")
	if err := membership(ctx, alice, room3, "leave", ""); err != nil {
		return err
	}
	if err := r.waitSync(ctx, carol, room3, memberIs(alice.UserID, "leave")); err != nil {
		return err
	}
	if err := joinVia(ctx, alice, room3, c.name); err != nil {
		return err
	}
	if err := r.waitSync(ctx, carol, room3, memberIs(alice.UserID, "join")); err != nil {
		return err
	}
	r.begin("room 3: carol kicks alice; alice sees the kick on A and joins again")
	if err := membership(ctx, carol, room3, "kick", alice.UserID); err != nil {
		return err
	}
	if err := r.waitSync(ctx, alice, room3, memberIs(alice.UserID, "leave")); err != nil {
		return err
	}
	if err := joinVia(ctx, alice, room3, c.name); err != nil {
		return err
	}
	if err := r.waitSync(ctx, carol, room3, memberIs(alice.UserID, "join")); err != nil {
		return err
	}
	r.begin("room 3: carol bans alice; alice sees the ban on A and cannot join again")
	if err := membership(ctx, carol, room3, "ban", alice.UserID); err != nil {
		return err
	}
	if err := r.waitSync(ctx, alice, room3, memberIs(alice.UserID, "ban")); err != nil {
		return err
	}
	if err := joinVia(ctx, alice, room3, c.name); err == nil {
		return fmt.Errorf("a banned alice joined room 3 again")
	}
	return nil
}

// threeCatchUp: C stops; alice and bob exchange 20 messages and alice changes the topic;
// C starts again and carol sees every one of them, once, in /messages and in /sync.
func (r *run) threeCatchUp(ctx context.Context, bin string, c *server, alice, bob, carol *csapi.Client, room1 string) error {
	r.begin("carol's /sync position before C stops")
	since, err := syncPosition(ctx, carol)
	if err != nil {
		return err
	}
	r.begin("stop C (SIGTERM)")
	if err := r.stopServer(c); err != nil {
		return err
	}
	r.begin("while C is down: alice and bob send 10 messages each and alice changes the topic; each sees the other's")
	var missed []string
	for i := range 10 {
		for _, u := range []*csapi.Client{alice, bob} {
			body := fmt.Sprintf("while C was down: %s %d", u.UserID, i)
			if _, err := u.Send(ctx, room1, fmt.Sprintf("down%d", i), map[string]any{"msgtype": "m.text", "body": body}); err != nil {
				return err
			}
			missed = append(missed, body)
		}
	}
	if err := putState(ctx, alice, room1, "m.room.topic", "", map[string]any{"topic": "changed while C was down"}); err != nil {
		return err
	}
	// C stays down a few seconds more: the queues of A and B for C fail and back off.
	time.Sleep(4 * time.Second)
	for _, u := range []*csapi.Client{alice, bob} {
		if err := r.eventually(r.timeout, "the messages sent while C was down in "+u.UserID+"'s /messages", func() (bool, string, error) {
			bodies, err := allMessages(ctx, u, room1)
			if err != nil {
				return false, "", err
			}
			seen := map[string]int{}
			for _, b := range bodies {
				seen[b]++
			}
			st, err := getState(ctx, u, room1)
			if err != nil {
				return false, "", err
			}
			topic := st.content("m.room.topic", "")["topic"]
			return hasAllCounts(seen, missed) && topic == "changed while C was down", fmt.Sprintf("%d of %d, topic %v", countOf(seen, missed), len(missed), topic), nil
		}); err != nil {
			return err
		}
	}
	r.begin("start C again; carol's /sync from before the stop brings every missed message and the topic (the senders' queues retry C)")
	if err := r.restartServer(c); err != nil {
		return err
	}
	// The queues of A and B for C are in backoff (2 s doubling, with jitter): allow for it.
	long := 3 * r.timeout
	seen := map[string]int{}
	topic := ""
	if err := r.eventually(long, "every missed message in carol's /sync on C", func() (bool, string, error) {
		var res struct {
			NextBatch string `json:"next_batch"`
			Rooms     struct {
				Join map[string]syncRoom `json:"join"`
			} `json:"rooms"`
		}
		if err := carol.SyncInto(ctx, csapi.SyncRequest{Since: since, Timeout: time.Second, Filter: `{"room":{"timeline":{"limit":100}}}`}, &res); err != nil {
			return false, "", err
		}
		since = res.NextBatch
		room := res.Rooms.Join[room1]
		for _, e := range append(room.State.Events, room.Timeline.Events...) {
			if e.Type == "m.room.message" {
				seen[e.Content.Body]++
			}
			if e.Type == "m.room.topic" {
				topic = e.Content.Topic
			}
		}
		return hasAllCounts(seen, missed) && topic == "changed while C was down", fmt.Sprintf("seen %d of %d, topic %q", countOf(seen, missed), len(missed), topic), nil
	}); err != nil {
		return err
	}
	for _, body := range missed {
		if seen[body] != 1 {
			return fmt.Errorf("carol's /sync delivered %q %d times", body, seen[body])
		}
	}
	r.begin("carol's /messages on C holds every missed message exactly once, in each sender's order")
	bodies, err := allMessages(ctx, carol, room1)
	if err != nil {
		return err
	}
	count := map[string]int{}
	for _, body := range bodies {
		count[body]++
	}
	for _, body := range missed {
		if count[body] != 1 {
			return fmt.Errorf("carol's /messages holds %q %d times", body, count[body])
		}
	}
	for _, who := range []string{alice.UserID, bob.UserID} {
		last := -1
		for _, body := range bodies {
			var n int
			if _, err := fmt.Sscanf(body, "while C was down: "+who+" %d", &n); err == nil {
				if n != last+1 {
					return fmt.Errorf("carol's /messages has %s's messages out of order: %d after %d", who, n, last)
				}
				last = n
			}
		}
		if last != 9 {
			return fmt.Errorf("carol's /messages ends %s's messages at %d, not 9", who, last)
		}
	}
	r.begin("carol, back, sends on C; alice and bob see it")
	if _, err := carol.Send(ctx, room1, "back", map[string]any{"msgtype": "m.text", "body": "carol is back"}); err != nil {
		return err
	}
	for _, u := range []*csapi.Client{alice, bob} {
		if err := r.waitSync(ctx, u, room1, func(v *roomView) bool { return v.bodies["carol is back"] }); err != nil {
			return err
		}
	}
	return nil
}

// threeFork: B is cut off from A and C (fronts.go); on A alice changes the topic and the
// power levels, on B bob changes the topic and sends; the partition heals, and the
// current state of room 1 becomes the same on all three servers, with alice's power
// levels (she outranks bob) and both sides' events known everywhere.
func (r *run) threeFork(ctx context.Context, cuts *partition, b *server, alice, bob, carol *csapi.Client, room1 string) error {
	r.begin("partition B from A and C")
	cuts.set(b.name, true)
	r.begin("while partitioned, concurrently: alice sets the topic and carol's power level on A, bob sets the topic and sends on B")
	errs := make(chan error, 2)
	var topicA, topicB string
	go func() {
		var err error
		if topicA, err = putStateID(ctx, alice, room1, "m.room.topic", "", map[string]any{"topic": "A side of the fork"}); err != nil {
			errs <- err
			return
		}
		errs <- setPowerLevels(ctx, alice, room1, map[string]int{alice.UserID: 100, bob.UserID: 50, carol.UserID: 75})
	}()
	go func() {
		var err error
		if topicB, err = putStateID(ctx, bob, room1, "m.room.topic", "", map[string]any{"topic": "B side of the fork"}); err != nil {
			errs <- err
			return
		}
		_, err = bob.Send(ctx, room1, "fork", map[string]any{"msgtype": "m.text", "body": "sent on B while partitioned"})
		errs <- err
	}()
	for range 2 {
		if err := <-errs; err != nil {
			return err
		}
	}
	r.begin("A and C see A's side only; B sees its own side only")
	if err := r.waitState(ctx, []*csapi.Client{alice, carol}, room1, "A's side on A and C", func(st roomState) bool {
		return st.content("m.room.topic", "")["topic"] == "A side of the fork" && st.powerOf(carol.UserID) == 75
	}); err != nil {
		return err
	}
	st, err := getState(ctx, bob, room1)
	if err != nil {
		return err
	}
	if st.content("m.room.topic", "")["topic"] != "B side of the fork" || st.powerOf(carol.UserID) != 50 {
		return fmt.Errorf("B is not partitioned: its topic is %v, carol's power %d", st.content("m.room.topic", "")["topic"], st.powerOf(carol.UserID))
	}
	// Keep the partition a few seconds, so the queues on both sides fail and back off.
	time.Sleep(3 * time.Second)
	r.begin("heal the partition; the queues retry; the current state of room 1 becomes the same on A, B and C")
	cuts.set(b.name, false)
	if err := r.waitSync(ctx, alice, room1, func(v *roomView) bool { return v.bodies["sent on B while partitioned"] }); err != nil {
		return err
	}
	// The same state is not enough: when one side's topic wins, the servers agree before
	// the other side's events reach every server (B's queue to C retries after its
	// backoff). Both sides' topic events must be known on every server too, so that the
	// state is the same because each resolved the same fork.
	if err := r.eventually(3*r.timeout, "the same current state of room 1 on A, B and C, each serving both topic events", func() (bool, string, error) {
		var states []roomState
		for _, u := range []*csapi.Client{alice, bob, carol} {
			st, err := getState(ctx, u, room1)
			if err != nil {
				return false, "", err
			}
			states = append(states, st)
			for _, id := range []string{topicA, topicB} {
				content, status, err := clientEvent(ctx, u, room1, id)
				if err != nil {
					return false, "", err
				}
				if status != 200 {
					return false, fmt.Sprintf("%s's server does not serve the fork's topic event %s: HTTP %d %v", u.UserID, id, status, content), nil
				}
			}
		}
		diff := states[0].diff(states[1]) + states[0].diff(states[2])
		return diff == "" && states[0].powerOf(carol.UserID) == 75, diff, nil
	}); err != nil {
		return err
	}
	st, err = getState(ctx, alice, room1)
	if err != nil {
		return err
	}
	r.say("resolved: topic %q, carol's power level %d, %d state events the same on all three", st.content("m.room.topic", "")["topic"], st.powerOf(carol.UserID), len(st.ids))
	r.begin("after the fork: a message from each server reaches the other two")
	for i, u := range []*csapi.Client{alice, bob, carol} {
		if _, err := u.Send(ctx, room1, fmt.Sprintf("healed%d", i), map[string]any{"msgtype": "m.text", "body": "healed: " + u.UserID}); err != nil {
			return err
		}
	}
	for _, u := range []*csapi.Client{alice, bob, carol} {
		if err := r.waitSync(ctx, u, room1, func(v *roomView) bool {
			return v.bodies["healed: "+alice.UserID] && v.bodies["healed: "+bob.UserID] && v.bodies["healed: "+carol.UserID]
		}); err != nil {
			return err
		}
	}
	return nil
}

// stopServer stops s with SIGTERM and waits for it.
func (r *run) stopServer(s *server) error {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("server %s did not stop within 30s of SIGTERM", s.label)
	}
	s.logFile.Close()
	return nil
}

// restartServer starts s again with the same command line (config, ports, data).
func (r *run) restartServer(s *server) error {
	var err error
	if s.logFile, err = os.OpenFile(filepath.Join(s.dir, "axon.log"), os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
		return err
	}
	cmd := exec.Command(s.cmd.Path, s.cmd.Args[1:]...)
	cmd.Stdout, cmd.Stderr = s.logFile, s.logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	exited := s.exited
	go func() { cmd.Wait(); close(exited) }()
	return r.waitUp(s)
}

// eventually polls check until it says done, at most timeout; detail (the last one) goes
// into the error.
func (r *run) eventually(timeout time.Duration, what string, check func() (done bool, detail string, err error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, detail, err := check()
		if err == nil && done {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%s: not within %s: %w", what, timeout, err)
			}
			return fmt.Errorf("%s: not within %s: %s", what, timeout, detail)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// createRoom is POST /createRoom with body; it returns the room ID.
func createRoom(ctx context.Context, c *csapi.Client, body map[string]any) (string, error) {
	var res struct {
		RoomID string `json:"room_id"`
	}
	if err := c.Do(ctx, http.MethodPost, "/_matrix/client/v3/createRoom", body, &res); err != nil {
		return "", err
	}
	return res.RoomID, nil
}

// joinVia joins roomID through server (POST /join/{roomID}?server_name=).
func joinVia(ctx context.Context, c *csapi.Client, roomID, server string) error {
	return c.Do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomID)+"?server_name="+url.QueryEscape(server), map[string]any{}, nil)
}

func putState(ctx context.Context, c *csapi.Client, roomID, typ, stateKey string, content any) error {
	_, err := putStateID(ctx, c, roomID, typ, stateKey, content)
	return err
}

// putStateID is PUT /rooms/{roomID}/state/{typ}/{stateKey}; it returns the event ID.
func putStateID(ctx context.Context, c *csapi.Client, roomID, typ, stateKey string, content any) (string, error) {
	var res struct {
		EventID string `json:"event_id"`
	}
	err := c.Do(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/state/"+url.PathEscape(typ)+"/"+url.PathEscape(stateKey), content, &res)
	return res.EventID, err
}

// setPowerLevels replaces the users of the room's power levels, keeping the rest.
func setPowerLevels(ctx context.Context, c *csapi.Client, roomID string, users map[string]int) error {
	var pl map[string]any
	if err := c.Do(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/state/m.room.power_levels/", nil, &pl); err != nil {
		return err
	}
	pl["users"] = users
	return putState(ctx, c, roomID, "m.room.power_levels", "", pl)
}

// roomState is GET /rooms/{roomID}/state as seen by one server.
type roomState struct {
	ids      map[string]string         // type + "\x00" + state_key → event ID
	contents map[string]map[string]any // same key → content
}

func getState(ctx context.Context, c *csapi.Client, roomID string) (roomState, error) {
	var evs []struct {
		Type     string         `json:"type"`
		StateKey string         `json:"state_key"`
		EventID  string         `json:"event_id"`
		Content  map[string]any `json:"content"`
	}
	if err := c.Do(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/state", nil, &evs); err != nil {
		return roomState{}, err
	}
	st := roomState{ids: map[string]string{}, contents: map[string]map[string]any{}}
	for _, e := range evs {
		st.ids[e.Type+"\x00"+e.StateKey] = e.EventID
		st.contents[e.Type+"\x00"+e.StateKey] = e.Content
	}
	return st, nil
}

func (st roomState) content(typ, stateKey string) map[string]any {
	return st.contents[typ+"\x00"+stateKey]
}

// powerOf is user's entry in the power levels' users (-1 for none).
func (st roomState) powerOf(user string) int {
	users, _ := st.content("m.room.power_levels", "")["users"].(map[string]any)
	if n, ok := users[user].(float64); ok {
		return int(n)
	}
	return -1
}

// diff lists the (type, state_key) whose event differs between st and o; "" if none.
func (st roomState) diff(o roomState) string {
	var out []string
	for k, id := range st.ids {
		if o.ids[k] != id {
			out = append(out, fmt.Sprintf("%q: %s vs %s", strings.ReplaceAll(k, "\x00", "|"), id, o.ids[k]))
		}
	}
	for k, id := range o.ids {
		if _, ok := st.ids[k]; !ok {
			out = append(out, fmt.Sprintf("%q: none vs %s", strings.ReplaceAll(k, "\x00", "|"), id))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// waitState polls the room's state as each client until ok holds for all of them.
func (r *run) waitState(ctx context.Context, cs []*csapi.Client, roomID, what string, ok func(roomState) bool) error {
	return r.eventually(r.timeout, what, func() (bool, string, error) {
		for _, c := range cs {
			st, err := getState(ctx, c, roomID)
			if err != nil {
				return false, "", err
			}
			if !ok(st) {
				b, _ := json.Marshal(st.contents)
				return false, fmt.Sprintf("as %s: %.600s", c.UserID, b), nil
			}
		}
		return true, "", nil
	})
}

// syncPosition is the next_batch of an initial /sync.
func syncPosition(ctx context.Context, c *csapi.Client) (string, error) {
	var res struct {
		NextBatch string `json:"next_batch"`
	}
	err := c.SyncInto(ctx, csapi.SyncRequest{Timeout: 0, Filter: `{"room":{"timeline":{"limit":1}}}`}, &res)
	return res.NextBatch, err
}

// allMessages pages through /messages from the newest event backwards and returns the
// bodies of m.room.message events, oldest first.
func allMessages(ctx context.Context, c *csapi.Client, roomID string) ([]string, error) {
	var bodies []string
	from := ""
	for range 100 {
		q := url.Values{"dir": {"b"}, "limit": {"100"}}
		if from != "" {
			q.Set("from", from)
		}
		var page struct {
			Chunk []syncEvent `json:"chunk"`
			End   string      `json:"end"`
		}
		if err := c.Do(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/messages?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		for _, e := range page.Chunk {
			if e.Type == "m.room.message" {
				bodies = append(bodies, e.Content.Body)
			}
		}
		if page.End == "" || len(page.Chunk) == 0 {
			break
		}
		from = page.End
	}
	for i, j := 0, len(bodies)-1; i < j; i, j = i+1, j-1 {
		bodies[i], bodies[j] = bodies[j], bodies[i]
	}
	return bodies, nil
}

func hasAllCounts(seen map[string]int, want []string) bool { return countOf(seen, want) == len(want) }

func countOf(seen map[string]int, want []string) int {
	n := 0
	for _, w := range want {
		if seen[w] > 0 {
			n++
		}
	}
	return n
}
