package routing

import (
	"encoding/json"
	"net/http"

	"github.com/axon-matrix/axon/clientapi/auth"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/matrix/signing"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Cross-signing: arrow 14 (clientapi → keyserver). The keyserver checks the keys and
// signatures; these handlers run user-interactive auth and check who asks.

// uploadDeviceSigningKeys is POST /keys/device_signing/upload. User-interactive auth
// (m.login.password) is needed unless the user has no master key yet — a client's first
// login uploads its keys without asking for the password again, as Synapse allows and the
// spec (v1.11) says — or the request holds only the keys already stored (a retry).
func (rt *Routes) uploadDeviceSigningKeys(r *http.Request, dev *userapi.Device) (any, error) {
	var body struct {
		MasterKey      json.RawMessage `json:"master_key"`
		SelfSigningKey json.RawMessage `json:"self_signing_key"`
		UserSigningKey json.RawMessage `json:"user_signing_key"`
		Auth           *auth.Dict      `json:"auth"`
	}
	if err := readJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	ctx := r.Context()
	own, err := rt.keyAPI.CrossSigningKeys(ctx, &keyapi.CrossSigningKeysRequest{UserID: dev.UserID})
	if err != nil {
		return nil, err
	}
	if len(own.MasterKey) > 0 && !sameCrossSigningKeys(own, body.MasterKey, body.SelfSigningKey, body.UserSigningKey) {
		if err := rt.runUIA(ctx, "device_signing_upload", dev.UserID, passwordFlows, body.Auth); err != nil {
			return nil, err
		}
	}
	if err := rt.keyAPI.UploadCrossSigningKeys(ctx, &keyapi.UploadCrossSigningKeysRequest{UserID: dev.UserID,
		MasterKey: body.MasterKey, SelfSigningKey: body.SelfSigningKey, UserSigningKey: body.UserSigningKey}); err != nil {
		return nil, err
	}
	return empty, nil
}

// sameCrossSigningKeys says whether an upload holds the stored master key and, of the
// other two, only the stored ones (signatures aside): then it changes no key.
func sameCrossSigningKeys(own *keyapi.CrossSigningKeysResponse, master, selfSigning, userSigning json.RawMessage) bool {
	same := func(stored, uploaded json.RawMessage) bool {
		a, err1 := signing.SignedBytes(stored)
		b, err2 := signing.SignedBytes(uploaded)
		return err1 == nil && err2 == nil && string(a) == string(b)
	}
	absent := func(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }
	if absent(master) || !same(own.MasterKey, master) {
		return false
	}
	return (absent(selfSigning) || same(own.SelfSigningKey, selfSigning)) &&
		(absent(userSigning) || same(own.UserSigningKey, userSigning))
}

// uploadSignatures is POST /keys/signatures/upload: user ID → key ID → signed object.
func (rt *Routes) uploadSignatures(r *http.Request, dev *userapi.Device) (any, error) {
	var body map[string]map[string]json.RawMessage
	if err := readJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	return rt.keyAPI.UploadSignatures(r.Context(), &keyapi.UploadSignaturesRequest{UserID: dev.UserID, Signatures: body})
}
