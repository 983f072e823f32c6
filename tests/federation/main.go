// Command federation is the Axon ↔ Axon federation scenario on loopback (issue 12, items
// 5 and 6; run by scripts/test.sh). It builds axon-monolith and axon-generate-config,
// then starts two monoliths named 127.0.0.1:PORT_A and 127.0.0.1:PORT_B, each with a
// config from `axon-generate-config -server-name 127.0.0.1:PORT`, a self-signed
// certificate it generates, and the two test-network switches
// (federation_api.allow_private_destinations, federation_api.disable_tls_validation):
// federation over TLS on PORT (-https-bind), clients on a plain loopback port.
//
// The scenario: alice@A creates a public room; bob@B joins it by room ID through A
// (server_name); both send a message; each sees both messages and the other's membership
// in /sync; then bob leaves, misses a topic change and 30 messages, joins again (through A:
// the state B held is stale) and sees them, is kicked, invited (invite v2) and joins, is
// banned, and rejects an invite to a second room (make_leave/send_leave); then he knocks
// on a third room (make_knock/send_knock), is invited and joins. Every step is named; the first that fails is reported with the end of both
// servers' logs, and the exit status is 1.
//
// With -synapse it runs the Axon ↔ Synapse scenario instead (synapse.go): one monolith and
// a real Synapse from scripts/synapse.sh.
//
// With -media it runs the media scenario (media.go): media uploaded on A downloaded through B.
//
// With -e2ee it runs the end-to-end encryption scenario (e2ee.go): keys of B's users
// queried and claimed from A, and B's device-list changes in A's /sync.
//
// With -three it runs the three-server scenario (three.go, forgery.go): A, B and C, each
// behind a TLS front whose address is its name (fronts.go; the fronts also partition a
// server from the others): rooms on each joined by ID and by alias, invites, messages,
// state, a redaction, leave, kick and ban; C stopped and restarted and catching up;
// forged, misaddressed and tampered requests sent straight to A refused; a fork while B
// is partitioned, resolved to the same current state on all three.
//
// With -polylith it runs the polylith drill (polylith.go): every component its own process
// (Postgres and Kafka of AXON_TEST_POSTGRES_DSN and AXON_TEST_KAFKA_BROKERS; skipped
// without them unless CI=true) behind a TLS front, federating with a monolith; its
// axon-federation-sender is killed with -9 in the middle of 100 messages and restarted,
// and the monolith has each message exactly once.
//
// With -bench-fanout, -bench-join or -bench-synapse-join it runs a federation benchmark
// instead (bench.go; figures in docs/benchmarks.md, "Federation").
//
//	go run ./tests/federation [-synapse|-edus|-media|-e2ee|-three|-polylith] [-keep] [-timeout 30s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
	"github.com/axon-matrix/axon/internal/setup"
)

func main() {
	keep := flag.Bool("keep", false, "keep the temporary directory (configs, logs) even on success")
	timeout := flag.Duration("timeout", 30*time.Second, "how long each waiting step may take")
	withSynapse := flag.Bool("synapse", false, "run the Axon ↔ Synapse scenario (starts scripts/synapse.sh unless SYNAPSE_URL is set)")
	withEDUs := flag.Bool("edus", false, "run the EDU scenario instead: typing, receipts, presence and to-device from A to B (edus.go)")
	withMedia := flag.Bool("media", false, "run the media scenario instead: media of A downloaded through B (media.go)")
	withE2EE := flag.Bool("e2ee", false, "run the end-to-end encryption scenario instead: keys of B's users queried and claimed from A, device-list updates (e2ee.go)")
	withThree := flag.Bool("three", false, "run the three-server scenario instead: A, B and C, a stopped and restarted server, forged requests, a partition and its fork (three.go)")
	withPolylith := flag.Bool("polylith", false, "run the polylith drill instead: a polylith and a monolith federating, the federation sender killed with -9 mid-burst (polylith.go)")
	flag.Parse()
	work, err := os.MkdirTemp("", "axon-federation.")
	if err != nil {
		fmt.Fprintln(os.Stderr, "federation:", err)
		os.Exit(1)
	}
	r := &run{work: work, timeout: *timeout}
	scenario, summary := r.scenario, "two monoliths over TLS: remote join by room ID, messages both ways, leave, rejoin, kick, invite, ban, a rejected invite and a knock; an alias resolved and joined over federation, history backfilled into /messages, a server ACL; a space's /hierarchy across both servers, /publicRooms?server="
	if *withSynapse {
		scenario, summary = r.synapseScenario, synapseSummary
	}
	if *withEDUs {
		scenario, summary = r.eduScenario, eduSummary
	}
	if *withMedia {
		scenario, summary = r.mediaScenario, mediaSummary
	}
	if *withE2EE {
		scenario, summary = r.e2eeScenario, e2eeSummary
	}
	if *withThree {
		scenario, summary = r.threeScenario, threeSummary
	}
	if *withPolylith {
		scenario, summary = r.polylithScenario, polylithSummary
	}
	if bench, benchSummary := r.benchScenario(); bench != nil {
		scenario, summary = bench, benchSummary
	}
	err = scenario()
	r.stopAll()
	if err != nil {
		fmt.Printf("federation: FAILED at step %q: %v\n", r.step, err)
		r.tailLogs(25)
		fmt.Printf("federation: logs and configs kept in %s\n", work)
		os.Exit(1)
	}
	fmt.Printf("federation: PASS (%s)\n", summary)
	if *keep {
		fmt.Printf("federation: logs and configs kept in %s\n", work)
	} else {
		os.RemoveAll(work)
	}
}

// run is one run of the scenario.
type run struct {
	work    string
	timeout time.Duration
	step    string
	servers []*server
	// stops run after the servers stop (e.g. stopping a Synapse this run started); logs are
	// further log files shown by tailLogs on failure.
	stops []func()
	logs  []string
	// configHook, if set, edits each generated config before its server starts (bench.go:
	// a low bcrypt cost for mass registration).
	configHook func(cfg string) string
}

// server is one started monolith.
type server struct {
	label     string // "A" or "B"
	name      string // 127.0.0.1:PORT (federation port)
	tlsAddr   string // where it serves federation over TLS itself (name, unless behind a front)
	clientURL string
	dir       string
	cmd       *exec.Cmd
	logFile   *os.File
	exited    chan struct{}

	metricsURL string // /metrics of the monolith (bench.go reads the federation sender's counters)
}

func (r *run) say(format string, a ...any) {
	fmt.Printf("== federation %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

func (r *run) begin(step string) { r.step = step; r.say("%s", step) }

// handedOut is every port freePort returned in this process: none is returned twice.
var handedOut sync.Map

// freePort picks a free port below the kernel's ephemeral range (32768+), so no outgoing
// connection can take it between this check and the server's bind, and never one it
// returned before. Another process picking ports the same way can still take it first:
// startNamed starts a server again on other ports when its bind fails.
func freePort() (int, error) {
	for range 500 {
		port := 20000 + rand.IntN(12000)
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, errors.New("no free port between 20000 and 32000")
}

func (r *run) scenario() error {
	ctx := context.Background()
	r.begin("build axon-monolith and axon-generate-config")
	bin, err := r.build()
	if err != nil {
		return err
	}
	for _, label := range []string{"A", "B"} {
		r.begin("configure and start server " + label)
		s, err := r.start(bin, label)
		if err != nil {
			return err
		}
		r.servers = append(r.servers, s)
	}
	a, b := r.servers[0], r.servers[1]

	r.begin("register alice on A and bob on B")
	alice := &csapi.Client{BaseURL: a.clientURL}
	bob := &csapi.Client{BaseURL: b.clientURL}
	if _, err := alice.Register(ctx, "alice", "alice-password-1", "test"); err != nil {
		return fmt.Errorf("alice: %w", err)
	}
	if _, err := bob.Register(ctx, "bob", "bob-password-1", "test"); err != nil {
		return fmt.Errorf("bob: %w", err)
	}

	r.begin("alice creates a public room on A")
	roomID, err := alice.CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "public_chat", Name: "federation"})
	if err != nil {
		return err
	}
	r.say("room %s", roomID)

	r.begin("bob@B joins the room by ID with server_name A (make_join/send_join, arrow 17)")
	err = bob.Do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomID)+"?server_name="+url.QueryEscape(a.name),
		map[string]any{}, nil)
	if err != nil {
		return err
	}

	r.begin("alice sees bob's join in /sync on A (the federationapi stored it)")
	if err := r.waitSync(ctx, alice, roomID, func(v *roomView) bool { return v.members[bob.UserID] == "join" }); err != nil {
		return err
	}

	r.begin("alice sends a message on A")
	if _, err := alice.Send(ctx, roomID, "a1", map[string]any{"msgtype": "m.text", "body": "hello from A"}); err != nil {
		return err
	}
	r.begin("bob sends a message on B")
	if _, err := bob.Send(ctx, roomID, "b1", map[string]any{"msgtype": "m.text", "body": "hello from B"}); err != nil {
		return err
	}

	both := func(v *roomView) bool { return v.bodies["hello from A"] && v.bodies["hello from B"] }
	r.begin("bob sees both messages and alice's membership in /sync on B (topic 6 → PUT /send from A)")
	if err := r.waitSync(ctx, bob, roomID, func(v *roomView) bool { return both(v) && v.members[alice.UserID] == "join" }); err != nil {
		return err
	}
	r.begin("alice sees both messages and bob's membership in /sync on A (topic 6 → PUT /send from B)")
	if err := r.waitSync(ctx, alice, roomID, func(v *roomView) bool { return both(v) && v.members[bob.UserID] == "join" }); err != nil {
		return err
	}
	if err := r.membershipScenario(ctx, a, alice, bob, roomID); err != nil {
		return err
	}
	if err := r.historyScenario(ctx, a, b, alice, bob); err != nil { // history.go
		return err
	}
	if err := r.spacesScenario(ctx, a, b, alice, bob); err != nil { // spaces.go
		return err
	}
	r.step = "done"
	return nil
}

// membershipScenario: leaves, rejoins, kicks, invites (accepted and rejected) and bans of
// bob@B in alice@A's room, each seen on the other server.
func (r *run) membershipScenario(ctx context.Context, a *server, alice, bob *csapi.Client, roomID string) error {
	memberIs := func(user, m string) func(*roomView) bool {
		return func(v *roomView) bool { return v.members[user] == m }
	}
	r.begin("bob leaves (B holds the room: a leave event sent from B)")
	if err := membership(ctx, bob, roomID, "leave", ""); err != nil {
		return err
	}
	if err := r.waitSync(ctx, alice, roomID, memberIs(bob.UserID, "leave")); err != nil {
		return err
	}
	r.begin("while bob is away, alice changes the topic and sends 30 messages (more than one get_missing_events)")
	if err := alice.Do(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/state/m.room.topic/",
		map[string]any{"topic": "while you were away"}, nil); err != nil {
		return err
	}
	for i := range 30 {
		if _, err := alice.Send(ctx, roomID, fmt.Sprintf("away%d", i), map[string]any{"msgtype": "m.text", "body": fmt.Sprintf("away %d", i)}); err != nil {
			return err
		}
	}
	r.begin("bob joins again (B holds the room but is no longer in it: joined through A)")
	if err := bob.Do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomID)+"?server_name="+url.QueryEscape(a.name),
		map[string]any{}, nil); err != nil {
		return err
	}
	if err := r.waitSync(ctx, alice, roomID, memberIs(bob.UserID, "join")); err != nil {
		return err
	}
	r.begin("alice sends while bob is back; bob sees it")
	if _, err := alice.Send(ctx, roomID, "a2", map[string]any{"msgtype": "m.text", "body": "welcome back"}); err != nil {
		return err
	}
	if err := r.waitSync(ctx, bob, roomID, func(v *roomView) bool { return v.bodies["welcome back"] && v.topic == "while you were away" }); err != nil {
		return err
	}
	r.begin("alice kicks bob; bob sees the kick on B")
	if err := membership(ctx, alice, roomID, "kick", bob.UserID); err != nil {
		return err
	}
	if err := r.waitSync(ctx, bob, roomID, memberIs(bob.UserID, "leave")); err != nil {
		return err
	}
	r.begin("alice invites bob (invite v2); bob sees the invite on B")
	if err := membership(ctx, alice, roomID, "invite", bob.UserID); err != nil {
		return err
	}
	if err := r.waitSync(ctx, bob, roomID, func(v *roomView) bool { return v.invited && v.members[bob.UserID] == "invite" }); err != nil {
		return err
	}
	r.begin("bob accepts the invite (joins with no server_name); alice sees the join")
	if err := membership(ctx, bob, roomID, "join", ""); err != nil {
		return err
	}
	if err := r.waitSync(ctx, alice, roomID, memberIs(bob.UserID, "join")); err != nil {
		return err
	}
	r.begin("alice bans bob; bob sees the ban on B")
	if err := membership(ctx, alice, roomID, "ban", bob.UserID); err != nil {
		return err
	}
	if err := r.waitSync(ctx, bob, roomID, memberIs(bob.UserID, "ban")); err != nil {
		return err
	}

	r.begin("alice creates a second room inviting bob in createRoom's invite list (countersigned by B); bob rejects the invite (make_leave/send_leave through A)")
	other, err := alice.CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "private_chat", Name: "invite only",
		Invite: []string{bob.UserID}, IsDirect: true})
	if err != nil {
		return err
	}
	if err := r.waitSync(ctx, bob, other, func(v *roomView) bool { return v.invited }); err != nil {
		return err
	}
	if err := membership(ctx, bob, other, "leave", ""); err != nil {
		return err
	}
	if err := r.waitSync(ctx, alice, other, memberIs(bob.UserID, "leave")); err != nil {
		return err
	}
	return r.knockScenario(ctx, a, alice, bob)
}

// knockScenario: bob@B knocks on a room of alice@A whose join rule is knock
// (make_knock/send_knock through A), sees it in his /sync knock section with the room's
// stripped state, alice sees the knock and invites him, and he joins.
func (r *run) knockScenario(ctx context.Context, a *server, alice, bob *csapi.Client) error {
	r.begin("alice creates a room with join rule knock; bob knocks through A (make_knock/send_knock) and sees it in /sync's knock section")
	var created struct {
		RoomID string `json:"room_id"`
	}
	if err := alice.Do(ctx, http.MethodPost, "/_matrix/client/v3/createRoom", map[string]any{"preset": "private_chat",
		"name": "knock first", "room_version": "10", "initial_state": []any{map[string]any{"type": "m.room.join_rules",
			"state_key": "", "content": map[string]any{"join_rule": "knock"}}}}, &created); err != nil {
		return err
	}
	door := created.RoomID
	if err := bob.Do(ctx, http.MethodPost, "/_matrix/client/v3/knock/"+url.PathEscape(door)+"?server_name="+url.QueryEscape(a.name),
		map[string]any{"reason": "may I?"}, nil); err != nil {
		return err
	}
	if err := r.waitSync(ctx, bob, door, func(v *roomView) bool { return v.knocked && v.members[bob.UserID] == "knock" }); err != nil {
		return err
	}
	r.begin("alice sees bob's knock and invites him; bob joins")
	if err := r.waitSync(ctx, alice, door, func(v *roomView) bool { return v.members[bob.UserID] == "knock" }); err != nil {
		return err
	}
	if err := membership(ctx, alice, door, "invite", bob.UserID); err != nil {
		return err
	}
	if err := r.waitSync(ctx, bob, door, func(v *roomView) bool { return v.invited }); err != nil {
		return err
	}
	if err := membership(ctx, bob, door, "join", ""); err != nil {
		return err
	}
	return r.waitSync(ctx, alice, door, func(v *roomView) bool { return v.members[bob.UserID] == "join" })
}

// membership is POST /rooms/{roomID}/{action} (join, leave, invite, kick, ban) as c.
func membership(ctx context.Context, c *csapi.Client, roomID, action, target string) error {
	body := map[string]any{}
	if target != "" {
		body["user_id"] = target
	}
	return c.Do(ctx, http.MethodPost, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/"+action, body, nil)
}

// start configures server label the way docs/deployment.md describes and starts it.
func (r *run) start(bin, label string) (*server, error) { return r.startNamed(bin, label, "") }

// startNamed is start with the server name given (a front of fronts.go, which forwards
// to the server's own TLS port), or "" for the server's own TLS port as its name. A
// server whose bind failed because another process took one of its ports in between is
// started again from scratch on other ports (up to three tries).
func (r *run) startNamed(bin, label, name string) (*server, error) {
	for try := 1; ; try++ {
		s, err := r.startNamedOnce(bin, label, name)
		if err == nil || try == 3 || s == nil || !s.bindFailed() {
			return s, err
		}
		r.say("server %s: a port was taken before it could bind; starting it again on other ports", label)
		s.logFile.Close()
		for _, f := range []string{"axon.yaml", "axon.log", "tls.crt", "tls.key", "data"} {
			if err := os.RemoveAll(filepath.Join(s.dir, f)); err != nil {
				return nil, err
			}
		}
	}
}

// bindFailed says whether the server exited because a listen address was in use.
func (s *server) bindFailed() bool {
	select {
	case <-s.exited:
	default:
		return false
	}
	b, err := os.ReadFile(filepath.Join(s.dir, "axon.log"))
	return err == nil && strings.Contains(string(b), "address already in use")
}

func (r *run) startNamedOnce(bin, label, name string) (*server, error) {
	fedPort, err := freePort()
	if err != nil {
		return nil, err
	}
	clientPort, err := freePort()
	if err != nil {
		return nil, err
	}
	metricsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{label: label, name: fmt.Sprintf("127.0.0.1:%d", fedPort), clientURL: fmt.Sprintf("http://127.0.0.1:%d", clientPort),
		dir: filepath.Join(r.work, label), exited: make(chan struct{}), tlsAddr: fmt.Sprintf("127.0.0.1:%d", fedPort)}
	if name != "" {
		s.name = name
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(s.dir, "axon.yaml")
	gen := exec.Command(filepath.Join(bin, "axon-generate-config"), "-server-name", s.name, "-data-dir", filepath.Join(s.dir, "data"), "-out", cfgPath)
	if out, err := gen.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("axon-generate-config: %v: %s", err, out)
	}
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	cfg := string(raw)
	for _, key := range []string{"allow_private_destinations", "disable_tls_validation"} {
		if !strings.Contains(cfg, key+": false") {
			return nil, fmt.Errorf("the generated config has no %q: false", key)
		}
		cfg = strings.Replace(cfg, key+": false", key+": true", 1)
	}
	// Rate limits off: the scenarios send faster than a person (global.rate_limits.enabled).
	i := strings.Index(cfg, "\n  rate_limits:\n")
	j := strings.Index(cfg[max(i, 0):], "enabled: true")
	if i < 0 || j < 0 {
		return nil, errors.New("the generated config has no global.rate_limits.enabled: true")
	}
	cfg = cfg[:i+j] + "enabled: false" + cfg[i+j+len("enabled: true"):]
	if r.configHook != nil {
		cfg = r.configHook(cfg)
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cert, key := filepath.Join(s.dir, "tls.crt"), filepath.Join(s.dir, "tls.key")
	if err := setup.WriteSelfSignedCert(cert, key, 24*time.Hour, "127.0.0.1"); err != nil {
		return nil, err
	}
	if s.logFile, err = os.Create(filepath.Join(s.dir, "axon.log")); err != nil {
		return nil, err
	}
	s.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	s.cmd = exec.Command(filepath.Join(bin, "axon-monolith"), "-config", cfgPath,
		"-http-bind", fmt.Sprintf("127.0.0.1:%d", clientPort), "-metrics-bind", fmt.Sprintf("127.0.0.1:%d", metricsPort),
		"-https-bind", s.tlsAddr, "-tls-cert", cert, "-tls-key", key)
	s.cmd.Stdout, s.cmd.Stderr = s.logFile, s.logFile
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	r.say("server %s: %s (federation over TLS on %s), clients on %s, files in %s", label, s.name, s.tlsAddr, s.clientURL, s.dir)
	return s, r.waitUp(s)
}

// waitUp waits until s's client API answers /versions.
func (r *run) waitUp(s *server) error {
	label := s.label
	deadline := time.Now().Add(r.timeout)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("axon-monolith %s exited at start", label)
		default:
		}
		resp, err := http.Get(s.clientURL + "/_matrix/client/versions")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("axon-monolith %s did not answer within %s", label, r.timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// roomView is what a user's /sync says about one room so far.
type roomView struct {
	bodies  map[string]bool
	members map[string]string // user ID → membership
	topic   string            // the newest m.room.topic seen
	invited bool              // the room was in the invite section
	knocked bool              // the room was in the knock section
}

// syncRoom is a room of /sync's join or leave section.
type syncRoom struct {
	State    struct{ Events []syncEvent } `json:"state"`
	Timeline struct{ Events []syncEvent } `json:"timeline"`
}

type syncEvent struct {
	Type     string  `json:"type"`
	Sender   string  `json:"sender"`
	StateKey *string `json:"state_key"`
	Content  struct {
		Body       string `json:"body"`
		Membership string `json:"membership"`
		Topic      string `json:"topic"`
	} `json:"content"`
}

// waitSync syncs as c until ok holds for the room (long-polling, up to r.timeout).
func (r *run) waitSync(ctx context.Context, c *csapi.Client, roomID string, ok func(*roomView) bool) error {
	v := &roomView{bodies: map[string]bool{}, members: map[string]string{}}
	deadline := time.Now().Add(r.timeout)
	since := ""
	for {
		var res struct {
			NextBatch string `json:"next_batch"`
			Rooms     struct {
				Join   map[string]syncRoom `json:"join"`
				Leave  map[string]syncRoom `json:"leave"`
				Invite map[string]struct {
					InviteState struct{ Events []syncEvent } `json:"invite_state"`
				} `json:"invite"`
				Knock map[string]struct {
					KnockState struct{ Events []syncEvent } `json:"knock_state"`
				} `json:"knock"`
			} `json:"rooms"`
		}
		if err := c.SyncInto(ctx, csapi.SyncRequest{Since: since, Timeout: time.Second}, &res); err != nil {
			return fmt.Errorf("/sync as %s: %w", c.UserID, err)
		}
		since = res.NextBatch
		room, left := res.Rooms.Join[roomID], res.Rooms.Leave[roomID]
		events := append(append(room.State.Events, room.Timeline.Events...), append(left.State.Events, left.Timeline.Events...)...)
		if inv, ok := res.Rooms.Invite[roomID]; ok {
			v.invited = true
			events = append(events, inv.InviteState.Events...)
		}
		if kn, ok := res.Rooms.Knock[roomID]; ok {
			v.knocked = true
			events = append(events, kn.KnockState.Events...)
		}
		for _, e := range events {
			switch {
			case e.Type == "m.room.message":
				v.bodies[e.Content.Body] = true
			case e.Type == "m.room.member" && e.StateKey != nil:
				v.members[*e.StateKey] = e.Content.Membership
			case e.Type == "m.room.topic" && e.StateKey != nil && *e.StateKey == "":
				v.topic = e.Content.Topic
			}
		}
		if ok(v) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not seen within %s; %s has seen messages %v, memberships %v and topic %q", r.timeout, c.UserID, keys(v.bodies), v.members, v.topic)
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// stopAll stops the servers with SIGTERM (then kills what does not stop).
func (r *run) stopAll() {
	for _, s := range r.servers {
		if s.cmd == nil || s.cmd.Process == nil {
			continue
		}
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
		s.logFile.Close()
	}
	for _, stop := range r.stops {
		stop()
	}
}

func (r *run) tailLogs(n int) {
	for _, s := range r.servers {
		raw, err := os.ReadFile(filepath.Join(s.dir, "axon.log"))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Printf("--- server %s (%s), last %d lines\n%s\n", s.label, s.name, len(lines), strings.Join(lines, "\n"))
	}
	for _, path := range r.logs {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Printf("--- %s, last %d lines\n%s\n", path, len(lines), strings.Join(lines, "\n"))
	}
}
