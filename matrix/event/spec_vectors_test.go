package event

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"

	"github.com/axon-matrix/axon/matrix/cjson"
	"github.com/axon-matrix/axon/matrix/signing"
)

// The fixed key of the spec appendix "Cryptographic Test Vectors".
func specKey(t testing.TB) signing.SigningKey {
	t.Helper()
	seed, err := signing.DecodeBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
	if err != nil {
		t.Fatal(err)
	}
	k, err := signing.KeyFromSeed("ed25519:1", seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCanonical(t testing.TB, s string) string {
	t.Helper()
	out, err := cjson.Canonical([]byte(s), false)
	if err != nil {
		t.Fatalf("canonical %s: %v", s, err)
	}
	return string(out)
}

// addContentHash sets hashes.sha256 the way an origin server does before signing.
func addContentHash(t testing.TB, raw []byte) []byte {
	t.Helper()
	hash, err := ContentHash(raw)
	if err != nil {
		t.Fatal(err)
	}
	out, err := setTopLevel(raw, "hashes", json.RawMessage(`{"sha256":"`+signing.EncodeBase64(hash)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Spec appendix "Event Signing": both examples, byte for byte (room version 1 rules, which
// the examples predate).
func TestSpecEventSigningVectors(t *testing.T) {
	key := specKey(t)
	tests := []struct{ name, in, want string }{
		{"minimal event", `{
    "room_id": "!x:domain",
    "sender": "@a:domain",
    "origin": "domain",
    "origin_server_ts": 1000000,
    "signatures": {},
    "hashes": {},
    "type": "X",
    "content": {},
    "prev_events": [],
    "auth_events": [],
    "depth": 3,
    "unsigned": {
        "age_ts": 1000000
    }
}`, `{
    "auth_events": [],
    "content": {},
    "depth": 3,
    "hashes": {
        "sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"
    },
    "origin": "domain",
    "origin_server_ts": 1000000,
    "prev_events": [],
    "room_id": "!x:domain",
    "sender": "@a:domain",
    "signatures": {
        "domain": {
            "ed25519:1": "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"
        }
    },
    "type": "X",
    "unsigned": {
        "age_ts": 1000000
    }
}`},
		{"event with redactable content", `{
    "content": {
        "body": "Here is the message content"
    },
    "event_id": "$0:domain",
    "origin": "domain",
    "origin_server_ts": 1000000,
    "type": "m.room.message",
    "room_id": "!r:domain",
    "sender": "@u:domain",
    "signatures": {},
    "unsigned": {
        "age_ts": 1000000
    }
}`, `{
    "content": {
        "body": "Here is the message content"
    },
    "event_id": "$0:domain",
    "hashes": {
        "sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"
    },
    "origin": "domain",
    "origin_server_ts": 1000000,
    "type": "m.room.message",
    "room_id": "!r:domain",
    "sender": "@u:domain",
    "signatures": {
        "domain": {
            "ed25519:1": "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"
        }
    },
    "unsigned": {
        "age_ts": 1000000
    }
}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hashed := addContentHash(t, []byte(tt.in))
			got, err := SignEventJSON("1", "domain", key.ID, key.Private, hashed)
			if err != nil {
				t.Fatal(err)
			}
			if want := mustCanonical(t, tt.want); string(got) != want {
				t.Fatalf("signed event\n%s\nwant\n%s", got, want)
			}
			// The signed event verifies through the event API too.
			e, err := NewEventFromTrustedJSONWithEventID("$0:domain", got, "1")
			if err != nil {
				t.Fatal(err)
			}
			lookup := func(_ context.Context, server string, id signing.KeyID) (VerifyKey, error) {
				if server == "domain" && id == key.ID {
					return VerifyKey{Key: key.Public()}, nil
				}
				return VerifyKey{}, errors.New("unknown key")
			}
			if err := VerifyEventSignatures(context.Background(), e, lookup); err != nil {
				t.Fatalf("VerifyEventSignatures: %v", err)
			}
			if ok, err := e.CheckContentHash(); err != nil || !ok {
				t.Fatalf("CheckContentHash = %v, %v", ok, err)
			}
		})
	}
}

// A signature made by this package verifies with plain ed25519 over the redacted,
// signature-less canonical JSON — the spec's definition, written out independently.
func TestEventSignatureCoversRedactedForm(t *testing.T) {
	key := specKey(t)
	raw := addContentHash(t, []byte(`{"room_id":"!r:domain","sender":"@u:domain","origin_server_ts":1,"type":"m.room.message",
		"content":{"body":"hi"},"prev_events":[],"auth_events":[],"depth":1,"signatures":{}}`))
	signed, err := SignEventJSON("10", "domain", key.ID, key.Private, raw)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Signatures map[string]map[string]string `json:"signatures"`
	}
	if err := json.Unmarshal(signed, &ev); err != nil {
		t.Fatal(err)
	}
	sig, _ := signing.DecodeBase64(ev.Signatures["domain"]["ed25519:1"])
	redactedNoSigs := `{"auth_events":[],"content":{},"depth":1,"hashes":` + string(mustField(t, signed, "hashes")) +
		`,"origin_server_ts":1,"prev_events":[],"room_id":"!r:domain","sender":"@u:domain","type":"m.room.message"}`
	if !ed25519.Verify(key.Public(), []byte(redactedNoSigs), sig) {
		t.Fatalf("signature does not cover %s", redactedNoSigs)
	}
}

func mustField(t testing.TB, raw []byte, key string) json.RawMessage {
	t.Helper()
	top, err := topLevel(raw)
	if err != nil {
		t.Fatal(err)
	}
	return top[key]
}
