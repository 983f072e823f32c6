package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
)

// tpiKeys are two deterministic ed25519 key pairs: the identity server's, and a stranger's.
var (
	isKey    = ed25519.NewKeyFromSeed(make([]byte, 32))
	otherKey = ed25519.NewKeyFromSeed([]byte("0123456789abcdef0123456789abcdef"))
)

func b64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

// signedBlock signs {"mxid","token"} with key the way an identity server does: over the
// canonical JSON of the object without "signatures".
func signedBlock(t *testing.T, key ed25519.PrivateKey, mxid, token string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"mxid": mxid, "token": token})
	msg, err := canonicalJSONWithout(body)
	if err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(key, msg)
	return fmt.Sprintf(`{"token":%q,"mxid":%q,"signatures":{"id.example.org":{"ed25519:0":%q}}}`, token, mxid, b64(sig))
}

func TestThirdPartyInvite(t *testing.T) {
	pub := b64(isKey.Public().(ed25519.PublicKey))
	otherPub := b64(otherKey.Public().(ed25519.PublicKey))
	tpiSingle := step{TypeThirdPartyInvite, "tok", alice, fmt.Sprintf(`{"display_name":"b...","key_validity_url":"https://id/","public_key":%q}`, pub)}
	tpiList := step{TypeThirdPartyInvite, "tok", alice, fmt.Sprintf(`{"display_name":"b...","key_validity_url":"https://id/","public_key":%q,"public_keys":[{"public_key":%q}]}`, otherPub, pub)}
	tpiOther := step{TypeThirdPartyInvite, "tok", alice, fmt.Sprintf(`{"public_key":%q}`, otherPub)}
	invite := func(target, sender, signed string) step {
		return step{TypeMember, target, sender, fmt.Sprintf(`{"membership":"invite","third_party_invite":{"display_name":"b...","signed":%s}}`, signed)}
	}
	good := signedBlock(t, isKey, bob, "tok")
	cases := []roomCase{
		{name: "valid single key", from: 1, to: 12, setup: []step{tpiSingle}, event: invite(bob, alice, good)},
		{name: "valid key in public_keys", from: 1, to: 12, setup: []step{tpiList}, event: invite(bob, alice, good)},
		{name: "signed by another key", from: 1, to: 12, setup: []step{tpiOther}, event: invite(bob, alice, good), want: "member.third_party_invite.signature"},
		{name: "tampered mxid", from: 1, to: 12, setup: []step{tpiSingle}, event: invite(carol, alice,
			`{"token":"tok","mxid":"@carol:c.org","signatures":`+mustSigs(good)+`}`), want: "member.third_party_invite.signature"},
		{name: "mxid is not target", from: 1, to: 12, setup: []step{tpiSingle}, event: invite(carol, alice, good), want: "member.third_party_invite.mxid"},
		{name: "no such token", from: 1, to: 12, setup: []step{tpiSingle}, event: invite(bob, alice, signedBlock(t, isKey, bob, "other")), want: "member.third_party_invite.token"},
		{name: "no signed", from: 1, to: 12, setup: []step{tpiSingle}, event: step{TypeMember, bob, alice, `{"membership":"invite","third_party_invite":{}}`}, want: "member.third_party_invite.signed"},
		{name: "signed without token", from: 1, to: 12, setup: []step{tpiSingle}, event: invite(bob, alice, `{"mxid":"@bob:b.org"}`), want: "member.third_party_invite.signed"},
		{name: "target banned", from: 1, to: 12, setup: []step{tpiSingle, member(bob, alice, "ban")}, event: invite(bob, alice, good), want: "member.third_party_invite.banned"},
		{name: "other sender than the 3pid invite", from: 1, to: 12, joinRule: JoinRulePublic, setup: []step{tpiSingle, member(carol, carol, "join")}, event: invite(bob, carol, good), want: "member.third_party_invite.sender"},
	}
	runRoomCases(t, cases)
}

func mustSigs(signed string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(signed), &m); err != nil {
		panic(err)
	}
	return string(m["signatures"])
}

func TestThirdPartyInviteEventLevel(t *testing.T) {
	tpi := func(sender string) step {
		return step{TypeThirdPartyInvite, "tok", sender, `{"public_key":"x"}`}
	}
	runRoomCases(t, []roomCase{
		{name: "at invite level", from: 1, to: 12, joinRule: JoinRulePublic, setup: []step{member(bob, bob, "join")}, event: tpi(bob)},
		{name: "below invite level", from: 1, to: 12, joinRule: JoinRulePublic, plExtra: `"invite":10`, setup: []step{member(bob, bob, "join")}, event: tpi(bob), want: "third_party_invite.level"},
		// The invite level rule replaces the state_default / events level check.
		{name: "events level ignored", from: 1, to: 12, joinRule: JoinRulePublic, plExtra: `"events":{"m.room.third_party_invite":100}`, setup: []step{member(bob, bob, "join")}, event: tpi(bob)},
		{name: "not joined", from: 1, to: 12, event: tpi(bob), want: "sender.joined"},
	})
}

func TestCanonicalJSON(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"b":1,"a":{"d":[1,2,{"z":null,"y":true}],"c":"x"}}`, `{"a":{"c":"x","d":[1,2,{"y":true,"z":null}]},"b":1}`},
		{`{"one": "\u65E5\u672C", "two":"\u0001\n\"\\"}`, `{"one":"日本","two":"\u0001\n\"\\"}`},
		{`{"a":"\u2028<>&"}`, "{\"a\":\"\u2028<>&\"}"},
		{`{"signatures":{"x":1},"k":-5}`, `{"k":-5}`},
	}
	for _, c := range cases {
		got, err := canonicalJSONWithout([]byte(c.in), "signatures")
		if err != nil || string(got) != c.want {
			t.Errorf("canonical(%s) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	if _, err := canonicalJSONWithout([]byte(`[1]`)); err == nil {
		t.Error("array accepted as object")
	}
}
