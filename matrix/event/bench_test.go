package event

import (
	"strings"
	"testing"
)

func benchEvent(b *testing.B) *Event {
	key := specKey(b)
	bld := Builder{Type: "m.room.message", Sender: "@a:example.org", RoomID: "!r:example.org",
		Content:    map[string]any{"body": strings.Repeat("hello ", 100), "msgtype": "m.text"},
		PrevEvents: []string{"$" + strings.Repeat("p", 43)}, AuthEvents: []string{"$" + strings.Repeat("a", 43)}, Depth: 10}
	e, err := bld.Build("10", "example.org", key.ID, key.Private)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func BenchmarkNewEventFromUntrustedJSON(b *testing.B) {
	raw := benchEvent(b).JSON()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := NewEventFromUntrustedJSON(raw, "10"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewEventFromTrustedJSONWithEventID(b *testing.B) {
	e := benchEvent(b)
	raw := e.JSON()
	for b.Loop() {
		if _, err := NewEventFromTrustedJSONWithEventID(e.EventID(), raw, "10"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	key := specKey(b)
	bld := Builder{Type: "m.room.message", Sender: "@a:example.org", RoomID: "!r:example.org",
		Content: map[string]any{"body": "hi"}, Depth: 10, OriginServerTS: 1}
	for b.Loop() {
		if _, err := bld.Build("10", "example.org", key.ID, key.Private); err != nil {
			b.Fatal(err)
		}
	}
}
