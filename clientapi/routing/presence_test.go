package routing

import (
	"net/url"
	"testing"
)

// TestPresenceEndpoints: PUT only for yourself with a known state; GET of yourself, of a
// user sharing a room, not of a stranger (403, as Synapse); guests may use both.
func TestPresenceEndpoints(t *testing.T) {
	forEachImpl(t, func(t *testing.T, newHarness harnessFunc) {
		h := newHarness(t)
		alice, bob, carol := h.register("alice"), h.register("bob"), h.register("carol")
		r := h.must(h.do("POST", "/_matrix/client/v3/createRoom", alice.token, map[string]any{"preset": "public_chat"}), 200)
		h.must(h.do("POST", "/_matrix/client/v3/rooms/"+url.PathEscape(r.str("room_id"))+"/join", bob.token, map[string]any{}), 200)
		p := func(u testUser) string { return "/_matrix/client/v3/presence/" + url.PathEscape(u.id) + "/status" }
		tests := []struct {
			name, method, path, token string
			body                      any
			status                    int
			errcode                   string
			presence, statusMsg       string // of a 200 GET
		}{
			{"get, never set", "GET", p(alice), alice.token, nil, 200, "", "offline", ""},
			{"put", "PUT", p(alice), alice.token, map[string]any{"presence": "unavailable", "status_msg": "lunch"}, 200, "", "", ""},
			{"get own", "GET", p(alice), alice.token, nil, 200, "", "unavailable", "lunch"},
			{"get of a room mate", "GET", p(alice), bob.token, nil, 200, "", "unavailable", "lunch"},
			{"get of a stranger", "GET", p(alice), carol.token, nil, 403, "M_FORBIDDEN", "", ""},
			{"put for another user", "PUT", p(bob), alice.token, map[string]any{"presence": "online"}, 403, "M_FORBIDDEN", "", ""},
			{"put without presence", "PUT", p(alice), alice.token, map[string]any{"status_msg": "x"}, 400, "M_BAD_JSON", "", ""},
			{"put, unknown state", "PUT", p(alice), alice.token, map[string]any{"presence": "busy"}, 400, "M_INVALID_PARAM", "", ""},
			{"put, not JSON", "PUT", p(alice), alice.token, "nope", 400, "M_NOT_JSON", "", ""},
			{"get, bad user ID", "GET", "/_matrix/client/v3/presence/alice/status", alice.token, nil, 400, "M_INVALID_PARAM", "", ""},
			{"get without token", "GET", p(alice), "", nil, 401, "M_MISSING_TOKEN", "", ""},
			{"put online clears the status", "PUT", p(alice), alice.token, map[string]any{"presence": "online"}, 200, "", "", ""},
			{"get online", "GET", p(alice), bob.token, nil, 200, "", "online", ""},
		}
		for _, tt := range tests {
			got := h.do(tt.method, tt.path, tt.token, tt.body)
			if got.status != tt.status || got.errcode() != tt.errcode {
				t.Fatalf("%s: %d %s, want %d %s", tt.name, got.status, got.raw, tt.status, tt.errcode)
			}
			if tt.presence != "" {
				if got.str("presence") != tt.presence || got.str("status_msg") != tt.statusMsg {
					t.Fatalf("%s: %s", tt.name, got.raw)
				}
				if tt.presence == "online" && got.body["currently_active"] != true {
					t.Fatalf("%s: %s", tt.name, got.raw)
				}
			}
		}
	})
}

// TestTypingEndsOnSend: a message from a typing user ends their typing; a state event does
// not.
func TestTypingEndsOnSend(t *testing.T) {
	forEachImpl(t, func(t *testing.T, newHarness harnessFunc) {
		h := newHarness(t)
		alice := h.register("alice")
		r := h.must(h.do("POST", "/_matrix/client/v3/createRoom", alice.token, map[string]any{}), 200)
		rp := url.PathEscape(r.str("room_id"))
		typing := "/_matrix/client/v3/rooms/" + rp + "/typing/" + url.PathEscape(alice.id)
		h.must(h.do("PUT", typing, alice.token, map[string]any{"typing": true, "timeout": 30000}), 200)
		h.must(h.do("PUT", "/_matrix/client/v3/rooms/"+rp+"/state/m.room.topic/", alice.token, map[string]any{"topic": "t"}), 200)
		if got := h.edu.Typers(r.str("room_id")); len(got) != 1 {
			t.Fatalf("typers after a state event: %v", got)
		}
		h.must(h.do("PUT", "/_matrix/client/v3/rooms/"+rp+"/send/m.room.message/t1", alice.token, map[string]any{"msgtype": "m.text", "body": "hi"}), 200)
		if got := h.edu.Typers(r.str("room_id")); len(got) != 0 {
			t.Fatalf("typers after a message: %v", got)
		}
	})
}
