package event

import (
	"encoding/json"
	"testing"
)

func TestToClientEvent(t *testing.T) {
	key := specKey(t)
	for _, version := range []string{"10", "11"} {
		b := Builder{Type: "m.room.redaction", Sender: "@a:example.org", RoomID: "!r:example.org",
			Content: map[string]string{"reason": "spam"}, Redacts: "$target", Depth: 2, OriginServerTS: 1234,
			Unsigned: json.RawMessage(`{"transaction_id":"t1"}`)}
		e, err := b.Build(roomVersion(version), "example.org", key.ID, key.Private)
		if err != nil {
			t.Fatal(err)
		}
		contentWant := `{"reason":"spam"}`
		if version == "11" {
			contentWant = `{"reason":"spam","redacts":"$target"}`
		}
		tests := []struct {
			format ClientFormat
			want   string
		}{
			{ClientFormatClient, `{"content":` + contentWant + `,"event_id":"` + e.EventID() + `","origin_server_ts":1234,"room_id":"!r:example.org","sender":"@a:example.org","type":"m.room.redaction","unsigned":{"transaction_id":"t1"},"redacts":"$target"}`},
			{ClientFormatSync, `{"content":` + contentWant + `,"event_id":"` + e.EventID() + `","origin_server_ts":1234,"sender":"@a:example.org","type":"m.room.redaction","unsigned":{"transaction_id":"t1"},"redacts":"$target"}`},
		}
		for _, tt := range tests {
			got, err := json.Marshal(ToClientEvent(e, tt.format))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("v%s format %d:\n got %s\nwant %s", version, tt.format, got, tt.want)
			}
		}
	}

	state := Builder{Type: "m.room.name", StateKey: strp(""), Sender: "@a:example.org", RoomID: "!r:example.org",
		Content: map[string]string{"name": "N"}, Depth: 2, OriginServerTS: 1}
	e, err := state.Build("10", "example.org", key.ID, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	evs := ToClientEvents([]*Event{e}, ClientFormatClient)
	got, _ := json.Marshal(evs)
	want := `[{"content":{"name":"N"},"event_id":"` + e.EventID() + `","origin_server_ts":1,"room_id":"!r:example.org","sender":"@a:example.org","state_key":"","type":"m.room.name"}]`
	if string(got) != want {
		t.Errorf("state event:\n got %s\nwant %s", got, want)
	}
}

func TestEventMarshalJSON(t *testing.T) {
	key := specKey(t)
	b := Builder{Type: "m.room.message", Sender: "@a:example.org", RoomID: "!r:example.org", Depth: 1}
	e, err := b.Build("10", "example.org", key.ID, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(map[string]any{"pdus": []*Event{e}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"pdus":[` + string(e.JSON()) + `]}`; string(got) != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}
