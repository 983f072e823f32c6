package routing

import (
	"net/url"
	"testing"
)

// TestHierarchy: GET /v1/rooms/{roomId}/hierarchy walks the space (the roomserver's
// QueryHierarchy) and checks its parameters, with the spec's errors.
func TestHierarchy(t *testing.T) {
	forEachImpl(t, func(t *testing.T, newHarness harnessFunc) {
		h := newHarness(t)
		alice := h.register("alice")
		bob := h.register("bob")
		const v3 = "/_matrix/client/v3"
		space := h.must(h.do("POST", v3+"/createRoom", alice.token, map[string]any{"preset": "public_chat", "name": "Space",
			"creation_content": map[string]any{"type": "m.space"}}), 200).str("room_id")
		child := h.must(h.do("POST", v3+"/createRoom", alice.token, map[string]any{"preset": "public_chat", "name": "Child"}), 200).str("room_id")
		secret := h.must(h.do("POST", v3+"/createRoom", alice.token, map[string]any{"preset": "private_chat", "name": "Secret"}), 200).str("room_id")
		for _, c := range []string{child, secret} {
			h.must(h.do("PUT", v3+"/rooms/"+url.PathEscape(space)+"/state/m.space.child/"+url.PathEscape(c), alice.token,
				map[string]any{"via": []string{"test.local"}, "suggested": c == child}), 200)
		}
		path := "/_matrix/client/v1/rooms/" + url.PathEscape(space) + "/hierarchy"

		rooms := func(r resp) []string {
			var ids []string
			for _, room := range r.body["rooms"].([]any) {
				m := room.(map[string]any)
				if _, ok := m["children_state"].([]any); !ok {
					t.Fatalf("room without children_state: %s", r.raw)
				}
				ids = append(ids, m["room_id"].(string))
			}
			return ids
		}
		r := h.must(h.do("GET", path, bob.token, nil), 200)
		if ids := rooms(r); len(ids) != 2 || ids[0] != space || ids[1] != child || r.body["next_batch"] != nil {
			t.Fatalf("bob's hierarchy = %s", r.raw)
		}
		if ids := rooms(h.must(h.do("GET", path, alice.token, nil), 200)); len(ids) != 3 {
			t.Fatalf("alice's hierarchy = %v", ids)
		}
		r = h.must(h.do("GET", path+"?limit=1&suggested_only=true", alice.token, nil), 200)
		next, _ := r.body["next_batch"].(string)
		if ids := rooms(r); len(ids) != 1 || ids[0] != space || next == "" {
			t.Fatalf("page 1 = %s", r.raw)
		}
		r = h.must(h.do("GET", path+"?limit=1&suggested_only=true&from="+url.QueryEscape(next), alice.token, nil), 200)
		if ids := rooms(r); len(ids) != 1 || ids[0] != child || r.body["next_batch"] != nil {
			t.Fatalf("page 2 = %s", r.raw)
		}
		if ids := rooms(h.must(h.do("GET", path+"?max_depth=0", alice.token, nil), 200)); len(ids) != 1 {
			t.Fatalf("max_depth=0 = %v", ids)
		}

		errs := []struct {
			name, path, token string
			status            int
			errcode           string
		}{
			{"no token", path, "", 401, "M_MISSING_TOKEN"},
			{"limit zero", path + "?limit=0", bob.token, 400, "M_INVALID_PARAM"},
			{"limit not a number", path + "?limit=x", bob.token, 400, "M_INVALID_PARAM"},
			{"negative max_depth", path + "?max_depth=-1", bob.token, 400, "M_INVALID_PARAM"},
			{"bad suggested_only", path + "?suggested_only=yes", bob.token, 400, "M_INVALID_PARAM"},
			{"unknown from", path + "?from=nope", bob.token, 400, "M_INVALID_PARAM"},
			{"changed suggested_only", path + "?suggested_only=false&from=" + url.QueryEscape(next), alice.token, 400, "M_INVALID_PARAM"},
			{"bad room ID", "/_matrix/client/v1/rooms/nope/hierarchy", bob.token, 400, "M_INVALID_PARAM"},
			{"private room", "/_matrix/client/v1/rooms/" + url.PathEscape(secret) + "/hierarchy", bob.token, 403, "M_FORBIDDEN"},
			{"unknown room", "/_matrix/client/v1/rooms/" + url.PathEscape("!nope:test.local") + "/hierarchy", bob.token, 403, "M_FORBIDDEN"},
		}
		for _, c := range errs {
			t.Run(c.name, func(t *testing.T) { h.must(h.do("GET", c.path, c.token, nil), c.status, c.errcode) })
		}
	})
}
