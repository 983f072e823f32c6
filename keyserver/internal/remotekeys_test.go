package internal

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/devicetest"
	"github.com/axon-matrix/axon/keyserver/storage"
)

// fakeRemote is a federationsender's arrow 20 with canned answers per server: a server
// without an answer fails; a server in slow answers only when the context ends.
type fakeRemote struct {
	query map[string]*fsapi.QueryRemoteKeysResponse
	claim map[string]*fsapi.ClaimRemoteKeysResponse
	slow  map[string]bool
	// devices: user → their /user/devices answer (remotecache_test.go)
	devices map[string]*fsapi.QueryRemoteDevicesResponse
	mu      sync.Mutex
	asked   []string
}

func (f *fakeRemote) QueryRemoteDevices(ctx context.Context, req *fsapi.QueryRemoteDevicesRequest) (*fsapi.QueryRemoteDevicesResponse, error) {
	if err := f.wait(ctx, "devices "+req.UserID); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if out, ok := f.devices[req.UserID]; ok {
		return out, nil
	}
	return nil, errors.New("connection refused")
}

func (f *fakeRemote) wait(ctx context.Context, server string) error {
	f.mu.Lock()
	f.asked = append(f.asked, server)
	f.mu.Unlock()
	if f.slow[server] {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *fakeRemote) QueryRemoteKeys(ctx context.Context, req *fsapi.QueryRemoteKeysRequest) (*fsapi.QueryRemoteKeysResponse, error) {
	if err := f.wait(ctx, req.Destination); err != nil {
		return nil, err
	}
	if out, ok := f.query[req.Destination]; ok {
		return out, nil
	}
	return nil, errors.New("connection refused")
}

func (f *fakeRemote) ClaimRemoteKeys(ctx context.Context, req *fsapi.ClaimRemoteKeysRequest) (*fsapi.ClaimRemoteKeysResponse, error) {
	if err := f.wait(ctx, req.Destination); err != nil {
		return nil, err
	}
	if out, ok := f.claim[req.Destination]; ok {
		return out, nil
	}
	return nil, errors.New("connection refused")
}

func newRemoteTestServer(t *testing.T, remote fsapi.RemoteKeysAPI) *KeyServer {
	t.Helper()
	sdb, err := sqlutil.Open(sqlutil.Options{ConnectionString: testenv.SQLitePath(t, "remote")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sdb.Close() })
	db, err := storage.Open(context.Background(), sdb)
	if err != nil {
		t.Fatal(err)
	}
	k := New(db, testServer)
	if remote != nil {
		k.SetRemoteKeys(remote)
	}
	return k
}

// TestQueryRemoteKeys: other servers' users are asked through arrow 20, one request per
// server; device keys whose signature does not verify, that name another user or device,
// or that were not asked are left out; the master key is kept and a self-signing key not
// signed by it is dropped; a server that fails or does not answer within the timeout is a
// failure of its name; without arrow 20 remote users are failures at once.
func TestQueryRemoteKeys(t *testing.T) {
	bob := devicetest.New(t, "@bob:b.example", "BOBDEV")
	forged := devicetest.New(t, "@bob:b.example", "FORGED")
	other := devicetest.New(t, "@bob:b.example", "OTHER")
	carol := devicetest.New(t, "@carol:b.example", "CAROLDEV")
	cs := devicetest.NewCrossSigning(t, "@bob:b.example")
	carolCS := devicetest.NewCrossSigning(t, "@carol:b.example")
	// carol's self-signing key signed by a master key that is not hers
	badSSK := carolCS.KeyObject("self_signing", carolCS.SelfSigning, cs.Master)
	remote := &fakeRemote{
		query: map[string]*fsapi.QueryRemoteKeysResponse{"b.example": {
			DeviceKeys: map[string]map[string]json.RawMessage{
				"@bob:b.example": {"BOBDEV": bob.SignedDeviceKeys(bob.Keys()),
					"FORGED":  forged.Resigned(forged.SignedDeviceKeys(forged.Keys()), other),
					"WRONGID": bob.SignedDeviceKeys(bob.Keys())},
				"@carol:b.example": {"CAROLDEV": carol.SignedDeviceKeys(carol.Keys())},
				"@eve:b.example":   {"EVEDEV": carol.SignedDeviceKeys(carol.Keys())}, // not asked
			},
			MasterKeys:      map[string]json.RawMessage{"@bob:b.example": cs.MasterKey(), "@carol:b.example": carolCS.MasterKey()},
			SelfSigningKeys: map[string]json.RawMessage{"@bob:b.example": cs.SelfSigningKey(), "@carol:b.example": badSSK},
		}},
		slow: map[string]bool{"slow.example": true},
	}
	k := newRemoteTestServer(t, remote)
	ctx := context.Background()
	start := time.Now()
	resp, err := k.QueryKeys(ctx, &api.QueryKeysRequest{Requester: "@alice:" + testServer, TimeoutMS: 300,
		DeviceKeys: map[string][]string{"@bob:b.example": nil, "@carol:b.example": {"CAROLDEV"},
			"@dan:down.example": nil, "@sam:slow.example": nil, "@alice:" + testServer: nil}})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second || took < 300*time.Millisecond {
		t.Errorf("query took %v, want about the 300 ms timeout", took)
	}
	if len(remote.asked) != 3 {
		t.Errorf("asked %v, want one request to each of the three servers", remote.asked)
	}
	if err := bob.VerifyDeviceKeys(resp.DeviceKeys["@bob:b.example"]["BOBDEV"]); err != nil {
		t.Errorf("bob's device keys: %v", err)
	}
	if len(resp.DeviceKeys["@bob:b.example"]) != 1 {
		t.Errorf("bob's devices = %v, want BOBDEV only (forged and mislabelled keys dropped)", keysOf(resp.DeviceKeys["@bob:b.example"]))
	}
	if len(resp.DeviceKeys["@carol:b.example"]) != 1 || resp.DeviceKeys["@eve:b.example"] != nil {
		t.Errorf("device_keys = %v, want carol's device and no eve", keysOf(resp.DeviceKeys))
	}
	if resp.MasterKeys["@bob:b.example"] == nil || resp.SelfSigningKeys["@bob:b.example"] == nil {
		t.Errorf("bob's cross-signing keys missing: %s %s", resp.MasterKeys["@bob:b.example"], resp.SelfSigningKeys["@bob:b.example"])
	}
	if resp.MasterKeys["@carol:b.example"] == nil || resp.SelfSigningKeys["@carol:b.example"] != nil {
		t.Errorf("carol: master %s, self-signing %s; want the master key only", resp.MasterKeys["@carol:b.example"], resp.SelfSigningKeys["@carol:b.example"])
	}
	for _, s := range []string{"down.example", "slow.example"} {
		if !strings.Contains(string(resp.Failures[s]), `"status":503`) {
			t.Errorf("failures[%s] = %s, want a 503", s, resp.Failures[s])
		}
	}
	if _, ok := resp.Failures["b.example"]; ok || len(resp.Failures) != 2 {
		t.Errorf("failures = %v", keysOf(resp.Failures))
	}
	if _, ok := resp.DeviceKeys["@alice:"+testServer]; !ok {
		t.Error("the local user is missing from the answer")
	}

	unconnected := newRemoteTestServer(t, nil)
	resp, err = unconnected.QueryKeys(ctx, &api.QueryKeysRequest{DeviceKeys: map[string][]string{"@bob:b.example": nil}})
	if err != nil || resp.Failures["b.example"] == nil || len(resp.DeviceKeys) != 0 {
		t.Errorf("without arrow 20: %v, %+v", err, resp)
	}
}

// TestClaimRemoteKeys: a claim of other servers' users goes to their server; only a key of
// an asked device and algorithm is kept; a failing server is a failure; a device without
// an algorithm is M_INVALID_PARAM before anything is asked.
func TestClaimRemoteKeys(t *testing.T) {
	bob := devicetest.New(t, "@bob:b.example", "BOBDEV")
	key := bob.SignedKey("@bob:b.example", false)
	remote := &fakeRemote{claim: map[string]*fsapi.ClaimRemoteKeysResponse{"b.example": {
		OneTimeKeys: map[string]map[string]map[string]json.RawMessage{
			"@bob:b.example":   {"BOBDEV": {"signed_curve25519:AAAAHQ": key}, "OTHERDEV": {"signed_curve25519:X": key}},
			"@carol:b.example": {"CDEV": {"curve25519:Y": json.RawMessage(`"abc"`)}}, // asked for signed_curve25519
		}}}}
	k := newRemoteTestServer(t, remote)
	ctx := context.Background()
	resp, err := k.ClaimKeys(ctx, &api.ClaimKeysRequest{OneTimeKeys: map[string]map[string]string{
		"@bob:b.example": {"BOBDEV": "signed_curve25519"}, "@carol:b.example": {"CDEV": "signed_curve25519"},
		"@dan:down.example": {"D": "signed_curve25519"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.OneTimeKeys["@bob:b.example"]["BOBDEV"]["signed_curve25519:AAAAHQ"]
	if string(got) != string(key) || len(resp.OneTimeKeys["@bob:b.example"]) != 1 {
		t.Errorf("bob's claimed keys = %v", resp.OneTimeKeys["@bob:b.example"])
	}
	if resp.OneTimeKeys["@carol:b.example"] != nil {
		t.Errorf("a key of another algorithm was kept: %v", resp.OneTimeKeys["@carol:b.example"])
	}
	if resp.Failures["down.example"] == nil || len(resp.Failures) != 1 {
		t.Errorf("failures = %v", keysOf(resp.Failures))
	}
	remote.asked = nil
	if _, err := k.ClaimKeys(ctx, &api.ClaimKeysRequest{OneTimeKeys: map[string]map[string]string{"@bob:b.example": {"BOBDEV": ""}}}); err == nil ||
		!strings.Contains(err.Error(), "no algorithm") || len(remote.asked) != 0 {
		t.Errorf("claim without an algorithm: %v (asked %v)", err, remote.asked)
	}
}

func keysOf[V any](m map[string]V) []string { return sortedKeys(m) }
