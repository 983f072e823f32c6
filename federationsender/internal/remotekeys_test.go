package internal

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/federationsender/api"
)

// TestRemoteKeys: arrow 20 sends signed POSTs to the destination's user/keys/query and
// user/keys/claim with the asked users and returns the answers; a refusal is an error.
func TestRemoteKeys(t *testing.T) {
	var paths, bodies []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		paths = append(paths, r.Method+" "+r.URL.Path)
		bodies = append(bodies, string(body))
		if !strings.HasPrefix(r.Header.Get("Authorization"), "X-Matrix ") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/_matrix/federation/v1/user/keys/query":
			w.Write([]byte(`{"device_keys":{"@bob:b":{"D":{"user_id":"@bob:b"}}},"master_keys":{"@bob:b":{"usage":["master"]}}}`))
		case "/_matrix/federation/v1/user/keys/claim":
			w.Write([]byte(`{"one_time_keys":{"@bob:b":{"D":{"signed_curve25519:K":{"key":"x"}}}}}`))
		case "/_matrix/federation/v1/user/devices/@bob:" + r.Host:
			w.Write([]byte(`{"user_id":"@bob:` + r.Host + `","stream_id":7,"devices":[{"device_id":"D","keys":{"device_id":"D"}},{"device_id":"NOKEYS"}],` +
				`"master_key":{"usage":["master"]}}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errcode":"M_UNRECOGNIZED","error":"no"}`))
		}
	}))
	defer srv.Close()
	dest := srv.Listener.Addr().String()
	a := &API{ServerName: testOrigin, Client: testClient(t, testKey(t, "k1"))}
	ctx := context.Background()
	q, err := a.QueryRemoteKeys(ctx, &api.QueryRemoteKeysRequest{Destination: dest, DeviceKeys: map[string][]string{"@bob:b": {"D"}}})
	if err != nil {
		t.Fatal(err)
	}
	if string(q.DeviceKeys["@bob:b"]["D"]) != `{"user_id":"@bob:b"}` || q.MasterKeys["@bob:b"] == nil {
		t.Errorf("query answer = %+v", q)
	}
	c, err := a.ClaimRemoteKeys(ctx, &api.ClaimRemoteKeysRequest{Destination: dest, OneTimeKeys: map[string]map[string]string{"@bob:b": {"D": "signed_curve25519"}}})
	if err != nil {
		t.Fatal(err)
	}
	if string(c.OneTimeKeys["@bob:b"]["D"]["signed_curve25519:K"]) != `{"key":"x"}` {
		t.Errorf("claim answer = %+v", c)
	}
	devs, err := a.QueryRemoteDevices(ctx, &api.QueryRemoteDevicesRequest{UserID: "@bob:" + dest})
	if err != nil {
		t.Fatal(err)
	}
	if devs.StreamID != 7 || len(devs.Devices) != 1 || string(devs.Devices["D"]) != `{"device_id":"D"}` || devs.MasterKey == nil {
		t.Errorf("devices answer = %+v", devs)
	}
	if _, err := a.QueryRemoteDevices(ctx, &api.QueryRemoteDevicesRequest{UserID: "not a user"}); err == nil {
		t.Error("a bad user ID was asked for")
	}
	want := []string{"POST /_matrix/federation/v1/user/keys/query", "POST /_matrix/federation/v1/user/keys/claim",
		"GET /_matrix/federation/v1/user/devices/@bob:" + dest}
	if strings.Join(paths, ",") != strings.Join(want, ",") {
		t.Errorf("requests = %v, want %v", paths, want)
	}
	var qb struct {
		DeviceKeys map[string][]string `json:"device_keys"`
	}
	if err := json.Unmarshal([]byte(bodies[0]), &qb); err != nil || len(qb.DeviceKeys["@bob:b"]) != 1 {
		t.Errorf("query body = %s", bodies[0])
	}
	if _, err := a.QueryRemoteKeys(ctx, &api.QueryRemoteKeysRequest{Destination: "127.0.0.1:1", DeviceKeys: map[string][]string{"@bob:b": nil}}); err == nil {
		t.Error("an unreachable destination answered")
	}
}
