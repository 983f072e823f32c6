package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/axon-matrix/axon/internal/testenv"
)

// client talks to a running monolith over real HTTP.
type client struct {
	t    *testing.T
	base string
}

func (c *client) do(method, path, token string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (c *client) must(status int, method, path, token string, body any) map[string]any {
	c.t.Helper()
	got, out := c.do(method, path, token, body)
	if got != status {
		c.t.Fatalf("%s %s: %d %v, want %d", method, path, got, out, status)
	}
	return out
}

func startTest(t *testing.T, o *options) (*monolith, *client) {
	t.Helper()
	if o.metricsBind == "" {
		o.metricsBind = "127.0.0.1:0" // tests run side by side: never the default port
	}
	m, err := start(o)
	if err != nil {
		t.Fatal(err)
	}
	return m, &client{t: t, base: "http://" + m.addr.String()}
}

func stop(t *testing.T, m *monolith) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.base.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// scenario registers, creates a room, sends a message, sees it in /sync and changes the
// display name, which the clientapi (via topic 4) sends to the room.
func scenario(t *testing.T, c *client, user string) (token string) {
	r := c.must(401, "POST", "/_matrix/client/v3/register", "", map[string]any{"username": user, "password": "secret-pw"})
	r = c.must(200, "POST", "/_matrix/client/v3/register", "", map[string]any{"username": user, "password": "secret-pw",
		"auth": map[string]any{"type": "m.login.dummy", "session": r["session"]}})
	token = r["access_token"].(string)
	userID := r["user_id"].(string)
	room := c.must(200, "POST", "/_matrix/client/v3/createRoom", token, map[string]any{"name": "monolith"})["room_id"].(string)
	rp := "/_matrix/client/v3/rooms/" + url.PathEscape(room)
	ev := c.must(200, "PUT", rp+"/send/m.room.message/t1", token, map[string]any{"msgtype": "m.text", "body": "hello"})["event_id"].(string)
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := c.must(200, "GET", "/_matrix/client/v3/sync?timeout=1000", token, nil)
		raw, _ := json.Marshal(s)
		if strings.Contains(string(raw), ev) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("message never reached /sync: %s", raw)
		}
	}
	// The syncapi's paths with the wrong method or unknown neighbours: the spec's
	// M_UNRECOGNIZED with 405 and 404, as on the clientapi's own paths.
	for _, tc := range []struct {
		method, path string
		status       int
	}{{"PUT", "/_matrix/client/v3/sync", 405}, {"DELETE", rp + "/messages", 405}, {"GET", "/_matrix/client/v3/syncx", 404}} {
		if out := c.must(tc.status, tc.method, tc.path, token, nil); out["errcode"] != "M_UNRECOGNIZED" {
			t.Fatalf("%s %s: %v", tc.method, tc.path, out)
		}
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		c.must(200, "PUT", "/_matrix/client/v3/profile/"+url.PathEscape(userID)+"/displayname", token, map[string]any{"displayname": "Renamed"})
		m := c.must(200, "GET", rp+"/state/m.room.member/"+url.PathEscape(userID), token, nil)
		if m["displayname"] == "Renamed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("member event not updated: %v", m)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return token
}

func TestMonolithEmbeddedDefault(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m, c := startTest(t, &options{dataDir: dir, httpBind: "127.0.0.1:0"})
	for _, f := range []string{"axon.yaml", "signing.key", "userapi.db", "roomserver.db", "clientapi.db", "syncapi.db", "eventlog.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not created: %v", f, err)
		}
	}
	if v := c.must(200, "GET", "/_matrix/client/versions", "", nil); v["versions"] == nil {
		t.Fatal("no versions")
	}
	wk := c.must(200, "GET", "/.well-known/matrix/client", "", nil)
	if hs := wk["m.homeserver"].(map[string]any); !strings.HasPrefix(hs["base_url"].(string), "http://localhost:") {
		t.Fatalf("well-known = %v", wk)
	}
	c.must(404, "GET", "/_matrix/client/v3/not_a_thing", "", nil)
	scenario(t, c, "alice")
	stop(t, m)

	// A restart on the same data directory keeps the accounts and the key.
	key1, _ := os.ReadFile(filepath.Join(dir, "signing.key"))
	m, c = startTest(t, &options{dataDir: dir, httpBind: "127.0.0.1:0"})
	defer stop(t, m)
	key2, _ := os.ReadFile(filepath.Join(dir, "signing.key"))
	if !bytes.Equal(key1, key2) {
		t.Fatal("signing key changed on restart")
	}
	c.must(200, "POST", "/_matrix/client/v3/login", "", map[string]any{"type": "m.login.password", "user": "alice", "password": "secret-pw"})
}

func TestMonolithPostgres(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  server_name: pg.test\n  data_dir: %q\n  database:\n    connection_string: %q\n", dir, dsn)
	if brokers := os.Getenv("AXON_TEST_KAFKA_BROKERS"); brokers != "" {
		cfg += fmt.Sprintf("  event_log:\n    backend: kafka\n    kafka:\n      brokers: [%s]\n      topic_prefix: %q\n", brokers,
			fmt.Sprintf("axon%d.", time.Now().UnixNano()))
	}
	cfg += "client_api:\n  registration_shared_secret: \"abc\"\n"
	path := filepath.Join(dir, "axon.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	m, c := startTest(t, &options{configPath: path, httpBind: "127.0.0.1:0"})
	defer stop(t, m)
	scenario(t, c, "bob")
	c.must(200, "GET", "/_synapse/admin/v1/register", "", nil)
	for _, f := range []string{"userapi.db", "roomserver.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s created although the config names Postgres", f)
		}
	}
}

func TestFlags(t *testing.T) {
	cases := []struct {
		args []string
		ok   bool
	}{
		{nil, true},
		{[]string{"-config", "x.yaml", "-http-bind", ":1"}, true},
		{[]string{"-nope"}, false},
		{[]string{"extra"}, false},
	}
	for _, c := range cases {
		_, err := parseFlags(c.args, io.Discard)
		if (err == nil) != c.ok {
			t.Errorf("%v: err = %v", c.args, err)
		}
	}
	if code := run([]string{"-config", filepath.Join(t.TempDir(), "missing.yaml")}, io.Discard); code != 1 {
		t.Errorf("missing config: exit %d, want 1", code)
	}
}

// TestMonolithKafkaFake points the event log at Kafka: kfake, an in-process fake broker,
// so it runs everywhere (TestMonolithPostgres uses the real broker when
// AXON_TEST_KAFKA_BROKERS is set).
func TestMonolithKafkaFake(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  server_name: kafka.test\n  data_dir: %q\n  event_log:\n    backend: kafka\n    kafka:\n      brokers: [%s]\n      partitions: 2\n",
		dir, strings.Join(cluster.ListenAddrs(), ", "))
	path := filepath.Join(dir, "axon.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	m, c := startTest(t, &options{configPath: path, httpBind: "127.0.0.1:0"})
	defer stop(t, m)
	scenario(t, c, "carol")
	if _, err := os.Stat(filepath.Join(dir, "eventlog.db")); err == nil {
		t.Error("embedded event log created although the config names Kafka")
	}
}
