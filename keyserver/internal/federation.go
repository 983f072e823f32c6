package internal

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/matrix"
)

// FederationDeviceList implements api.KeyServerAPI (arrow 15: GET /user/devices/{userId}
// of another server): the user's devices with keys, sorted by ID, their master and
// self-signing keys as /keys/query shows them to another server, and the topic 7 position
// of the list's newest change as stream_id.
func (k *KeyServer) FederationDeviceList(ctx context.Context, req *api.DeviceListRequest) (*api.DeviceListResponse, error) {
	server, ok := matrix.ServerNameOf(req.UserID)
	if !ok || !matrix.ValidUserID(req.UserID) || server != k.serverName {
		return nil, httputil.InvalidParam("%q is not a user of this server", req.UserID)
	}
	// The stream position first: a change committed between the two reads then shows a
	// newer list under an older stream_id, which the other server refetches on the
	// change's update rather than keep a newer stream_id with an older list.
	stream, err := k.db.DeviceListStream(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	q, err := k.QueryKeys(ctx, &api.QueryKeysRequest{DeviceKeys: map[string][]string{req.UserID: nil}})
	if err != nil {
		return nil, err
	}
	resp := &api.DeviceListResponse{UserID: req.UserID, StreamID: stream, Devices: []api.DeviceListDevice{},
		MasterKey: q.MasterKeys[req.UserID], SelfSigningKey: q.SelfSigningKeys[req.UserID]}
	for id, keys := range q.DeviceKeys[req.UserID] {
		resp.Devices = append(resp.Devices, api.DeviceListDevice{DeviceID: id, Keys: json.RawMessage(keys)})
	}
	sort.Slice(resp.Devices, func(i, j int) bool { return resp.Devices[i].DeviceID < resp.Devices[j].DeviceID })
	return resp, nil
}
