package internal

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/testenv"
)

// TestQueryRemoteDirectory: arrow 7 asks the alias's server (signed), returns its answer,
// remembers found and not found briefly, and maps failures to Matrix errors.
func TestQueryRemoteDirectory(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/_matrix/federation/v1/query/directory" || r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("room_alias") {
		case "#lobby:" + r.Host:
			w.Write([]byte(`{"room_id":"!abc:` + r.Host + `","servers":["` + r.Host + `","not a server!"]}`))
		case "#broken:" + r.Host:
			w.WriteHeader(http.StatusInternalServerError)
		case "#bad:" + r.Host:
			w.Write([]byte(`{"room_id":"nope"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errcode":"M_NOT_FOUND","error":"no such alias"}`))
		}
	}))
	defer srv.Close()
	dest := srv.Listener.Addr().String()
	a := &API{ServerName: testOrigin, Client: testClient(t, testKey(t, "k1"))}
	ctx := context.Background()
	for i := 0; i < 2; i++ { // the second time from the cache
		resp, err := a.QueryRemoteDirectory(ctx, &api.QueryRemoteDirectoryRequest{Alias: "#lobby:" + dest})
		if err != nil || resp.RoomID != "!abc:"+dest || len(resp.Servers) != 1 || resp.Servers[0] != dest {
			t.Fatalf("lookup %d: %+v %v", i, resp, err)
		}
		if _, err := a.QueryRemoteDirectory(ctx, &api.QueryRemoteDirectoryRequest{Alias: "#missing:" + dest}); errCodeOf(err) != "M_NOT_FOUND" {
			t.Fatalf("missing alias %d: %v", i, err)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d requests for two aliases asked twice each", n)
	}
	for alias, want := range map[string]string{"#broken:" + dest: "M_UNKNOWN", "#bad:" + dest: "M_UNKNOWN",
		"#mine:" + testOrigin: "M_INVALID_PARAM", "lobby": "M_INVALID_PARAM"} {
		if _, err := a.QueryRemoteDirectory(ctx, &api.QueryRemoteDirectoryRequest{Alias: alias}); errCodeOf(err) != want {
			t.Errorf("%s: %v, want %s", alias, err, want)
		}
	}
}

func errCodeOf(err error) string {
	var me *httputil.MatrixError
	if errors.As(err, &me) {
		return me.ErrCode
	}
	return ""
}

// TestServerContacted: arrow 8 ends a destination's backoff like ResetBackoff.
func TestServerContacted(t *testing.T) {
	remote := newFakeRemote(t)
	remote.setFailing(true)
	s := startSender(t, testenv.SQLitePath(t, "q"), Backoff{Base: time.Hour, Max: time.Hour})
	if err := s.consumer.Handle(context.Background(), topic6(0, 1, remote.name())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed attempt", 5*time.Second, func() bool { return len(remote.snapshot()) == 1 })
	remote.setFailing(false)
	a := &API{ServerName: testOrigin, Queues: s.queues}
	if err := a.ServerContacted(context.Background(), &api.ServerContactedRequest{Server: remote.name()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery after the contact", 5*time.Second, func() bool { return len(remote.delivered()) == 1 })
}
