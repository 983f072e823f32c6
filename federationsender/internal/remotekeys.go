package internal

import (
	"context"
	"encoding/json"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/matrix/federation"
)

// Arrow 20 (keyserver → federationsender): other servers' users' keys, asked with this
// server's signed requests. The keyserver checks the answers.

var _ api.RemoteKeysAPI = (*API)(nil)

// QueryRemoteKeys implements api.RemoteKeysAPI.
func (a *API) QueryRemoteKeys(ctx context.Context, req *api.QueryRemoteKeysRequest) (*api.QueryRemoteKeysResponse, error) {
	out, err := a.Client.QueryKeys(ctx, req.Destination, federation.QueryKeysRequest{DeviceKeys: req.DeviceKeys})
	if err != nil {
		return nil, err
	}
	return &api.QueryRemoteKeysResponse{DeviceKeys: out.DeviceKeys, MasterKeys: out.MasterKeys, SelfSigningKeys: out.SelfSigningKeys}, nil
}

// QueryRemoteDevices implements api.RemoteKeysAPI: /user/devices at the user's server.
func (a *API) QueryRemoteDevices(ctx context.Context, req *api.QueryRemoteDevicesRequest) (*api.QueryRemoteDevicesResponse, error) {
	server, ok := matrix.ServerNameOf(req.UserID)
	if !ok {
		return nil, httputil.InvalidParam("%q is not a user ID", req.UserID)
	}
	out, err := a.Client.UserDevices(ctx, server, req.UserID)
	if err != nil {
		return nil, err
	}
	resp := &api.QueryRemoteDevicesResponse{UserID: out.UserID, StreamID: out.StreamID, Devices: map[string]json.RawMessage{},
		MasterKey: out.MasterKey, SelfSigningKey: out.SelfSigningKey}
	for _, d := range out.Devices {
		if d.DeviceID != "" && len(d.Keys) > 0 {
			resp.Devices[d.DeviceID] = d.Keys
		}
	}
	return resp, nil
}

// ClaimRemoteKeys implements api.RemoteKeysAPI.
func (a *API) ClaimRemoteKeys(ctx context.Context, req *api.ClaimRemoteKeysRequest) (*api.ClaimRemoteKeysResponse, error) {
	out, err := a.Client.ClaimKeys(ctx, req.Destination, federation.ClaimKeysRequest{OneTimeKeys: req.OneTimeKeys})
	if err != nil {
		return nil, err
	}
	return &api.ClaimRemoteKeysResponse{OneTimeKeys: out.OneTimeKeys}, nil
}
