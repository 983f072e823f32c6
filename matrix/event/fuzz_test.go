package event

import (
	"testing"

	"github.com/axon-matrix/axon/matrix"
)

// FuzzNewEventFromUntrustedJSON: no input makes untrusted parsing panic, and whatever it
// accepts can be redacted, re-read from our database and shown to clients.
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
		_ = ToClientEvent(e, ClientFormatClient)
		_ = AuthEventTuples(v, e.Type(), e.StateKey(), e.Sender(), e.Content())
		_, _ = RequiredSigners(e)
	})
}
