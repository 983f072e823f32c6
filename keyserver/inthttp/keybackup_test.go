package inthttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/keyserver/api"
)

// session is a backup key whose session_data names it (mark), to tell which one is kept.
func session(fmi, fc int64, verified bool, mark string) api.KeyBackupData {
	return api.KeyBackupData{FirstMessageIndex: fmi, ForwardedCount: fc, IsVerified: verified,
		SessionData: json.RawMessage(fmt.Sprintf(`{"ciphertext":%q,"ephemeral":"e","mac":"m"}`, mark))}
}

func put(ks api.KeyServerAPI, user, version, room, sessionID string, d api.KeyBackupData) (*api.BackupKeysUpdateResponse, error) {
	return ks.PutBackupKeys(context.Background(), &api.PutBackupKeysRequest{UserID: user, Version: version,
		Rooms: map[string]api.RoomKeyBackup{room: {Sessions: map[string]api.KeyBackupData{sessionID: d}}}})
}

func mark(t *testing.T, ks api.KeyServerAPI, user, version, room, sessionID string) string {
	t.Helper()
	r, err := ks.BackupKeys(context.Background(), &api.BackupKeysRequest{UserID: user, Version: version, RoomID: room, SessionID: sessionID})
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Ciphertext string `json:"ciphertext"`
	}
	_ = json.Unmarshal(r.Rooms[room].Sessions[sessionID].SessionData, &d)
	return d.Ciphertext
}

// TestKeyBackup: versions are created, read, updated and deleted; keys are stored in the
// current version only (403 M_WRONG_ROOM_KEYS_VERSION for an older one, 404 for none), a
// session's key is replaced only by a better one, the etag changes with every change of
// the keys and only then, and bad input stores nothing.
func TestKeyBackup(t *testing.T) {
	each(t, func(t *testing.T, ks api.KeyServerAPI) {
		ctx := context.Background()
		alice, bob := "@alice:"+server, "@bob:"+server
		const alg = "m.megolm_backup.v1.curve25519-aes-sha2"
		auth := json.RawMessage(`{"public_key":"abc","signatures":{}}`)

		_, err := ks.KeyBackupVersion(ctx, &api.KeyBackupVersionRequest{UserID: alice})
		matrixErr(t, err, 404, "M_NOT_FOUND")
		_, err = ks.CreateKeyBackup(ctx, &api.CreateKeyBackupRequest{UserID: alice, AuthData: auth})
		matrixErr(t, err, 400, "M_MISSING_PARAM")
		_, err = ks.CreateKeyBackup(ctx, &api.CreateKeyBackupRequest{UserID: alice, Algorithm: alg})
		matrixErr(t, err, 400, "M_MISSING_PARAM")
		_, err = ks.CreateKeyBackup(ctx, &api.CreateKeyBackupRequest{UserID: alice, Algorithm: alg, AuthData: json.RawMessage(`"x"`)})
		matrixErr(t, err, 400, "M_BAD_JSON")

		v1, err := ks.CreateKeyBackup(ctx, &api.CreateKeyBackupRequest{UserID: alice, Algorithm: alg, AuthData: auth})
		if err != nil || v1.Version != "1" {
			t.Fatalf("create: %+v %v", v1, err)
		}
		info := func(version string) *api.KeyBackupVersionResponse {
			t.Helper()
			i, err := ks.KeyBackupVersion(ctx, &api.KeyBackupVersionRequest{UserID: alice, Version: version})
			if err != nil {
				t.Fatal(err)
			}
			return i
		}
		if i := info(""); i.Version != "1" || i.Algorithm != alg || i.Count != 0 || string(i.AuthData) != `{"public_key":"abc","signatures":{}}` {
			t.Fatalf("current version: %+v", i)
		}

		const room = "!room:" + server
		r, err := ks.PutBackupKeys(ctx, &api.PutBackupKeysRequest{UserID: alice, Version: "1", Rooms: map[string]api.RoomKeyBackup{
			room: {Sessions: map[string]api.KeyBackupData{"s1": session(5, 1, false, "first"), "s2": session(0, 0, false, "other")}}}})
		if err != nil || r.Count != 2 || r.Etag == "0" {
			t.Fatalf("put: %+v %v", r, err)
		}
		etag := r.Etag

		// The spec's order: verified over unverified, then the lower first_message_index,
		// then the lower forwarded_count; an equal key keeps the stored one.
		steps := []struct {
			name    string
			key     api.KeyBackupData
			replace bool
		}{
			{"higher first_message_index", session(6, 0, false, "higher first_message_index"), false},
			{"same index, higher forwarded_count", session(5, 2, false, "same index, higher forwarded_count"), false},
			{"equal", session(5, 1, false, "equal"), false},
			{"same index, lower forwarded_count", session(5, 0, false, "same index, lower forwarded_count"), true},
			{"lower first_message_index", session(4, 9, false, "lower first_message_index"), true},
			{"verified with a higher index", session(10, 3, true, "verified with a higher index"), true},
			{"unverified with index 0", session(0, 0, false, "unverified with index 0"), false},
			{"verified, lower index", session(9, 5, true, "verified, lower index"), true},
		}
		want := "first"
		for _, s := range steps {
			r, err := put(ks, alice, "1", room, "s1", s.key)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if s.replace {
				want = s.name
			}
			if got := mark(t, ks, alice, "1", room, "s1"); got != want {
				t.Fatalf("%s: stored %q, want %q", s.name, got, want)
			}
			if (r.Etag != etag) != s.replace || r.Count != 2 {
				t.Fatalf("%s: etag %s → %s, count %d", s.name, etag, r.Etag, r.Count)
			}
			etag = r.Etag
		}
		if i := info(""); i.Etag != etag || i.Count != 2 {
			t.Fatalf("version after puts: %+v, etag %s", i, etag)
		}

		// Bad keys: nothing stored.
		bad := []struct {
			name string
			key  api.KeyBackupData
			code string
		}{
			{"negative index", session(-1, 0, true, "x"), "M_INVALID_PARAM"},
			{"negative forwarded_count", session(0, -1, true, "x"), "M_INVALID_PARAM"},
			{"session_data not an object", api.KeyBackupData{SessionData: json.RawMessage(`"x"`)}, "M_BAD_JSON"},
			{"no session_data", api.KeyBackupData{}, "M_BAD_JSON"},
		}
		for _, b := range bad {
			_, err := ks.PutBackupKeys(ctx, &api.PutBackupKeysRequest{UserID: alice, Version: "1", Rooms: map[string]api.RoomKeyBackup{
				room: {Sessions: map[string]api.KeyBackupData{"s3": session(0, 0, true, "good"), "s4": b.key}}}})
			matrixErr(t, err, 400, b.code)
			if i := info("1"); i.Count != 2 || i.Etag != etag {
				t.Fatalf("%s: stored %+v", b.name, i)
			}
		}

		// Reads: all, by room, by session.
		all, err := ks.BackupKeys(ctx, &api.BackupKeysRequest{UserID: alice, Version: "1"})
		if err != nil || len(all.Rooms) != 1 || len(all.Rooms[room].Sessions) != 2 || !all.Rooms[room].Sessions["s1"].IsVerified {
			t.Fatalf("all keys: %+v %v", all, err)
		}
		if r, err := ks.BackupKeys(ctx, &api.BackupKeysRequest{UserID: alice, Version: "1", RoomID: "!other:" + server}); err != nil || len(r.Rooms) != 0 {
			t.Fatalf("another room: %+v %v", r, err)
		}

		// A second version becomes the current one; the first takes no more keys.
		v2, err := ks.CreateKeyBackup(ctx, &api.CreateKeyBackupRequest{UserID: alice, Algorithm: alg, AuthData: auth})
		if err != nil || v2.Version != "2" || info("").Version != "2" {
			t.Fatalf("second version: %+v %v", v2, err)
		}
		_, err = put(ks, alice, "1", room, "s9", session(0, 0, false, "x"))
		matrixErr(t, err, 403, api.ErrCodeWrongRoomKeysVersion)
		if me := httputil.AsMatrixError(err); me.Extra["current_version"] != "2" {
			t.Fatalf("current_version: %+v", me.Extra)
		}
		for _, v := range []string{"7", "x", "0", ""} {
			_, err = put(ks, alice, v, room, "s9", session(0, 0, false, "x"))
			matrixErr(t, err, 404, "M_NOT_FOUND")
		}
		_, err = put(ks, bob, "2", room, "s9", session(0, 0, false, "x"))
		matrixErr(t, err, 404, "M_NOT_FOUND")
		if mark(t, ks, alice, "1", room, "s1") != want {
			t.Fatal("the old version's keys changed")
		}

		// Updating a version: its algorithm cannot change.
		err = ks.UpdateKeyBackup(ctx, &api.CreateKeyBackupRequest{UserID: alice, Version: "2", Algorithm: "other", AuthData: auth})
		matrixErr(t, err, 400, "M_INVALID_PARAM")
		err = ks.UpdateKeyBackup(ctx, &api.CreateKeyBackupRequest{UserID: alice, Version: "9", Algorithm: alg, AuthData: auth})
		matrixErr(t, err, 404, "M_NOT_FOUND")
		if err := ks.UpdateKeyBackup(ctx, &api.CreateKeyBackupRequest{UserID: alice, Version: "2", Algorithm: alg,
			AuthData: json.RawMessage(`{"public_key":"new"}`)}); err != nil {
			t.Fatal(err)
		}
		if i := info("2"); string(i.AuthData) != `{"public_key":"new"}` {
			t.Fatalf("updated: %+v", i)
		}

		// Deleting keys: the etag changes when something went; deleting nothing keeps it.
		r, err = ks.DeleteBackupKeys(ctx, &api.BackupKeysRequest{UserID: alice, Version: "1", RoomID: room, SessionID: "s2"})
		if err != nil || r.Count != 1 || r.Etag == etag {
			t.Fatalf("delete a session: %+v %v", r, err)
		}
		etag = r.Etag
		r, err = ks.DeleteBackupKeys(ctx, &api.BackupKeysRequest{UserID: alice, Version: "1", RoomID: "!none:" + server})
		if err != nil || r.Count != 1 || r.Etag != etag {
			t.Fatalf("delete nothing: %+v %v", r, err)
		}
		r, err = ks.DeleteBackupKeys(ctx, &api.BackupKeysRequest{UserID: alice, Version: "1"})
		if err != nil || r.Count != 0 || r.Etag == etag {
			t.Fatalf("delete all: %+v %v", r, err)
		}

		// Deleting a version: gone (and the older one current again), deleting it again
		// is no error, a version that never was is 404.
		if _, err := put(ks, alice, "2", room, "s1", session(0, 0, false, "v2")); err != nil {
			t.Fatal(err)
		}
		if err := ks.DeleteKeyBackup(ctx, &api.KeyBackupVersionRequest{UserID: alice, Version: "2"}); err != nil {
			t.Fatal(err)
		}
		if err := ks.DeleteKeyBackup(ctx, &api.KeyBackupVersionRequest{UserID: alice, Version: "2"}); err != nil {
			t.Fatalf("deleting again: %v", err)
		}
		matrixErr(t, ks.DeleteKeyBackup(ctx, &api.KeyBackupVersionRequest{UserID: alice, Version: "8"}), 404, "M_NOT_FOUND")
		_, err = ks.KeyBackupVersion(ctx, &api.KeyBackupVersionRequest{UserID: alice, Version: "2"})
		matrixErr(t, err, 404, "M_NOT_FOUND")
		_, err = ks.BackupKeys(ctx, &api.BackupKeysRequest{UserID: alice, Version: "2"})
		matrixErr(t, err, 404, "M_NOT_FOUND")
		_, err = put(ks, alice, "2", room, "s1", session(0, 0, false, "x"))
		matrixErr(t, err, 404, "M_NOT_FOUND")
		if i := info(""); i.Version != "1" {
			t.Fatalf("current after deleting 2: %+v", i)
		}
		// Version numbers are never re-used.
		if v3, err := ks.CreateKeyBackup(ctx, &api.CreateKeyBackupRequest{UserID: alice, Algorithm: alg, AuthData: auth}); err != nil || v3.Version != "3" {
			t.Fatalf("third version: %+v %v", v3, err)
		}
		// Bob has his own.
		_, err = ks.KeyBackupVersion(ctx, &api.KeyBackupVersionRequest{UserID: bob})
		matrixErr(t, err, 404, "M_NOT_FOUND")
	})
}
