package auth_test

import (
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/matrix/event"
)

// benchRoom is a v10 room as a large room's joins see it: create, power levels naming
// 100 users, public join rules; each benchmark authorises a new event against them the
// way the roomserver does for a send_join answer (CheckAuthEvents, then Allowed), on the
// same auth event objects every time.
type benchRoom struct {
	create, pl, jr, aliceJoin *event.Event
	key                       ed25519.PrivateKey
}

func newBenchRoom(b *testing.B) *benchRoom {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	r := &benchRoom{key: key}
	sk := func(s string) *string { return &s }
	build := func(bld event.Builder) *event.Event {
		bld.RoomID, bld.Depth, bld.OriginServerTS = "!r:a.org", 2, 1
		e, err := bld.Build("10", "a.org", "ed25519:1", key)
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	r.create = build(event.Builder{Type: auth.TypeCreate, StateKey: sk(""), Sender: "@alice:a.org",
		Content: map[string]any{"creator": "@alice:a.org", "room_version": "10"}})
	r.aliceJoin = build(event.Builder{Type: auth.TypeMember, StateKey: sk("@alice:a.org"), Sender: "@alice:a.org",
		Content: map[string]any{"membership": "join"}, AuthEvents: []string{r.create.EventID()}})
	users := map[string]int{"@alice:a.org": 100}
	for i := 0; i < 100; i++ {
		users[fmt.Sprintf("@mod%d:a.org", i)] = 50
	}
	r.pl = build(event.Builder{Type: auth.TypePowerLevels, StateKey: sk(""), Sender: "@alice:a.org",
		Content: map[string]any{"users": users, "events": map[string]int{"m.room.name": 50, "m.room.topic": 50,
			"m.room.avatar": 50, "m.room.history_visibility": 100}, "ban": 50, "kick": 50, "redact": 50, "invite": 0},
		AuthEvents: []string{r.create.EventID(), r.aliceJoin.EventID()}})
	r.jr = build(event.Builder{Type: auth.TypeJoinRules, StateKey: sk(""), Sender: "@alice:a.org",
		Content:    map[string]any{"join_rule": "public"},
		AuthEvents: []string{r.create.EventID(), r.aliceJoin.EventID(), r.pl.EventID()}})
	return r
}

func (r *benchRoom) authorise(b *testing.B, e *event.Event, authEvents ...matrix.PDU) {
	b.ReportAllocs()
	for b.Loop() {
		p, err := auth.CheckAuthEvents(e, authEvents, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := auth.Allowed(e, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAllowedMember authorises a join, the bulk of a large room's state.
func BenchmarkAllowedMember(b *testing.B) {
	r := newBenchRoom(b)
	bob := "@bob:b.org"
	bld := event.Builder{Type: auth.TypeMember, StateKey: &bob, Sender: bob, RoomID: "!r:a.org",
		Content:    map[string]any{"membership": "join", "displayname": "Bob"},
		AuthEvents: []string{r.create.EventID(), r.pl.EventID(), r.jr.EventID()}, Depth: 5, OriginServerTS: 1}
	e, err := bld.Build("10", "b.org", "ed25519:1", r.key)
	if err != nil {
		b.Fatal(err)
	}
	r.authorise(b, e, r.create, r.pl, r.jr)
}

// BenchmarkAllowedMessage authorises a message, the bulk of a busy room's traffic.
func BenchmarkAllowedMessage(b *testing.B) {
	r := newBenchRoom(b)
	bld := event.Builder{Type: "m.room.message", Sender: "@alice:a.org", RoomID: "!r:a.org",
		Content:    map[string]any{"body": "hello", "msgtype": "m.text"},
		AuthEvents: []string{r.create.EventID(), r.pl.EventID(), r.aliceJoin.EventID()}, Depth: 5, OriginServerTS: 1}
	e, err := bld.Build("10", "a.org", "ed25519:1", r.key)
	if err != nil {
		b.Fatal(err)
	}
	r.authorise(b, e, r.create, r.pl, r.aliceJoin)
}
