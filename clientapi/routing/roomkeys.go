package routing

import (
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Key backup (/room_keys): arrow 14 (clientapi → keyserver). The keyserver keeps the
// versions and keys and applies the spec's rules; these handlers shape requests and
// answers.

// addRoomKeysRoutes registers the key backup endpoints.
func (rt *Routes) addRoomKeysRoutes(r *mux.Router) {
	const get, put, post, del = http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete
	rt.client(r, post, "/room_keys/version", user, rt.createKeyBackup)
	rt.client(r, get, "/room_keys/version", user, rt.getKeyBackupVersion)
	rt.client(r, get, "/room_keys/version/{version}", user, rt.getKeyBackupVersion)
	rt.client(r, put, "/room_keys/version/{version}", user, rt.updateKeyBackup)
	rt.client(r, del, "/room_keys/version/{version}", user, rt.deleteKeyBackup)
	for _, path := range []string{"/room_keys/keys", "/room_keys/keys/{roomId}", "/room_keys/keys/{roomId}/{sessionId}"} {
		rt.client(r, get, path, user, rt.getRoomKeys)
		rt.client(r, put, path, user, rt.putRoomKeys)
		rt.client(r, del, path, user, rt.deleteRoomKeys)
	}
}

// backupVersionBody is the body of POST /room_keys/version and PUT
// /room_keys/version/{version}.
type backupVersionBody struct {
	Algorithm string          `json:"algorithm"`
	AuthData  json.RawMessage `json:"auth_data"`
	Version   *string         `json:"version"`
}

// createKeyBackup is POST /room_keys/version.
func (rt *Routes) createKeyBackup(r *http.Request, dev *userapi.Device) (any, error) {
	var body backupVersionBody
	if err := readJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	return rt.keyAPI.CreateKeyBackup(r.Context(), &keyapi.CreateKeyBackupRequest{UserID: dev.UserID,
		Algorithm: body.Algorithm, AuthData: body.AuthData})
}

// getKeyBackupVersion is GET /room_keys/version (the current version) and GET
// /room_keys/version/{version}.
func (rt *Routes) getKeyBackupVersion(r *http.Request, dev *userapi.Device) (any, error) {
	return rt.keyAPI.KeyBackupVersion(r.Context(), &keyapi.KeyBackupVersionRequest{UserID: dev.UserID, Version: mux.Vars(r)["version"]})
}

// updateKeyBackup is PUT /room_keys/version/{version}; a version in the body must be the
// path's.
func (rt *Routes) updateKeyBackup(r *http.Request, dev *userapi.Device) (any, error) {
	var body backupVersionBody
	if err := readJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	version := mux.Vars(r)["version"]
	if body.Version != nil && *body.Version != version {
		return nil, httputil.InvalidParam("version in body does not match the version in the path")
	}
	if err := rt.keyAPI.UpdateKeyBackup(r.Context(), &keyapi.CreateKeyBackupRequest{UserID: dev.UserID, Version: version,
		Algorithm: body.Algorithm, AuthData: body.AuthData}); err != nil {
		return nil, err
	}
	return empty, nil
}

// deleteKeyBackup is DELETE /room_keys/version/{version}.
func (rt *Routes) deleteKeyBackup(r *http.Request, dev *userapi.Device) (any, error) {
	if err := rt.keyAPI.DeleteKeyBackup(r.Context(), &keyapi.KeyBackupVersionRequest{UserID: dev.UserID,
		Version: mux.Vars(r)["version"]}); err != nil {
		return nil, err
	}
	return empty, nil
}

// backupKeysRequest reads the version query parameter (required) and the path's room and
// session.
func backupKeysRequest(r *http.Request, dev *userapi.Device) (*keyapi.BackupKeysRequest, error) {
	version := r.URL.Query().Get("version")
	if version == "" {
		return nil, httputil.MissingParam("the version query parameter is required")
	}
	vars := mux.Vars(r)
	return &keyapi.BackupKeysRequest{UserID: dev.UserID, Version: version, RoomID: vars["roomId"], SessionID: vars["sessionId"]}, nil
}

// keyBackupDataBody is the spec's KeyBackupData with every field required.
type keyBackupDataBody struct {
	FirstMessageIndex *int64          `json:"first_message_index"`
	ForwardedCount    *int64          `json:"forwarded_count"`
	IsVerified        *bool           `json:"is_verified"`
	SessionData       json.RawMessage `json:"session_data"`
}

func (b *keyBackupDataBody) data(where string) (keyapi.KeyBackupData, error) {
	if b.FirstMessageIndex == nil || b.ForwardedCount == nil || b.IsVerified == nil || len(b.SessionData) == 0 {
		return keyapi.KeyBackupData{}, httputil.BadJSON("%s: first_message_index, forwarded_count, is_verified and session_data are required", where)
	}
	return keyapi.KeyBackupData{FirstMessageIndex: *b.FirstMessageIndex, ForwardedCount: *b.ForwardedCount,
		IsVerified: *b.IsVerified, SessionData: b.SessionData}, nil
}

type roomKeysBody struct {
	Sessions map[string]*keyBackupDataBody `json:"sessions"`
}

func (b *roomKeysBody) room(roomID string) (keyapi.RoomKeyBackup, error) {
	if b == nil || b.Sessions == nil {
		return keyapi.RoomKeyBackup{}, httputil.BadJSON("%s: sessions is required", roomID)
	}
	out := keyapi.RoomKeyBackup{Sessions: map[string]keyapi.KeyBackupData{}}
	for id, s := range b.Sessions {
		if s == nil {
			return keyapi.RoomKeyBackup{}, httputil.BadJSON("%s/%s: a session's key is an object", roomID, id)
		}
		d, err := s.data(roomID + "/" + id)
		if err != nil {
			return keyapi.RoomKeyBackup{}, err
		}
		out.Sessions[id] = d
	}
	return out, nil
}

// putRoomKeys is PUT /room_keys/keys[/{roomId}[/{sessionId}]]: the body is every room's
// keys, one room's sessions, or one session's key.
func (rt *Routes) putRoomKeys(r *http.Request, dev *userapi.Device) (any, error) {
	sel, err := backupKeysRequest(r, dev)
	if err != nil {
		return nil, err
	}
	req := &keyapi.PutBackupKeysRequest{UserID: dev.UserID, Version: sel.Version, Rooms: map[string]keyapi.RoomKeyBackup{}}
	switch {
	case sel.SessionID != "":
		var body keyBackupDataBody
		if err := readJSON(r, bodyLimit, &body); err != nil {
			return nil, err
		}
		d, err := body.data(sel.RoomID + "/" + sel.SessionID)
		if err != nil {
			return nil, err
		}
		req.Rooms[sel.RoomID] = keyapi.RoomKeyBackup{Sessions: map[string]keyapi.KeyBackupData{sel.SessionID: d}}
	case sel.RoomID != "":
		var body roomKeysBody
		if err := readJSON(r, bodyLimit, &body); err != nil {
			return nil, err
		}
		room, err := body.room(sel.RoomID)
		if err != nil {
			return nil, err
		}
		req.Rooms[sel.RoomID] = room
	default:
		var body struct {
			Rooms map[string]*roomKeysBody `json:"rooms"`
		}
		if err := readJSON(r, bodyLimit, &body); err != nil {
			return nil, err
		}
		if body.Rooms == nil {
			return nil, httputil.BadJSON("rooms is required")
		}
		for roomID, b := range body.Rooms {
			room, err := b.room(roomID)
			if err != nil {
				return nil, err
			}
			req.Rooms[roomID] = room
		}
	}
	return rt.keyAPI.PutBackupKeys(r.Context(), req)
}

// getRoomKeys is GET /room_keys/keys[/{roomId}[/{sessionId}]]: every room's keys, one
// room's sessions (none: empty), or one session's key (none: 404).
func (rt *Routes) getRoomKeys(r *http.Request, dev *userapi.Device) (any, error) {
	sel, err := backupKeysRequest(r, dev)
	if err != nil {
		return nil, err
	}
	keys, err := rt.keyAPI.BackupKeys(r.Context(), sel)
	if err != nil {
		return nil, err
	}
	switch {
	case sel.SessionID != "":
		d, ok := keys.Rooms[sel.RoomID].Sessions[sel.SessionID]
		if !ok {
			return nil, httputil.NotFound("No room_keys found")
		}
		return d, nil
	case sel.RoomID != "":
		room, ok := keys.Rooms[sel.RoomID]
		if !ok {
			room = keyapi.RoomKeyBackup{Sessions: map[string]keyapi.KeyBackupData{}}
		}
		return room, nil
	}
	return keys, nil
}

// deleteRoomKeys is DELETE /room_keys/keys[/{roomId}[/{sessionId}]].
func (rt *Routes) deleteRoomKeys(r *http.Request, dev *userapi.Device) (any, error) {
	sel, err := backupKeysRequest(r, dev)
	if err != nil {
		return nil, err
	}
	return rt.keyAPI.DeleteBackupKeys(r.Context(), sel)
}
