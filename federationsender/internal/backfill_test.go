package internal

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/matrix/signing"
)

// TestPerformBackfill: arrow 17's backfill asks the servers in turn (a failing one is
// skipped), sends v and limit, and returns only the events with valid signatures.
func TestPerformBackfill(t *testing.T) {
	res := newResident(t, "10")
	var asked []string
	serve := func(fail bool) *httptest.Server {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			asked = append(asked, r.URL.Path+"?"+r.URL.RawQuery)
			if fail || !strings.HasPrefix(r.URL.Path, "/_matrix/federation/v1/backfill/") {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			var pdus []json.RawMessage
			for i := len(res.state) - 1; i >= 0; i-- {
				pdus = append(pdus, res.state[i].JSON())
			}
			// A forged copy of the newest event: another key under the same key ID.
			var forged map[string]any
			_ = json.Unmarshal(res.state[len(res.state)-1].JSON(), &forged)
			forged["origin_server_ts"] = 1
			raw, _ := json.Marshal(forged)
			pdus = append(pdus, raw)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"origin": "x", "origin_server_ts": 1, "pdus": pdus})
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	bad, good := serve(true), serve(false)
	keys := &fakeKeys{keys: map[string]signing.SigningKey{res.name: res.key}}
	a := &API{ServerName: testOrigin, Client: testClient(t, testKey(t, "k1")), Keys: keys}
	ctx := context.Background()
	goodName := good.Listener.Addr().String()
	out, err := a.PerformBackfill(ctx, &api.PerformBackfillRequest{RoomID: res.roomID, RoomVersion: "10",
		Servers: []string{testOrigin, bad.Listener.Addr().String(), goodName}, EventIDs: []string{res.last.EventID()}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if out.Origin != goodName || len(out.Events) != len(res.state) {
		t.Fatalf("backfill: origin %s, %d events (want %d)", out.Origin, len(out.Events), len(res.state))
	}
	if len(asked) != 2 || !strings.Contains(asked[1], "limit=10") || !strings.Contains(asked[1], "v=") {
		t.Fatalf("requests: %v", asked)
	}
	for _, c := range []struct {
		name string
		req  api.PerformBackfillRequest
		code string
	}{
		{"no server", api.PerformBackfillRequest{RoomID: res.roomID, RoomVersion: "10", EventIDs: []string{"$x"}, Limit: 5}, "M_NOT_FOUND"},
		{"only failing", api.PerformBackfillRequest{RoomID: res.roomID, RoomVersion: "10", Servers: []string{bad.Listener.Addr().String()}, EventIDs: []string{"$x"}, Limit: 5}, "M_NOT_FOUND"},
		{"no events", api.PerformBackfillRequest{RoomID: res.roomID, RoomVersion: "10", Servers: []string{goodName}, Limit: 5}, "M_INVALID_PARAM"},
		{"bad version", api.PerformBackfillRequest{RoomID: res.roomID, RoomVersion: "x", Servers: []string{goodName}, EventIDs: []string{"$x"}, Limit: 5}, "M_INVALID_PARAM"},
	} {
		if _, err := a.PerformBackfill(ctx, &c.req); errCodeOf(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
}
