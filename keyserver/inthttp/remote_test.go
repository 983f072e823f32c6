package inthttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/devicetest"
	"github.com/axon-matrix/axon/keyserver/inthttp/inthttptest"
)

// slowRemote answers b.example's queries with keys after a delay and claims at once.
type slowRemote struct {
	keys  json.RawMessage
	delay time.Duration
}

func (s *slowRemote) QueryRemoteKeys(ctx context.Context, req *fsapi.QueryRemoteKeysRequest) (*fsapi.QueryRemoteKeysResponse, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &fsapi.QueryRemoteKeysResponse{DeviceKeys: map[string]map[string]json.RawMessage{"@bob:b.example": {"BOBDEV": s.keys}}}, nil
}

func (s *slowRemote) QueryRemoteDevices(context.Context, *fsapi.QueryRemoteDevicesRequest) (*fsapi.QueryRemoteDevicesResponse, error) {
	return nil, errors.New("not asked in this test")
}

func (s *slowRemote) ClaimRemoteKeys(context.Context, *fsapi.ClaimRemoteKeysRequest) (*fsapi.ClaimRemoteKeysResponse, error) {
	return &fsapi.ClaimRemoteKeysResponse{}, nil
}

// TestRemoteUsersOverInthttp: over internal HTTP, the client's timeout reaches the
// keyserver (a server slower than it is a failure, one within it answers) and
// m.device_list_update EDUs are taken.
func TestRemoteUsersOverInthttp(t *testing.T) {
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "remote")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	bob := devicetest.New(t, "@bob:b.example", "BOBDEV")
	direct, err := keyserver.NewInternalAPI(context.Background(), db, server,
		keyserver.WithRemoteKeys(&slowRemote{keys: bob.SignedDeviceKeys(bob.Keys()), delay: 300 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	ks := inthttptest.Serve(t, direct)
	ctx := context.Background()
	ask := map[string][]string{"@bob:b.example": nil}
	resp, err := ks.QueryKeys(ctx, &api.QueryKeysRequest{Requester: "@alice:" + server, DeviceKeys: ask, TimeoutMS: 50})
	if err != nil || resp.Failures["b.example"] == nil || len(resp.DeviceKeys["@bob:b.example"]) != 0 {
		t.Fatalf("50 ms: %+v %v", resp, err)
	}
	resp, err = ks.QueryKeys(ctx, &api.QueryKeysRequest{Requester: "@alice:" + server, DeviceKeys: ask, TimeoutMS: 5000})
	if err != nil || len(resp.Failures) != 0 || bob.VerifyDeviceKeys(resp.DeviceKeys["@bob:b.example"]["BOBDEV"]) != nil {
		t.Fatalf("5 s: %+v %v", resp, err)
	}
	if err := ks.InputDeviceListUpdates(ctx, &api.InputDeviceListUpdatesRequest{Origin: "b.example",
		Updates: []api.DeviceListUpdate{{UserID: "@bob:b.example", DeviceID: "BOBDEV", StreamID: 4}}}); err != nil {
		t.Fatal(err)
	}
}
