package internal

import (
	"context"
	"errors"
	"strconv"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/storage"
	"github.com/axon-matrix/axon/matrix"
)

// Key backup (arrow 14: /room_keys/version and /room_keys/keys). Versions are numbers
// counting up per user, sent as strings.

func errUnknownVersion() error { return httputil.NotFound("Unknown backup version") }

// parseVersion reads a version string; anything but a positive number names no version.
func parseVersion(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, errUnknownVersion()
	}
	return v, nil
}

// backupError turns the storage's errors into the spec's.
func backupError(err error) error {
	var wv *storage.WrongVersionError
	switch {
	case errors.Is(err, storage.ErrNoBackup):
		return errUnknownVersion()
	case errors.As(err, &wv):
		return &httputil.MatrixError{Status: 403, ErrCode: api.ErrCodeWrongRoomKeysVersion, Err: "Wrong backup version.",
			Extra: map[string]any{"current_version": strconv.FormatInt(wv.Current, 10)}}
	}
	return err
}

func (k *KeyServer) checkLocal(userID string) error {
	if server, ok := matrix.ServerNameOf(userID); !ok || server != k.serverName {
		return httputil.InvalidParam("key backups are kept for this server's users only")
	}
	return nil
}

// checkBackupInfo checks the algorithm and auth_data of a version.
func checkBackupInfo(req *api.CreateKeyBackupRequest) ([]byte, error) {
	if req.Algorithm == "" {
		return nil, httputil.MissingParam("algorithm is required")
	}
	if len(req.AuthData) == 0 || string(req.AuthData) == "null" {
		return nil, httputil.MissingParam("auth_data is required")
	}
	return canonicalObject("auth_data", req.AuthData)
}

// CreateKeyBackup implements api.KeyServerAPI.
func (k *KeyServer) CreateKeyBackup(ctx context.Context, req *api.CreateKeyBackupRequest) (*api.CreateKeyBackupResponse, error) {
	if err := k.checkLocal(req.UserID); err != nil {
		return nil, err
	}
	auth, err := checkBackupInfo(req)
	if err != nil {
		return nil, err
	}
	v, err := k.db.CreateBackup(ctx, req.UserID, req.Algorithm, auth)
	if err != nil {
		return nil, err
	}
	return &api.CreateKeyBackupResponse{Version: strconv.FormatInt(v, 10)}, nil
}

// backup returns the asked version ("" for the current one), 404 when it does not exist
// or was deleted.
func (k *KeyServer) backup(ctx context.Context, userID, version string) (*storage.BackupVersion, error) {
	var v int64
	if version != "" {
		var err error
		if v, err = parseVersion(version); err != nil {
			return nil, err
		}
	}
	b, err := k.db.Backup(ctx, userID, v)
	if err != nil {
		return nil, backupError(err)
	}
	if b.Deleted {
		return nil, errUnknownVersion()
	}
	return b, nil
}

// KeyBackupVersion implements api.KeyServerAPI.
func (k *KeyServer) KeyBackupVersion(ctx context.Context, req *api.KeyBackupVersionRequest) (*api.KeyBackupVersionResponse, error) {
	b, err := k.backup(ctx, req.UserID, req.Version)
	if err != nil {
		if me := (*httputil.MatrixError)(nil); req.Version == "" && errors.As(err, &me) && me.Status == 404 {
			return nil, httputil.NotFound("No current backup version")
		}
		return nil, err
	}
	return &api.KeyBackupVersionResponse{Algorithm: b.Algorithm, AuthData: b.AuthData, Count: b.Count,
		Etag: strconv.FormatInt(b.Etag, 10), Version: strconv.FormatInt(b.Version, 10)}, nil
}

// UpdateKeyBackup implements api.KeyServerAPI: the algorithm must stay the version's (the
// clientapi checks that the body's version, when given, is the path's).
func (k *KeyServer) UpdateKeyBackup(ctx context.Context, req *api.CreateKeyBackupRequest) error {
	b, err := k.backup(ctx, req.UserID, req.Version)
	if err != nil {
		return err
	}
	auth, err := checkBackupInfo(req)
	if err != nil {
		return err
	}
	if req.Algorithm != b.Algorithm {
		return httputil.InvalidParam("Algorithm does not match")
	}
	return backupError(k.db.UpdateBackup(ctx, req.UserID, b.Version, auth))
}

// DeleteKeyBackup implements api.KeyServerAPI; a deleted version deletes again without
// error, as the spec says.
func (k *KeyServer) DeleteKeyBackup(ctx context.Context, req *api.KeyBackupVersionRequest) error {
	v, err := parseVersion(req.Version)
	if err != nil {
		return err
	}
	return backupError(k.db.DeleteBackup(ctx, req.UserID, v))
}

// PutBackupKeys implements api.KeyServerAPI: every key is checked before any is stored.
func (k *KeyServer) PutBackupKeys(ctx context.Context, req *api.PutBackupKeysRequest) (*api.BackupKeysUpdateResponse, error) {
	if err := k.checkLocal(req.UserID); err != nil {
		return nil, err
	}
	v, err := parseVersion(req.Version)
	if err != nil {
		return nil, err
	}
	var keys []storage.BackupKey
	for _, roomID := range sortedKeys(req.Rooms) {
		if roomID == "" {
			return nil, httputil.InvalidParam("rooms: empty room ID")
		}
		sessions := req.Rooms[roomID].Sessions
		for _, sessionID := range sortedKeys(sessions) {
			d := sessions[sessionID]
			if sessionID == "" {
				return nil, httputil.InvalidParam("rooms.%s.sessions: empty session ID", roomID)
			}
			if d.FirstMessageIndex < 0 || d.ForwardedCount < 0 {
				return nil, httputil.InvalidParam("%s/%s: first_message_index and forwarded_count must not be negative", roomID, sessionID)
			}
			data, err := canonicalObject(roomID+"/"+sessionID+": session_data", d.SessionData)
			if err != nil {
				return nil, err
			}
			keys = append(keys, storage.BackupKey{RoomID: roomID, SessionID: sessionID, FirstMessageIndex: d.FirstMessageIndex,
				ForwardedCount: d.ForwardedCount, IsVerified: d.IsVerified, SessionData: data})
		}
	}
	etag, count, err := k.db.PutBackupKeys(ctx, req.UserID, v, keys)
	if err != nil {
		return nil, backupError(err)
	}
	return &api.BackupKeysUpdateResponse{Etag: strconv.FormatInt(etag, 10), Count: count}, nil
}

// BackupKeys implements api.KeyServerAPI.
func (k *KeyServer) BackupKeys(ctx context.Context, req *api.BackupKeysRequest) (*api.BackupKeysResponse, error) {
	v, err := parseVersion(req.Version)
	if err != nil {
		return nil, err
	}
	if req.SessionID != "" && req.RoomID == "" {
		return nil, httputil.InvalidParam("a session ID needs its room ID")
	}
	keys, err := k.db.BackupKeys(ctx, req.UserID, v, req.RoomID, req.SessionID)
	if err != nil {
		return nil, backupError(err)
	}
	resp := &api.BackupKeysResponse{Rooms: map[string]api.RoomKeyBackup{}}
	for _, key := range keys {
		room, ok := resp.Rooms[key.RoomID]
		if !ok {
			room = api.RoomKeyBackup{Sessions: map[string]api.KeyBackupData{}}
			resp.Rooms[key.RoomID] = room
		}
		room.Sessions[key.SessionID] = api.KeyBackupData{FirstMessageIndex: key.FirstMessageIndex,
			ForwardedCount: key.ForwardedCount, IsVerified: key.IsVerified, SessionData: key.SessionData}
	}
	return resp, nil
}

// DeleteBackupKeys implements api.KeyServerAPI.
func (k *KeyServer) DeleteBackupKeys(ctx context.Context, req *api.BackupKeysRequest) (*api.BackupKeysUpdateResponse, error) {
	v, err := parseVersion(req.Version)
	if err != nil {
		return nil, err
	}
	if req.SessionID != "" && req.RoomID == "" {
		return nil, httputil.InvalidParam("a session ID needs its room ID")
	}
	etag, count, err := k.db.DeleteBackupKeys(ctx, req.UserID, v, req.RoomID, req.SessionID)
	if err != nil {
		return nil, backupError(err)
	}
	return &api.BackupKeysUpdateResponse{Etag: strconv.FormatInt(etag, 10), Count: count}, nil
}
