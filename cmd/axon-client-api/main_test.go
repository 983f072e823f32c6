package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
)

const (
	testServer = "client.example"
	testSecret = "0123456789abcdef-client-api"
)

// TestProcess runs axon-client-api as a real process beside axon-user-api and
// axon-roomserver (SQLite, the embedded event log) and talks to it as a client: /health,
// /metrics, /versions and /.well-known; register, createRoom and send go through the
// userapi and over arrow 4 to the roomserver; errors those binaries answer keep their
// status and errcode up to the client; the topic 4 consumer runs (a profile change reaches
// the rooms it recorded); SIGTERM stops every binary cleanly.
func TestProcess(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-client-api")
	userBin := processtest.Build(t, "../axon-user-api", "axon-user-api")
	rsBin := processtest.Build(t, "../axon-roomserver", "axon-roomserver")
	pl := processtest.WritePolylith(t, t.TempDir(), testServer, testSecret, "")
	cfg := []string{"-config", pl.ConfigPath}

	users := processtest.Start(t, userBin, pl.UserAPI, cfg...)
	rs := processtest.Start(t, rsBin, pl.RoomServer, cfg...)
	metricsPort := processtest.FreePort(t)
	client := processtest.Start(t, bin, pl.ClientAPI, append(cfg, "-metrics-bind", fmt.Sprintf("127.0.0.1:%d", metricsPort))...)
	base := fmt.Sprintf("http://127.0.0.1:%d", pl.ClientAPI)

	for _, path := range []string{"/health", "/_matrix/client/versions", "/.well-known/matrix/client"} {
		processtest.Do(t, http.MethodGet, base+path, "", nil).Must(t, http.StatusOK)
	}
	// /metrics is on -metrics-bind, not on the public listener.
	processtest.Do(t, http.MethodGet, base+"/metrics", "", nil).Must(t, http.StatusNotFound)
	processtest.Do(t, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort), "", nil).Must(t, http.StatusOK)

	alice, aliceTok := processtest.Register(t, base, "alice")
	bob, bobTok := processtest.Register(t, base, "bob")
	if alice != "@alice:"+testServer || bob != "@bob:"+testServer {
		t.Fatalf("registered %s, %s", alice, bob)
	}
	room := processtest.Do(t, http.MethodPost, base+"/_matrix/client/v3/createRoom", aliceTok,
		map[string]any{"preset": "private_chat", "name": "Process"}).Must(t, http.StatusOK).Str("room_id")
	sendPath := func(room, txn string) string {
		return base + "/_matrix/client/v3/rooms/" + url.PathEscape(room) + "/send/m.room.message/" + txn
	}
	msg := map[string]any{"msgtype": "m.text", "body": "hello"}
	if id := processtest.Do(t, http.MethodPut, sendPath(room, "t1"), aliceTok, msg).Must(t, http.StatusOK).Str("event_id"); !strings.HasPrefix(id, "$") {
		t.Fatalf("event_id %q", id)
	}

	// Errors keep their Matrix errcode across the internal hop.
	errs := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		// The roomserver's auth check refuses bob, over arrow 4.
		{"send to a room not joined", http.MethodPut, sendPath(room, "b1"), bobTok, msg, 403, "M_FORBIDDEN"},
		// The userapi does not know the token.
		{"unknown token", http.MethodGet, base + "/_matrix/client/v3/account/whoami", "nope", nil, 401, "M_UNKNOWN_TOKEN"},
		{"no token", http.MethodPost, base + "/_matrix/client/v3/createRoom", "", map[string]any{}, 401, "M_MISSING_TOKEN"},
		// The roomserver does not know the room.
		{"unknown room", http.MethodPut, sendPath("!nope:"+testServer, "t2"), aliceTok, msg, 404, "M_NOT_FOUND"},
		// The userapi has the name already.
		{"name taken", http.MethodGet, base + "/_matrix/client/v3/register/available?username=alice", "", nil, 400, "M_USER_IN_USE"},
		// Only the public routes are served: no internal API here.
		{"no internal API", http.MethodPost, base + "/api/userapi/QueryAccessToken", "", map[string]any{}, 404, "M_UNRECOGNIZED"},
		{"sync is not the clientapi's", http.MethodGet, base + "/_matrix/client/v3/sync", aliceTok, nil, 404, "M_UNRECOGNIZED"},
	}
	for _, tc := range errs {
		r := processtest.Do(t, tc.method, tc.path, tc.token, tc.body)
		if r.Status != tc.status || r.ErrCode() != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Raw, tc.status, tc.code)
		}
	}

	// The clientapi binary limits what it serves (global.rate_limits, on by default: 10
	// messages at once per user); alice has sent 3 (createRoom counts).
	var limited processtest.Response
	for i := 0; i < 15 && limited.Status != http.StatusTooManyRequests; i++ {
		limited = processtest.Do(t, http.MethodPut, sendPath(room, fmt.Sprint("burst", i)), aliceTok, msg)
	}
	if ms, _ := limited.Body["retry_after_ms"].(float64); limited.ErrCode() != "M_LIMIT_EXCEEDED" || ms <= 0 {
		t.Fatalf("no 429 M_LIMIT_EXCEEDED with retry_after_ms after a burst of sends: %d %s", limited.Status, limited.Raw)
	}

	// Topic 4: the membership consumer records alice's room, so a display name change is
	// sent to it as a new m.room.member event. The consumer runs behind the send, so the
	// change is repeated until the room shows it.
	member := base + "/_matrix/client/v3/rooms/" + url.PathEscape(room) + "/state/m.room.member/" + url.PathEscape(alice)
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		name := fmt.Sprintf("Alice %d", i)
		processtest.Do(t, http.MethodPut, base+"/_matrix/client/v3/profile/"+url.PathEscape(alice)+"/displayname", aliceTok,
			map[string]any{"displayname": name}).Must(t, http.StatusOK)
		if processtest.Do(t, http.MethodGet, member, aliceTok, nil).Must(t, http.StatusOK).Str("displayname") == name {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the topic 4 consumer never recorded the room\n%s", client.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}

	client.Stop(t)
	rs.Stop(t)
	users.Stop(t)
}

// TestFlags: bad invocations end with status 2, a config that cannot run with 1.
func TestFlags(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-client-api")
	pl := processtest.WritePolylith(t, t.TempDir(), testServer, testSecret, "")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no config", nil, 2, "-config is required"},
		{"stray argument", []string{"-config", pl.ConfigPath, "extra"}, 2, "unexpected arguments"},
		{"unknown flag", []string{"-instance", "x"}, 2, "flag provided but not defined"},
		{"missing file", []string{"-config", pl.ConfigPath + ".nope"}, 1, "axon-client-api:"},
		{"bad public bind", []string{"-config", pl.ConfigPath, "-public-bind", "not an address"}, 1, "public_listen"},
	}
	for _, tc := range tests {
		r := processtest.Run(t, bin, tc.args...)
		if r.ExitCode != tc.code || !strings.Contains(r.Output, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", tc.name, r.ExitCode, tc.code, tc.want, r.Output)
		}
	}
}
