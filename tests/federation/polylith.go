package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/lib/pq" // the polylith's database

	"github.com/axon-matrix/axon/internal/csapi"
)

// polylithSummary describes the polylith drill (flag -polylith).
const polylithSummary = "a polylith (every component its own process, behind client-api-proxy and a TLS front) and a monolith federating: rooms joined both ways, messages both ways, " +
	"and 100 messages sent on the polylith while its axon-federation-sender is killed with -9 and restarted, each in the monolith's /sync and /messages exactly once"

// polylithOrder is the start order of the polylith's processes (tests/e2e/polylith.sh's).
var polylithOrder = []string{"user-api", "roomserver", "server-key-api", "federation-sender", "app-service", "key-server", "edu-server",
	"client-api", "federation-api", "media-api", "sync-api", "proxy"}

// proc is one process of the polylith.
type proc struct {
	name, health string
	argv         []string
	cmd          *exec.Cmd
	exited       chan struct{}
	log          *os.File
}

// polylith is the started polylith: its processes, its client URL (client-api-proxy) and
// its database.
type polylith struct {
	procs     map[string]*proc
	clientURL string
	dropDB    func()
}

// polylithScenario: server P is the polylith, named by its front (fronts.go: the TLS
// terminator a deployment puts in front of client-api-proxy, which routes federation
// paths to axon-federation-api: the polylith has no TLS listener of its own), server B a
// monolith. It needs the Postgres and Kafka of AXON_TEST_POSTGRES_DSN and
// AXON_TEST_KAFKA_BROKERS (scripts/test.sh starts both).
func (r *run) polylithScenario() error {
	ctx := context.Background()
	dsn, brokers := os.Getenv("AXON_TEST_POSTGRES_DSN"), os.Getenv("AXON_TEST_KAFKA_BROKERS")
	if dsn == "" || brokers == "" {
		if os.Getenv("CI") == "true" {
			return errors.New("AXON_TEST_POSTGRES_DSN and AXON_TEST_KAFKA_BROKERS must be set in CI (scripts/test.sh starts both)")
		}
		r.say("skipped: needs AXON_TEST_POSTGRES_DSN and AXON_TEST_KAFKA_BROKERS (run through scripts/test.sh)")
		return nil
	}
	r.begin("build the polylith's binaries, axon-monolith and axon-generate-config")
	bin, err := r.build()
	if err != nil {
		return err
	}
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./cmd/axon-user-api", "./cmd/axon-roomserver",
		"./cmd/axon-server-key-api", "./cmd/axon-federation-sender", "./cmd/axon-appservice", "./cmd/axon-key-server",
		"./cmd/axon-edu-server", "./cmd/axon-client-api", "./cmd/axon-federation-api", "./cmd/axon-media-api", "./cmd/axon-sync-api",
		"./cmd/client-api-proxy", "./cmd/axon-generate-keys")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}

	r.begin("start the polylith P behind its TLS front")
	dir := filepath.Join(r.work, "P")
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return err
	}
	f, err := newFront(dir, nil)
	if err != nil {
		return err
	}
	defer f.close()
	p, fedURL, err := r.startPolylith(bin, dir, f.name, dsn, brokers)
	if p != nil {
		// After the monolith (stopAll): the processes, then their database.
		r.stops = append(r.stops, p.stop, p.dropDB)
		for _, n := range polylithOrder {
			r.logs = append(r.logs, filepath.Join(dir, "logs", n+".log"))
		}
	}
	if err != nil {
		return err
	}
	// The front plays the TLS terminator docs/deployment.md puts in front of
	// client-api-proxy, which routes federation and key paths to axon-federation-api.
	if err := f.forward(p.clientURL); err != nil {
		return err
	}
	r.say("polylith P: %s (TLS front → client-api-proxy %s → axon-federation-api %s)", f.name, p.clientURL, fedURL)

	r.begin("configure and start the monolith B")
	b, err := r.start(bin, "B")
	if b != nil {
		r.servers = append(r.servers, b)
	}
	if err != nil {
		return err
	}

	r.begin("register alice on P and bob on B")
	alice := &csapi.Client{BaseURL: p.clientURL}
	bob := &csapi.Client{BaseURL: b.clientURL}
	if _, err := alice.Register(ctx, "alice", "alice-password-1", "test"); err != nil {
		return fmt.Errorf("alice: %w", err)
	}
	if _, err := bob.Register(ctx, "bob", "bob-password-1", "test"); err != nil {
		return fmt.Errorf("bob: %w", err)
	}

	r.begin("alice creates a room on P; bob@B joins it through P; bob creates a room on B, alice@P joins it through B")
	roomP, err := alice.CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "public_chat", Name: "on the polylith"})
	if err != nil {
		return err
	}
	if err := joinVia(ctx, bob, roomP, f.name); err != nil {
		return err
	}
	roomB, err := bob.CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "public_chat", Name: "on the monolith"})
	if err != nil {
		return err
	}
	if err := joinVia(ctx, alice, roomB, b.name); err != nil {
		return err
	}
	r.begin("messages both ways in both rooms")
	for _, room := range []string{roomP, roomB} {
		if _, err := alice.Send(ctx, room, "hi-"+room, map[string]any{"msgtype": "m.text", "body": "from P"}); err != nil {
			return err
		}
		if _, err := bob.Send(ctx, room, "hi-"+room, map[string]any{"msgtype": "m.text", "body": "from B"}); err != nil {
			return err
		}
		for _, u := range []*csapi.Client{alice, bob} {
			if err := r.waitSync(ctx, u, room, func(v *roomView) bool { return v.bodies["from P"] && v.bodies["from B"] }); err != nil {
				return err
			}
		}
	}

	r.begin("bob sends 30 messages on B; alice's /messages on P holds each exactly once, in order")
	var fromB []string
	for i := range 30 {
		body := fmt.Sprintf("from B %02d", i)
		if _, err := bob.Send(ctx, roomP, fmt.Sprintf("fromB%d", i), map[string]any{"msgtype": "m.text", "body": body}); err != nil {
			return err
		}
		fromB = append(fromB, body)
	}
	if err := r.eventually(r.timeout, "B's 30 messages in alice's /messages on P", func() (bool, string, error) {
		bodies, err := allMessages(ctx, alice, roomP)
		if err != nil {
			return false, "", err
		}
		var got []string
		for _, b := range bodies {
			if strings.HasPrefix(b, "from B ") {
				got = append(got, b)
			}
		}
		return strings.Join(got, ",") == strings.Join(fromB, ","), fmt.Sprintf("%d of %d: %v", len(got), len(fromB), got), nil
	}); err != nil {
		return err
	}

	r.begin("bob's /sync position before the burst")
	since, err := syncPosition(ctx, bob)
	if err != nil {
		return err
	}
	const burst = 100
	r.begin(fmt.Sprintf("alice sends %d messages on P, one every 20 ms; after 30, kill -9 axon-federation-sender; 2 s later, start it again", burst))
	sent := make([]string, burst)
	for i := range sent {
		sent[i] = fmt.Sprintf("burst %03d", i)
	}
	var progress atomic.Int64
	sendErr := make(chan error, 1)
	go func() {
		for i, body := range sent {
			if _, err := alice.Send(ctx, roomP, fmt.Sprintf("burst%d", i), map[string]any{"msgtype": "m.text", "body": body}); err != nil {
				sendErr <- err
				return
			}
			progress.Store(int64(i + 1))
			time.Sleep(20 * time.Millisecond)
		}
		sendErr <- nil
	}()
	for progress.Load() < 30 {
		time.Sleep(5 * time.Millisecond)
	}
	r.say("kill -9 axon-federation-sender (%d of %d sent)", progress.Load(), burst)
	p.procs["federation-sender"].kill9()
	time.Sleep(2 * time.Second)
	r.say("start axon-federation-sender again (%d of %d sent)", progress.Load(), burst)
	if err := r.startProc(p.procs["federation-sender"]); err != nil {
		return err
	}
	if err := <-sendErr; err != nil {
		return err
	}
	r.begin("bob's /sync on B brings each of the 100 exactly once")
	seen := map[string]int{}
	if err := r.eventually(3*r.timeout, "the burst in bob's /sync", func() (bool, string, error) {
		var res struct {
			NextBatch string `json:"next_batch"`
			Rooms     struct {
				Join map[string]syncRoom `json:"join"`
			} `json:"rooms"`
		}
		if err := bob.SyncInto(ctx, csapi.SyncRequest{Since: since, Timeout: time.Second, Filter: `{"room":{"timeline":{"limit":200}}}`}, &res); err != nil {
			return false, "", err
		}
		since = res.NextBatch
		for _, e := range res.Rooms.Join[roomP].Timeline.Events {
			if e.Type == "m.room.message" {
				seen[e.Content.Body]++
			}
		}
		return hasAllCounts(seen, sent), fmt.Sprintf("%d of %d seen", countOf(seen, sent), len(sent)), nil
	}); err != nil {
		return err
	}
	// Two more syncs: nothing comes twice.
	for range 2 {
		var res struct {
			NextBatch string `json:"next_batch"`
			Rooms     struct {
				Join map[string]syncRoom `json:"join"`
			} `json:"rooms"`
		}
		if err := bob.SyncInto(ctx, csapi.SyncRequest{Since: since, Timeout: 2 * time.Second}, &res); err != nil {
			return err
		}
		since = res.NextBatch
		for _, e := range res.Rooms.Join[roomP].Timeline.Events {
			if e.Type == "m.room.message" {
				seen[e.Content.Body]++
			}
		}
	}
	for _, body := range sent {
		if seen[body] != 1 {
			return fmt.Errorf("bob's /sync delivered %q %d times", body, seen[body])
		}
	}
	r.begin("bob's /messages on B holds each of the 100 exactly once, in order")
	bodies, err := allMessages(ctx, bob, roomP)
	if err != nil {
		return err
	}
	var burstSeen []string
	for _, body := range bodies {
		if strings.HasPrefix(body, "burst ") {
			burstSeen = append(burstSeen, body)
		}
	}
	if strings.Join(burstSeen, ",") != strings.Join(sent, ",") {
		return fmt.Errorf("bob's /messages holds %d burst messages, not the %d sent in order: %v", len(burstSeen), len(sent), burstSeen)
	}

	r.begin("after the drill: bob answers on B, alice sees it on P (both directions still work)")
	if _, err := bob.Send(ctx, roomP, "after", map[string]any{"msgtype": "m.text", "body": "got all 100"}); err != nil {
		return err
	}
	if err := r.waitSync(ctx, alice, roomP, func(v *roomView) bool { return v.bodies["got all 100"] }); err != nil {
		return err
	}
	r.begin("every process of the polylith still healthy")
	for _, n := range polylithOrder {
		if err := healthy(p.procs[n]); err != nil {
			return err
		}
	}
	r.step = "done"
	return nil
}

// startPolylith writes the polylith's config (one file for every process, as
// tests/e2e/polylith.sh does), creates its database and starts its processes. It returns
// the URL of axon-federation-api's public listener.
func (r *run) startPolylith(bin, dir, name, baseDSN, brokers string) (*polylith, string, error) {
	ports := map[string]int{}
	for _, k := range []string{"user", "rs", "sk", "fs", "as", "ks", "edu", "client", "fed", "media", "sync", "proxy", "proxy-metrics"} {
		port, err := freePort()
		if err != nil {
			return nil, "", err
		}
		ports[k] = port
	}
	u, err := url.Parse(baseDSN)
	if err != nil {
		return nil, "", fmt.Errorf("AXON_TEST_POSTGRES_DSN: %w", err)
	}
	db := fmt.Sprintf("axon_fedpoly_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	admin, err := sql.Open("postgres", baseDSN)
	if err != nil {
		return nil, "", err
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + db); err != nil {
		return nil, "", fmt.Errorf("create database: %w", err)
	}
	p := &polylith{procs: map[string]*proc{}, clientURL: fmt.Sprintf("http://127.0.0.1:%d", ports["proxy"])}
	p.dropDB = func() {
		if a, err := sql.Open("postgres", baseDSN); err == nil {
			_, _ = a.Exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)")
			a.Close()
		}
	}
	u.Path = "/" + db
	secret := fmt.Sprintf("fedpoly-%d-%d", os.Getpid(), time.Now().UnixNano())
	l := func(k string) string { return fmt.Sprintf("127.0.0.1:%d", ports[k]) }
	cfg := fmt.Sprintf(`global:
  server_name: %q
  data_dir: %q
  private_key_path: %q
  database:
    connection_string: %q
    max_open_conns: 10
  event_log:
    backend: kafka
    kafka:
      brokers: [%q]
      topic_prefix: "axon.fedpoly%d."
      partitions: 4
  internal_api_secret: %q
  trusted_proxies: ["127.0.0.1"]
  rate_limits:
    enabled: false
user_api:
  internal_api_listen: %q
  internal_api_url: "http://%s"
  bcrypt_cost: 4
room_server:
  internal_api_listen: %q
  internal_api_url: "http://%s"
server_key_api:
  internal_api_listen: %q
  internal_api_url: "http://%s"
federation_sender:
  internal_api_listen: %q
  internal_api_url: "http://%s"
app_service:
  internal_api_listen: %q
  internal_api_url: "http://%s"
key_server:
  internal_api_listen: %q
  internal_api_url: "http://%s"
edu_server:
  internal_api_listen: %q
  internal_api_url: "http://%s"
federation_api:
  public_listen: %q
  allow_private_destinations: true
  disable_tls_validation: true
media_api:
  public_listen: %q
client_api:
  public_listen: %q
  public_base_url: "http://%s"
sync_api:
  public_listen: %q
client_api_proxy:
  listen: %q
  metrics_listen: %q
  client_api_urls: ["http://%s"]
  sync_api_urls: ["http://%s"]
  media_api_urls: ["http://%s"]
  federation_api_urls: ["http://%s"]
  health_check_interval: 500ms
  health_check_timeout: 1s
  connect_timeout: 2s
`, name, filepath.Join(dir, "data"), filepath.Join(dir, "signing.key"), u.String(), strings.Split(brokers, ",")[0], os.Getpid(), secret,
		l("user"), l("user"), l("rs"), l("rs"), l("sk"), l("sk"), l("fs"), l("fs"), l("as"), l("as"), l("ks"), l("ks"), l("edu"), l("edu"),
		l("fed"), l("media"), l("client"), l("proxy"), l("sync"), l("proxy"), l("proxy-metrics"),
		l("client"), l("sync"), l("media"), l("fed"))
	cfgPath := filepath.Join(dir, "axon.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return p, "", err
	}
	if out, err := exec.Command(filepath.Join(bin, "axon-generate-keys"), "-config", cfgPath).CombinedOutput(); err != nil {
		return p, "", fmt.Errorf("axon-generate-keys: %v: %s", err, out)
	}
	health := func(k string) string { return "http://" + l(k) + "/health" }
	add := func(n, binary, h string, extra ...string) {
		p.procs[n] = &proc{name: n, health: h, argv: append([]string{filepath.Join(bin, binary), "-config", cfgPath}, extra...)}
	}
	add("user-api", "axon-user-api", health("user"))
	add("roomserver", "axon-roomserver", health("rs"))
	add("server-key-api", "axon-server-key-api", health("sk"))
	add("federation-sender", "axon-federation-sender", health("fs"))
	add("app-service", "axon-appservice", health("as"))
	add("key-server", "axon-key-server", health("ks"))
	add("edu-server", "axon-edu-server", health("edu"))
	add("client-api", "axon-client-api", health("client"))
	add("federation-api", "axon-federation-api", health("fed"))
	add("media-api", "axon-media-api", health("media"))
	add("sync-api", "axon-sync-api", health("sync"))
	add("proxy", "client-api-proxy", p.clientURL+"/_matrix/client/versions")
	for _, n := range polylithOrder {
		pr := p.procs[n]
		var err error
		if pr.log, err = os.Create(filepath.Join(dir, "logs", n+".log")); err != nil {
			return p, "", err
		}
		if err := r.startProc(pr); err != nil {
			return p, "", err
		}
	}
	// The proxy routes to the sync instance once its health check saw it.
	if err := r.eventually(r.timeout, "client-api-proxy routing /sync", func() (bool, string, error) {
		resp, err := http.Get(p.clientURL + "/_matrix/client/v3/sync")
		if err != nil {
			return false, err.Error(), nil
		}
		resp.Body.Close()
		return resp.StatusCode == 401, fmt.Sprintf("HTTP %d", resp.StatusCode), nil
	}); err != nil {
		return p, "", err
	}
	return p, "http://" + l("fed"), nil
}

// startProc starts pr and waits until its health URL answers 200.
func (r *run) startProc(pr *proc) error {
	pr.cmd = exec.Command(pr.argv[0], pr.argv[1:]...)
	pr.cmd.Stdout, pr.cmd.Stderr = pr.log, pr.log
	if err := pr.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	pr.exited = exited
	cmd := pr.cmd
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(2 * r.timeout)
	for {
		select {
		case <-exited:
			return fmt.Errorf("%s exited during start", pr.name)
		default:
		}
		if healthy(pr) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer %s within %s", pr.name, pr.health, 2*r.timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func healthy(pr *proc) error {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(pr.health)
	if err != nil {
		return fmt.Errorf("%s: %w", pr.name, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s answers %d", pr.name, pr.health, resp.StatusCode)
	}
	return nil
}

// kill9 kills pr with SIGKILL and waits for it.
func (pr *proc) kill9() {
	if pr.cmd != nil && pr.cmd.Process != nil {
		_ = pr.cmd.Process.Signal(syscall.SIGKILL)
		<-pr.exited
	}
}

// stop stops every process in reverse start order (SIGTERM, SIGKILL after 15 s).
func (p *polylith) stop() {
	for i := len(polylithOrder) - 1; i >= 0; i-- {
		pr := p.procs[polylithOrder[i]]
		if pr == nil || pr.cmd == nil || pr.cmd.Process == nil {
			continue
		}
		select {
		case <-pr.exited:
			continue
		default:
		}
		_ = pr.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-pr.exited:
		case <-time.After(15 * time.Second):
			pr.kill9()
		}
	}
}
