// Package devicetest plays an end-to-end encryption client's device in tests: it makes
// device keys, one-time keys and fallback keys signed with the device's ed25519 key, as
// the keyserver expects them from /keys/upload, and bad variants of them.
package devicetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"testing"

	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/matrix/signing"
)

// Device is one device of a user with its ed25519 signing key.
type Device struct {
	t                testing.TB
	UserID, DeviceID string
	priv             ed25519.PrivateKey
	curve            []byte
	next             int
	// FallbackKeyID is the ID of the newest fallback key Upload made.
	FallbackKeyID string
}

// New makes a device with fresh keys.
func New(t testing.TB, userID, deviceID string) *Device {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Device{t: t, UserID: userID, DeviceID: deviceID, priv: priv, curve: random32()}
}

func random32() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// B64 is unpadded base64.
func B64(b []byte) string { return signing.EncodeBase64(b) }

// Ed25519 is the device's public ed25519 key, unpadded base64.
func (d *Device) Ed25519() string { return B64(d.priv.Public().(ed25519.PublicKey)) }

// Keys are the device's keys as device_keys.keys lists them.
func (d *Device) Keys() map[string]string {
	return map[string]string{"ed25519:" + d.DeviceID: d.Ed25519(), "curve25519:" + d.DeviceID: B64(d.curve)}
}

func (d *Device) sign(userID, deviceID string, obj any) json.RawMessage {
	raw, err := json.Marshal(obj)
	if err != nil {
		d.t.Fatal(err)
	}
	signed, err := signing.SignJSON(userID, signing.KeyID("ed25519:"+deviceID), d.priv, raw)
	if err != nil {
		d.t.Fatal(err)
	}
	return signed
}

// DeviceKeysFor is a device_keys object naming userID and deviceID, with this device's
// keys under deviceID's key IDs, signed with this device's key as userID's deviceID.
func (d *Device) DeviceKeysFor(userID, deviceID string) json.RawMessage {
	return d.sign(userID, deviceID, map[string]any{"user_id": userID, "device_id": deviceID,
		"algorithms": []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"},
		"keys":       map[string]string{"ed25519:" + deviceID: d.Ed25519(), "curve25519:" + deviceID: B64(d.curve)}})
}

// SignedDeviceKeys is the device's device_keys object with exactly keys, signed.
func (d *Device) SignedDeviceKeys(keys map[string]string) json.RawMessage {
	return d.sign(d.UserID, d.DeviceID, map[string]any{"user_id": d.UserID, "device_id": d.DeviceID,
		"algorithms": []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"}, "keys": keys})
}

// KeysWith is Keys with extra added.
func (d *Device) KeysWith(extra map[string]string) map[string]string {
	k := d.Keys()
	maps.Copy(k, extra)
	return k
}

// SignedKey is a fresh signed_curve25519 key signed with this device's key as userID's
// device (a fallback key when fallback).
func (d *Device) SignedKey(userID string, fallback bool) json.RawMessage {
	obj := map[string]any{"key": B64(random32())}
	if fallback {
		obj["fallback"] = true
	}
	return d.sign(userID, d.DeviceID, obj)
}

// Upload is a /keys/upload of the device keys, n fresh one-time keys and, when fallback,
// a fresh fallback key.
func (d *Device) Upload(n int, fallback bool) *api.UploadKeysRequest {
	req := &api.UploadKeysRequest{UserID: d.UserID, DeviceID: d.DeviceID, DeviceKeys: d.SignedDeviceKeys(d.Keys()),
		OneTimeKeys: map[string]json.RawMessage{}, FallbackKeys: map[string]json.RawMessage{}}
	for range n {
		d.next++
		req.OneTimeKeys[fmt.Sprintf("%s:AAAA%04d", api.AlgorithmSignedCurve25519, d.next)] = d.SignedKey(d.UserID, false)
	}
	if fallback {
		d.next++
		d.FallbackKeyID = fmt.Sprintf("%s:FB%04d", api.AlgorithmSignedCurve25519, d.next)
		req.FallbackKeys[d.FallbackKeyID] = d.SignedKey(d.UserID, true)
	}
	return req
}

// VerifyDeviceKeys checks that raw carries this device's signature.
func (d *Device) VerifyDeviceKeys(raw []byte) error {
	return signing.VerifyJSON(d.UserID, signing.KeyID("ed25519:"+d.DeviceID), d.priv.Public().(ed25519.PublicKey), raw)
}

// Resigned is raw with its signatures replaced by other's signature under this device's
// user and key ID (a signature that does not verify).
func (d *Device) Resigned(raw json.RawMessage, other *Device) json.RawMessage {
	var obj map[string]any
	if err := json.Unmarshal(Without(raw, "signatures"), &obj); err != nil {
		d.t.Fatal(err)
	}
	return other.sign(d.UserID, d.DeviceID, obj)
}

// Without is the JSON object raw without field.
func Without(raw json.RawMessage, field string) json.RawMessage {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		panic(err)
	}
	delete(obj, field)
	out, _ := json.Marshal(obj)
	return out
}

// With is the JSON object raw with field set to v (signatures kept, so they no longer
// verify when the field was signed).
func With(raw json.RawMessage, field string, v any) json.RawMessage {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		panic(err)
	}
	obj[field] = v
	out, _ := json.Marshal(obj)
	return out
}
