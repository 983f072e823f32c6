package event

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/cjson"
	"github.com/axon-matrix/axon/matrix/signing"
)

func strp(s string) *string { return &s }

func keyLookupFor(server string, key signing.SigningKey) KeyLookup {
	return func(_ context.Context, s string, id signing.KeyID) (VerifyKey, error) {
		if s == server && id == key.ID {
			return VerifyKey{Key: key.Public()}, nil
		}
		return VerifyKey{}, errors.New("unknown key")
	}
}

// buildRoom builds a create event and a message in every room version and checks they
// survive a trip through federation parsing unchanged.
func TestBuildEveryVersion(t *testing.T) {
	key := specKey(t)
	for _, v := range matrix.RoomVersions() {
		t.Run(string(v.ID), func(t *testing.T) {
			cb := Builder{Type: "m.room.create", StateKey: strp(""), Sender: "@alice:example.org",
				Content: map[string]any{"room_version": string(v.ID)}, Depth: 1, OriginServerTS: 1700000000000}
			if !v.RoomIDFromCreateEvent {
				cb.RoomID = "!room:example.org"
			}
			create, err := cb.Build(v.ID, "example.org", key.ID, key.Private)
			if err != nil {
				t.Fatal(err)
			}
			if err := validEventIDCheck(create); err != nil {
				t.Fatal(err)
			}
			roomID := create.RoomID()
			if v.RoomIDFromCreateEvent {
				if roomID != "!"+create.EventID()[1:] {
					t.Fatalf("v12 room ID %q not derived from event ID %q", roomID, create.EventID())
				}
				if _, ok := mustTop(t, create.JSON())["room_id"]; ok {
					t.Fatal("v12 create event carries room_id")
				}
			} else if roomID != "!room:example.org" {
				t.Fatalf("RoomID = %q", roomID)
			}

			mb := Builder{Type: "m.room.redaction", Sender: "@alice:example.org", RoomID: roomID,
				Content: json.RawMessage(`{"reason":"spam"}`), Redacts: create.EventID(),
				PrevEvents: []string{create.EventID()}, AuthEvents: []string{create.EventID()}, Depth: 2}
			if v.EventIDFormat == matrix.EventIDFormatServer {
				h, err := create.ReferenceHash()
				if err != nil {
					t.Fatal(err)
				}
				mb.ReferenceHashes = map[string]string{create.EventID(): h}
			}
			msg, err := mb.Build(v.ID, "example.org", key.ID, key.Private)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Redacts() != create.EventID() {
				t.Fatalf("Redacts = %q", msg.Redacts())
			}
			top := mustTop(t, msg.JSON())
			_, topLevelRedacts := top["redacts"]
			if topLevelRedacts == v.RedactsInContent {
				t.Fatalf("top-level redacts present=%v for version %s", topLevelRedacts, v.ID)
			}
			if _, hasOrigin := top["origin"]; hasOrigin != (v.Redaction < matrix.RedactionV11) {
				t.Fatalf("origin present=%v", hasOrigin)
			}
			if got := msg.PrevEventIDs(); len(got) != 1 || got[0] != create.EventID() {
				t.Fatalf("PrevEventIDs = %v", got)
			}
			if msg.Depth() != 2 || msg.OriginServerTS() == 0 || msg.Sender() != "@alice:example.org" || msg.Type() != "m.room.redaction" {
				t.Fatalf("fields lost: %s", msg.JSON())
			}

			for _, e := range []*Event{create, msg} {
				parsed, err := NewEventFromUntrustedJSON(e.JSON(), v.ID)
				if err != nil {
					t.Fatalf("parse own event: %v\n%s", err, e.JSON())
				}
				if parsed.IsRedacted() {
					t.Fatal("own event failed its content hash")
				}
				if parsed.EventID() != e.EventID() || parsed.RoomID() != e.RoomID() || string(parsed.JSON()) != string(e.JSON()) {
					t.Fatalf("parsed event differs: %s vs %s", parsed.EventID(), e.EventID())
				}
				if err := VerifyEventSignatures(context.Background(), parsed, keyLookupFor("example.org", key)); err != nil {
					t.Fatalf("VerifyEventSignatures: %v", err)
				}
				trusted, err := NewEventFromTrustedJSON(e.JSON(), v.ID)
				if err != nil || trusted.EventID() != e.EventID() {
					t.Fatalf("trusted parse: %v, %s", err, trusted.EventID())
				}
			}
		})
	}
}

// validEventIDCheck checks the event ID matches its version's format.
func validEventIDCheck(e *Event) error {
	return matrix.ValidEventIDForVersion(e.EventID(), e.Version())
}

func mustTop(t testing.TB, raw []byte) map[string]json.RawMessage {
	t.Helper()
	top, err := topLevel(raw)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func TestBuildRejects(t *testing.T) {
	key := specKey(t)
	good := func() Builder {
		return Builder{Type: "m.room.message", Sender: "@a:example.org", RoomID: "!r:example.org",
			Content: map[string]any{"body": "x"}, PrevEvents: []string{"$p"}, AuthEvents: []string{"$a"}, Depth: 3}
	}
	tests := []struct {
		name    string
		version matrix.RoomVersionID
		mutate  func(*Builder)
	}{
		{"empty type", "10", func(b *Builder) { b.Type = "" }},
		{"foreign sender", "10", func(b *Builder) { b.Sender = "@a:elsewhere.org" }},
		{"bad sender", "10", func(b *Builder) { b.Sender = "a" }},
		{"bad room", "10", func(b *Builder) { b.RoomID = "room" }},
		{"v12 create with room", "12", func(b *Builder) { b.Type = "m.room.create"; b.StateKey = strp("") }},
		{"v12 room ID with server", "12", func(b *Builder) {}},
		{"v11 room ID without server", "11", func(b *Builder) { b.RoomID = "!" + strings.Repeat("a", 43) }},
		{"long type", "10", func(b *Builder) { b.Type = strings.Repeat("t", 256) }},
		{"long state key", "10", func(b *Builder) { b.StateKey = strp(strings.Repeat("s", 256)) }},
		{"content not object", "10", func(b *Builder) { b.Content = []int{1} }},
		{"float in strict room", "10", func(b *Builder) { b.Content = map[string]any{"n": 1.5} }},
		{"huge int in strict room", "10", func(b *Builder) { b.Content = json.RawMessage(`{"n":9007199254740992}`) }},
		{"negative depth", "10", func(b *Builder) { b.Depth = -1 }},
		{"too many prev", "10", func(b *Builder) { b.PrevEvents = make([]string, 21) }},
		{"too many auth", "10", func(b *Builder) { b.AuthEvents = make([]string, 11) }},
		{"v1 without reference hashes", "1", func(b *Builder) {}},
		{"too large", "10", func(b *Builder) { b.Content = map[string]any{"body": strings.Repeat("x", MaxEventSize)} }},
		{"unknown version", "99", func(b *Builder) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := good()
			tt.mutate(&b)
			if e, err := b.Build(tt.version, "example.org", key.ID, key.Private); err == nil {
				t.Fatalf("Build succeeded: %s", e.JSON())
			}
		})
	}
	// The same float is fine in a pre-v6 room.
	b := good()
	b.Content = map[string]any{"n": 1.5}
	if _, err := b.Build("5", "example.org", key.ID, key.Private); err != nil {
		t.Fatalf("float in v5 room: %v", err)
	}
}

func TestBuildV1EventID(t *testing.T) {
	key := specKey(t)
	b := Builder{Type: "m.room.create", StateKey: strp(""), Sender: "@a:example.org", RoomID: "!r:example.org", Depth: 1}
	e1, err := b.Build("1", "example.org", key.ID, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := b.Build("1", "example.org", key.ID, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(e1.EventID(), ":example.org") || e1.EventID() == e2.EventID() {
		t.Fatalf("v1 event IDs %q, %q", e1.EventID(), e2.EventID())
	}
	if string(mustTop(t, e1.JSON())["event_id"]) != `"`+e1.EventID()+`"` {
		t.Fatal("v1 event JSON lacks its event_id")
	}
}

// TestBuildSpecSigningVector builds the spec's "minimal event" signing example (server-server
// API appendix, "Signing events") with the Builder in a room version whose events look like
// it (origin present, no event_id: v3–v10) and expects the spec's hash and signature.
func TestBuildSpecSigningVector(t *testing.T) {
	key := specKey(t)
	b := Builder{Type: "X", Sender: "@a:domain", RoomID: "!x:domain", Depth: 3, OriginServerTS: 1000000,
		Unsigned: json.RawMessage(`{"age_ts": 1000000}`)}
	e, err := b.Build("10", "domain", key.ID, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	want := mustCanonical(t, `{"auth_events":[],"content":{},"depth":3,
		"hashes":{"sha256":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},
		"origin":"domain","origin_server_ts":1000000,"prev_events":[],"room_id":"!x:domain","sender":"@a:domain",
		"signatures":{"domain":{"ed25519:1":"KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"}},
		"type":"X","unsigned":{"age_ts":1000000}}`)
	if string(e.JSON()) != want {
		t.Fatalf("built\n%s\nwant\n%s", e.JSON(), want)
	}
}

// TestBuildOutputIsCanonical builds events whose content needs escaping, sorting and
// non-ASCII handling in every room version and checks the JSON is canonical, the content
// hash holds and the event ID is the one a reader of the JSON computes.
func TestBuildOutputIsCanonical(t *testing.T) {
	key := specKey(t)
	contents := []json.RawMessage{
		json.RawMessage(`{"z":1,"a":{"y":[1,2,{"b":"<&>","a":null}],"x":"\u00e9t\u00e9 \ud83d\ude00"},"body":"tab\there \"quoted\" \\ /"}`),
		json.RawMessage(`{ "msgtype" : "m.text" , "body" : "\u2028 line sep \u0007" }`),
		json.RawMessage(`{}`),
	}
	for _, v := range matrix.RoomVersions() {
		for i, c := range contents {
			b := Builder{Type: "m.room.message", Sender: "@alice:example.org", RoomID: "!room:example.org",
				Content: c, Depth: 5, Unsigned: json.RawMessage(`{"transaction_id": "t<1>"}`)}
			if v.RoomIDFromCreateEvent {
				b.RoomID = "!" + strings.Repeat("r", 43)
			}
			if v.EventIDFormat != matrix.EventIDFormatServer {
				b.PrevEvents, b.AuthEvents = []string{"$prev"}, []string{"$auth1", "$auth0"}
			}
			e, err := b.Build(v.ID, "example.org", key.ID, key.Private)
			if err != nil {
				t.Fatalf("v%s content %d: %v", v.ID, i, err)
			}
			if !cjson.IsCanonical(e.JSON(), v.StrictCanonicalJSON) {
				t.Fatalf("v%s content %d: not canonical:\n%s", v.ID, i, e.JSON())
			}
			if ok, err := e.CheckContentHash(); err != nil || !ok {
				t.Fatalf("v%s content %d: CheckContentHash = %v, %v", v.ID, i, ok, err)
			}
			read, err := NewEventFromTrustedJSON(e.JSON(), v.ID)
			if err != nil || read.EventID() != e.EventID() {
				t.Fatalf("v%s content %d: event ID %q, read back %v %v", v.ID, i, e.EventID(), read, err)
			}
			if err := VerifyEventSignatures(context.Background(), read, keyLookupFor("example.org", key)); err != nil {
				t.Fatalf("v%s content %d: %v", v.ID, i, err)
			}
		}
	}
}
