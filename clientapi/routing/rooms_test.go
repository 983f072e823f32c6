package routing

import (
	"net/url"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/internal/testenv"
)

func TestCreateRoomAndMessages(t *testing.T) { forEachImpl(t, testCreateRoomAndMessages) }

func testCreateRoomAndMessages(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	bob := h.register("bob")
	const v3 = "/_matrix/client/v3"

	r := h.must(h.do("POST", v3+"/createRoom", alice.token, map[string]any{"name": "Room", "topic": "T",
		"room_alias_name": "lobby", "preset": "public_chat", "visibility": "public", "invite": []string{bob.id},
		"initial_state": []any{map[string]any{"type": "m.room.guest_access", "state_key": "", "content": map[string]any{"guest_access": "can_join"}}}}), 200)
	room := r.str("room_id")
	if !strings.HasPrefix(room, "!") || r.str("room_alias") != "#lobby:test.local" {
		t.Fatalf("createRoom = %s", r.raw)
	}
	roomPath := v3 + "/rooms/" + url.PathEscape(room)
	// The creator's join carries their profile.
	if m := h.must(h.do("GET", roomPath+"/state/m.room.member/"+alice.id, alice.token, nil), 200); m.str("displayname") != "alice" {
		t.Fatalf("creator member event = %s", m.raw)
	}

	bad := []struct {
		name string
		body any
		code string
	}{
		{"bad version", map[string]any{"room_version": "99"}, "M_UNSUPPORTED_ROOM_VERSION"},
		{"bad preset", map[string]any{"preset": "party"}, "M_INVALID_PARAM"},
		{"bad visibility", map[string]any{"visibility": "secret"}, "M_INVALID_PARAM"},
		{"bad invitee", map[string]any{"invite": []string{"bob"}}, "M_INVALID_PARAM"},
		{"invite wrong type", map[string]any{"invite": "bob"}, "M_BAD_JSON"},
		{"alias taken", map[string]any{"room_alias_name": "lobby"}, "M_ROOM_IN_USE"},
		{"alias with colon", map[string]any{"room_alias_name": "a:b"}, "M_INVALID_PARAM"},
		{"initial_state content not object", map[string]any{"initial_state": []any{map[string]any{"type": "m.x", "content": 1}}}, "M_BAD_JSON"},
		{"3pid invite", map[string]any{"invite_3pid": []any{map[string]any{"medium": "email"}}}, "M_INVALID_PARAM"},
		{"not json", "{", "M_NOT_JSON"},
	}
	for _, c := range bad {
		t.Run("createRoom "+c.name, func(t *testing.T) {
			h.must(h.do("POST", v3+"/createRoom", alice.token, c.body), 400, c.code)
		})
	}
	if rooms := h.must(h.do("GET", v3+"/joined_rooms", alice.token, nil), 200).body["joined_rooms"].([]any); len(rooms) != 1 {
		t.Fatalf("rejected createRoom requests made rooms: %v", rooms)
	}
	// Room version 10 rooms work as well (room IDs with a server part, v4 event IDs).
	old := h.must(h.do("POST", v3+"/createRoom", alice.token, map[string]any{"room_version": "10"}), 200).str("room_id")
	if !strings.HasSuffix(old, ":test.local") {
		t.Fatalf("v10 room id = %s", old)
	}

	// Bob joins by alias; messages; transaction idempotency.
	if r := h.must(h.do("POST", v3+"/join/"+url.PathEscape("#lobby:test.local"), bob.token, map[string]any{}), 200); r.str("room_id") != room {
		t.Fatalf("join = %s", r.raw)
	}
	e1 := h.must(h.do("PUT", roomPath+"/send/m.room.message/txn1", alice.token, map[string]any{"msgtype": "m.text", "body": "hi"}), 200).str("event_id")
	e2 := h.must(h.do("PUT", roomPath+"/send/m.room.message/txn1", alice.token, map[string]any{"msgtype": "m.text", "body": "hi"}), 200).str("event_id")
	if e1 == "" || e1 != e2 {
		t.Fatalf("txn idempotency: %q vs %q", e1, e2)
	}
	e3 := h.must(h.do("PUT", roomPath+"/send/m.room.message/txn2", alice.token, map[string]any{"body": "again"}), 200).str("event_id")
	if e3 == e1 {
		t.Fatal("new txn returned old event")
	}
	red := h.must(h.do("PUT", roomPath+"/redact/"+url.PathEscape(e3)+"/r1", alice.token, map[string]any{"reason": "oops"}), 200).str("event_id")
	if red == "" {
		t.Fatal("no redaction event ID")
	}

	// State.
	h.must(h.do("PUT", roomPath+"/state/m.room.topic", alice.token, map[string]any{"topic": "new"}), 200)
	h.must(h.do("PUT", roomPath+"/state/org.example.custom/some%2Fkey", alice.token, map[string]any{"k": 1}), 200)
	if r := h.must(h.do("GET", roomPath+"/state/m.room.topic/", alice.token, nil), 200); r.str("topic") != "new" {
		t.Fatalf("topic = %s", r.raw)
	}
	if r := h.must(h.do("GET", roomPath+"/state/org.example.custom/some%2Fkey", alice.token, nil), 200); r.body["k"] != float64(1) {
		t.Fatalf("custom = %s", r.raw)
	}
	if r := h.must(h.do("GET", roomPath+"/state/m.room.name?format=event", alice.token, nil), 200); r.str("event_id") == "" || r.str("room_id") != room || r.body["content"].(map[string]any)["name"] != "Room" {
		t.Fatalf("format=event = %s", r.raw)
	}
	all := h.must(h.do("GET", roomPath+"/state", alice.token, nil), 200)
	var list []any
	if err := jsonUnmarshal(all.raw, &list); err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, e := range list {
		ev := e.(map[string]any)
		types[ev["type"].(string)] = true
		if ev["event_id"] == nil || ev["room_id"] != room || ev["sender"] == nil || ev["hashes"] != nil || ev["auth_events"] != nil {
			t.Fatalf("not a client event: %v", ev)
		}
	}
	for _, want := range []string{"m.room.create", "m.room.member", "m.room.power_levels", "m.room.join_rules", "m.room.name", "m.room.topic", "m.room.guest_access"} {
		if !types[want] {
			t.Fatalf("state lacks %s: %s", want, all.raw)
		}
	}

	errs := []struct {
		name, method, path, token string
		body                      any
		status                    int
		errcode                   string
	}{
		{"send bad room id", "PUT", v3 + "/rooms/nope/send/m.room.message/t", alice.token, map[string]any{}, 400, "M_INVALID_PARAM"},
		{"send not object", "PUT", roomPath + "/send/m.room.message/t9", alice.token, "[]", 400, "M_NOT_JSON"},
		{"send not json", "PUT", roomPath + "/send/m.room.message/t9", alice.token, "x", 400, "M_NOT_JSON"},
		{"send too large", "PUT", roomPath + "/send/m.room.message/t9", alice.token, `{"body":"` + strings.Repeat("x", 66000) + `"}`, 413, "M_TOO_LARGE"},
		{"send not joined", "PUT", v3 + "/rooms/" + url.PathEscape(old) + "/send/m.room.message/t9", bob.token, map[string]any{}, 403, "M_FORBIDDEN"},
		{"send unknown room", "PUT", v3 + "/rooms/!unknown:test.local/send/m.room.message/t9", alice.token, map[string]any{}, 404, "M_NOT_FOUND"},
		{"state not allowed", "PUT", roomPath + "/state/m.room.power_levels", bob.token, map[string]any{"users": map[string]any{}}, 403, "M_FORBIDDEN"},
		{"member state bad key", "PUT", roomPath + "/state/m.room.member/nope", alice.token, map[string]any{"membership": "join"}, 400, "M_INVALID_PARAM"},
		{"get missing state", "GET", roomPath + "/state/m.room.avatar", alice.token, nil, 404, "M_NOT_FOUND"},
		{"get state bad format", "GET", roomPath + "/state/m.room.name?format=xml", alice.token, nil, 400, "M_INVALID_PARAM"},
		{"get state not member", "GET", v3 + "/rooms/" + url.PathEscape(old) + "/state", bob.token, nil, 403, "M_FORBIDDEN"},
		{"redact bad event id", "PUT", roomPath + "/redact/nope/r9", alice.token, map[string]any{}, 400, "M_INVALID_PARAM"},
		{"redact reason wrong type", "PUT", roomPath + "/redact/" + url.PathEscape(e1) + "/r9", alice.token, map[string]any{"reason": 1}, 400, "M_BAD_JSON"},
	}
	for _, c := range errs {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do(c.method, c.path, c.token, c.body), c.status, c.errcode)
		})
	}
}

func TestMembershipEndpoints(t *testing.T) { forEachImpl(t, testMembershipEndpoints) }

func testMembershipEndpoints(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	bob := h.register("bob")
	carol := h.register("carol")
	const v3 = "/_matrix/client/v3"
	room := h.must(h.do("POST", v3+"/createRoom", alice.token, map[string]any{"preset": "private_chat"}), 200).str("room_id")
	rp := v3 + "/rooms/" + url.PathEscape(room)
	membership := func(u testUser) string {
		m, _, err := h.rsAPI.QueryMembership(t.Context(), room, u.id)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	h.must(h.do("POST", rp+"/join", bob.token, map[string]any{}), 403, "M_FORBIDDEN")
	h.must(h.do("POST", rp+"/invite", alice.token, map[string]any{"user_id": bob.id, "reason": "come"}), 200)
	if membership(bob) != "invite" {
		t.Fatal("invite not applied")
	}
	h.must(h.do("POST", rp+"/join", bob.token, nil), 200)
	if membership(bob) != "join" {
		t.Fatal("join not applied")
	}
	if m := h.must(h.do("GET", rp+"/state/m.room.member/"+bob.id, bob.token, nil), 200); m.str("displayname") != "bob" {
		t.Fatalf("join without profile: %s", m.raw)
	}
	if r := h.must(h.do("GET", v3+"/joined_rooms", bob.token, nil), 200); len(r.body["joined_rooms"].([]any)) != 1 {
		t.Fatalf("joined_rooms = %s", r.raw)
	}
	h.must(h.do("POST", rp+"/kick", alice.token, map[string]any{"user_id": bob.id}), 200)
	if membership(bob) != "leave" {
		t.Fatal("kick not applied")
	}
	h.must(h.do("POST", rp+"/ban", alice.token, map[string]any{"user_id": carol.id, "reason": "spam"}), 200)
	if membership(carol) != "ban" {
		t.Fatal("ban not applied")
	}
	h.must(h.do("POST", rp+"/unban", alice.token, map[string]any{"user_id": carol.id}), 200)
	if membership(carol) != "leave" {
		t.Fatal("unban not applied")
	}
	h.must(h.do("POST", rp+"/forget", alice.token, nil), 400, "M_UNKNOWN")
	h.must(h.do("POST", rp+"/forget", bob.token, nil), 200)
	h.must(h.do("POST", rp+"/leave", alice.token, map[string]any{"reason": "bye"}), 200)
	if membership(alice) != "leave" {
		t.Fatal("leave not applied")
	}

	errs := []struct {
		name, method, path, token string
		body                      any
		status                    int
		errcode                   string
	}{
		{"invite missing user", "POST", rp + "/invite", alice.token, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"invite bad user", "POST", rp + "/invite", alice.token, map[string]any{"user_id": "bob"}, 400, "M_INVALID_PARAM"},
		{"invite user wrong type", "POST", rp + "/invite", alice.token, map[string]any{"user_id": 7}, 400, "M_BAD_JSON"},
		{"invite 3pid", "POST", rp + "/invite", alice.token, map[string]any{"medium": "email", "address": "a@b.c", "id_server": "x"}, 400, "M_INVALID_PARAM"},
		{"kick not json", "POST", rp + "/kick", alice.token, "{", 400, "M_NOT_JSON"},
		{"ban by non-member", "POST", rp + "/ban", carol.token, map[string]any{"user_id": alice.id}, 403, "M_FORBIDDEN"},
		{"join bad id", "POST", v3 + "/join/nope", bob.token, map[string]any{}, 400, "M_INVALID_PARAM"},
		{"join unknown alias", "POST", v3 + "/join/" + url.PathEscape("#none:test.local"), bob.token, map[string]any{}, 404, "M_NOT_FOUND"},
		{"join via a bad server name", "POST", v3 + "/join/" + url.PathEscape("!r:other.example") + "?via=bad%20name", bob.token, map[string]any{}, 400, "M_INVALID_PARAM"},
		{"join bad server_name", "POST", v3 + "/join/" + url.PathEscape("!r:other.example") + "?server_name=a/b", bob.token, map[string]any{}, 400, "M_INVALID_PARAM"},
		{"join remote room without federation", "POST", v3 + "/join/" + url.PathEscape("!r:other.example") + "?via=other.example", bob.token, map[string]any{}, 404, "M_NOT_FOUND"},
		{"join reason wrong type", "POST", rp + "/join", bob.token, map[string]any{"reason": 1}, 400, "M_BAD_JSON"},
		{"leave bad room", "POST", v3 + "/rooms/nope/leave", bob.token, map[string]any{}, 400, "M_INVALID_PARAM"},
		{"knock on private_chat", "POST", v3 + "/knock/" + url.PathEscape(room), carol.token, map[string]any{}, 403, "M_FORBIDDEN"},
		{"no token", "POST", rp + "/leave", "", map[string]any{}, 401, "M_MISSING_TOKEN"},
	}
	for _, c := range errs {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do(c.method, c.path, c.token, c.body), c.status, c.errcode)
		})
	}
}

func TestKnock(t *testing.T) { forEachImpl(t, testKnock) }

func testKnock(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	carol := h.register("carol")
	const v3 = "/_matrix/client/v3"
	room := h.must(h.do("POST", v3+"/createRoom", alice.token, map[string]any{"room_alias_name": "knockme",
		"initial_state": []any{map[string]any{"type": "m.room.join_rules", "state_key": "", "content": map[string]any{"join_rule": "knock"}}}}), 200).str("room_id")
	r := h.must(h.do("POST", v3+"/knock/"+url.PathEscape("#knockme:test.local"), carol.token, map[string]any{"reason": "let me in"}), 200)
	if r.str("room_id") != room {
		t.Fatalf("knock = %s", r.raw)
	}
	if m, _, err := h.rsAPI.QueryMembership(t.Context(), room, carol.id); err != nil || m != "knock" {
		t.Fatalf("membership = %q, %v", m, err)
	}
}

func TestDirectory(t *testing.T) { forEachImpl(t, testDirectory) }

func testDirectory(t *testing.T, newHarness harnessFunc) {
	h := newHarness(t)
	alice := h.register("alice")
	bob := h.register("bob")
	const v3 = "/_matrix/client/v3"
	room := h.must(h.do("POST", v3+"/createRoom", alice.token, map[string]any{"preset": "public_chat", "name": "Cats"}), 200).str("room_id")
	alias := url.PathEscape("#cats:test.local")

	h.must(h.do("GET", v3+"/directory/room/"+alias, "", nil), 404, "M_NOT_FOUND")
	h.must(h.do("PUT", v3+"/directory/room/"+alias, alice.token, map[string]any{"room_id": room}), 200)
	h.must(h.do("PUT", v3+"/directory/room/"+alias, alice.token, map[string]any{"room_id": room}), 409, "M_UNKNOWN")
	r := h.must(h.do("GET", v3+"/directory/room/"+alias, "", nil), 200)
	if r.str("room_id") != room || len(r.body["servers"].([]any)) == 0 {
		t.Fatalf("alias = %s", r.raw)
	}
	if r := h.must(h.do("GET", v3+"/rooms/"+url.PathEscape(room)+"/aliases", alice.token, nil), 200); len(r.body["aliases"].([]any)) != 1 {
		t.Fatalf("aliases = %s", r.raw)
	}
	h.must(h.do("GET", v3+"/rooms/"+url.PathEscape(room)+"/aliases", bob.token, nil), 403, "M_FORBIDDEN")

	if r := h.must(h.do("GET", v3+"/directory/list/room/"+url.PathEscape(room), "", nil), 200); r.str("visibility") != "private" {
		t.Fatalf("visibility = %s", r.raw)
	}
	h.must(h.do("PUT", v3+"/directory/list/room/"+url.PathEscape(room), bob.token, map[string]any{"visibility": "public"}), 403, "M_FORBIDDEN")
	h.must(h.do("PUT", v3+"/directory/list/room/"+url.PathEscape(room), alice.token, map[string]any{"visibility": "public"}), 200)
	r = h.must(h.do("GET", v3+"/publicRooms?limit=10", "", nil), 200)
	if chunk := r.body["chunk"].([]any); len(chunk) != 1 || chunk[0].(map[string]any)["room_id"] != room {
		t.Fatalf("publicRooms = %s", r.raw)
	}
	if r := h.must(h.do("GET", v3+"/publicRooms?server=test.local", "", nil), 200); len(r.body["chunk"].([]any)) != 1 {
		t.Fatalf("publicRooms of this server by name = %s", r.raw)
	}
	r = h.must(h.do("POST", v3+"/publicRooms", alice.token, map[string]any{"filter": map[string]any{"generic_search_term": "dogs"}}), 200)
	if chunk := r.body["chunk"].([]any); len(chunk) != 0 {
		t.Fatalf("filtered publicRooms = %s", r.raw)
	}

	errs := []struct {
		name, method, path, token string
		body                      any
		status                    int
		errcode                   string
	}{
		{"bad alias", "GET", v3 + "/directory/room/cats", "", nil, 400, "M_INVALID_PARAM"},
		{"remote alias without federation", "GET", v3 + "/directory/room/" + url.PathEscape("#x:remote.org"), "", nil, 404, "M_NOT_FOUND"},
		{"put remote alias", "PUT", v3 + "/directory/room/" + url.PathEscape("#x:remote.org"), alice.token, map[string]any{"room_id": room}, 400, "M_INVALID_PARAM"},
		{"put missing room", "PUT", v3 + "/directory/room/" + url.PathEscape("#y:test.local"), alice.token, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"put bad room", "PUT", v3 + "/directory/room/" + url.PathEscape("#y:test.local"), alice.token, map[string]any{"room_id": "x"}, 400, "M_INVALID_PARAM"},
		{"put no token", "PUT", v3 + "/directory/room/" + url.PathEscape("#y:test.local"), "", map[string]any{"room_id": room}, 401, "M_MISSING_TOKEN"},
		{"delete by stranger", "DELETE", v3 + "/directory/room/" + alias, bob.token, nil, 403, "M_FORBIDDEN"},
		{"delete unknown", "DELETE", v3 + "/directory/room/" + url.PathEscape("#zz:test.local"), alice.token, nil, 404, "M_NOT_FOUND"},
		{"visibility bad value", "PUT", v3 + "/directory/list/room/" + url.PathEscape(room), alice.token, map[string]any{"visibility": "hidden"}, 400, "M_INVALID_PARAM"},
		{"visibility unknown room", "GET", v3 + "/directory/list/room/!nope:test.local", "", nil, 404, "M_NOT_FOUND"},
		{"publicRooms other server needs token", "GET", v3 + "/publicRooms?server=remote.org", "", nil, 401, "M_MISSING_TOKEN"},
		{"publicRooms other server bad token", "GET", v3 + "/publicRooms?server=remote.org", "nope", nil, 401, "M_UNKNOWN_TOKEN"},
		{"publicRooms other server without federation", "GET", v3 + "/publicRooms?server=remote.org", alice.token, nil, 404, "M_NOT_FOUND"},
		{"publicRooms post other server without federation", "POST", v3 + "/publicRooms?server=remote.org", alice.token,
			map[string]any{"third_party_instance_id": "irc|x"}, 404, "M_NOT_FOUND"},
		{"publicRooms bad server name", "GET", v3 + "/publicRooms?server=bad%20name", alice.token, nil, 400, "M_INVALID_PARAM"},
		{"publicRooms bad limit", "GET", v3 + "/publicRooms?limit=x", "", nil, 400, "M_INVALID_PARAM"},
		{"publicRooms post needs token", "POST", v3 + "/publicRooms", "", map[string]any{}, 401, "M_MISSING_TOKEN"},
		{"publicRooms post wrong type", "POST", v3 + "/publicRooms", alice.token, map[string]any{"limit": "ten"}, 400, "M_BAD_JSON"},
	}
	for _, c := range errs {
		t.Run(c.name, func(t *testing.T) {
			h.must(h.do(c.method, c.path, c.token, c.body), c.status, c.errcode)
		})
	}
	h.must(h.do("DELETE", v3+"/directory/room/"+alias, alice.token, nil), 200)
	h.must(h.do("GET", v3+"/directory/room/"+alias, "", nil), 404, "M_NOT_FOUND")
}

// TestOnPostgres runs the main flows with every component's tables on Postgres, with the
// clientapi on the direct implementations and on their inthttp clients.
func TestOnPostgres(t *testing.T) {
	for _, impl := range impls {
		t.Run(impl, func(t *testing.T) { testOnPostgres(t, newHarnessDSN(t, impl, testenv.PostgresDSN(t))) })
	}
}

func testOnPostgres(t *testing.T, h *harness) {
	alice := h.register("alice")
	const v3 = "/_matrix/client/v3"
	room := h.must(h.do("POST", v3+"/createRoom", alice.token, map[string]any{"name": "pg"}), 200).str("room_id")
	h.must(h.do("PUT", v3+"/rooms/"+url.PathEscape(room)+"/send/m.room.message/t1", alice.token, map[string]any{"body": "hi"}), 200)
	h.eventually("topic 4 to report the join", func() bool {
		rooms, _ := h.db.JoinedRooms(t.Context(), alice.id)
		return len(rooms) == 1
	})
	h.must(h.do("PUT", v3+"/profile/"+alice.id+"/displayname", alice.token, map[string]any{"displayname": "PG"}), 200)
	if m := h.must(h.do("GET", v3+"/rooms/"+url.PathEscape(room)+"/state/m.room.member/"+alice.id, alice.token, nil), 200); m.str("displayname") != "PG" {
		t.Fatalf("member = %s", m.raw)
	}
	r := h.must(h.do("DELETE", v3+"/devices/"+alice.device, alice.token, nil), 401)
	h.must(h.do("DELETE", v3+"/devices/"+alice.device, alice.token, map[string]any{"auth": map[string]any{
		"type": "m.login.password", "session": r.str("session"), "user": "alice", "password": alice.password}}), 200)
	h.must(h.do("GET", v3+"/account/whoami", alice.token, nil), 401, "M_UNKNOWN_TOKEN")
}
