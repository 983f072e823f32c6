package routing

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/matrix/event"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

func TestProfile(t *testing.T) { forEachImpl(t, testProfile) }

func testProfile(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	bob := h.register("bob")

	r := h.must(h.do("GET", "/_matrix/client/v3/profile/"+alice.id, "", nil), 200)
	if r.str("displayname") != "alice" {
		t.Fatalf("profile = %s", r.raw)
	}
	bad := []struct {
		name, method, path, token string
		body                      any
		status                    int
		errcode                   string
	}{
		{"unknown user", "GET", "/_matrix/client/v3/profile/@nobody:test.local", "", nil, 404, "M_NOT_FOUND"},
		{"invalid user id", "GET", "/_matrix/client/v3/profile/alice", "", nil, 400, "M_INVALID_PARAM"},
		{"remote user", "GET", "/_matrix/client/v3/profile/@x:remote.org/displayname", "", nil, 404, "M_NOT_FOUND"},
		{"someone else's", "PUT", "/_matrix/client/v3/profile/" + bob.id + "/displayname", alice.token, map[string]any{"displayname": "x"}, 403, "M_FORBIDDEN"},
		{"no token", "PUT", "/_matrix/client/v3/profile/" + alice.id + "/displayname", "", map[string]any{"displayname": "x"}, 401, "M_MISSING_TOKEN"},
		{"wrong type", "PUT", "/_matrix/client/v3/profile/" + alice.id + "/displayname", alice.token, map[string]any{"displayname": 5}, 400, "M_BAD_JSON"},
		{"missing key", "PUT", "/_matrix/client/v3/profile/" + alice.id + "/avatar_url", alice.token, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"too long", "PUT", "/_matrix/client/v3/profile/" + alice.id + "/displayname", alice.token, map[string]any{"displayname": strings.Repeat("x", 300)}, 400, "M_INVALID_PARAM"},
		{"not json", "PUT", "/_matrix/client/v3/profile/" + alice.id + "/displayname", alice.token, "{", 400, "M_NOT_JSON"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do(c.method, c.path, c.token, c.body), c.status, c.errcode)
		})
	}
	if r := h.must(h.do("GET", "/_matrix/client/v3/profile/"+bob.id, "", nil), 200); r.str("displayname") != "bob" {
		t.Fatalf("bob's profile changed: %s", r.raw)
	}

	// A joined room gets an updated member event once topic 4 has told the clientapi
	// about the join.
	room := h.must(h.do("POST", "/_matrix/client/v3/createRoom", alice.token, map[string]any{"preset": "public_chat"}), 200).str("room_id")
	h.eventually("topic 4 to report alice's join", func() bool {
		rooms, _ := h.db.JoinedRooms(t.Context(), alice.id)
		return len(rooms) == 1 && rooms[0] == room
	})
	h.must(h.do("PUT", "/_matrix/client/v3/profile/"+alice.id+"/displayname", alice.token, map[string]any{"displayname": "Alice A."}), 200)
	h.must(h.do("PUT", "/_matrix/client/v3/profile/"+alice.id+"/avatar_url", alice.token, map[string]any{"avatar_url": "mxc://test.local/abc"}), 200)
	r = h.must(h.do("GET", "/_matrix/client/v3/profile/"+alice.id, "", nil), 200)
	if r.str("displayname") != "Alice A." || r.str("avatar_url") != "mxc://test.local/abc" {
		t.Fatalf("profile = %s", r.raw)
	}
	if r := h.must(h.do("GET", "/_matrix/client/v3/profile/"+alice.id+"/avatar_url", "", nil), 200); len(r.body) != 1 {
		t.Fatalf("avatar_url = %s", r.raw)
	}
	member := h.must(h.do("GET", "/_matrix/client/v3/rooms/"+room+"/state/m.room.member/"+alice.id, alice.token, nil), 200)
	if member.str("displayname") != "Alice A." || member.str("avatar_url") != "mxc://test.local/abc" || member.str("membership") != "join" {
		t.Fatalf("member event = %s", member.raw)
	}

	// After leaving, the room is no longer updated.
	h.must(h.do("POST", "/_matrix/client/v3/rooms/"+room+"/leave", alice.token, map[string]any{}), 200)
	h.eventually("topic 4 to report alice's leave", func() bool {
		rooms, _ := h.db.JoinedRooms(t.Context(), alice.id)
		return len(rooms) == 0
	})
	h.must(h.do("PUT", "/_matrix/client/v3/profile/"+alice.id+"/displayname", alice.token, map[string]any{"displayname": "Gone"}), 200)
	state, err := h.rsAPI.QueryCurrentState(t.Context(), room, []rsapi.StateTuple{{EventType: "m.room.member", StateKey: alice.id}})
	if err != nil || len(state) != 1 {
		t.Fatal(state, err)
	}
	ev, _ := event.NewEventFromTrustedJSON(state[0], "12")
	var c map[string]any
	_ = json.Unmarshal(ev.Content(), &c)
	if c["membership"] != "leave" {
		t.Fatalf("member content after leave = %v", c)
	}
}

func TestAccountData(t *testing.T) { forEachImpl(t, testAccountData) }

func testAccountData(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	bob := h.register("bob")
	base := "/_matrix/client/v3/user/" + alice.id
	room := "/rooms/!abc:test.local"

	h.must(h.do("GET", base+"/account_data/org.example.x", alice.token, nil), 404, "M_NOT_FOUND")
	h.must(h.do("PUT", base+"/account_data/org.example.x", alice.token, map[string]any{"a": 1}), 200)
	h.must(h.do("PUT", base+room+"/account_data/m.tag", alice.token, map[string]any{"tags": map[string]any{}}), 200)
	if r := h.must(h.do("GET", base+"/account_data/org.example.x", alice.token, nil), 200); r.body["a"] != float64(1) {
		t.Fatalf("get = %s", r.raw)
	}
	if r := h.must(h.do("GET", base+room+"/account_data/m.tag", alice.token, nil), 200); r.body["tags"] == nil {
		t.Fatalf("get room = %s", r.raw)
	}
	h.must(h.do("GET", base+room+"/account_data/org.example.x", alice.token, nil), 404, "M_NOT_FOUND")

	bad := []struct {
		name, method, path, token string
		body                      any
		status                    int
		errcode                   string
	}{
		{"other user get", "GET", base + "/account_data/org.example.x", bob.token, nil, 403, "M_FORBIDDEN"},
		{"other user put", "PUT", base + "/account_data/org.example.x", bob.token, map[string]any{"a": 2}, 403, "M_FORBIDDEN"},
		{"other user room put", "PUT", base + room + "/account_data/m.tag", bob.token, map[string]any{}, 403, "M_FORBIDDEN"},
		{"fully_read", "PUT", base + "/account_data/m.fully_read", alice.token, map[string]any{"event_id": "$x"}, 405, "M_BAD_JSON"},
		{"room fully_read", "PUT", base + room + "/account_data/m.fully_read", alice.token, map[string]any{"event_id": "$x"}, 405, "M_BAD_JSON"},
		{"push_rules", "PUT", base + "/account_data/m.push_rules", alice.token, map[string]any{}, 405, "M_BAD_JSON"},
		{"array", "PUT", base + "/account_data/org.example.x", alice.token, "[1]", 400, "M_NOT_JSON"},
		{"not json", "PUT", base + "/account_data/org.example.x", alice.token, "x", 400, "M_NOT_JSON"},
		{"too large", "PUT", base + "/account_data/org.example.x", alice.token, `{"a":"` + strings.Repeat("x", 70000) + `"}`, 413, "M_TOO_LARGE"},
		{"bad room id", "PUT", base + "/rooms/nope/account_data/m.tag", alice.token, map[string]any{}, 400, "M_INVALID_PARAM"},
		{"bad user id", "GET", "/_matrix/client/v3/user/alice/account_data/x", alice.token, nil, 400, "M_INVALID_PARAM"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do(c.method, c.path, c.token, c.body), c.status, c.errcode)
		})
	}
	if r := h.must(h.do("GET", base+"/account_data/org.example.x", alice.token, nil), 200); r.body["a"] != float64(1) {
		t.Fatalf("rejected write changed data: %s", r.raw)
	}
	// m.push_rules reads back as the rules.
	if r := h.must(h.do("GET", base+"/account_data/m.push_rules", alice.token, nil), 200); r.body["global"] == nil {
		t.Fatalf("m.push_rules = %s", r.raw)
	}
}

func TestFilters(t *testing.T) { forEachImpl(t, testFilters) }

func testFilters(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	bob := h.register("bob")
	base := "/_matrix/client/v3/user/" + alice.id + "/filter"
	f := map[string]any{"room": map[string]any{"timeline": map[string]any{"limit": 10}}, "event_fields": []string{"type"}}
	id := h.must(h.do("POST", base, alice.token, f), 200).str("filter_id")
	if id == "" {
		t.Fatal("no filter_id")
	}
	r := h.must(h.do("GET", base+"/"+id, alice.token, nil), 200)
	if r.body["room"].(map[string]any)["timeline"].(map[string]any)["limit"] != float64(10) {
		t.Fatalf("filter = %s", r.raw)
	}
	bad := []struct {
		name, method, path, token string
		body                      any
		status                    int
		errcode                   string
	}{
		{"other user's get", "GET", base + "/" + id, bob.token, nil, 403, "M_FORBIDDEN"},
		{"other user's post", "POST", base, bob.token, map[string]any{}, 403, "M_FORBIDDEN"},
		{"unknown", "GET", base + "/999999", alice.token, nil, 404, "M_NOT_FOUND"},
		{"limit wrong type", "POST", base, alice.token, map[string]any{"room": map[string]any{"timeline": map[string]any{"limit": "ten"}}}, 400, "M_BAD_JSON"},
		{"event_fields wrong type", "POST", base, alice.token, map[string]any{"event_fields": "type"}, 400, "M_BAD_JSON"},
		{"bad event_format", "POST", base, alice.token, map[string]any{"event_format": "xml"}, 400, "M_BAD_JSON"},
		{"not an object", "POST", base, alice.token, "[]", 400, "M_NOT_JSON"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do(c.method, c.path, c.token, c.body), c.status, c.errcode)
		})
	}
}

func TestTagsAnd3PIDs(t *testing.T) { forEachImpl(t, testTagsAnd3PIDs) }

func testTagsAnd3PIDs(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	bob := h.register("bob")
	base := "/_matrix/client/v3/user/" + alice.id + "/rooms/!r:test.local/tags"

	if r := h.must(h.do("GET", base, alice.token, nil), 200); len(r.body["tags"].(map[string]any)) != 0 {
		t.Fatalf("tags = %s", r.raw)
	}
	h.must(h.do("PUT", base+"/m.favourite", alice.token, map[string]any{"order": 0.5}), 200)
	h.must(h.do("PUT", base+"/u.work", alice.token, map[string]any{}), 200)
	r := h.must(h.do("GET", base, alice.token, nil), 200)
	tags := r.body["tags"].(map[string]any)
	if len(tags) != 2 || tags["m.favourite"].(map[string]any)["order"] != 0.5 {
		t.Fatalf("tags = %s", r.raw)
	}
	// Tags are the m.tag room account data.
	if ad := h.must(h.do("GET", "/_matrix/client/v3/user/"+alice.id+"/rooms/!r:test.local/account_data/m.tag", alice.token, nil), 200); ad.body["tags"] == nil {
		t.Fatalf("m.tag = %s", ad.raw)
	}
	h.must(h.do("DELETE", base+"/u.work", alice.token, nil), 200)
	h.must(h.do("DELETE", base+"/u.never", alice.token, nil), 200)
	if r := h.must(h.do("GET", base, alice.token, nil), 200); len(r.body["tags"].(map[string]any)) != 1 {
		t.Fatalf("after delete = %s", r.raw)
	}
	bad := []struct {
		name, method, path, token string
		body                      any
		status                    int
		errcode                   string
	}{
		{"other user", "GET", base, bob.token, nil, 403, "M_FORBIDDEN"},
		{"other user put", "PUT", base + "/x", bob.token, map[string]any{}, 403, "M_FORBIDDEN"},
		{"order not a number", "PUT", base + "/x", alice.token, map[string]any{"order": "1"}, 400, "M_BAD_JSON"},
		{"not an object", "PUT", base + "/x", alice.token, "[]", 400, "M_NOT_JSON"},
		{"bad room", "GET", "/_matrix/client/v3/user/" + alice.id + "/rooms/nope/tags", alice.token, nil, 400, "M_INVALID_PARAM"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do(c.method, c.path, c.token, c.body), c.status, c.errcode)
		})
	}
	if r := h.must(h.do("GET", "/_matrix/client/v3/account/3pid", alice.token, nil), 200); len(r.body["threepids"].([]any)) != 0 {
		t.Fatalf("3pids = %s", r.raw)
	}
}
