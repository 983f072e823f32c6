package internal

import (
	"context"

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

// ClaimRemoteKeys implements api.RemoteKeysAPI.
func (a *API) ClaimRemoteKeys(ctx context.Context, req *api.ClaimRemoteKeysRequest) (*api.ClaimRemoteKeysResponse, error) {
	out, err := a.Client.ClaimKeys(ctx, req.Destination, federation.ClaimKeysRequest{OneTimeKeys: req.OneTimeKeys})
	if err != nil {
		return nil, err
	}
	return &api.ClaimRemoteKeysResponse{OneTimeKeys: out.OneTimeKeys}, nil
}
