package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/axon-matrix/axon/matrix"
)

// thirdPartyInviteAllowed is the invite rule for content with third_party_invite: the
// signed block must name the target and a pending m.room.third_party_invite from the same
// sender, and carry an ed25519 signature by one of that event's public keys.
func thirdPartyInviteAllowed(e matrix.PDU, raw json.RawMessage, targetMembership string, authEvents AuthEventProvider) error {
	id := e.EventID()
	if targetMembership == MembershipBan {
		return notAllowed(id, "member.third_party_invite.banned", "target %s is banned", *e.StateKey())
	}
	var tpi struct {
		Signed *json.RawMessage `json:"signed"`
	}
	if err := json.Unmarshal(raw, &tpi); err != nil || tpi.Signed == nil {
		return notAllowed(id, "member.third_party_invite.signed", "third_party_invite has no signed object")
	}
	var signed struct {
		MXID       *string                      `json:"mxid"`
		Token      *string                      `json:"token"`
		Signatures map[string]map[string]string `json:"signatures"`
	}
	if err := json.Unmarshal(*tpi.Signed, &signed); err != nil || signed.MXID == nil || signed.Token == nil {
		return notAllowed(id, "member.third_party_invite.signed", "signed needs string mxid and token")
	}
	if *signed.MXID != *e.StateKey() {
		return notAllowed(id, "member.third_party_invite.mxid", "signed mxid %s is not the target %s", *signed.MXID, *e.StateKey())
	}
	invite := authEvents.ThirdPartyInvite(*signed.Token)
	if invite == nil {
		return notAllowed(id, "member.third_party_invite.token", "no m.room.third_party_invite with token %q", *signed.Token)
	}
	if invite.Sender() != e.Sender() {
		return notAllowed(id, "member.third_party_invite.sender", "sender %s did not send the third-party invite (%s did)", e.Sender(), invite.Sender())
	}
	keys := thirdPartyInviteKeys(invite)
	msg, err := canonicalJSONWithout(*tpi.Signed, "signatures", "unsigned")
	if err != nil {
		return notAllowed(id, "member.third_party_invite.signed", "signed is not valid JSON: %v", err)
	}
	for _, sigs := range signed.Signatures {
		for keyID, sigB64 := range sigs {
			if !strings.HasPrefix(keyID, "ed25519:") {
				continue
			}
			sig, ok := decodeBase64(sigB64)
			if !ok || len(sig) != ed25519.SignatureSize {
				continue
			}
			for _, k := range keys {
				if ed25519.Verify(k, msg, sig) {
					return nil
				}
			}
		}
	}
	return notAllowed(id, "member.third_party_invite.signature", "no signature in signed matches a public key of the third-party invite")
}

// thirdPartyInviteKeys returns the ed25519 public keys of an m.room.third_party_invite:
// content.public_key and each content.public_keys[].public_key.
func thirdPartyInviteKeys(invite matrix.PDU) []ed25519.PublicKey {
	var c struct {
		PublicKey  string `json:"public_key"`
		PublicKeys []struct {
			PublicKey string `json:"public_key"`
		} `json:"public_keys"`
	}
	_ = json.Unmarshal(invite.Content(), &c)
	var out []ed25519.PublicKey
	add := func(s string) {
		if b, ok := decodeBase64(s); ok && len(b) == ed25519.PublicKeySize {
			out = append(out, ed25519.PublicKey(b))
		}
	}
	add(c.PublicKey)
	for _, k := range c.PublicKeys {
		add(k.PublicKey)
	}
	return out
}

// decodeBase64 accepts the unpadded standard base64 Matrix uses, and also padded and
// URL-safe forms, which identity servers have been seen to emit.
func decodeBase64(s string) ([]byte, bool) {
	if s == "" {
		return nil, false
	}
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.StdEncoding, base64.RawURLEncoding, base64.URLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}
