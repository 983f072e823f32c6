package event

import (
	"testing"

	"github.com/axon-matrix/axon/matrix"
)

func TestRedact(t *testing.T) {
	// Top-level keys common to all events below; "origin", "membership", "prev_state",
	// "unsigned" and "age_ts" are there to be dropped or kept.
	const top = `"event_id":"$e:x","room_id":"!r:x","sender":"@s:x","depth":1,"prev_events":[],"auth_events":[],` +
		`"origin_server_ts":1,"hashes":{"sha256":"h"},"signatures":{"x":{"ed25519:1":"s"}},` +
		`"origin":"x","membership":"join","prev_state":[],"unsigned":{"age":1},"age_ts":5,"other":1`
	const keptOld = `"auth_events":[],"depth":1,"event_id":"$e:x","hashes":{"sha256":"h"},"membership":"join","origin":"x","origin_server_ts":1,"prev_events":[],"prev_state":[],"room_id":"!r:x","sender":"@s:x","signatures":{"x":{"ed25519:1":"s"}}`
	const keptV11 = `"auth_events":[],"depth":1,"event_id":"$e:x","hashes":{"sha256":"h"},"origin_server_ts":1,"prev_events":[],"room_id":"!r:x","sender":"@s:x","signatures":{"x":{"ed25519:1":"s"}}`

	type want map[matrix.RedactionAlgorithm]string // content after redaction per algorithm
	all := func(s string) want {
		return want{matrix.RedactionV1: s, matrix.RedactionV6: s, matrix.RedactionV8: s, matrix.RedactionV9: s, matrix.RedactionV11: s}
	}
	tests := []struct {
		name      string
		eventType string
		stateKey  string // "" means no state_key
		content   string
		want      want
	}{
		{"message", "m.room.message", "", `{"body":"hi","msgtype":"m.text"}`, all(`{}`)},
		{"member", "m.room.member", `"@s:x"`,
			`{"membership":"join","displayname":"S","join_authorised_via_users_server":"@v:x","third_party_invite":{"display_name":"d","signed":{"mxid":"@s:x","token":"t"}}}`,
			want{matrix.RedactionV1: `{"membership":"join"}`, matrix.RedactionV6: `{"membership":"join"}`, matrix.RedactionV8: `{"membership":"join"}`,
				matrix.RedactionV9:  `{"join_authorised_via_users_server":"@v:x","membership":"join"}`,
				matrix.RedactionV11: `{"join_authorised_via_users_server":"@v:x","membership":"join","third_party_invite":{"signed":{"mxid":"@s:x","token":"t"}}}`}},
		{"create", "m.room.create", `""`, `{"creator":"@s:x","room_version":"1","m.federate":false}`,
			want{matrix.RedactionV1: `{"creator":"@s:x"}`, matrix.RedactionV6: `{"creator":"@s:x"}`, matrix.RedactionV8: `{"creator":"@s:x"}`,
				matrix.RedactionV9: `{"creator":"@s:x"}`, matrix.RedactionV11: `{"creator":"@s:x","m.federate":false,"room_version":"1"}`}},
		{"join rules", "m.room.join_rules", `""`, `{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"!a:x"}],"x":1}`,
			want{matrix.RedactionV1: `{"join_rule":"restricted"}`, matrix.RedactionV6: `{"join_rule":"restricted"}`,
				matrix.RedactionV8:  `{"allow":[{"room_id":"!a:x","type":"m.room_membership"}],"join_rule":"restricted"}`,
				matrix.RedactionV9:  `{"allow":[{"room_id":"!a:x","type":"m.room_membership"}],"join_rule":"restricted"}`,
				matrix.RedactionV11: `{"allow":[{"room_id":"!a:x","type":"m.room_membership"}],"join_rule":"restricted"}`}},
		{"power levels", "m.room.power_levels", `""`,
			`{"ban":50,"events":{"a":1},"events_default":0,"invite":0,"kick":50,"redact":50,"state_default":50,"users":{"@s:x":100},"users_default":0,"notifications":{"room":50}}`,
			func() want {
				old := `{"ban":50,"events":{"a":1},"events_default":0,"kick":50,"redact":50,"state_default":50,"users":{"@s:x":100},"users_default":0}`
				w := all(old)
				w[matrix.RedactionV11] = `{"ban":50,"events":{"a":1},"events_default":0,"invite":0,"kick":50,"redact":50,"state_default":50,"users":{"@s:x":100},"users_default":0}`
				return w
			}()},
		{"aliases", "m.room.aliases", `"x"`, `{"aliases":["#a:x"]}`,
			want{matrix.RedactionV1: `{"aliases":["#a:x"]}`, matrix.RedactionV6: `{}`, matrix.RedactionV8: `{}`, matrix.RedactionV9: `{}`, matrix.RedactionV11: `{}`}},
		{"history visibility", "m.room.history_visibility", `""`, `{"history_visibility":"shared","x":1}`, all(`{"history_visibility":"shared"}`)},
		{"redaction", "m.room.redaction", "", `{"redacts":"$x","reason":"r"}`,
			want{matrix.RedactionV1: `{}`, matrix.RedactionV6: `{}`, matrix.RedactionV8: `{}`, matrix.RedactionV9: `{}`, matrix.RedactionV11: `{"redacts":"$x"}`}},
		{"content not object", "m.room.member", `"@s:x"`, `"junk"`, all(`{}`)},
	}
	versions := map[matrix.RedactionAlgorithm]matrix.RoomVersionID{matrix.RedactionV1: "1", matrix.RedactionV6: "6",
		matrix.RedactionV8: "8", matrix.RedactionV9: "9", matrix.RedactionV11: "11"}
	for _, tt := range tests {
		for alg, version := range versions {
			in := `{` + top + `,"type":"` + tt.eventType + `","content":` + tt.content
			if tt.stateKey != "" {
				in += `,"state_key":` + tt.stateKey
			}
			in += `}`
			got, err := Redact(version, []byte(in))
			if err != nil {
				t.Fatalf("%s v%s: %v", tt.name, version, err)
			}
			kept := keptOld
			if alg == matrix.RedactionV11 {
				kept = keptV11
			}
			wantJSON := mustCanonical(t, `{`+kept+`,"type":"`+tt.eventType+`","content":`+tt.want[alg]+stateKeyMember(tt.stateKey)+`}`)
			if string(got) != wantJSON {
				t.Errorf("%s v%s:\n got %s\nwant %s", tt.name, version, got, wantJSON)
			}
		}
	}
	// Every room version maps to one of the five algorithms tested above.
	for _, v := range matrix.RoomVersions() {
		if _, ok := versions[v.Redaction]; !ok {
			t.Errorf("room version %s uses an untested redaction algorithm", v.ID)
		}
	}
	if _, err := Redact("1", []byte(`[]`)); err == nil {
		t.Error("Redact accepted a non-object")
	}
}

func stateKeyMember(sk string) string {
	if sk == "" {
		return ""
	}
	return `,"state_key":` + sk
}

func TestEventRedacted(t *testing.T) {
	key := specKey(t)
	b := Builder{Type: "m.room.message", Sender: "@a:example.org", RoomID: "!r:example.org",
		Content: map[string]any{"body": "secret"}, Depth: 2, Unsigned: []byte(`{"txn_id":"t"}`)}
	e, err := b.Build("11", "example.org", key.ID, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if !r.IsRedacted() || e.IsRedacted() || r.EventID() != e.EventID() || string(r.Content()) != "{}" || r.Unsigned() != nil {
		t.Fatalf("Redacted() = %s", r.JSON())
	}
	// Redacting keeps the reference hash, hence the event ID computed from scratch.
	again, err := NewEventFromTrustedJSON(r.JSON(), "11")
	if err != nil || again.EventID() != e.EventID() {
		t.Fatalf("event ID of redacted copy = %s, %v", again.EventID(), err)
	}
	withU, err := r.WithUnsigned([]byte(`{"redacted_because":{}}`))
	if err != nil || string(withU.Unsigned()) != `{"redacted_because":{}}` || !withU.IsRedacted() {
		t.Fatalf("WithUnsigned: %v %s", err, withU.JSON())
	}
}
