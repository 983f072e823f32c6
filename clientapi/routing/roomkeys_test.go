package routing

import (
	"net/url"
	"testing"
)

// TestRoomKeysRoutes: /room_keys/version and /room_keys/keys (all, per room, per session)
// through the clientapi (arrow 14): the spec's shapes and errors, the etag changing on
// every write that changes the keys, a session ID with a slash in it.
func TestRoomKeysRoutes(t *testing.T) {
	forEachDBImpl(t, func(t *testing.T, h *harness) {
		const v3 = "/_matrix/client/v3"
		alice, bob := h.register("alice"), h.register("bob")
		const alg = "m.megolm_backup.v1.curve25519-aes-sha2"
		authData := map[string]any{"public_key": "pk"}
		room, sessionID := "!room:"+testServer, "sess/ion+1"
		keysPath := v3 + "/room_keys/keys"
		roomPath := keysPath + "/" + url.PathEscape(room)
		sessionPath := roomPath + "/" + url.PathEscape(sessionID)
		data := func(fmi int, mark string) map[string]any {
			return map[string]any{"first_message_index": fmi, "forwarded_count": 0, "is_verified": false,
				"session_data": map[string]any{"ciphertext": mark, "ephemeral": "e", "mac": "m"}}
		}

		h.must(h.do("GET", v3+"/room_keys/version", alice.token, nil), 404, "M_NOT_FOUND")
		h.must(h.do("GET", v3+"/room_keys/version", "", nil), 401, "M_MISSING_TOKEN")
		h.must(h.do("POST", v3+"/room_keys/version", alice.token, map[string]any{"auth_data": authData}), 400, "M_MISSING_PARAM")
		h.must(h.do("POST", v3+"/room_keys/version", alice.token, map[string]any{"algorithm": alg, "auth_data": "x"}), 400, "M_BAD_JSON")
		if v := h.must(h.do("POST", v3+"/room_keys/version", alice.token, map[string]any{"algorithm": alg, "auth_data": authData}), 200).str("version"); v != "1" {
			t.Fatalf("version %q", v)
		}
		r := h.must(h.do("GET", v3+"/room_keys/version", alice.token, nil), 200)
		if r.str("version") != "1" || r.str("algorithm") != alg || r.body["count"] != 0.0 || r.str("etag") == "" {
			t.Fatalf("current version: %s", r.raw)
		}
		etag := r.str("etag")
		h.must(h.do("GET", v3+"/room_keys/version", bob.token, nil), 404, "M_NOT_FOUND")

		// Writes: each changes the etag and answers the count.
		writes := []struct {
			name, path string
			body       any
			count      float64
		}{
			{"all rooms", keysPath + "?version=1", map[string]any{"rooms": map[string]any{room: map[string]any{"sessions": map[string]any{"s1": data(3, "a")}}}}, 1},
			{"one room", roomPath + "?version=1", map[string]any{"sessions": map[string]any{"s2": data(3, "b")}}, 2},
			{"one session", sessionPath + "?version=1", data(3, "c"), 3},
			{"a better key", sessionPath + "?version=1", data(1, "d"), 3},
		}
		for _, w := range writes {
			r := h.must(h.do("PUT", w.path, alice.token, w.body), 200)
			if r.str("etag") == etag || r.body["count"] != w.count {
				t.Fatalf("%s: %s (etag before %s)", w.name, r.raw, etag)
			}
			etag = r.str("etag")
		}
		// A worse key changes nothing, the etag included.
		if r := h.must(h.do("PUT", sessionPath+"?version=1", alice.token, data(2, "e")), 200); r.str("etag") != etag {
			t.Fatalf("worse key: %s", r.raw)
		}

		// Reads.
		r = h.must(h.do("GET", sessionPath+"?version=1", alice.token, nil), 200)
		if sd, _ := r.body["session_data"].(map[string]any); sd["ciphertext"] != "d" || r.body["first_message_index"] != 1.0 {
			t.Fatalf("session: %s", r.raw)
		}
		r = h.must(h.do("GET", roomPath+"?version=1", alice.token, nil), 200)
		if s, _ := r.body["sessions"].(map[string]any); len(s) != 3 {
			t.Fatalf("room: %s", r.raw)
		}
		r = h.must(h.do("GET", keysPath+"?version=1", alice.token, nil), 200)
		if rooms, _ := r.body["rooms"].(map[string]any); len(rooms) != 1 {
			t.Fatalf("all: %s", r.raw)
		}
		r = h.must(h.do("GET", v3+"/room_keys/keys/"+url.PathEscape("!none:"+testServer)+"?version=1", alice.token, nil), 200)
		if s, ok := r.body["sessions"].(map[string]any); !ok || len(s) != 0 {
			t.Fatalf("room without keys: %s", r.raw)
		}
		h.must(h.do("GET", roomPath+"/nosuch?version=1", alice.token, nil), 404, "M_NOT_FOUND")
		h.must(h.do("GET", keysPath+"?version=9", alice.token, nil), 404, "M_NOT_FOUND")
		h.must(h.do("GET", keysPath+"?version=1", bob.token, nil), 404, "M_NOT_FOUND")

		// Bad input.
		h.must(h.do("GET", keysPath, alice.token, nil), 400, "M_MISSING_PARAM")
		h.must(h.do("PUT", sessionPath+"?version=1", alice.token, map[string]any{"first_message_index": 0, "forwarded_count": 0,
			"session_data": map[string]any{}}), 400, "M_BAD_JSON")
		h.must(h.do("PUT", roomPath+"?version=1", alice.token, map[string]any{"sessions": map[string]any{"s9": "x"}}), 400, "M_BAD_JSON")
		h.must(h.do("PUT", keysPath+"?version=1", alice.token, map[string]any{}), 400, "M_BAD_JSON")
		h.must(h.do("PUT", sessionPath+"?version=1", alice.token, `[]`), 400, "M_NOT_JSON")

		// A new version: the old one takes no more keys.
		h.must(h.do("POST", v3+"/room_keys/version", alice.token, map[string]any{"algorithm": alg, "auth_data": authData}), 200)
		r = h.must(h.do("PUT", sessionPath+"?version=1", alice.token, data(0, "f")), 403, "M_WRONG_ROOM_KEYS_VERSION")
		if r.str("current_version") != "2" {
			t.Fatalf("wrong version: %s", r.raw)
		}
		h.must(h.do("PUT", v3+"/room_keys/version/2", alice.token, map[string]any{"algorithm": alg, "auth_data": authData, "version": "3"}), 400, "M_INVALID_PARAM")
		h.must(h.do("PUT", v3+"/room_keys/version/2", alice.token, map[string]any{"algorithm": "other", "auth_data": authData}), 400, "M_INVALID_PARAM")
		h.must(h.do("PUT", v3+"/room_keys/version/5", alice.token, map[string]any{"algorithm": alg, "auth_data": authData}), 404, "M_NOT_FOUND")
		h.must(h.do("PUT", v3+"/room_keys/version/2", alice.token, map[string]any{"algorithm": alg, "auth_data": map[string]any{"public_key": "pk2"}, "version": "2"}), 200)
		r = h.must(h.do("GET", "/_matrix/client/r0/room_keys/version/2", alice.token, nil), 200)
		if ad, _ := r.body["auth_data"].(map[string]any); ad["public_key"] != "pk2" {
			t.Fatalf("updated version: %s", r.raw)
		}

		// Deletes.
		r = h.must(h.do("DELETE", sessionPath+"?version=1", alice.token, nil), 200)
		if r.body["count"] != 2.0 || r.str("etag") == etag {
			t.Fatalf("delete session: %s", r.raw)
		}
		r = h.must(h.do("DELETE", keysPath+"?version=1", alice.token, nil), 200)
		if r.body["count"] != 0.0 {
			t.Fatalf("delete all: %s", r.raw)
		}
		h.must(h.do("DELETE", v3+"/room_keys/version/2", alice.token, nil), 200)
		h.must(h.do("DELETE", v3+"/room_keys/version/2", alice.token, nil), 200)
		h.must(h.do("DELETE", v3+"/room_keys/version/7", alice.token, nil), 404, "M_NOT_FOUND")
		h.must(h.do("GET", v3+"/room_keys/version/2", alice.token, nil), 404, "M_NOT_FOUND")
		h.must(h.do("POST", v3+"/room_keys/version/2", alice.token, map[string]any{}), 405, "M_UNRECOGNIZED")
	})
}
