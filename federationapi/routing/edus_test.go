package routing

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gorilla/mux"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/httputil"
)

// fakeEDUServer records arrow 5's calls.
type fakeEDUServer struct {
	eduapi.EDUServerAPI // other methods: not called
	mu                  sync.Mutex
	fail                bool
	calls               []eduapi.InputFederationEDUsRequest
}

func (f *fakeEDUServer) InputFederationEDUs(_ context.Context, req *eduapi.InputFederationEDUsRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, *req)
	if f.fail {
		return errors.New("eduserver down")
	}
	return nil
}

// TestSendHandsEDUsOver: /send passes well-formed EDUs with the authenticated origin to
// the eduserver (arrow 5); when the eduserver cannot take them the transaction fails, so
// the origin retries it (and the answer is not remembered).
func TestSendHandsEDUsOver(t *testing.T) {
	e := newRoomEnv(t)
	edu := &fakeEDUServer{fail: true}
	root := mux.NewRouter()
	root.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusNotFound))
	})
	Setup(root, root, Config{ServerName: us, RoomServer: e.rs, Fetcher: e.fetcher, EDUServer: edu}, e.keys)
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	e.srv = srv

	typing := map[string]any{"edu_type": "m.typing", "content": map[string]any{"room_id": "!r:us.example", "user_id": "@bob:remote.example", "typing": true}}
	txn := map[string]any{"origin": "remote.example", "pdus": []any{}, "edus": []any{typing, "nope", map[string]any{"edu_type": "m.typing", "content": []int{1}},
		map[string]any{"content": map[string]any{}}}}
	var body map[string]any
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send/e1", txn, &body); s != 500 {
		t.Fatalf("eduserver down: %d %v", s, body)
	}
	edu.mu.Lock()
	edu.fail = false
	edu.mu.Unlock()
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send/e1", txn, &body); s != 200 {
		t.Fatalf("retry: %d %v", s, body)
	}
	edu.mu.Lock()
	defer edu.mu.Unlock()
	if len(edu.calls) != 2 {
		t.Fatalf("%d calls, want 2", len(edu.calls))
	}
	c := edu.calls[1]
	if c.Origin != "remote.example" || len(c.EDUs) != 1 || c.EDUs[0].Type != "m.typing" {
		t.Fatalf("call %+v", c)
	}
	var content map[string]any
	if json.Unmarshal(c.EDUs[0].Content, &content) != nil || content["user_id"] != "@bob:remote.example" {
		t.Fatalf("content %s", c.EDUs[0].Content)
	}
}
