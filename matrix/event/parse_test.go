package event

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/matrix"
)

// A real room version 5 m.room.create event produced by Synapse on jki.re (2019), whose ID
// is well known: a known-answer test for reference hashes and v3/v4 event IDs.
const jkiCreateEvent = `{"auth_events": [], "prev_events": [], "type": "m.room.create", "room_id": "!uXDCzlYgCTHtiWCkEx:jki.re", "sender": "@erikj:jki.re", "content": {"room_version": "5", "predecessor": {"room_id": "!gdRMqOrTFdOCYHNwOo:half-shot.uk", "event_id": "$LP7ROBc4b+cMc1UE9haIz8q5AK2AIW4eJ90FfKLvyZI"}, "creator": "@erikj:jki.re"}, "depth": 1, "prev_state": [], "state_key": "", "origin": "jki.re", "origin_server_ts": 1560284621137, "hashes": {"sha256": "IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc"}, "signatures": {"jki.re": {"ed25519:auto": "O4IyFfF2PPtGp5uaDm8t57dZbdh8vc8Q64LgCwvzYRVItAMI0uisfiAFaxkVT7MRpzh6N2QNN5NMRXZKmgPYDA"}}, "unsigned": {"age": 1321650}}`

func TestKnownEventIDs(t *testing.T) {
	tests := []struct {
		version matrix.RoomVersionID
		want    string
	}{
		{"3", "$RrGxF28UrHLmoASHndYb9Jb/1SFww2ptmtur9INS438"},
		{"4", "$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438"},
		{"5", "$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438"},
	}
	for _, tt := range tests {
		e, err := NewEventFromUntrustedJSON([]byte(jkiCreateEvent), tt.version)
		if err != nil {
			t.Fatalf("v%s: %v", tt.version, err)
		}
		if e.EventID() != tt.want {
			t.Errorf("v%s: event ID %s, want %s", tt.version, e.EventID(), tt.want)
		}
		if e.IsRedacted() {
			t.Errorf("v%s: content hash of a real event did not match", tt.version)
		}
		if e.RoomID() != "!uXDCzlYgCTHtiWCkEx:jki.re" || e.Sender() != "@erikj:jki.re" || !e.StateKeyEquals("") ||
			e.Depth() != 1 || e.OriginServerTS() != 1560284621137 || string(e.Unsigned()) != `{"age":1321650}` {
			t.Errorf("v%s: fields wrong: %s", tt.version, e.JSON())
		}
	}
}

// A v1 event keeps the event_id it carries.
func TestV1EventIDFromJSON(t *testing.T) {
	raw := `{"auth_events":[["$oXL79cT7fFxR7dPH:localhost",{"sha256":"abjkiDSg1RkuZrbj2jZoGMlQaaj1Ue3Jhi7I7NlKfXY"}]],"content":{"name":"test3"},"depth":7,"event_id":"$yvN1b43rlmcOs5fY:localhost","hashes":{"sha256":"Oh1mwI1jEqZ3tgJ+V1Dmu5nOEGpCE4RFUqyJv2gQXKs"},"origin":"localhost","origin_server_ts":1510854416361,"prev_events":[["$FqI6TVvWpcbcnJ97:localhost",{"sha256":"upCsBqUhNUgT2/+zkzg8TbqdQpWWKQnZpGJc6KcbUC4"}]],"prev_state":[],"room_id":"!19Mp0U9hjajeIiw1:localhost","sender":"@test:localhost","signatures":{"localhost":{"ed25519:u9kP":"5IzSuRXkxvbTp0vZhhXYZeOe+619iG3AybJXr7zfNn/4vHz4TH7qSJVQXSaHHvcTcDodAKHnTG1WDulgO5okAQ"}},"state_key":"","type":"m.room.name"}`
	e, err := NewEventFromUntrustedJSON([]byte(raw), "1")
	if err != nil {
		t.Fatal(err)
	}
	if e.EventID() != "$yvN1b43rlmcOs5fY:localhost" {
		t.Fatalf("EventID = %s", e.EventID())
	}
	prev := e.PrevEvents()
	if len(prev) != 1 || prev[0].EventID != "$FqI6TVvWpcbcnJ97:localhost" || prev[0].SHA256 != "upCsBqUhNUgT2/+zkzg8TbqdQpWWKQnZpGJc6KcbUC4" {
		t.Fatalf("PrevEvents = %+v", prev)
	}
	if got := e.AuthEventIDs(); len(got) != 1 || got[0] != "$oXL79cT7fFxR7dPH:localhost" {
		t.Fatalf("AuthEventIDs = %v", got)
	}
	signers, err := RequiredSigners(e)
	if err != nil || len(signers) != 1 || signers[0] != "localhost" {
		t.Fatalf("RequiredSigners = %v, %v", signers, err)
	}
}

// The examples of the spec's PDU schemas (api/server-server/examples, with their $ref
// parts merged) parse; their placeholder hashes do not match, so they come back redacted.
func TestSpecExamplePDUs(t *testing.T) {
	base := `"sender":"@alice:example.com","origin_server_ts":1404838188000,"depth":12,"type":"m.room.message",
		"content":{"key":"value"},"hashes":{"sha256":"thishashcoversallfieldsincasethisisredacted"},
		"signatures":{"example.com":{"ed25519:key_version":"these86bytesofbase64signaturecoveressentialfieldsincludinghashessocancheckredactedpdus"}},
		"unsigned":{"age":4612}`
	tests := []struct {
		version matrix.RoomVersionID
		json    string
		roomID  string
		eventID string
	}{
		{"1", `{` + base + `,"room_id":"!UcYsUzyxTGDxLBEvLy:example.org","event_id":"$a4ecee13e2accdadf56c1025:example.com",
			"auth_events":[["$af232176:example.org",{"sha256":"abase64encodedsha256hashshouldbe43byteslong"}]],
			"prev_events":[["$af232176:example.org",{"sha256":"abase64encodedsha256hashshouldbe43byteslong"}]]}`,
			"!UcYsUzyxTGDxLBEvLy:example.org", "$a4ecee13e2accdadf56c1025:example.com"},
		{"4", `{` + base + `,"room_id":"!UcYsUzyxTGDxLBEvLy:example.org",
			"auth_events":["$urlsafe_base64_encoded_eventid","$a-different-event-id"],
			"prev_events":["$urlsafe_base64_encoded_eventid","$a-different-event-id"]}`, "!UcYsUzyxTGDxLBEvLy:example.org", ""},
		{"12", `{` + base + `,"room_id":"!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ",
			"auth_events":["$urlsafe_base64_encoded_eventid","$a-different-event-id"],
			"prev_events":["$urlsafe_base64_encoded_eventid","$a-different-event-id"]}`, "!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ", ""},
	}
	for _, tt := range tests {
		e, err := NewEventFromUntrustedJSON([]byte(tt.json), tt.version)
		if err != nil {
			t.Fatalf("v%s: %v", tt.version, err)
		}
		if !e.IsRedacted() || string(e.Content()) != "{}" {
			t.Errorf("v%s: placeholder hash accepted; content %s", tt.version, e.Content())
		}
		if e.RoomID() != tt.roomID {
			t.Errorf("v%s: RoomID %s", tt.version, e.RoomID())
		}
		if tt.eventID != "" && e.EventID() != tt.eventID {
			t.Errorf("v%s: EventID %s", tt.version, e.EventID())
		}
		if err := matrix.ValidEventIDForVersion(e.EventID(), e.Version()); err != nil {
			t.Errorf("v%s: %v", tt.version, err)
		}
	}
}

func TestUntrustedRejects(t *testing.T) {
	key := specKey(t)
	b := Builder{Type: "m.room.message", Sender: "@a:example.org", RoomID: "!r:example.org",
		Content: map[string]any{"body": "x"}, PrevEvents: []string{"$p"}, AuthEvents: []string{"$a"}, Depth: 3, OriginServerTS: 5}
	valid, err := b.Build("10", "example.org", key.ID, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(top map[string]any)) string {
		var top map[string]any
		if err := json.Unmarshal(valid.JSON(), &top); err != nil {
			t.Fatal(err)
		}
		f(top)
		out, _ := json.Marshal(top)
		return string(out)
	}
	tests := []struct {
		name    string
		version matrix.RoomVersionID
		json    string
	}{
		{"not json", "10", `{`},
		{"not object", "10", `[1]`},
		{"duplicate key", "10", strings.Replace(string(valid.JSON()), `{"auth_events"`, `{"depth":1,"auth_events"`, 1)},
		{"float in v10", "10", strings.Replace(string(valid.JSON()), `"depth":3`, `"depth":3.0`, 1)},
		{"big int in v10", "10", strings.Replace(string(valid.JSON()), `"depth":3`, `"depth":9007199254740992`, 1)},
		{"too large", "10", edit(func(m map[string]any) { m["content"] = map[string]any{"b": strings.Repeat("x", MaxEventSize)} })},
		{"way too large", "10", strings.Repeat(" ", 5*MaxEventSize) + "{}"},
		{"unknown version", "99", string(valid.JSON())},
		{"v1 without event_id", "1", string(valid.JSON())},
		{"v4 with v1 references", "4", edit(func(m map[string]any) { m["prev_events"] = []any{[]any{"$x:a", map[string]any{"sha256": "x"}}} })},
		{"v1 with v4 references", "1", edit(func(m map[string]any) { m["event_id"] = "$e:example.org" })},
		{"v12 without room_id", "12", edit(func(m map[string]any) { delete(m, "room_id") })},
		{"ts not integer", "10", edit(func(m map[string]any) { m["origin_server_ts"] = "1" })},
		{"negative depth", "10", edit(func(m map[string]any) { m["depth"] = -1 })},
		{"too many prev_events", "10", edit(func(m map[string]any) { m["prev_events"] = strings.Split(strings.Repeat("$p,", 21), ",")[:21] })},
		{"too many auth_events", "10", edit(func(m map[string]any) { m["auth_events"] = strings.Split(strings.Repeat("$a,", 11), ",")[:11] })},
		{"bad referenced id", "10", edit(func(m map[string]any) { m["prev_events"] = []any{"nope"} })},
		{"long type", "10", edit(func(m map[string]any) { m["type"] = strings.Repeat("t", 256) })},
		{"long state_key", "10", edit(func(m map[string]any) { m["state_key"] = strings.Repeat("s", 256) })},
		{"long sender", "10", edit(func(m map[string]any) { m["sender"] = "@" + strings.Repeat("s", 250) + ":example.org" })},
		{"empty type", "10", edit(func(m map[string]any) { m["type"] = "" })},
		{"bad sender", "10", edit(func(m map[string]any) { m["sender"] = "alice" })},
		{"v10 room_id without server", "10", edit(func(m map[string]any) { m["room_id"] = "!" + strings.Repeat("a", 43) })},
		{"bad room_id", "10", edit(func(m map[string]any) { m["room_id"] = "#r:example.org" })},
		{"state_key not string", "10", edit(func(m map[string]any) { m["state_key"] = 5 })},
		{"content not object", "10", edit(func(m map[string]any) { m["content"] = "x" })},
		{"unsigned not object", "10", edit(func(m map[string]any) { m["unsigned"] = 1 })},
		{"signatures malformed", "10", edit(func(m map[string]any) { m["signatures"] = map[string]any{"x": 1} })},
		{"hashes without sha256", "10", edit(func(m map[string]any) { m["hashes"] = map[string]any{} })},
		{"redacts not string", "10", edit(func(m map[string]any) { m["redacts"] = 1 })},
	}
	for _, field := range []string{"sender", "origin_server_ts", "type", "content", "depth", "hashes", "signatures",
		"auth_events", "prev_events", "room_id"} {
		tests = append(tests, struct {
			name    string
			version matrix.RoomVersionID
			json    string
		}{"missing " + field, "10", edit(func(m map[string]any) { delete(m, field) })},
			struct {
				name    string
				version matrix.RoomVersionID
				json    string
			}{"null " + field, "10", edit(func(m map[string]any) { m[field] = nil })})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := NewEventFromUntrustedJSON([]byte(tt.json), tt.version)
			if err == nil {
				t.Fatalf("accepted: %s", e.JSON())
			}
			if testing.Verbose() {
				t.Log(err)
			}
		})
	}
	if _, err := NewEventFromUntrustedJSON([]byte(tests[5].json), "10"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v does not wrap ErrTooLarge", err)
	}
	// The unmodified event passes, and floats are fine in room version 5.
	if _, err := NewEventFromUntrustedJSON(valid.JSON(), "10"); err != nil {
		t.Fatal(err)
	}
}

func TestContentHashMismatchRedacts(t *testing.T) {
	key := specKey(t)
	b := Builder{Type: "m.room.member", StateKey: strp("@a:example.org"), Sender: "@a:example.org", RoomID: "!r:example.org",
		Content: map[string]any{"membership": "join", "displayname": "A"}, Depth: 3}
	e, err := b.Build("10", "example.org", key.ID, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(string(e.JSON()), `"displayname":"A"`, `"displayname":"B"`, 1)
	got, err := NewEventFromUntrustedJSON([]byte(tampered), "10")
	if err != nil {
		t.Fatal(err)
	}
	if !got.IsRedacted() || string(got.Content()) != `{"membership":"join"}` {
		t.Fatalf("tampered event not redacted: %s", got.JSON())
	}
	// Redaction does not change the event ID, and the signature still verifies.
	if got.EventID() != e.EventID() {
		t.Fatalf("event ID changed: %s vs %s", got.EventID(), e.EventID())
	}
	if err := VerifyEventSignatures(t.Context(), got, keyLookupFor("example.org", key)); err != nil {
		t.Fatal(err)
	}
}

// Room versions 1–5 predate strict canonical JSON: floats and integers beyond 2^53 are
// accepted, and kept exactly.
func TestUntrustedLenientBeforeV6(t *testing.T) {
	key := specKey(t)
	b := Builder{Type: "m.room.message", Sender: "@a:example.org", RoomID: "!r:example.org",
		Content: json.RawMessage(`{"f":1.5,"big":123456789012345678901234567890}`), Depth: 3}
	e, err := b.Build("5", "example.org", key.ID, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewEventFromUntrustedJSON(e.JSON(), "5")
	if err != nil {
		t.Fatal(err)
	}
	if got.IsRedacted() || string(got.Content()) != `{"big":123456789012345678901234567890,"f":1.5}` {
		t.Fatalf("content = %s (redacted %v)", got.Content(), got.IsRedacted())
	}
	if _, err := NewEventFromUntrustedJSON(e.JSON(), "6"); err == nil {
		t.Fatal("v6 accepted a float")
	}
	deep := strings.Replace(string(e.JSON()), `"depth":3`, `"depth":9007199254740993`, 1)
	got, err = NewEventFromUntrustedJSON([]byte(deep), "5")
	if err != nil || got.Depth() != 9007199254740993 {
		t.Fatalf("deep v5 event: %v", err)
	}
}
