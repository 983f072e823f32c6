package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/inthttp"
	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/eventlog/embedded"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
	"github.com/axon-matrix/axon/internal/sqlutil"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

const (
	testServer = "as.example"
	testSecret = "0123456789abcdef-appservice"
	hsToken    = "hs-token-of-the-bridge"
)

// writeConfig writes the process's config with app_service.config_files = files.
func writeConfig(t *testing.T, dir string, port int, files ...string) string {
	t.Helper()
	path := processtest.WriteConfig(t, dir, processtest.Config{ServerName: testServer, Section: "app_service", Port: port, Secret: testSecret})
	list, _ := json.Marshal(files)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("  config_files: " + string(list) + "\n"); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeRegistration(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBadRegistration: a registration without hs_token stops the start with an error
// naming the file and the field.
func TestBadRegistration(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-appservice")
	dir := t.TempDir()
	reg := writeRegistration(t, dir, "broken.yaml", "id: b\nurl: null\nas_token: a\nsender_localpart: bot\nnamespaces: {}\n")
	cfg := writeConfig(t, dir, processtest.FreePort(t), reg)
	res := processtest.Run(t, bin, "-config", cfg)
	if res.ExitCode == 0 || !strings.Contains(res.Output, "broken.yaml") || !strings.Contains(res.Output, "field hs_token") {
		t.Fatalf("exit %d, output %s", res.ExitCode, res.Output)
	}
}

// TestProcess runs axon-appservice as a real process on SQLite: the ping reaches the
// bridge through arrow 10 (appservice/inthttp) with the hs_token; a topic 2 record of the
// bridge's user becomes a transaction; a record published while the bridge is down and
// the process restarts in between arrives once the bridge is back; a wrong secret is 401.
func TestProcess(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-appservice")
	var down atomic.Bool
	var mu sync.Mutex
	var pings int
	var got []string
	seen := map[string]bool{}
	bridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+hsToken {
			t.Errorf("%s %s with Authorization %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
			w.WriteHeader(http.StatusForbidden)
			return
		}
		if down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.URL.Path == "/_matrix/app/v1/ping":
			pings++
		case strings.HasPrefix(r.URL.Path, "/_matrix/app/v1/transactions/") && r.Method == http.MethodPut:
			var txn struct {
				Events []struct {
					EventID string `json:"event_id"`
				} `json:"events"`
			}
			_ = json.NewDecoder(r.Body).Decode(&txn)
			if !seen[r.URL.Path] {
				seen[r.URL.Path] = true
				for _, e := range txn.Events {
					got = append(got, e.EventID)
				}
			}
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer bridge.Close()
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}

	dir := t.TempDir()
	reg := writeRegistration(t, dir, "bridge.yaml", `id: bridge
url: "`+bridge.URL+`"
as_token: as-token-of-the-bridge
hs_token: `+hsToken+`
sender_localpart: bridgebot
namespaces:
  users: [{exclusive: true, regex: "@_bridge_.*"}]
`)
	port := processtest.FreePort(t)
	cfgPath := writeConfig(t, dir, port, reg)
	p := processtest.Start(t, bin, port, "-config", cfgPath)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	c := inthttp.NewClient(base, testSecret)
	ctx := context.Background()

	if resp, err := c.Ping(ctx, &api.PingRequest{AppServiceID: "bridge", TransactionID: "t1"}); err != nil || resp.DurationMS < 0 || pings != 1 {
		t.Fatalf("ping: %+v %v (bridge saw %d)", resp, err, pings)
	}
	var me *httputil.MatrixError
	if _, err := c.Ping(ctx, &api.PingRequest{AppServiceID: "nope"}); !errors.As(err, &me) || me.Status != 404 {
		t.Fatalf("unknown service: %v", err)
	}
	if _, err := inthttp.NewClient(base, "wrong-secret-0123456789").Ping(ctx, &api.PingRequest{AppServiceID: "bridge"}); !errors.As(err, &me) ||
		me.Status != 401 || me.ErrCode != "M_UNAUTHORIZED" {
		t.Fatalf("wrong secret: %v", err)
	}

	// Topic 2 records, published from here into the process's embedded log.
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: "file:" + filepath.Join(dir, "eventlog.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log, err := embedded.New(ctx, db, embedded.Config{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	topic := cfg.TopicName(eventlog.TopicRoomEvent)
	publish := func(id, room, user string) {
		t.Helper()
		ev, _ := json.Marshal(map[string]any{"type": "m.room.member", "room_id": room, "sender": user, "state_key": user,
			"content": map[string]string{"membership": "join"}, "origin_server_ts": 1, "depth": 1, "prev_events": []string{}, "auth_events": []string{}})
		rec, _ := json.Marshal(rsapi.OutputEvent{Type: rsapi.OutputNewRoomEvent, NewRoomEvent: &rsapi.OutputNewRoomEventData{RoomVersion: "10", Event: ev, EventID: id}})
		if err := log.Producer().Publish(ctx, eventlog.Message{Topic: topic, Key: room, Value: rec}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if strings.Join(received(), " ") == want {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("bridge got %v, want %s", received(), want)
	}
	publish("$one", "!r:"+testServer, "@_bridge_a:"+testServer)
	publish("$other", "!elsewhere:"+testServer, "@alice:"+testServer) // nothing of the bridge's
	waitFor("$one")

	down.Store(true)
	publish("$two", "!r:"+testServer, "@_bridge_b:"+testServer)
	time.Sleep(1500 * time.Millisecond) // the process reads it and fails to push it
	p.Stop(t)
	p = processtest.Start(t, bin, port, "-config", cfgPath)
	down.Store(false)
	waitFor("$one $two")
	p.Stop(t)
}
