package event

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/signing"
)

func roomVersion(s string) matrix.RoomVersionID { return matrix.RoomVersionID(s) }

func TestRequiredSigners(t *testing.T) {
	key := specKey(t)
	build := func(version string, b Builder) *Event {
		t.Helper()
		e, err := b.Build(roomVersion(version), "a.org", key.ID, key.Private)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	restricted := Builder{Type: "m.room.member", StateKey: strp("@u:a.org"), Sender: "@u:a.org", RoomID: "!r:b.org",
		Content: map[string]string{"membership": "join", "join_authorised_via_users_server": "@v:c.org"}, Depth: 1}
	tests := []struct {
		name string
		e    *Event
		want []string
	}{
		{"message v10", build("10", Builder{Type: "m.room.message", Sender: "@u:a.org", RoomID: "!r:b.org", Depth: 1}), []string{"a.org"}},
		{"restricted join v10", build("10", restricted), []string{"a.org", "c.org"}},
		{"restricted key ignored v7", build("7", restricted), []string{"a.org"}},
		{"third-party invite exempts the sender", build("10", Builder{Type: "m.room.member", StateKey: strp("@t:d.org"), Sender: "@u:a.org",
			RoomID: "!r:b.org", Depth: 1, Content: map[string]any{"membership": "invite", "third_party_invite": map[string]any{"signed": map[string]string{"token": "t"}}}}), nil},
		{"plain invite", build("10", Builder{Type: "m.room.member", StateKey: strp("@t:d.org"), Sender: "@u:a.org",
			RoomID: "!r:b.org", Depth: 1, Content: map[string]any{"membership": "invite"}}), []string{"a.org"}},
	}
	for _, tt := range tests {
		got, err := RequiredSigners(tt.e)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: RequiredSigners = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	// v1: the event ID's server signs too.
	v1JSON := `{"auth_events":[],"content":{},"depth":1,"event_id":"$e:other.org","hashes":{"sha256":"x"},"origin_server_ts":1,"prev_events":[],"room_id":"!r:b.org","sender":"@u:a.org","signatures":{},"type":"m.room.message"}`
	e, err := NewEventFromTrustedJSON([]byte(v1JSON), "1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := RequiredSigners(e); err != nil || !reflect.DeepEqual(got, []string{"a.org", "other.org"}) {
		t.Errorf("v1 RequiredSigners = %v, %v", got, err)
	}
}

func TestVerifyEventSignatures(t *testing.T) {
	key := specKey(t)
	other, err := signing.GenerateKey("2", nil)
	if err != nil {
		t.Fatal(err)
	}
	b := Builder{Type: "m.room.member", StateKey: strp("@u:a.org"), Sender: "@u:a.org", RoomID: "!r:b.org",
		Content: map[string]string{"membership": "join", "join_authorised_via_users_server": "@v:c.org"}, Depth: 1, OriginServerTS: 1000}
	onlyA, err := b.Build("10", "a.org", key.ID, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	both, err := onlyA.Sign("c.org", other.ID, other.Private)
	if err != nil {
		t.Fatal(err)
	}
	if both.EventID() != onlyA.EventID() {
		t.Fatal("adding a signature changed the event ID")
	}
	keys := map[string]VerifyKey{
		"a.org ed25519:1": {Key: key.Public()},
		"c.org ed25519:2": {Key: other.Public()},
	}
	lookup := func(_ context.Context, server string, id signing.KeyID) (VerifyKey, error) {
		k, ok := keys[server+" "+string(id)]
		if !ok {
			return VerifyKey{}, errors.New("unknown key")
		}
		return k, nil
	}
	ctx := context.Background()
	if err := VerifyEventSignatures(ctx, both, lookup); err != nil {
		t.Fatalf("both signatures: %v", err)
	}
	var sigErr *SignatureError
	if err := VerifyEventSignatures(ctx, onlyA, lookup); !errors.As(err, &sigErr) || sigErr.Server != "c.org" {
		t.Fatalf("missing c.org signature: %v", err)
	}
	// A signature by the wrong key for the name does not count.
	keys["c.org ed25519:2"] = VerifyKey{Key: key.Public()}
	if err := VerifyEventSignatures(ctx, both, lookup); !errors.Is(err, signing.ErrBadSignature) {
		t.Fatalf("wrong key: %v", err)
	}
	// v5+ key validity: expired before origin_server_ts fails.
	keys["c.org ed25519:2"] = VerifyKey{Key: other.Public(), ValidUntilTS: 999}
	if err := VerifyEventSignatures(ctx, both, lookup); err == nil {
		t.Fatal("expired key accepted")
	}
	keys["c.org ed25519:2"] = VerifyKey{Key: other.Public(), ValidUntilTS: 1000}
	if err := VerifyEventSignatures(ctx, both, lookup); err != nil {
		t.Fatalf("key valid at origin_server_ts: %v", err)
	}
	// Tampering with a protected field breaks the signature.
	tampered, err := NewEventFromTrustedJSONWithEventID(both.EventID(), []byte(replaceOnce(string(both.JSON()), `"depth":1`, `"depth":2`)), "10")
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyEventSignatures(ctx, tampered, lookup); err == nil {
		t.Fatal("tampered event verified")
	}
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	panic("replaceOnce: " + old + " not found")
}
