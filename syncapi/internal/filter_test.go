package internal

import (
	"encoding/json"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"m.room.message", "m.room.message", true},
		{"m.room.message", "m.room.messages", false},
		{"m.room.*", "m.room.member", true},
		{"m.room.*", "m.rooms", false},
		{"*", "anything", true},
		{"*.member", "m.room.member", true},
		{"m.*.member", "m.room.member", true},
		{"m.*.member", "m.member", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
	}
	for _, tc := range tests {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

func TestRoomEventFilterMatches(t *testing.T) {
	tests := []struct {
		filter  string
		room    string
		typ     string
		sender  string
		content string
		want    bool
	}{
		{`{}`, "!a", "m.room.message", "@u", `{}`, true},
		{`{"types":["m.room.*"]}`, "!a", "m.room.message", "@u", `{}`, true},
		{`{"types":[]}`, "!a", "m.room.message", "@u", `{}`, false},
		{`{"not_types":["m.room.message"]}`, "!a", "m.room.message", "@u", `{}`, false},
		{`{"types":["*"],"not_types":["m.room.message"]}`, "!a", "m.room.message", "@u", `{}`, false},
		{`{"senders":["@v"]}`, "!a", "m.room.message", "@u", `{}`, false},
		{`{"not_senders":["@u"]}`, "!a", "m.room.message", "@u", `{}`, false},
		{`{"rooms":["!b"]}`, "!a", "m.room.message", "@u", `{}`, false},
		{`{"rooms":["!a"],"not_rooms":["!a"]}`, "!a", "m.room.message", "@u", `{}`, false},
		{`{"contains_url":true}`, "!a", "m.room.message", "@u", `{"url":"mxc://x/y"}`, true},
		{`{"contains_url":true}`, "!a", "m.room.message", "@u", `{}`, false},
		{`{"contains_url":false}`, "!a", "m.room.message", "@u", `{"url":"mxc://x/y"}`, false},
	}
	for _, tc := range tests {
		f, err := ParseRoomEventFilter(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.MatchesEvent(tc.room, tc.typ, tc.sender, json.RawMessage(tc.content)); got != tc.want {
			t.Errorf("%s on %s %s: got %v", tc.filter, tc.typ, tc.content, got)
		}
	}
}

func TestParseFilter(t *testing.T) {
	tests := []struct {
		raw       string
		wantErr   bool
		wantLimit int
	}{
		{raw: `{}`, wantLimit: DefaultTimelineLimit},
		{raw: `{"room":{"timeline":{"limit":3}}}`, wantLimit: 3},
		{raw: `{"room":{"timeline":{"limit":-1}}}`, wantErr: true},
		{raw: `{"event_format":"xml"}`, wantErr: true},
		{raw: `{"room":{"rooms":"!a"}}`, wantErr: true},
		{raw: `[]`, wantErr: true},
		{raw: `{`, wantErr: true},
	}
	for _, tc := range tests {
		f, err := ParseFilter([]byte(tc.raw))
		if (err != nil) != tc.wantErr {
			t.Fatalf("%s: err %v", tc.raw, err)
		}
		if err == nil && f.TimelineLimit() != tc.wantLimit {
			t.Fatalf("%s: limit %d", tc.raw, f.TimelineLimit())
		}
	}
}
