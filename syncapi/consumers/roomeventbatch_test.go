package consumers

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/testenv"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/syncapi/storage"
)

const roomA, roomB = "!a:test", "!b:test"

// recNotifier records what the consumer tells the notifier.
type recNotifier struct {
	mu         sync.Mutex
	calls      []notifyCall
	redactions int
}

type notifyCall struct {
	exact    bool // OnRoomAdvance (else OnRoomEvents, which says less)
	from, to int64
	events   []storage.Event
	deltas   []storage.RoomStateDelta
}

func (n *recNotifier) OnRoomEvents(pos int64, events []storage.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls = append(n.calls, notifyCall{to: pos, events: events})
}

func (n *recNotifier) OnRoomAdvance(from, to int64, events []storage.Event, deltas []storage.RoomStateDelta) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls = append(n.calls, notifyCall{exact: true, from: from, to: to, events: events, deltas: deltas})
}

func (n *recNotifier) OnRedaction() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.redactions++
}

// told is what the notifier learned in all: the last position, every event (ID@pos, room,
// type) and every state change, in position order.
type told struct {
	pos        int64
	events     []string
	deltas     []string
	redactions int
}

func (n *recNotifier) told() told {
	n.mu.Lock()
	defer n.mu.Unlock()
	t := told{redactions: n.redactions}
	for _, c := range n.calls {
		t.pos = max(t.pos, c.to)
		for _, e := range c.events {
			t.events = append(t.events, fmt.Sprintf("%s@%d %s %s", e.EventID, e.StreamPos, e.RoomID, e.Type))
		}
		for _, d := range c.deltas {
			t.deltas = append(t.deltas, fmt.Sprintf("%d %s %s/%s=%s", d.Pos, d.RoomID, d.EventType, d.StateKey, d.EventID))
		}
	}
	sort.Strings(t.deltas) // a position's changes come in no particular order
	return t
}

// twoConsumers makes two consumers on fresh databases that have both handled setup() and
// before one by one: the reference and the one under test.
func twoConsumers(ctx context.Context, t *testing.T, dsnA, dsnB string, before []eventlog.Message) (*RoomEventConsumer, *recNotifier, *RoomEventConsumer, *recNotifier) {
	t.Helper()
	a, aN := newConsumer(t, dsnA)
	b, bN := newConsumer(t, dsnB)
	for _, m := range append(setup(), before...) {
		mustNil(t, a.Handle(ctx, m))
		mustNil(t, b.Handle(ctx, m))
	}
	return a, aN, b, bN
}

func newConsumer(t testing.TB, dsn string) (*RoomEventConsumer, *recNotifier) {
	t.Helper()
	db, err := sqlutil.Open(sqlutil.Options{ConnectionString: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := storage.NewDatabase(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	n := &recNotifier{}
	// No roomserver: none of these records needs a fetch (a call would panic and fail the test).
	return &RoomEventConsumer{db: st, notifier: n, log: logrus.WithField("test", t.Name())}, n
}

// snapshot is everything the syncapi stored: the timeline events, the state changes, the
// forgotten rooms (of @u and @v) and the watermark.
type snapshot struct {
	events    []storage.Event
	deltas    []string
	forgotten []map[string]int64
	watermark int64
}

func snap(t *testing.T, c *RoomEventConsumer) snapshot {
	t.Helper()
	ctx := context.Background()
	evs, err := c.db.EventsBetween(ctx, 0, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := c.db.AllStateChangesBetween(ctx, 0, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	var deltas []string
	for _, d := range ds {
		deltas = append(deltas, fmt.Sprintf("%d %s %s/%s=%s", d.Pos, d.RoomID, d.EventType, d.StateKey, d.EventID))
	}
	sort.Strings(deltas)
	var forgotten []map[string]int64
	for _, u := range []string{"@u:test", "@v:test"} {
		f, err := c.db.ForgottenRooms(ctx, u, 1<<40)
		if err != nil {
			t.Fatal(err)
		}
		forgotten = append(forgotten, f)
	}
	w, _, err := c.db.Watermarks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{events: evs, deltas: deltas, forgotten: forgotten, watermark: w}
}

// newEvent is a topic 2 new-event record; stateKey "-" makes a message event, and a state
// event adds itself (plus extra) to the state.
func newEvent(pos int64, room, id, typ, stateKey string, content string, extra ...string) eventlog.Message {
	ev := map[string]any{"event_id": id, "room_id": room, "type": typ, "sender": "@u:test",
		"origin_server_ts": pos, "content": json.RawMessage(content)}
	d := &rsapi.OutputNewRoomEventData{EventID: id, TxnDeviceID: "DEV", TxnID: "txn" + id, HistoryVisibility: "shared"}
	if stateKey != "-" {
		ev["state_key"] = stateKey
		d.AddsStateEventIDs = append([]string{id}, extra...)
	}
	d.Event, _ = json.Marshal(ev)
	return record(room, rsapi.OutputEvent{Type: rsapi.OutputNewRoomEvent, StreamPos: pos, NewRoomEvent: d})
}

func message(pos int64, room, id string) eventlog.Message {
	return newEvent(pos, room, id, "m.room.message", "-", `{"body":"hi `+id+`"}`)
}

func member(pos int64, room, id, user, membership string) eventlog.Message {
	return newEvent(pos, room, id, "m.room.member", user, `{"membership":"`+membership+`"}`)
}

func record(room string, out rsapi.OutputEvent) eventlog.Message {
	b, _ := json.Marshal(out)
	return eventlog.Message{Key: room, Value: b}
}

func redaction(pos int64, room, redacts, by string) eventlog.Message {
	return record(room, rsapi.OutputEvent{Type: rsapi.OutputRedaction, StreamPos: pos, Redaction: &rsapi.OutputRedactionData{
		RedactedEventID: redacts, RedactionEventID: by,
		RedactedEvent: json.RawMessage(`{"event_id":"` + redacts + `","room_id":"` + room + `","type":"m.room.message","sender":"@u:test","content":{}}`)}})
}

func forget(pos int64, room, user string) eventlog.Message {
	return record(room, rsapi.OutputEvent{Type: rsapi.OutputForget, StreamPos: pos, Forget: &rsapi.OutputForgetData{RoomID: room, UserID: user}})
}

// Records that precede the batch in every case: a room with a creator.
func setup() []eventlog.Message {
	return []eventlog.Message{
		newEvent(1, roomA, "$create", "m.room.create", "", `{"creator":"@u:test"}`),
		member(2, roomA, "$join", "@u:test", "join"),
	}
}

func TestHandleBatchEqualsOneByOne(t *testing.T) {
	tests := []struct {
		name string
		// batch goes to HandleBatch as one call (after setup and before); before and
		// after are handled one by one in both runs.
		before, batch, after []eventlog.Message
		// wantCalls is how many times the batch tells the notifier of room events (-1:
		// don't check): once for a run of records stored together.
		wantCalls int
	}{
		{
			name: "in order, messages and state",
			batch: []eventlog.Message{
				message(3, roomA, "$m3"),
				newEvent(4, roomA, "$topic4", "m.room.topic", "", `{"topic":"one"}`),
				member(5, roomA, "$inv5", "@v:test", "invite"),
				message(6, roomA, "$m6"),
				newEvent(7, roomA, "$topic7", "m.room.topic", "", `{"topic":"two"}`), // replaces $topic4 in the run
				member(8, roomA, "$join8", "@v:test", "join"),
				message(9, roomA, "$m9"),
			},
			wantCalls: 1,
		},
		{
			name: "mixed: redaction, skipped position, state needing a lookup, in order",
			batch: []eventlog.Message{
				message(3, roomA, "$m3"),
				newEvent(4, roomA, "$red4", "m.room.redaction", "-", `{"redacts":"$m3"}`),
				redaction(5, roomA, "$m3", "$red4"), // needs $m3 and $red4 stored before it
				message(6, roomA, "$m6"),
				{Key: roomA, Value: []byte(`{"stream_pos":7,"type":5}`)}, // undecodable: position skipped
				// adds an earlier state event too: not batchable (it might need a fetch)
				newEvent(8, roomA, "$name8", "m.room.name", "", `{"name":"n"}`, "$join"),
				message(9, roomA, "$m9"),
				member(10, roomA, "$leave10", "@u:test", "leave"),
			},
			wantCalls: -1,
		},
		{
			name: "another room's position in between: read back",
			batch: []eventlog.Message{
				message(3, roomA, "$m3"),
				message(5, roomA, "$m5"), // 4 is room B's, not stored yet
				message(6, roomA, "$m6"),
			},
			after:     []eventlog.Message{message(4, roomB, "$b4"), message(7, roomB, "$b7")},
			wantCalls: 1,
		},
		{
			name:   "another room's position received before: the watermark jumps over it",
			before: []eventlog.Message{message(4, roomB, "$b4")},
			batch: []eventlog.Message{
				message(3, roomA, "$m3"), // moves the watermark to 4
				message(5, roomA, "$m5"),
				message(6, roomA, "$m6"),
			},
			wantCalls: 1,
		},
		{
			name:      "replayed prefix",
			batch:     append(setup(), message(3, roomA, "$m3"), message(4, roomA, "$m4")),
			wantCalls: 1,
		},
		{
			name: "forgets in their place between runs",
			batch: []eventlog.Message{
				message(3, roomA, "$m3"),
				member(4, roomA, "$leave4", "@v:test", "leave"),
				forget(5, roomA, "@v:test"),
				message(6, roomA, "$m6"),
				forget(7, roomA, "@v:test"), // again: the newest position is kept
				forget(8, roomB, "@u:test"),
			},
			wantCalls: 5,
		},
		{
			name:      "forget behind a gap, then the gap filled",
			batch:     []eventlog.Message{message(3, roomA, "$m3"), forget(5, roomA, "@u:test")},
			after:     []eventlog.Message{message(4, roomB, "$b4")},
			wantCalls: 1,
		},
		{
			name: "forget without a user: position skipped",
			batch: []eventlog.Message{record(roomA, rsapi.OutputEvent{Type: rsapi.OutputForget, StreamPos: 3,
				Forget: &rsapi.OutputForgetData{RoomID: roomA}}), message(4, roomA, "$m4")},
			wantCalls: 2,
		},
		{
			name:      "lone record",
			batch:     []eventlog.Message{message(3, roomA, "$m3")},
			wantCalls: 1,
		},
	}
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					one, oneN, bat, batN := twoConsumers(ctx, t, dsn(t), dsn(t), tc.before)
					for _, m := range tc.batch {
						mustNil(t, one.Handle(ctx, m))
					}
					before := len(batN.calls)
					mustNil(t, bat.HandleBatch(ctx, tc.batch))
					batchCalls := append([]notifyCall(nil), batN.calls[before:]...)
					for _, m := range tc.after {
						mustNil(t, one.Handle(ctx, m))
						mustNil(t, bat.Handle(ctx, m))
					}

					if a, b := snap(t, one), snap(t, bat); !reflect.DeepEqual(a, b) {
						t.Errorf("stored one by one:\n%+v\nstored as a batch:\n%+v", a, b)
					}
					if a, b := oneN.told(), batN.told(); !reflect.DeepEqual(a, b) {
						t.Errorf("notifier told one by one:\n%+v\nas a batch:\n%+v", a, b)
					}
					if tc.wantCalls >= 0 && len(batchCalls) != tc.wantCalls {
						t.Errorf("batch told the notifier %d times, want %d: %+v", len(batchCalls), tc.wantCalls, batchCalls)
					}
					// Whatever the batch told the notifier directly equals what reading back
					// the positions it covered gives.
					checkToldAsStored(ctx, t, bat, batchCalls)

					// A replay of the batch changes nothing and tells the notifier nothing.
					stored := snap(t, bat)
					n := len(batN.calls)
					mustNil(t, bat.HandleBatch(ctx, tc.batch))
					if again := snap(t, bat); !reflect.DeepEqual(stored, again) {
						t.Errorf("replay changed the store:\n%+v\n%+v", stored, again)
					}
					if len(batN.calls) != n {
						t.Errorf("replay told the notifier %+v", batN.calls[n:])
					}
				})
			}
		})
	}
}

// checkToldAsStored checks that what each OnRoomAdvance call told the notifier directly
// equals what reading back the positions it covered from c's database gives.
func checkToldAsStored(ctx context.Context, t *testing.T, c *RoomEventConsumer, calls []notifyCall) {
	t.Helper()
	for _, call := range calls {
		if !call.exact {
			continue
		}
		evs, err := c.db.EventsBetween(ctx, call.from, call.to)
		mustNil(t, err)
		ds, err := c.db.AllStateChangesBetween(ctx, call.from, call.to)
		mustNil(t, err)
		if got, want := eventKeys(call.events), eventKeys(evs); !reflect.DeepEqual(got, want) {
			t.Errorf("OnRoomAdvance(%d, %d) events %v, stored %v", call.from, call.to, got, want)
		}
		if got, want := deltaKeys(call.deltas), deltaKeys(ds); !reflect.DeepEqual(got, want) {
			t.Errorf("OnRoomAdvance(%d, %d) deltas %v, stored %v", call.from, call.to, got, want)
		}
	}
}

func eventKeys(evs []storage.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s@%d", e.EventID, e.StreamPos))
	}
	return out
}

func deltaKeys(ds []storage.RoomStateDelta) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%d %s %s/%s=%s", d.Pos, d.RoomID, d.EventType, d.StateKey, d.EventID))
	}
	sort.Strings(out)
	return out
}

// The split into runs: only new events adding no state but their own are batched; the
// others are handled alone, in their place.
func TestStorable(t *testing.T) {
	tests := []struct {
		name string
		msg  eventlog.Message
		want bool
	}{
		{"message", message(3, roomA, "$m"), true},
		{"state adding itself", member(3, roomA, "$j", "@u:test", "join"), true},
		{"state adding another event", newEvent(3, roomA, "$n", "m.room.name", "", `{}`, "$other"), false},
		{"redaction", redaction(3, roomA, "$m", "$r"), false},
		{"forget", forget(3, roomA, "@u:test"), false},
		{"undecodable", eventlog.Message{Key: roomA, Value: []byte(`{`)}, false},
		{"no position", record(roomA, rsapi.OutputEvent{Type: rsapi.OutputNewRoomEvent, NewRoomEvent: &rsapi.OutputNewRoomEventData{
			Event: json.RawMessage(`{"event_id":"$x","type":"m.room.message","sender":"@u:test"}`)}}), false},
		{"no usable event", record(roomA, rsapi.OutputEvent{Type: rsapi.OutputNewRoomEvent, StreamPos: 3,
			NewRoomEvent: &rsapi.OutputNewRoomEventData{Event: json.RawMessage(`{}`)}}), false},
		{"unknown type", record(roomA, rsapi.OutputEvent{Type: "other", StreamPos: 3}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := storable(tc.msg)
			if ok != tc.want {
				t.Fatalf("storable = %v, want %v", ok, tc.want)
			}
			if ok && (r.Pos != 3 || r.Event.Event.RoomID != roomA) {
				t.Fatalf("record %+v", r)
			}
		})
	}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
