package event

import (
	"context"
	"runtime"
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

// benchMember is a join event as a large room's state holds thousands of: parsed
// untrusted, as a send_join answer's events are.
func benchMember(b *testing.B) *Event {
	key := specKey(b)
	bld := Builder{Type: "m.room.member", StateKey: strp("@a:example.org"), Sender: "@a:example.org", RoomID: "!r:example.org",
		Content:    map[string]any{"membership": "join", "displayname": "Alice " + strings.Repeat("a", 20), "avatar_url": "mxc://example.org/" + strings.Repeat("x", 24)},
		PrevEvents: []string{"$" + strings.Repeat("p", 43)}, AuthEvents: []string{"$" + strings.Repeat("a", 43), "$" + strings.Repeat("b", 43), "$" + strings.Repeat("c", 43)}, Depth: 10}
	e, err := bld.Build("10", "example.org", key.ID, key.Private)
	if err != nil {
		b.Fatal(err)
	}
	if e, err = NewEventFromUntrustedJSON(e.JSON(), "10"); err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkSignedBytes is the part of a signature check that is not ed25519.
func BenchmarkSignedBytes(b *testing.B) {
	e := benchMember(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.SignedBytes(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyParsed is the whole signature check of a parsed event (arrow 11).
func BenchmarkVerifyParsed(b *testing.B) {
	e := benchMember(b)
	lookup := keyLookupFor("example.org", specKey(b))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyEventSignatures(ctx, e, lookup); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseVerifyRetained parses and checks a batch of join events as a send_join
// answer does, and reports the heap the parsed events keep (retained-B/event).
func BenchmarkParseVerifyRetained(b *testing.B) {
	raw := benchMember(b).JSON()
	lookup := keyLookupFor("example.org", specKey(b))
	ctx := context.Background()
	const batch = 1000
	var retained int64
	b.ReportAllocs()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		events := make([]*Event, batch)
		for i := range events {
			e, err := NewEventFromUntrustedJSON(raw, "10")
			if err != nil {
				b.Fatal(err)
			}
			if err := VerifyEventSignatures(ctx, e, lookup); err != nil {
				b.Fatal(err)
			}
			events[i] = e
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		retained = (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / batch
		runtime.KeepAlive(events)
	}
	b.ReportMetric(float64(retained), "retained-B/event")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
}
