package event

import (
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/matrix"
)

// FuzzNewEventFromUntrustedJSON: no input makes untrusted parsing panic, and whatever it
// accepts can be redacted, re-read from our database and shown to clients, and the event
// ID and signed bytes cut from its canonical JSON equal those of the general algorithm.
func FuzzNewEventFromUntrustedJSON(f *testing.F) {
	f.Add([]byte(jkiCreateEvent), "5")
	f.Add([]byte(jkiCreateEvent), "12")
	f.Add([]byte(`{"type":"m.room.create","state_key":"","sender":"@a:b","content":{},"depth":1,"origin_server_ts":1,"hashes":{"sha256":"x"},"signatures":{},"auth_events":[],"prev_events":[]}`), "12")
	f.Add([]byte(`{"event_id":"$a:b","room_id":"!r:b","type":"m.room.member","state_key":"@a:b","sender":"@a:b","content":{"membership":"join","third_party_invite":{"signed":1}},"depth":1,"origin_server_ts":1,"hashes":{"sha256":"x"},"signatures":{},"auth_events":[["$x:b",{"sha256":"y"}]],"prev_events":[]}`), "1")
	f.Fuzz(func(t *testing.T, data []byte, version string) {
		v, err := matrix.GetRoomVersion(matrix.RoomVersionID(version))
		if err != nil {
			return
		}
		e, err := NewEventFromUntrustedJSON(data, v.ID)
		if err != nil {
			return
		}
		if _, err := e.Redacted(); err != nil {
			t.Fatalf("accepted event cannot be redacted: %v", err)
		}
		again, err := NewEventFromTrustedJSON(e.JSON(), v.ID)
		if err != nil {
			t.Fatalf("accepted event cannot be re-read: %v", err)
		}
		if again.EventID() != e.EventID() {
			t.Fatalf("event ID changed on re-read: %s vs %s", again.EventID(), e.EventID())
		}
		fast, ferr := e.SignedBytes()
		slow, serr := again.SignedBytes() // trusted JSON: the spec's steps, not the one-pass cut
		if ferr != nil || serr != nil || string(fast) != string(slow) {
			t.Fatalf("signed bytes differ: %s (%v) vs %s (%v)", fast, ferr, slow, serr)
		}
		a, _ := json.Marshal(ToClientEvent(e, ClientFormatClient))
		b, _ := json.Marshal(ToClientEvent(again, ClientFormatClient))
		if string(a) != string(b) || e.Depth() != again.Depth() || e.Redacts() != again.Redacts() || e.Origin() != again.Origin() {
			t.Fatalf("fields differ between the canonical and the general reading:\n%s\n%s", a, b)
		}
		_ = AuthEventTuples(v, e.Type(), e.StateKey(), e.Sender(), e.Content())
		_, _ = RequiredSigners(e)
	})
}
