package internal

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"slices"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/keyserver/api"
	"github.com/axon-matrix/axon/keyserver/storage"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/signing"
)

// Cross-signing (arrow 14: /keys/device_signing/upload, /keys/signatures/upload and the
// cross-signing keys of /keys/query).

// errInvalidSignature is the spec's 400 M_INVALID_SIGNATURE.
func errInvalidSignature(format string, a ...any) *httputil.MatrixError {
	me := httputil.InvalidParam(format, a...)
	me.ErrCode = "M_INVALID_SIGNATURE"
	return me
}

// crossSigningKey is the part of a cross-signing key object the keyserver checks.
type crossSigningKey struct {
	UserID string            `json:"user_id"`
	Usage  []string          `json:"usage"`
	Keys   map[string]string `json:"keys"`
}

// parsedKey is a checked cross-signing key: its public key and its canonical JSON.
type parsedKey struct {
	storage.CrossSigningKey
	pub ed25519.PublicKey
}

// parseCrossSigningKey checks a key object uploaded as userID's key of usage: it names
// the user, lists the usage, and holds exactly one ed25519 key whose key ID is
// "ed25519:" + the key itself.
func parseCrossSigningKey(what, userID, usage string, raw json.RawMessage) (*parsedKey, error) {
	obj, err := canonicalObject(what, raw)
	if err != nil {
		return nil, err
	}
	var k crossSigningKey
	if err := json.Unmarshal(obj, &k); err != nil {
		return nil, httputil.BadJSON("%s: %v", what, err)
	}
	if k.UserID != userID {
		return nil, httputil.InvalidParam("%s.user_id %q is not the uploading user %q", what, k.UserID, userID)
	}
	if !slices.Contains(k.Usage, usage) {
		return nil, httputil.InvalidParam("%s.usage must contain %q", what, usage)
	}
	if len(k.Keys) != 1 {
		return nil, httputil.InvalidParam("%s.keys must hold exactly one key", what)
	}
	for keyID, key := range k.Keys {
		alg, id, err := splitKeyID(keyID)
		if err != nil {
			return nil, err
		}
		if alg != api.AlgorithmEd25519 {
			return nil, httputil.InvalidParam("%s.keys: a cross-signing key is an ed25519 key, not %q", what, alg)
		}
		if id != key {
			return nil, httputil.InvalidParam("%s.keys: the key ID %q does not name its key", what, keyID)
		}
		if err := checkKeyBytes(what+".keys."+keyID, key); err != nil {
			return nil, err
		}
		pub, _ := signing.DecodeBase64(key)
		return &parsedKey{CrossSigningKey: storage.CrossSigningKey{Type: usage, KeyID: key, JSON: obj}, pub: pub}, nil
	}
	panic("unreachable")
}

// storedKey parses a stored key (nil if it is broken).
func storedKey(k storage.CrossSigningKey) *parsedKey {
	pub, err := signing.DecodeBase64(k.KeyID)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil
	}
	return &parsedKey{CrossSigningKey: k, pub: pub}
}

// ownKeys returns userID's stored cross-signing keys by type.
func (k *KeyServer) ownKeys(ctx context.Context, userID string) (map[string]*parsedKey, error) {
	all, err := k.db.CrossSigningKeysOf(ctx, []string{userID})
	if err != nil {
		return nil, err
	}
	out := map[string]*parsedKey{}
	for t, key := range all[userID] {
		if p := storedKey(key); p != nil {
			out[t] = p
		}
	}
	return out, nil
}

// CrossSigningKeys implements api.KeyServerAPI.
func (k *KeyServer) CrossSigningKeys(ctx context.Context, req *api.CrossSigningKeysRequest) (*api.CrossSigningKeysResponse, error) {
	keys, err := k.ownKeys(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	resp := &api.CrossSigningKeysResponse{}
	for t, dst := range map[string]*json.RawMessage{api.UsageMaster: &resp.MasterKey,
		api.UsageSelfSigning: &resp.SelfSigningKey, api.UsageUserSigning: &resp.UserSigningKey} {
		if key := keys[t]; key != nil {
			*dst = key.JSON
		}
	}
	return resp, nil
}

// verifiedBy checks that obj carries userID's valid signature by the cross-signing key
// signer.
func verifiedBy(what, userID string, signer *parsedKey, obj []byte) error {
	err := signing.VerifyJSON(userID, signing.KeyID("ed25519:"+signer.KeyID), signer.pub, obj)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, signing.ErrNoSignature):
		return errInvalidSignature("%s is not signed by the %s key ed25519:%s", what, signer.Type, signer.KeyID)
	default:
		return errInvalidSignature("%s: the signature of the %s key ed25519:%s does not verify", what, signer.Type, signer.KeyID)
	}
}

// UploadCrossSigningKeys implements api.KeyServerAPI: the keys are checked (shape, user,
// usage, the self-signing and user-signing keys signed by the master key uploaded with
// them or stored) before anything is stored. A new master key without new self-signing
// or user-signing keys drops the stored ones: the new master key has not signed them.
func (k *KeyServer) UploadCrossSigningKeys(ctx context.Context, req *api.UploadCrossSigningKeysRequest) error {
	if server, ok := matrix.ServerNameOf(req.UserID); !ok || server != k.serverName {
		return httputil.InvalidParam("cross-signing keys can be uploaded for this server's users only")
	}
	present := func(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }
	uploads := []struct {
		field, usage string
		raw          json.RawMessage
	}{
		{"master_key", api.UsageMaster, req.MasterKey},
		{"self_signing_key", api.UsageSelfSigning, req.SelfSigningKey},
		{"user_signing_key", api.UsageUserSigning, req.UserSigningKey},
	}
	parsed := map[string]*parsedKey{}
	for _, u := range uploads {
		if !present(u.raw) {
			continue
		}
		p, err := parseCrossSigningKey(u.field, req.UserID, u.usage, u.raw)
		if err != nil {
			return err
		}
		parsed[u.usage] = p
	}
	if len(parsed) == 0 {
		return nil
	}
	stored, err := k.ownKeys(ctx, req.UserID)
	if err != nil {
		return err
	}
	master := parsed[api.UsageMaster]
	if master == nil {
		master = stored[api.UsageMaster]
	}
	if master == nil {
		return httputil.MissingParam("no master key: upload one with the self-signing and user-signing keys")
	}
	seen := map[string]string{}
	for _, u := range uploads {
		p := parsed[u.usage]
		if p == nil {
			continue
		}
		if other, dup := seen[p.KeyID]; dup {
			return httputil.InvalidParam("%s is the same key as %s", u.field, other)
		}
		seen[p.KeyID] = u.field
		if u.usage != api.UsageMaster {
			if err := verifiedBy(u.field, req.UserID, master, p.JSON); err != nil {
				return err
			}
		}
		// A key named like one of the user's devices would make signatures ambiguous.
		if ed, err := k.db.DeviceEd25519(ctx, req.UserID, p.KeyID); err != nil {
			return err
		} else if ed != "" {
			return httputil.Forbidden("Key ID in use: %s is one of your device IDs", p.KeyID)
		}
	}
	var keys []storage.CrossSigningKey
	for _, u := range uploads {
		if p := parsed[u.usage]; p != nil {
			keys = append(keys, p.CrossSigningKey)
		}
	}
	var drop []string
	if old := stored[api.UsageMaster]; parsed[api.UsageMaster] != nil && old != nil && old.KeyID != master.KeyID {
		for _, t := range []string{api.UsageSelfSigning, api.UsageUserSigning} {
			if parsed[t] == nil && stored[t] != nil {
				drop = append(drop, t)
			}
		}
	}
	defer k.kick()
	return k.tracked(ctx, func(ctx context.Context) error { return k.db.StoreCrossSigningKeys(ctx, req.UserID, keys, drop) })
}

// signaturesOf reads the "signatures" of a signed object: entity → key ID → signature.
func signaturesOf(obj []byte) map[string]map[string]string {
	var s struct {
		Signatures map[string]map[string]string `json:"signatures"`
	}
	_ = json.Unmarshal(obj, &s)
	return s.Signatures
}

// sameSignedContent says whether two objects are the same apart from their signatures
// and unsigned data.
func sameSignedContent(a, b []byte) bool {
	sa, err1 := signing.SignedBytes(a)
	sb, err2 := signing.SignedBytes(b)
	return err1 == nil && err2 == nil && string(sa) == string(sb)
}

func failure(code, format string, a ...any) *httputil.MatrixError {
	me := httputil.InvalidParam(format, a...)
	me.ErrCode = code
	return me
}

// UploadSignatures implements api.KeyServerAPI: the uploader's self-signing key signs
// their own devices, their devices sign their master key, and their user-signing key
// signs other users' master keys. Each object must be the stored key (apart from its
// signatures) and its new signature must verify; otherwise it is a failure of the answer
// and nothing of it is stored.
func (k *KeyServer) UploadSignatures(ctx context.Context, req *api.UploadSignaturesRequest) (*api.UploadSignaturesResponse, error) {
	resp := &api.UploadSignaturesResponse{Failures: map[string]map[string]api.SignatureFailure{}}
	fail := func(userID, keyID string, err error) {
		me := httputil.AsMatrixError(err)
		if resp.Failures[userID] == nil {
			resp.Failures[userID] = map[string]api.SignatureFailure{}
		}
		resp.Failures[userID][keyID] = api.SignatureFailure{ErrCode: me.ErrCode, Error: me.Err}
	}
	own, err := k.ownKeys(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	var sigs []storage.Signature
	for _, target := range sortedKeys(req.Signatures) {
		server, ok := matrix.ServerNameOf(target)
		for _, keyID := range sortedKeys(req.Signatures[target]) {
			if !ok || !matrix.ValidUserID(target) {
				fail(target, keyID, httputil.InvalidParam("%q is not a user ID", target))
				continue
			}
			if server != k.serverName {
				fail(target, keyID, httputil.InvalidParam("signatures of other servers' keys need federation, which this server does not do yet"))
				continue
			}
			obj, err := canonicalObject("the signed object", req.Signatures[target][keyID])
			if err != nil {
				fail(target, keyID, err)
				continue
			}
			var got []storage.Signature
			if target == req.UserID {
				got, err = k.ownSignature(ctx, req.UserID, own, keyID, obj)
			} else {
				got, err = k.userSignature(ctx, req.UserID, own, target, keyID, obj)
			}
			if err != nil {
				var me *httputil.MatrixError
				if !errors.As(err, &me) {
					return nil, err
				}
				fail(target, keyID, err)
				continue
			}
			sigs = append(sigs, got...)
		}
	}
	err = k.tracked(ctx, func(ctx context.Context) error { return k.db.StoreSignatures(ctx, sigs) })
	k.kick()
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// ownSignature checks a signed object of the uploader's own: a device's keys signed by
// their self-signing key, or their master key signed by their devices (signatures of key
// IDs that are no device with keys are ignored; at least one device's must be there).
func (k *KeyServer) ownSignature(ctx context.Context, userID string, own map[string]*parsedKey, keyID string, obj []byte) ([]storage.Signature, error) {
	if master := own[api.UsageMaster]; master != nil && keyID == master.KeyID {
		if !sameSignedContent(obj, master.JSON) {
			return nil, httputil.InvalidParam("the object is not your master key")
		}
		var out []storage.Signature
		for sigKeyID, sig := range signaturesOf(obj)[userID] {
			if sigKeyID == "ed25519:"+master.KeyID {
				continue // the master key's self-signature is part of the key
			}
			alg, device, err := splitKeyID(sigKeyID)
			if err != nil || alg != api.AlgorithmEd25519 {
				return nil, errInvalidSignature("signature key ID %q is not ed25519:<device>", sigKeyID)
			}
			ed, err := k.db.DeviceEd25519(ctx, userID, device)
			if err != nil {
				return nil, err
			}
			if ed == "" {
				continue // not a device's signature (a copy of another key's): not checked, not stored
			}
			if err := checkSignature("the master key", userID, device, ed, obj); err != nil {
				return nil, errInvalidSignature("%s", httputil.AsMatrixError(err).Err)
			}
			out = append(out, storage.Signature{TargetUserID: userID, TargetKeyID: master.KeyID,
				SignerUserID: userID, SignerKeyID: sigKeyID, Signature: sig})
		}
		if len(out) == 0 {
			return nil, errInvalidSignature("the master key carries no signature of one of your devices with keys")
		}
		return out, nil
	}
	stored, err := k.db.DeviceKeysJSON(ctx, userID, keyID)
	if err != nil {
		return nil, err
	}
	if stored == nil {
		return nil, httputil.NotFound("no device or cross-signing key %s", keyID)
	}
	ssk := own[api.UsageSelfSigning]
	if ssk == nil {
		return nil, failure("M_MISSING_PARAM", "you have no self-signing key to sign devices with")
	}
	if !sameSignedContent(obj, stored) {
		return nil, httputil.InvalidParam("the object is not the device keys of %s", keyID)
	}
	if err := verifiedBy("the device keys", userID, ssk, obj); err != nil {
		return nil, err
	}
	return []storage.Signature{{TargetUserID: userID, TargetKeyID: keyID, SignerUserID: userID,
		SignerKeyID: "ed25519:" + ssk.KeyID, Signature: signaturesOf(obj)[userID]["ed25519:"+ssk.KeyID]}}, nil
}

// userSignature checks another local user's master key signed by the uploader's
// user-signing key.
func (k *KeyServer) userSignature(ctx context.Context, userID string, own map[string]*parsedKey, target, keyID string, obj []byte) ([]storage.Signature, error) {
	theirs, err := k.ownKeys(ctx, target)
	if err != nil {
		return nil, err
	}
	master := theirs[api.UsageMaster]
	if master == nil || master.KeyID != keyID {
		return nil, httputil.NotFound("%s is not the master key of %s (only other users' master keys can be signed)", keyID, target)
	}
	usk := own[api.UsageUserSigning]
	if usk == nil {
		return nil, failure("M_MISSING_PARAM", "you have no user-signing key to sign other users' keys with")
	}
	if !sameSignedContent(obj, master.JSON) {
		return nil, httputil.InvalidParam("the object is not the master key of %s", target)
	}
	if err := verifiedBy("the master key of "+target, userID, usk, obj); err != nil {
		return nil, err
	}
	return []storage.Signature{{TargetUserID: target, TargetKeyID: keyID, SignerUserID: userID,
		SignerKeyID: "ed25519:" + usk.KeyID, Signature: signaturesOf(obj)[userID]["ed25519:"+usk.KeyID]}}, nil
}

// withSignatures adds sigs to the signed object raw.
func withSignatures(raw []byte, sigs []storage.Signature) []byte {
	if len(sigs) == 0 {
		return raw
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return raw
	}
	all := signaturesOf(raw)
	if all == nil {
		all = map[string]map[string]string{}
	}
	for _, s := range sigs {
		if all[s.SignerUserID] == nil {
			all[s.SignerUserID] = map[string]string{}
		}
		all[s.SignerUserID][s.SignerKeyID] = s.Signature
	}
	enc, err := json.Marshal(all)
	if err != nil {
		return raw
	}
	obj["signatures"] = enc
	out, err := json.Marshal(obj)
	if err != nil {
		return raw
	}
	return out
}

// addCrossSigning fills resp's cross-signing keys of the local users (read by
// storage.KeysOf) and adds the uploaded signatures to their keys and devices. A signature
// by another user (their user-signing key of a master key) is shown to that user only, as
// Synapse does; the user-signing key itself only to its owner.
func addCrossSigning(requester string, read *storage.UsersKeys, resp *api.QueryKeysResponse) {
	keys := read.CrossSigning
	sigs := map[[2]string][]storage.Signature{}
	for _, s := range read.Signatures {
		if s.SignerUserID != s.TargetUserID && s.SignerUserID != requester {
			continue
		}
		key := [2]string{s.TargetUserID, s.TargetKeyID}
		sigs[key] = append(sigs[key], s)
	}
	for userID, devs := range resp.DeviceKeys {
		for id, js := range devs {
			devs[id] = withSignatures(js, sigs[[2]string{userID, id}])
		}
	}
	for userID, byType := range keys {
		for t, key := range byType {
			js := json.RawMessage(withSignatures(key.JSON, sigs[[2]string{userID, key.KeyID}]))
			switch t {
			case api.UsageMaster:
				resp.MasterKeys[userID] = js
			case api.UsageSelfSigning:
				resp.SelfSigningKeys[userID] = js
			case api.UsageUserSigning:
				if userID == requester {
					resp.UserSigningKeys[userID] = js
				}
			}
		}
	}
}
