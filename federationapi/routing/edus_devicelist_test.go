package routing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
)

// fakeDeviceLists records arrow 15's InputDeviceListUpdates calls.
type fakeDeviceLists struct {
	keyapi.KeyServerAPI // other methods: not called
	mu                  sync.Mutex
	calls               []keyapi.InputDeviceListUpdatesRequest
}

func (f *fakeDeviceLists) InputDeviceListUpdates(_ context.Context, req *keyapi.InputDeviceListUpdatesRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, *req)
	return nil
}

// TestSendHandsDeviceListUpdatesToKeyServer: /send passes m.device_list_update and
// m.signing_key_update EDUs with the authenticated origin to the keyserver (arrow 15), not to the eduserver, which gets
// the other EDUs.
func TestSendHandsDeviceListUpdatesToKeyServer(t *testing.T) {
	e := newRoomEnv(t)
	edu := &fakeEDUServer{}
	ks := &fakeDeviceLists{}
	root := mux.NewRouter()
	root.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httputil.WriteError(w, httputil.Unrecognized(http.StatusNotFound))
	})
	Setup(root, root, Config{ServerName: us, RoomServer: e.rs, Fetcher: e.fetcher, EDUServer: edu, KeyServer: ks}, e.keys)
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	e.srv = srv

	update := map[string]any{"edu_type": "m.device_list_update", "content": map[string]any{"user_id": "@bob:remote.example",
		"device_id": "BOBDEV", "stream_id": 7, "prev_id": []int{5}, "deleted": true}}
	typing := map[string]any{"edu_type": "m.typing", "content": map[string]any{"room_id": "!r:us.example", "user_id": "@bob:remote.example", "typing": true}}
	signing := map[string]any{"edu_type": "m.signing_key_update", "content": map[string]any{"user_id": "@bob:remote.example",
		"master_key": map[string]any{"user_id": "@bob:remote.example", "usage": []string{"master"}, "keys": map[string]string{"ed25519:K": "K"}}}}
	txn := map[string]any{"origin": "remote.example", "pdus": []any{}, "edus": []any{update, typing, signing,
		map[string]any{"edu_type": "m.device_list_update", "content": map[string]any{"stream_id": "x"}}}}
	var body map[string]any
	if s := e.call(t, e.remote, "remote.example", "PUT", "/_matrix/federation/v1/send/d1", txn, &body); s != 200 {
		t.Fatalf("send: %d %v", s, body)
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if len(ks.calls) != 1 || ks.calls[0].Origin != "remote.example" || len(ks.calls[0].Updates) != 1 || len(ks.calls[0].SigningKeyUpdates) != 1 {
		t.Fatalf("keyserver calls %+v", ks.calls)
	}
	if u := ks.calls[0].SigningKeyUpdates[0]; u.UserID != "@bob:remote.example" || len(u.MasterKey) == 0 || len(u.SelfSigningKey) != 0 {
		t.Fatalf("signing key update %+v", u)
	}
	if u := ks.calls[0].Updates[0]; u.UserID != "@bob:remote.example" || u.DeviceID != "BOBDEV" || u.StreamID != 7 || !u.Deleted {
		t.Fatalf("update %+v", u)
	}
	edu.mu.Lock()
	defer edu.mu.Unlock()
	if len(edu.calls) != 1 || len(edu.calls[0].EDUs) != 1 || edu.calls[0].EDUs[0].Type != "m.typing" {
		t.Fatalf("eduserver calls %+v", edu.calls)
	}
}
