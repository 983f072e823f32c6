package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/cjson"
	"github.com/axon-matrix/axon/matrix/signing"
)

// signedBytesCases are event shapes that exercise every redaction rule: kept and dropped
// top-level keys (origin, membership, prev_state, age_ts, unsigned, unknown ones),
// content kept per type, v11's third_party_invite.signed, escapes and HTML characters
// (which encoding/json would escape), floats where the version allows them.
func signedBytesCases(v *matrix.RoomVersion) []struct{ name, typ, stateKey, content, extra string } {
	floats := `"ban":50.0,"kick":1e2,"redact":7.5,`
	if v.StrictCanonicalJSON {
		floats = `"ban":50,"kick":100,"redact":7,`
	}
	return []struct{ name, typ, stateKey, content, extra string }{
		{"message", "m.room.message", "", `{"body":"<b>hi & bye</b> \u00e9 \"q\" \\ \n \u2028","msgtype":"m.text","n":[1,{"a":"}]"}],"z":null}`, ""},
		{"empty content", "m.room.message", "", `{}`, ""},
		{"member join", "m.room.member", `"@a:example.org"`, `{"membership":"join","displayname":"A","avatar_url":"mxc://x/y","join_authorised_via_users_server":"@b:example.org"}`, ""},
		{"member tpi", "m.room.member", `"@c:example.org"`, `{"membership":"invite","third_party_invite":{"display_name":"c","signed":{"mxid":"@c:example.org","token":"tok","signatures":{"id.org":{"ed25519:0":"sig"}}}}}`, ""},
		{"member tpi not object", "m.room.member", `"@c:example.org"`, `{"membership":"invite","third_party_invite":"nope"}`, ""},
		{"member tpi no signed", "m.room.member", `"@c:example.org"`, `{"membership":"invite","third_party_invite":{"display_name":"c"}}`, ""},
		{"member escaped keys", "m.room.member", `"@a:example.org"`, `{"membership\u0000":"x","a\"b":1,"membership":"leave","\u00e9":2}`, ""},
		{"create", "m.room.create", `""`, `{"creator":"@a:example.org","room_version":"` + string(v.ID) + `","m.federate":false,"extra":[1,2]}`, ""},
		{"power levels", "m.room.power_levels", `""`, `{` + floats + `"events":{"m.room.name":50},"events_default":0,"invite":0,"notifications":{"room":20},"state_default":50,"users":{"@a:example.org":100},"users_default":0,"other":true}`, ""},
		{"join rules", "m.room.join_rules", `""`, `{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"!s:example.org"}],"x":1}`, ""},
		{"aliases", "m.room.aliases", `"example.org"`, `{"aliases":["#a:example.org"],"x":1}`, ""},
		{"history visibility", "m.room.history_visibility", `""`, `{"history_visibility":"shared","x":1}`, ""},
		{"redaction", "m.room.redaction", "", `{"redacts":"$r:example.org","reason":"spam"}`, `"redacts":"$r:example.org",`},
		{"extra top level", "m.room.message", "", `{"body":"x"}`,
			`"origin":"example.org","membership":"join","prev_state":[],"age_ts":5,"unsigned":{"age":1,"transaction_id":"t"},"zzz":{"a":[true,false]},`},
		{"look-alike keys", "m.room.message", "", `{"body":"x"}`, `"Signatures":{"evil.org":{"ed25519:1":"x"}},"HASHES":{"sha256":"y"},`},
	}
}

// signedBytesEvent writes one case as event JSON of version v, indented (not canonical),
// with a correct content hash.
func signedBytesEvent(t testing.TB, v *matrix.RoomVersion, typ, stateKey, content, extra string) []byte {
	t.Helper()
	refs := `["$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]`
	id := ""
	if v.EventIDFormat == matrix.EventIDFormatServer {
		refs = `[["$p:example.org",{"sha256":"abc"}]]`
		id = `"event_id":"$e:example.org",`
	}
	room := `"room_id":"!r:example.org",`
	if v.RoomIDFromCreateEvent {
		room = `"room_id":"!` + strings.Repeat("r", 43) + `",`
		if typ == "m.room.create" {
			room = ""
		}
	}
	sk := ""
	if stateKey != "" {
		sk = `"state_key":` + stateKey + `,`
	}
	raw := fmt.Sprintf(`{ "type": %q, %s %s %s %s "sender":"@a:example.org", "content": %s,
		"depth": 3, "origin_server_ts": 1700000000000, "prev_events": %s, "auth_events": %s,
		"hashes": {"sha256": "x"}, "signatures": {"example.org": {"ed25519:1": "c2ln"}} }`,
		typ, sk, room, id, extra, content, refs, refs)
	hashed := addContentHash(t, []byte(raw))
	var indented bytes.Buffer
	if err := json.Indent(&indented, hashed, "", "  "); err != nil {
		t.Fatal(err)
	}
	return indented.Bytes()
}

// TestSignedBytesFastPath checks, for every room version and event shape, that the
// one-pass signed bytes and content hash of canonical JSON (SignedBytes, the v3+ event ID
// and the content hash check at parse) are
// byte for byte what the spec's steps give (redact, drop signatures and unsigned,
// canonical JSON), for events parsed untrusted, read trusted, redacted and re-signed.
func TestSignedBytesFastPath(t *testing.T) {
	key := specKey(t)
	for _, v := range matrix.RoomVersions() {
		for _, c := range signedBytesCases(v) {
			t.Run(string(v.ID)+"/"+c.name, func(t *testing.T) {
				raw := signedBytesEvent(t, v, c.typ, c.stateKey, c.content, c.extra)
				canonical, err := cjson.Canonical(raw, false)
				if err != nil {
					t.Fatal(err)
				}
				wantHash, err := ContentHash(raw) // the map-based algorithm
				if err != nil {
					t.Fatal(err)
				}
				if got, err := contentHashCanonical(canonical); err != nil || !bytes.Equal(got, wantHash) {
					t.Fatalf("content hash of canonical JSON: %x %v, want %x", got, err, wantHash)
				}
				slowEvent, err := NewEventFromTrustedJSONWithEventID("$x", raw, v.ID)
				if err != nil {
					t.Fatal(err)
				}
				if slowEvent.canonical {
					t.Fatal("trusted JSON marked canonical")
				}
				want, err := slowEvent.SignedBytes()
				if err != nil {
					t.Fatal(err)
				}
				got, err := signedBytesCanonical(canonical, c.typ, v)
				if err != nil {
					t.Fatalf("fast path refused canonical JSON: %v", err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("signed bytes differ\nfast: %s\nslow: %s", got, want)
				}

				e, err := NewEventFromUntrustedJSON(raw, v.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !e.canonical || e.IsRedacted() {
					t.Fatalf("untrusted parse: canonical %v, redacted %v", e.canonical, e.IsRedacted())
				}
				if fmt.Sprint(e.Signatures(), e.Hashes()) != fmt.Sprint(slowEvent.Signatures(), slowEvent.Hashes()) ||
					len(e.Signatures()) != 1 || len(e.Signatures()["example.org"]) != 1 || len(e.Hashes()) != 1 {
					t.Fatalf("signatures/hashes: %v %v, trusted %v %v", e.Signatures(), e.Hashes(), slowEvent.Signatures(), slowEvent.Hashes())
				}
				if got, _ := e.SignedBytes(); !bytes.Equal(got, want) {
					t.Fatalf("Event.SignedBytes differs\ngot:  %s\nwant: %s", got, want)
				}
				if got, _ := e.signedBytesSlow(); !bytes.Equal(got, want) {
					t.Fatalf("slow path differs on canonical JSON\ngot:  %s\nwant: %s", got, want)
				}
				hash, err := ReferenceHash(raw, v.ID) // the map-based algorithm
				if err != nil {
					t.Fatal(err)
				}
				if v.EventIDFormat != matrix.EventIDFormatServer && e.EventID() != eventIDFromHash(hash, v) {
					t.Fatalf("event ID %s, want %s", e.EventID(), eventIDFromHash(hash, v))
				}
				if rh, _ := e.ReferenceHash(); rh != signing.EncodeBase64(hash) {
					t.Fatalf("ReferenceHash %s, want %s", rh, signing.EncodeBase64(hash))
				}

				// Redacting, signing and adding unsigned keep the signed bytes.
				red, err := e.Redacted()
				if err != nil {
					t.Fatal(err)
				}
				signed, err := e.Sign("other.org", key.ID, key.Private)
				if err != nil {
					t.Fatal(err)
				}
				withU, err := e.WithUnsigned(json.RawMessage(`{"age":9}`))
				if err != nil {
					t.Fatal(err)
				}
				for name, d := range map[string]*Event{"redacted": red, "signed": signed, "unsigned": withU} {
					got, err := d.SignedBytes()
					if err != nil {
						t.Fatal(err)
					}
					slow, _ := d.signedBytesSlow()
					if !bytes.Equal(got, want) || !bytes.Equal(slow, want) {
						t.Fatalf("%s: signed bytes changed\nfast: %s\nslow: %s\nwant: %s", name, got, slow, want)
					}
				}
			})
		}
	}
}

// TestEachMemberRejects: the scanner refuses what is not compact JSON rather than guess,
// so SignedBytes falls back to the general algorithm.
func TestEachMemberRejects(t *testing.T) {
	for _, in := range []string{``, `{`, `[]`, `{"a":1`, `{"a" :1}`, `{"a":1 }`, `{"a":1,}`, `{"a":"x}`,
		`{"a":{"b":1}`, `{a:1}`, `{"a":1}x`, `{}x`, `{"a":}`, `{"a":tr ue}`} {
		err := eachMember([]byte(in), func(_, _ []byte) error { return nil })
		if err == nil {
			t.Errorf("eachMember(%q) accepted", in)
		}
	}
	var keys []string
	err := eachMember([]byte(`{"a":{"x":"}"},"b\"c":[1,"]"],"d":-1.5e3,"e":null}`), func(k, v []byte) error {
		keys = append(keys, string(k)+"="+string(v))
		return nil
	})
	want := `a={"x":"}"}|b\"c=[1,"]"]|d=-1.5e3|e=null`
	if err != nil || strings.Join(keys, "|") != want {
		t.Fatalf("eachMember: %v %q, want %q", err, strings.Join(keys, "|"), want)
	}
}

// TestStringFieldAndTopLevelCanonical: the no-escape shortcut of stringField and the
// one-pass member split give what encoding/json gives.
func TestStringFieldAndTopLevelCanonical(t *testing.T) {
	for _, raw := range []string{`"plain"`, `"é ☃ 𝄞"`, `"a\"b"`, `"a\\b"`, `"\u00e9\n"`, `""`, "\"\xff\"", `5`, `null`, `{"a":1}`} {
		top := map[string]json.RawMessage{"k": json.RawMessage(raw)}
		got, present, err := stringField(top, "k")
		var want string
		wantErr := json.Unmarshal([]byte(raw), &want)
		if raw == `null` {
			if present || err != nil {
				t.Errorf("null: present %v err %v", present, err)
			}
			continue
		}
		if (err != nil) != (wantErr != nil) || got != want || !present {
			t.Errorf("stringField(%s) = %q, %v, %v; encoding/json: %q, %v", raw, got, present, err, want, wantErr)
		}
	}
	for _, in := range []string{`{}`, `{"a":1,"b\"c":"x","\u00e9":[1],"é\u0000":{"z":null}}`, `{"type":"m","content":{"a":"}"}}`} {
		canonical, err := cjson.Canonical([]byte(in), false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := topLevelCanonical(canonical)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := topLevel(canonical)
		if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != len(want) {
			t.Errorf("topLevelCanonical(%s) = %v, want %v", canonical, got, want)
		}
	}
}
