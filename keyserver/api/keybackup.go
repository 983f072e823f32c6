package api

import "encoding/json"

// KeyBackupVersionRequest names a user's backup version ("" for the current one).
type KeyBackupVersionRequest struct {
	UserID  string `json:"user_id"`
	Version string `json:"version"`
}

// KeyBackupVersionResponse is the body of GET /room_keys/version[/{version}].
type KeyBackupVersionResponse struct {
	Algorithm string          `json:"algorithm"`
	AuthData  json.RawMessage `json:"auth_data"`
	Count     int64           `json:"count"`
	Etag      string          `json:"etag"`
	Version   string          `json:"version"`
}

// CreateKeyBackupRequest is POST /room_keys/version; UpdateKeyBackupRequest (Version set)
// is PUT /room_keys/version/{version}.
type CreateKeyBackupRequest struct {
	UserID    string          `json:"user_id"`
	Version   string          `json:"version,omitempty"`
	Algorithm string          `json:"algorithm"`
	AuthData  json.RawMessage `json:"auth_data"`
}

// CreateKeyBackupResponse is the body of the POST /room_keys/version answer.
type CreateKeyBackupResponse struct {
	Version string `json:"version"`
}

// KeyBackupData is one session's key in a backup (the spec's KeyBackupData).
type KeyBackupData struct {
	FirstMessageIndex int64           `json:"first_message_index"`
	ForwardedCount    int64           `json:"forwarded_count"`
	IsVerified        bool            `json:"is_verified"`
	SessionData       json.RawMessage `json:"session_data"`
}

// RoomKeyBackup is one room's sessions: session ID → key.
type RoomKeyBackup struct {
	Sessions map[string]KeyBackupData `json:"sessions"`
}

// PutBackupKeysRequest is PUT /room_keys/keys[/{roomId}[/{sessionId}]]: the keys to store
// in Version, by room.
type PutBackupKeysRequest struct {
	UserID  string                   `json:"user_id"`
	Version string                   `json:"version"`
	Rooms   map[string]RoomKeyBackup `json:"rooms"`
}

// BackupKeysRequest selects keys of a version for GET and DELETE /room_keys/keys: all,
// one room's (RoomID) or one session's (RoomID and SessionID).
type BackupKeysRequest struct {
	UserID    string `json:"user_id"`
	Version   string `json:"version"`
	RoomID    string `json:"room_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
}

// BackupKeysResponse holds the selected keys by room (rooms without keys are absent).
type BackupKeysResponse struct {
	Rooms map[string]RoomKeyBackup `json:"rooms"`
}

// BackupKeysUpdateResponse is the body of a PUT or DELETE /room_keys/keys answer: the
// version's new etag and key count.
type BackupKeysUpdateResponse struct {
	Etag  string `json:"etag"`
	Count int64  `json:"count"`
}

// ErrCodeWrongRoomKeysVersion is the errcode (403) of keys sent for a version that is not
// the current one; the error carries "current_version".
const ErrCodeWrongRoomKeysVersion = "M_WRONG_ROOM_KEYS_VERSION"
