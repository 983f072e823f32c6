package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/inthttp/polylith/processtest"
)

const (
	testServer = "sync.example"
	testSecret = "0123456789abcdef-sync-api"
)

// TestProcess runs axon-sync-api (instance "0", the default) as a real process beside
// axon-user-api, axon-roomserver and axon-client-api on SQLite and the embedded event log:
// /health and /metrics; /sync shows a message sent through the client API (topic 2
// consumed by this instance); /event, /messages and the token checks answer the spec's
// errors, including the userapi's M_UNKNOWN_TOKEN carried over inthttp; no internal API
// and no clientapi route on this listener; SIGTERM stops it cleanly; its tables are in
// syncapi-0.db.
func TestProcess(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-sync-api")
	userBin := processtest.Build(t, "../axon-user-api", "axon-user-api")
	rsBin := processtest.Build(t, "../axon-roomserver", "axon-roomserver")
	clientBin := processtest.Build(t, "../axon-client-api", "axon-client-api")
	dir := t.TempDir()
	pl := processtest.WritePolylith(t, dir, testServer, testSecret, "")
	cfg := []string{"-config", pl.ConfigPath}
	users := processtest.Start(t, userBin, pl.UserAPI, cfg...)
	rs := processtest.Start(t, rsBin, pl.RoomServer, cfg...)
	client := processtest.Start(t, clientBin, pl.ClientAPI, cfg...)
	sync := processtest.Start(t, bin, pl.SyncAPI, cfg...)
	cbase := fmt.Sprintf("http://127.0.0.1:%d", pl.ClientAPI)
	base := fmt.Sprintf("http://127.0.0.1:%d", pl.SyncAPI)

	processtest.Do(t, http.MethodGet, base+"/health", "", nil).Must(t, http.StatusOK)
	// /metrics is not on the public listener (-metrics-bind puts it on one of its own).
	processtest.Do(t, http.MethodGet, base+"/metrics", "", nil).Must(t, http.StatusNotFound)
	_, aliceTok := processtest.Register(t, cbase, "alice")
	_, bobTok := processtest.Register(t, cbase, "bob")
	room := processtest.Do(t, http.MethodPost, cbase+"/_matrix/client/v3/createRoom", aliceTok,
		map[string]any{"preset": "private_chat"}).Must(t, http.StatusOK).Str("room_id")
	ev := processtest.Do(t, http.MethodPut, cbase+"/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/send/m.room.message/t1", aliceTok,
		map[string]any{"msgtype": "m.text", "body": "hi"}).Must(t, http.StatusOK).Str("event_id")
	if ids, _ := collect(t, base, aliceTok, "", room, ev); len(ids) == 0 {
		t.Fatal("empty timeline")
	}
	roomPath := base + "/_matrix/client/v3/rooms/" + url.PathEscape(room)
	processtest.Do(t, http.MethodGet, roomPath+"/event/"+url.PathEscape(ev), aliceTok, nil).Must(t, http.StatusOK)

	errs := []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"no token", http.MethodGet, base + "/_matrix/client/v3/sync", "", 401, "M_MISSING_TOKEN"},
		// The userapi does not know the token (over userapi/inthttp).
		{"unknown token", http.MethodGet, base + "/_matrix/client/v3/sync", "nope", 401, "M_UNKNOWN_TOKEN"},
		{"not in the room", http.MethodGet, roomPath + "/messages?dir=b", bobTok, 403, "M_FORBIDDEN"},
		{"unknown event", http.MethodGet, roomPath + "/event/" + url.PathEscape("$nope"), aliceTok, 404, "M_NOT_FOUND"},
		{"bad since", http.MethodGet, base + "/_matrix/client/v3/sync?since=garbage", aliceTok, 400, "M_INVALID_PARAM"},
		{"no internal API", http.MethodPost, base + "/api/roomserver/QueryEvent", "", 404, "M_UNRECOGNIZED"},
		{"clientapi route", http.MethodPost, base + "/_matrix/client/v3/createRoom", aliceTok, 404, "M_UNRECOGNIZED"},
		{"wrong method", http.MethodPut, base + "/_matrix/client/v3/sync", aliceTok, 405, "M_UNRECOGNIZED"},
	}
	for _, tc := range errs {
		r := processtest.Do(t, tc.method, tc.path, tc.token, nil)
		if r.Status != tc.status || r.ErrCode() != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Raw, tc.status, tc.code)
		}
	}

	sync.Stop(t)
	client.Stop(t)
	rs.Stop(t)
	users.Stop(t)
	checkFilesFor(t, dir, map[string]bool{"syncapi-0.db": true, "syncapi.db": false})
}

// TestFlags: bad invocations end with status 2, a configuration that cannot run with 1.
func TestFlags(t *testing.T) {
	bin := processtest.Build(t, ".", "axon-sync-api")
	pl := processtest.WritePolylith(t, t.TempDir(), testServer, testSecret, "")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no config", nil, 2, "-config is required"},
		{"stray argument", []string{"-config", pl.ConfigPath, "extra"}, 2, "unexpected arguments"},
		{"bad instance", []string{"-config", pl.ConfigPath, "-instance", "Sync-1"}, 1, "-instance"},
		{"bad public bind", []string{"-config", pl.ConfigPath, "-public-bind", "nope"}, 1, "sync_api.public_listen"},
		{"help names the flags", []string{"-h"}, 0, "-instance"},
	}
	for _, tc := range tests {
		r := processtest.Run(t, bin, tc.args...)
		if r.ExitCode != tc.code || !strings.Contains(r.Output, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", tc.name, r.ExitCode, tc.code, tc.want, r.Output)
		}
	}
}

func checkFilesFor(t *testing.T, dir string, files map[string]bool) {
	t.Helper()
	for file, want := range files {
		_, err := os.Stat(filepath.Join(dir, file))
		if (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", file, err == nil, want)
		}
	}
}
