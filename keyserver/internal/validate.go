package internal

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/storage"
	"github.com/axon-matrix/axon/matrix/cjson"
	"github.com/axon-matrix/axon/matrix/signing"
)

// deviceKeys is the part of a device_keys object the keyserver checks.
type deviceKeys struct {
	UserID     string            `json:"user_id"`
	DeviceID   string            `json:"device_id"`
	Algorithms []string          `json:"algorithms"`
	Keys       map[string]string `json:"keys"`
}

// signedKey is the part of a signed one-time or fallback key the keyserver checks.
type signedKey struct {
	Key string `json:"key"`
}

// canonicalObject returns raw as canonical JSON if it is a JSON object.
func canonicalObject(what string, raw []byte) ([]byte, error) {
	c, err := cjson.Canonical(raw, false)
	if err != nil || len(c) == 0 || c[0] != '{' {
		return nil, httputil.BadJSON("%s must be a JSON object", what)
	}
	return c, nil
}

// checkKeyBytes checks that s is an unpadded base64 32-byte key (ed25519 and curve25519
// public keys alike).
func checkKeyBytes(what, s string) error {
	raw, err := signing.DecodeBase64(s)
	if err != nil || len(raw) != 32 {
		return httputil.InvalidParam("%s is not an unpadded base64 32-byte key", what)
	}
	return nil
}

// splitKeyID splits "algorithm:id".
func splitKeyID(keyID string) (alg, id string, err error) {
	alg, id, ok := strings.Cut(keyID, ":")
	if !ok || alg == "" || id == "" {
		return "", "", httputil.InvalidParam("key ID %q is not algorithm:id", keyID)
	}
	return alg, id, nil
}

// checkSignature verifies the signature of userID's device key ed25519:deviceID on obj.
func checkSignature(what, userID, deviceID string, ed25519Key string, obj []byte) error {
	pub, err := signing.DecodeBase64(ed25519Key)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return httputil.InvalidParam("%s: the device has no valid ed25519 key", what)
	}
	err = signing.VerifyJSON(userID, signing.KeyID("ed25519:"+deviceID), pub, obj)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, signing.ErrNoSignature):
		return httputil.InvalidParam("%s is not signed by the device's ed25519 key ed25519:%s", what, deviceID)
	default:
		return httputil.InvalidParam("%s: the signature of ed25519:%s does not verify", what, deviceID)
	}
}

// parseDeviceKeys checks a device_keys object of req's device: it names the uploading
// user and device, its keys are ed25519 and curve25519 keys of that device (ed25519 is
// required), and the device's ed25519 key signs it.
func parseDeviceKeys(req *api.UploadKeysRequest) (*storage.DeviceKeys, error) {
	obj, err := canonicalObject("device_keys", req.DeviceKeys)
	if err != nil {
		return nil, err
	}
	var dk deviceKeys
	if err := json.Unmarshal(obj, &dk); err != nil {
		return nil, httputil.BadJSON("device_keys: %v", err)
	}
	if dk.UserID != req.UserID {
		return nil, httputil.InvalidParam("device_keys.user_id %q is not the uploading user %q", dk.UserID, req.UserID)
	}
	if dk.DeviceID != req.DeviceID {
		return nil, httputil.InvalidParam("device_keys.device_id %q is not the uploading device %q", dk.DeviceID, req.DeviceID)
	}
	if len(dk.Algorithms) == 0 {
		return nil, httputil.InvalidParam("device_keys.algorithms must list at least one algorithm")
	}
	for _, a := range dk.Algorithms {
		if a == "" {
			return nil, httputil.InvalidParam("device_keys.algorithms holds an empty algorithm")
		}
	}
	for keyID, key := range dk.Keys {
		alg, id, err := splitKeyID(keyID)
		if err != nil {
			return nil, err
		}
		if alg != api.AlgorithmEd25519 && alg != api.AlgorithmCurve25519 {
			return nil, httputil.InvalidParam("device_keys.keys: unknown key algorithm %q", alg)
		}
		if id != req.DeviceID {
			return nil, httputil.InvalidParam("device_keys.keys: key %q is not of device %q", keyID, req.DeviceID)
		}
		if err := checkKeyBytes("device_keys.keys."+keyID, key); err != nil {
			return nil, err
		}
	}
	edKey, ok := dk.Keys["ed25519:"+req.DeviceID]
	if !ok {
		return nil, httputil.InvalidParam("device_keys.keys lacks the device's ed25519 key ed25519:%s", req.DeviceID)
	}
	if err := checkSignature("device_keys", req.UserID, req.DeviceID, edKey, obj); err != nil {
		return nil, err
	}
	return &storage.DeviceKeys{Ed25519: edKey, JSON: obj}, nil
}

// parseKey checks one one-time or fallback key: an unsigned curve25519 key is a string, a
// signed_curve25519 key an object with "key", signed by the device's ed25519 key
// (edKey; "" when the device has uploaded no device keys, which refuses signed keys).
func parseKey(what string, req *api.UploadKeysRequest, keyID string, raw json.RawMessage, edKey string) (storage.Key, error) {
	alg, _, err := splitKeyID(keyID)
	if err != nil {
		return storage.Key{}, err
	}
	c, err := cjson.Canonical(raw, false)
	if err != nil {
		return storage.Key{}, httputil.BadJSON("%s.%s is not valid JSON", what, keyID)
	}
	switch alg {
	case api.AlgorithmCurve25519:
		var s string
		if err := json.Unmarshal(c, &s); err != nil {
			return storage.Key{}, httputil.BadJSON("%s.%s: a curve25519 key is a string", what, keyID)
		}
		if err := checkKeyBytes(what+"."+keyID, s); err != nil {
			return storage.Key{}, err
		}
	case api.AlgorithmSignedCurve25519:
		if c[0] != '{' {
			return storage.Key{}, httputil.BadJSON("%s.%s: a signed_curve25519 key is an object", what, keyID)
		}
		var k signedKey
		if err := json.Unmarshal(c, &k); err != nil {
			return storage.Key{}, httputil.BadJSON("%s.%s: %v", what, keyID, err)
		}
		if err := checkKeyBytes(what+"."+keyID+".key", k.Key); err != nil {
			return storage.Key{}, err
		}
		if edKey == "" {
			return storage.Key{}, httputil.InvalidParam("%s.%s: upload the device keys before signed keys", what, keyID)
		}
		if err := checkSignature(what+"."+keyID, req.UserID, req.DeviceID, edKey, c); err != nil {
			return storage.Key{}, err
		}
	default:
		return storage.Key{}, httputil.InvalidParam("%s: unknown key algorithm %q", what, alg)
	}
	return storage.Key{KeyID: keyID, Algorithm: alg, JSON: c}, nil
}
