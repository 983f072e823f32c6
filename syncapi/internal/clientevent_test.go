package internal

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/axon-matrix/axon/syncapi/storage"
)

func TestClientEvent(t *testing.T) {
	fed := []byte(`{"room_id":"!r:t","sender":"@a:t","type":"m.room.message","content":{"body":"x"},"origin_server_ts":1000,
		"depth":3,"prev_events":["$p"],"auth_events":["$a"],"hashes":{"sha256":"h"},"signatures":{},"unsigned":{"age_ts":5,"prev_content":{"a":1}}}`)
	e := &storage.Event{EventID: "$e", RoomID: "!r:t", Type: "m.room.message", Sender: "@a:t", OriginServerTS: 1000, JSON: fed,
		TxnDeviceID: "DEV", TxnID: "txn"}
	now := time.UnixMilli(4000)
	tests := []struct {
		name string
		opts FormatOptions
		want map[string]any
	}{
		{"sender's device, sync format", FormatOptions{UserID: "@a:t", DeviceID: "DEV", Now: now}, map[string]any{
			"event_id": "$e", "sender": "@a:t", "type": "m.room.message", "content": map[string]any{"body": "x"}, "origin_server_ts": 1000.0,
			"unsigned": map[string]any{"age": 3000.0, "transaction_id": "txn", "prev_content": map[string]any{"a": 1.0}}}},
		{"other device, with room", FormatOptions{IncludeRoomID: true, UserID: "@a:t", DeviceID: "OTHER", Now: now}, map[string]any{
			"event_id": "$e", "room_id": "!r:t", "sender": "@a:t", "type": "m.room.message", "content": map[string]any{"body": "x"}, "origin_server_ts": 1000.0,
			"unsigned": map[string]any{"age": 3000.0, "prev_content": map[string]any{"a": 1.0}}}},
	}
	for _, tc := range tests {
		var got map[string]any
		if err := json.Unmarshal(ClientEvent(e, tc.opts), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.name, got, tc.want)
		}
	}
	// Redacted: redacted_because is the redaction in client format.
	e.RedactedBecause = []byte(`{"event_id":"$red","type":"m.room.redaction","sender":"@a:t","room_id":"!r:t","content":{},"redacts":"$e"}`)
	var got struct {
		Unsigned struct {
			RedactedBecause map[string]any `json:"redacted_because"`
		} `json:"unsigned"`
	}
	_ = json.Unmarshal(ClientEvent(e, FormatOptions{UserID: "@a:t"}), &got)
	if got.Unsigned.RedactedBecause["event_id"] != "$red" || got.Unsigned.RedactedBecause["redacts"] != "$e" {
		t.Fatalf("redacted_because: %v", got.Unsigned.RedactedBecause)
	}
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name, raw, id string
		wantNil       bool
		membership    string
	}{
		{name: "message", raw: `{"event_id":"$x","room_id":"!r","sender":"@a","type":"m.room.message","content":{}}`},
		{name: "v3+ without event_id", raw: `{"room_id":"!r","sender":"@a","type":"m.room.message","content":{}}`, id: "$y"},
		{name: "member", raw: `{"room_id":"!r","sender":"@a","type":"m.room.member","state_key":"@a","content":{"membership":"join"}}`, id: "$m", membership: "join"},
		{name: "no id", raw: `{"room_id":"!r","sender":"@a","type":"m.room.message"}`, wantNil: true},
		{name: "no type", raw: `{"event_id":"$x","sender":"@a"}`, wantNil: true},
		{name: "not json", raw: `nope`, id: "$x", wantNil: true},
	}
	for _, tc := range tests {
		e := ParseEvent([]byte(tc.raw), tc.id)
		if (e == nil) != tc.wantNil {
			t.Fatalf("%s: got %+v", tc.name, e)
		}
		if e != nil && e.Membership != tc.membership {
			t.Fatalf("%s: membership %q", tc.name, e.Membership)
		}
	}
}

func TestEventFieldsAndFormat(t *testing.T) {
	fed := []byte(`{"room_id":"!r:t","sender":"@a:t","type":"m.room.message","content":{"body":"x","m.rel":{"a.b":1,"c":2}},
		"origin_server_ts":1000,"depth":3,"hashes":{"sha256":"h"}}`)
	e := &storage.Event{EventID: "$e", RoomID: "!r:t", Type: "m.room.message", Sender: "@a:t", JSON: fed}
	tests := []struct {
		name string
		opts FormatOptions
		want string
	}{
		{"fields", FormatOptions{Fields: []string{"type", "content.body", "content.nope", "nope.deeper"}},
			`{"content":{"body":"x"},"type":"m.room.message"}`},
		{"escaped dot", FormatOptions{Fields: []string{`content.m\.rel.a\.b`}}, `{"content":{"m.rel":{"a.b":1}}}`},
		{"federation keeps federation keys", FormatOptions{Federation: true, Fields: []string{"depth", "hashes", "event_id"}},
			`{"depth":3,"event_id":"$e","hashes":{"sha256":"h"}}`},
		{"client drops federation keys", FormatOptions{Fields: []string{"depth", "hashes", "event_id"}}, `{"event_id":"$e"}`},
	}
	for _, tc := range tests {
		if got := string(ClientEvent(e, tc.opts)); got != tc.want {
			t.Errorf("%s: got %s want %s", tc.name, got, tc.want)
		}
	}
}

func TestClientEventRedactsBothPlaces(t *testing.T) {
	tests := []struct {
		name       string
		fed        string
		federation bool
		wantTop    any
		wantInner  any
	}{
		{"v11 content only gains top-level", `{"type":"m.room.redaction","sender":"@a:t","content":{"redacts":"$x","reason":"r"}}`, false, "$x", "$x"},
		{"v10 top-level only gains content", `{"type":"m.room.redaction","sender":"@a:t","content":{"reason":"r"},"redacts":"$x"}`, false, "$x", "$x"},
		{"federation format untouched", `{"type":"m.room.redaction","sender":"@a:t","content":{"redacts":"$x"}}`, true, nil, "$x"},
		{"redacted redaction stays empty", `{"type":"m.room.redaction","sender":"@a:t","content":{}}`, false, nil, nil},
	}
	for _, tc := range tests {
		e := &storage.Event{EventID: "$r", Type: "m.room.redaction", Sender: "@a:t", JSON: []byte(tc.fed)}
		var got struct {
			Redacts any            `json:"redacts"`
			Content map[string]any `json:"content"`
		}
		if err := json.Unmarshal(ClientEvent(e, FormatOptions{Federation: tc.federation}), &got); err != nil {
			t.Fatal(err)
		}
		if got.Redacts != tc.wantTop || got.Content["redacts"] != tc.wantInner {
			t.Errorf("%s: top %v content %v, want %v %v", tc.name, got.Redacts, got.Content["redacts"], tc.wantTop, tc.wantInner)
		}
	}
}
