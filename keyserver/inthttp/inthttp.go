// Package inthttp carries api.KeyServerAPI over internal HTTP for the polylith, on the
// shared transport of internal/inthttp: Client implements the interface by POSTing JSON to
// the axon-key-server binary's /api/keyserver/…, and AddRoutes serves those paths from the
// direct implementation. It is arrows 14 (clientapi → keyserver), 15 (federationapi →
// keyserver) and 16 (syncapi → keyserver) over the network. Errors keep their Matrix errcode and status.
package inthttp

import (
	"context"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/keyserver/api"
)

// Paths of the internal API, below internal/inthttp.PathPrefix (/api).
const (
	pathPrefix           = "/keyserver"
	pathUploadKeys       = pathPrefix + "/uploadKeys"
	pathQueryKeys        = pathPrefix + "/queryKeys"
	pathClaimKeys        = pathPrefix + "/claimKeys"
	pathQueryKeyCounts   = pathPrefix + "/queryKeyCounts"
	pathDeleteDeviceKeys = pathPrefix + "/deleteDeviceKeys"

	pathFederationDeviceList = pathPrefix + "/federationDeviceList"
	pathInputDeviceLists     = pathPrefix + "/inputDeviceListUpdates"
	pathQueryWritePosition   = pathPrefix + "/queryWritePosition"

	pathCrossSigningKeys       = pathPrefix + "/crossSigningKeys"
	pathUploadCrossSigningKeys = pathPrefix + "/uploadCrossSigningKeys"
	pathUploadSignatures       = pathPrefix + "/uploadSignatures"

	pathCreateKeyBackup  = pathPrefix + "/createKeyBackup"
	pathKeyBackupVersion = pathPrefix + "/keyBackupVersion"
	pathUpdateKeyBackup  = pathPrefix + "/updateKeyBackup"
	pathDeleteKeyBackup  = pathPrefix + "/deleteKeyBackup"
	pathPutBackupKeys    = pathPrefix + "/putBackupKeys"
	pathBackupKeys       = pathPrefix + "/backupKeys"
	pathDeleteBackupKeys = pathPrefix + "/deleteBackupKeys"
)

// Client is api.KeyServerAPI over internal HTTP. Queries and uploads (which store the same
// keys again when repeated) are retried after a transport failure; claims, which take a
// key each time, and backup creations, which make a new version each time, never are.
type Client struct {
	c *inthttp.Client
}

var _ api.KeyServerAPI = (*Client)(nil)

// NewClient returns a client of the keyserver whose internal API is at baseURL (config
// key_server.internal_api_url). secret is global.internal_api_secret.
func NewClient(baseURL, secret string, opts ...inthttp.Option) *Client {
	return &Client{c: inthttp.NewClient(baseURL, secret, opts...)}
}

// UploadKeys implements api.KeyServerAPI.
func (c *Client) UploadKeys(ctx context.Context, req *api.UploadKeysRequest) (*api.UploadKeysResponse, error) {
	var resp api.UploadKeysResponse
	if err := c.c.Call(ctx, pathUploadKeys, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryKeys implements api.KeyServerAPI.
func (c *Client) QueryKeys(ctx context.Context, req *api.QueryKeysRequest) (*api.QueryKeysResponse, error) {
	var resp api.QueryKeysResponse
	if err := c.c.Call(ctx, pathQueryKeys, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// ClaimKeys implements api.KeyServerAPI.
func (c *Client) ClaimKeys(ctx context.Context, req *api.ClaimKeysRequest) (*api.ClaimKeysResponse, error) {
	var resp api.ClaimKeysResponse
	if err := c.c.Call(ctx, pathClaimKeys, req, &resp, false); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryKeyCounts implements api.KeyServerAPI.
func (c *Client) QueryKeyCounts(ctx context.Context, req *api.QueryKeyCountsRequest) (*api.QueryKeyCountsResponse, error) {
	var resp api.QueryKeyCountsResponse
	if err := c.c.Call(ctx, pathQueryKeyCounts, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// FederationDeviceList implements api.KeyServerAPI (arrow 15).
func (c *Client) FederationDeviceList(ctx context.Context, req *api.DeviceListRequest) (*api.DeviceListResponse, error) {
	var resp api.DeviceListResponse
	if err := c.c.Call(ctx, pathFederationDeviceList, req, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// InputDeviceListUpdates implements api.KeyServerAPI (arrow 15; repeating it is
// harmless: older or equal stream_ids are ignored).
func (c *Client) InputDeviceListUpdates(ctx context.Context, req *api.InputDeviceListUpdatesRequest) error {
	return c.c.Call(ctx, pathInputDeviceLists, req, &inthttp.Empty{}, true)
}

// writePosReq and writePosResp carry QueryWritePosition.
type writePosReq struct {
	UserID string `json:"user_id"`
}

type writePosResp struct {
	Position int64 `json:"position"`
}

// QueryWritePosition implements api.KeyServerAPI (arrow 16, read your own writes).
func (c *Client) QueryWritePosition(ctx context.Context, userID string) (int64, error) {
	var resp writePosResp
	if err := c.c.Call(ctx, pathQueryWritePosition, &writePosReq{UserID: userID}, &resp, true); err != nil {
		return 0, err
	}
	return resp.Position, nil
}

// DeleteDeviceKeys implements api.KeyServerAPI.
func (c *Client) DeleteDeviceKeys(ctx context.Context, req *api.DeleteDeviceKeysRequest) error {
	return c.c.Call(ctx, pathDeleteDeviceKeys, req, &inthttp.Empty{}, true)
}

// AddRoutes serves the keyserver's internal API on r (a router mounted at
// inthttp.PathPrefix, such as setup's InternalAPIMux) from a, the direct implementation.
// The internal API secret is checked in front of r (polylith.Start).
func AddRoutes(r *mux.Router, a api.KeyServerAPI) {
	sr := r.PathPrefix(pathPrefix).Subrouter()
	p := func(full string) string { return strings.TrimPrefix(full, pathPrefix) }
	inthttp.Handle(sr, p(pathUploadKeys), a.UploadKeys)
	inthttp.Handle(sr, p(pathQueryKeys), a.QueryKeys)
	inthttp.Handle(sr, p(pathClaimKeys), a.ClaimKeys)
	inthttp.Handle(sr, p(pathQueryKeyCounts), a.QueryKeyCounts)
	inthttp.HandleErr(sr, p(pathDeleteDeviceKeys), a.DeleteDeviceKeys)
	inthttp.Handle(sr, p(pathFederationDeviceList), a.FederationDeviceList)
	inthttp.HandleErr(sr, p(pathInputDeviceLists), a.InputDeviceListUpdates)
	inthttp.Handle(sr, p(pathQueryWritePosition), func(ctx context.Context, req *writePosReq) (*writePosResp, error) {
		pos, err := a.QueryWritePosition(ctx, req.UserID)
		if err != nil {
			return nil, err
		}
		return &writePosResp{Position: pos}, nil
	})
	inthttp.Handle(sr, p(pathCrossSigningKeys), a.CrossSigningKeys)
	inthttp.HandleErr(sr, p(pathUploadCrossSigningKeys), a.UploadCrossSigningKeys)
	inthttp.Handle(sr, p(pathUploadSignatures), a.UploadSignatures)
	inthttp.Handle(sr, p(pathCreateKeyBackup), a.CreateKeyBackup)
	inthttp.Handle(sr, p(pathKeyBackupVersion), a.KeyBackupVersion)
	inthttp.HandleErr(sr, p(pathUpdateKeyBackup), a.UpdateKeyBackup)
	inthttp.HandleErr(sr, p(pathDeleteKeyBackup), a.DeleteKeyBackup)
	inthttp.Handle(sr, p(pathPutBackupKeys), a.PutBackupKeys)
	inthttp.Handle(sr, p(pathBackupKeys), a.BackupKeys)
	inthttp.Handle(sr, p(pathDeleteBackupKeys), a.DeleteBackupKeys)
}
