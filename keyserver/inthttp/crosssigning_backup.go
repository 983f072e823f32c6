package inthttp

import (
	"context"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/keyserver/api"
)

// Cross-signing and key backup over internal HTTP (arrow 14). Every call but
// CreateKeyBackup stores the same result when repeated, so it is retried.

// call POSTs req to path and decodes the answer into a new Resp.
func call[Resp any](ctx context.Context, c *Client, path string, req any, idempotent bool) (*Resp, error) {
	var resp Resp
	if err := c.c.Call(ctx, path, req, &resp, idempotent); err != nil {
		return nil, err
	}
	return &resp, nil
}

// CrossSigningKeys implements api.KeyServerAPI.
func (c *Client) CrossSigningKeys(ctx context.Context, req *api.CrossSigningKeysRequest) (*api.CrossSigningKeysResponse, error) {
	return call[api.CrossSigningKeysResponse](ctx, c, pathCrossSigningKeys, req, true)
}

// UploadCrossSigningKeys implements api.KeyServerAPI.
func (c *Client) UploadCrossSigningKeys(ctx context.Context, req *api.UploadCrossSigningKeysRequest) error {
	return c.c.Call(ctx, pathUploadCrossSigningKeys, req, &inthttp.Empty{}, true)
}

// UploadSignatures implements api.KeyServerAPI.
func (c *Client) UploadSignatures(ctx context.Context, req *api.UploadSignaturesRequest) (*api.UploadSignaturesResponse, error) {
	return call[api.UploadSignaturesResponse](ctx, c, pathUploadSignatures, req, true)
}

// CreateKeyBackup implements api.KeyServerAPI (never retried).
func (c *Client) CreateKeyBackup(ctx context.Context, req *api.CreateKeyBackupRequest) (*api.CreateKeyBackupResponse, error) {
	return call[api.CreateKeyBackupResponse](ctx, c, pathCreateKeyBackup, req, false)
}

// KeyBackupVersion implements api.KeyServerAPI.
func (c *Client) KeyBackupVersion(ctx context.Context, req *api.KeyBackupVersionRequest) (*api.KeyBackupVersionResponse, error) {
	return call[api.KeyBackupVersionResponse](ctx, c, pathKeyBackupVersion, req, true)
}

// UpdateKeyBackup implements api.KeyServerAPI.
func (c *Client) UpdateKeyBackup(ctx context.Context, req *api.CreateKeyBackupRequest) error {
	return c.c.Call(ctx, pathUpdateKeyBackup, req, &inthttp.Empty{}, true)
}

// DeleteKeyBackup implements api.KeyServerAPI.
func (c *Client) DeleteKeyBackup(ctx context.Context, req *api.KeyBackupVersionRequest) error {
	return c.c.Call(ctx, pathDeleteKeyBackup, req, &inthttp.Empty{}, true)
}

// PutBackupKeys implements api.KeyServerAPI.
func (c *Client) PutBackupKeys(ctx context.Context, req *api.PutBackupKeysRequest) (*api.BackupKeysUpdateResponse, error) {
	return call[api.BackupKeysUpdateResponse](ctx, c, pathPutBackupKeys, req, true)
}

// BackupKeys implements api.KeyServerAPI.
func (c *Client) BackupKeys(ctx context.Context, req *api.BackupKeysRequest) (*api.BackupKeysResponse, error) {
	return call[api.BackupKeysResponse](ctx, c, pathBackupKeys, req, true)
}

// DeleteBackupKeys implements api.KeyServerAPI.
func (c *Client) DeleteBackupKeys(ctx context.Context, req *api.BackupKeysRequest) (*api.BackupKeysUpdateResponse, error) {
	return call[api.BackupKeysUpdateResponse](ctx, c, pathDeleteBackupKeys, req, true)
}
