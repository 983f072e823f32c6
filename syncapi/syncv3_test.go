package syncapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/syncapi/routing"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// v3Users is the harness's userapi plus tokens "<localpart>:<device>_tok" for device
// <device> of @<localpart>:test (several devices of one user).
type v3Users struct{ *fakeUserAPI }

func (u v3Users) QueryAccessToken(ctx context.Context, tok string) (*userapi.Device, error) {
	if s, ok := strings.CutSuffix(tok, "_tok"); ok {
		if lp, dev, ok := strings.Cut(s, ":"); ok {
			return &userapi.Device{UserID: user(lp), DeviceID: dev}, nil
		}
	}
	return u.fakeUserAPI.QueryAccessToken(ctx, tok)
}

// v3Harness is a harness whose router knows v3Users' tokens and whose sync v3 clock the
// test moves (advance).
type v3Harness struct {
	*harness
	skew atomic.Int64 // added to the clock, ns
}

func newV3Harness(t *testing.T, dsn string) *v3Harness {
	h := &v3Harness{harness: newHarness(t, dsn)}
	h.router = mux.NewRouter()
	(&routing.Handlers{Syncer: h.api.Syncer, UserAPI: v3Users{h.users}, V3: h.api.V3}).Register(h.router)
	h.api.V3.Now = func() time.Time { return time.Now().Add(time.Duration(h.skew.Load())) }
	return h
}

func (h *v3Harness) advance(d time.Duration) { h.skew.Add(int64(d)) }

// v3Resp is a POST /sync answer (or error body).
type v3Resp struct {
	Errcode string `json:"errcode"`
	Error   string `json:"error"`
	Next    string `json:"next"`
	Typing  *struct {
		Events []struct {
			Type    string `json:"type"`
			RoomID  string `json:"room_id"`
			Content struct {
				UserIDs []string `json:"user_ids"`
			} `json:"content"`
		} `json:"events"`
	} `json:"typing"`
	ToDevice *struct {
		Events []struct {
			Content map[string]any `json:"content"`
		} `json:"events"`
		Limit int `json:"limit"`
	} `json:"to_device"`
	RoomMembers *struct {
		P *struct {
			Limit int    `json:"limit"`
			Sort  string `json:"sort"`
			Next  string `json:"next"`
		} `json:"p"`
		Events []clientEvent `json:"events"`
	} `json:"room_members"`
}

func (r v3Resp) toDeviceBodies() []string {
	var out []string
	if r.ToDevice != nil {
		for _, e := range r.ToDevice.Events {
			out = append(out, e.Content["body"].(string))
		}
	}
	return out
}

// v3Raw performs POST /sync?query with body and an Authorization header for token ("":
// none).
func (h *v3Harness) v3Raw(token, query, body string) (int, v3Resp) {
	h.t.Helper()
	code, raw := h.post(token, query, body)
	var r v3Resp
	if err := json.Unmarshal(raw, &r); err != nil {
		h.t.Fatalf("POST /sync?%s: %d %q", query, code, raw)
	}
	return code, r
}

// post performs POST /sync?query with body and returns the status and body.
func (h *v3Harness) post(token, query, body string) (int, []byte) {
	req := httptest.NewRequest(http.MethodPost, "/_matrix/client/v3/sync?"+query, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.router.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// v3 is v3Raw that must succeed.
func (h *v3Harness) v3(token, since, body string) v3Resp {
	h.t.Helper()
	q := ""
	if since != "" {
		q = "since=" + since
	}
	code, r := h.v3Raw(token, q, body)
	if code != 200 {
		h.t.Fatalf("POST /sync since=%q %s: %d %+v", since, body, code, r)
	}
	return r
}

// unknownSession asserts the seed's exact M_UNKNOWN_SYNC_SESSION answer.
func unknownSession(t *testing.T, code int, r v3Resp) {
	t.Helper()
	if code != 400 || r.Errcode != "M_UNKNOWN_SYNC_SESSION" || r.Error != "Session unknown or expired" {
		t.Fatalf("want 400 M_UNKNOWN_SYNC_SESSION, got %d %+v", code, r)
	}
}

// TestSyncV3Errors: the request rules of docs/sync-v3.md, one per row.
func TestSyncV3Errors(t *testing.T) {
	h := newV3Harness(t, testenv.SQLitePath(t, "v3errors"))
	alice := h.v3("alice_tok", "", `{"to_device":{}}`)
	other := strings.Replace(alice.Next, alice.Next[3:27], "0123456789abcdef01234567", 1)
	for _, tc := range []struct {
		name, token, query, body string
		status                   int
		errcode                  string
	}{
		{"access_token refused", "", "access_token=alice_tok", `{}`, 401, "M_MISSING_TOKEN"},
		{"access_token refused beside a header", "alice_tok", "access_token=alice_tok", `{}`, 401, "M_MISSING_TOKEN"},
		{"no token", "", "", `{}`, 401, "M_MISSING_TOKEN"},
		{"bad token", "nobody", "", `{}`, 401, "M_UNKNOWN_TOKEN"},
		{"malformed since", "alice_tok", "since=s12_3", `{}`, 400, "M_UNKNOWN_SYNC_SESSION"},
		{"unknown session", "alice_tok", "since=" + other, `{}`, 400, "M_UNKNOWN_SYNC_SESSION"},
		{"another user's session", "bob_tok", "since=" + alice.Next, `{}`, 400, "M_UNKNOWN_SYNC_SESSION"},
		{"another device's session", "alice:PHONE_tok", "since=" + alice.Next, `{}`, 400, "M_UNKNOWN_SYNC_SESSION"},
		{"to-device position never sent", "alice_tok", "since=" + alice.Next[:strings.LastIndex(alice.Next, "_")] + "_99", `{}`, 400, "M_UNKNOWN_SYNC_SESSION"},
		{"position ahead of the instance", "alice_tok", "since=" + strings.Replace(alice.Next, "_0_0_", "_5_0_", 1), `{}`, 400, "M_UNKNOWN_SYNC_SESSION"},
		{"unknown stream", "alice_tok", "", `{"room_member":{"room_id":"!a:test"}}`, 400, "M_INVALID_PARAM"},
		{"not JSON", "alice_tok", "", `{"typing":`, 400, "M_NOT_JSON"},
		{"wrong shape", "alice_tok", "", `{"typing":{"room_id":5}}`, 400, "M_BAD_JSON"},
		{"negative limit", "alice_tok", "", `{"to_device":{"limit":-1}}`, 400, "M_INVALID_PARAM"},
		{"bad timeout", "alice_tok", "timeout=soon", `{}`, 400, "M_INVALID_PARAM"},
		{"cursor of another snapshot", "alice_tok", "", `{"room_members":{"room_id":"!r:test","p":{"since":"999.5"}}}`, 400, "M_INVALID_PARAM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, r := h.v3Raw(tc.token, tc.query, tc.body)
			if code != tc.status || r.Errcode != tc.errcode {
				t.Fatalf("got %d %+v, want %d %s", code, r, tc.status, tc.errcode)
			}
			if tc.errcode == "M_UNKNOWN_SYNC_SESSION" {
				unknownSession(t, code, r)
			}
		})
	}
	// An empty body starts a session too; GET /sync stays the spec's.
	if code, r := h.v3Raw("alice_tok", "", ""); code != 200 || r.Next == "" {
		t.Fatalf("empty body: %d %+v", code, r)
	}
	if code, b := h.get("alice_tok", "/_matrix/client/v3/sync"); code != 200 || b["next_batch"] == nil {
		t.Fatalf("GET /sync: %d %v", code, b)
	}
}

// TestSyncV3Typing: the typing stream: the current typers of a new session's room, a
// long-poll woken by a typing change, the room_id sticky across requests, an empty answer
// keeping next, nothing for a room the user is not in, and a new room_id getting its
// current typers.
func TestSyncV3Typing(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			h := newV3Harness(t, dsn(t))
			room, other := "!typ:test", "!other:test"
			alice, bob := user("alice"), user("bob")
			h.createRoom(room, alice)
			h.member(room, bob, bob, "join")
			h.createRoom(other, bob)
			future := time.Now().Add(time.Hour).UnixMilli()
			h.edu(typingRec(1, other, future, bob))

			s0 := h.v3("alice_tok", "", `{"typing":{"room_id":"`+room+`"}}`)
			if s0.Typing != nil || s0.Next == "" {
				t.Fatalf("nobody typing yet: %+v", s0)
			}
			// Long-poll, sending no parameters: the room_id is sticky.
			done := make(chan v3Resp, 1)
			go func() {
				_, r := h.v3Raw("alice_tok", "timeout=10000&since="+s0.Next, `{}`)
				done <- r
			}()
			time.Sleep(100 * time.Millisecond)
			h.edu(typingRec(2, room, future, bob))
			var s1 v3Resp
			select {
			case s1 = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("typing did not wake the long-poll")
			}
			if s1.Typing == nil || len(s1.Typing.Events) != 1 || s1.Typing.Events[0].Type != "m.typing" ||
				s1.Typing.Events[0].RoomID != room || !reflect.DeepEqual(s1.Typing.Events[0].Content.UserIDs, []string{bob}) {
				t.Fatalf("typing %+v", s1)
			}
			// Nothing new: an empty answer keeps next (also after a timeout).
			if s2 := h.v3("alice_tok", s1.Next, ``); s2.Typing != nil || s2.Next != s1.Next {
				t.Fatalf("unchanged typing: %+v (next %q)", s2, s1.Next)
			}
			_, s2 := h.v3Raw("alice_tok", "timeout=50&since="+s1.Next, `{}`)
			if s2.Typing != nil || s2.Next != s1.Next {
				t.Fatalf("timed-out long-poll: %+v", s2)
			}
			// A room alice is not in: nothing, even though bob types there.
			if s3 := h.v3("alice_tok", s1.Next, `{"typing":{"room_id":"`+other+`"}}`); s3.Typing != nil {
				t.Fatalf("typing of a room alice is not in: %+v", s3)
			}
			// Bob switching rooms gets the current typers of the new one at once.
			b0 := h.v3("bob_tok", "", `{"typing":{"room_id":"`+room+`"}}`)
			b1 := h.v3("bob_tok", b0.Next, `{"typing":{"room_id":"`+other+`"}}`)
			if b1.Typing == nil || b1.Typing.Events[0].RoomID != other {
				t.Fatalf("new room_id: %+v", b1)
			}
		})
	}
}

// TestSyncV3ToDeviceSessions: two sessions of one device both receive the device's
// to-device messages, one slowly; a message is deleted only once both acknowledged it; a
// spec GET /sync of the device deletes nothing a live session lacks; a session that
// expires stops holding messages back; limit is negotiated and sticky.
func TestSyncV3ToDeviceSessions(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			h := newV3Harness(t, dsn(t))
			alice := user("alice")
			pending := func() []string { return h.eduSync("alice_tok", "").toDeviceBodies() }

			a0 := h.v3("alice_tok", "", `{"to_device":{"limit":500}}`)
			b0 := h.v3("alice_tok", "", `{"to_device":{"limit":1}}`)
			h.edu(toDeviceRec(1, alice, "ALICEDEV", "one"))
			h.edu(toDeviceRec(2, alice, "ALICEDEV", "two"))
			h.edu(toDeviceRec(3, alice, "OTHERDEV", "not yours"))

			a1 := h.v3("alice_tok", a0.Next, `{}`)
			if got := a1.toDeviceBodies(); !reflect.DeepEqual(got, []string{"one", "two"}) || a1.ToDevice.Limit != 100 {
				t.Fatalf("session A: %+v", a1.ToDevice)
			}
			a2 := h.v3("alice_tok", a1.Next, `{}`) // A acknowledges both
			if a2.ToDevice != nil {
				t.Fatalf("acknowledged messages sent again: %+v", a2.ToDevice)
			}
			// B has not had them: nothing is deleted, not even by a spec /sync past them.
			g0 := h.eduSync("alice_tok", "")
			h.eduSync("alice_tok", "since="+g0.NextBatch)
			if got := pending(); !reflect.DeepEqual(got, []string{"one", "two"}) {
				t.Fatalf("deleted before session B had them: %v", got)
			}
			// B, slow, with its sticky limit 1.
			b1 := h.v3("alice_tok", b0.Next, ``)
			b2 := h.v3("alice_tok", b1.Next, ``)
			if !reflect.DeepEqual(b1.toDeviceBodies(), []string{"one"}) || !reflect.DeepEqual(b2.toDeviceBodies(), []string{"two"}) || b1.ToDevice.Limit != 1 {
				t.Fatalf("session B: %+v then %+v", b1.ToDevice, b2.ToDevice)
			}
			if got := pending(); !reflect.DeepEqual(got, []string{"two"}) {
				t.Fatalf("after B acknowledged one: %v", got)
			}
			b3 := h.v3("alice_tok", b2.Next, ``)
			if got := pending(); len(got) != 0 || b3.ToDevice != nil {
				t.Fatalf("after both acknowledged: pending %v, B %+v", got, b3.ToDevice)
			}

			// A third session receives a message and goes silent; A keeps going.
			c0 := h.v3("alice_tok", "", `{"to_device":{}}`)
			h.edu(toDeviceRec(4, alice, "ALICEDEV", "four"))
			if got := h.v3("alice_tok", c0.Next, ``).toDeviceBodies(); !reflect.DeepEqual(got, []string{"four"}) {
				t.Fatalf("session C: %v", got)
			}
			a3 := h.v3("alice_tok", a2.Next, ``)
			b4 := h.v3("alice_tok", b3.Next, ``)
			h.advance(20 * time.Minute)
			a4 := h.v3("alice_tok", a3.Next, ``) // A acknowledges four; B and C have not
			h.v3("alice_tok", b4.Next, ``)       // B acknowledges four; C has not
			if got := pending(); !reflect.DeepEqual(got, []string{"four"}) {
				t.Fatalf("deleted while C is live: %v", got)
			}
			h.advance(11 * time.Minute) // C idle 31m: expired; A and B 11m
			h.v3("alice_tok", a4.Next, ``)
			if got := pending(); len(got) != 0 {
				t.Fatalf("an expired session still holds messages back: %v", got)
			}
			code, r := h.v3Raw("alice_tok", "since="+c0.Next, `{}`)
			unknownSession(t, code, r)
		})
	}
}

// TestSyncV3ToDeviceWakes: a to-device message wakes a long-poll of the device.
func TestSyncV3ToDeviceWakes(t *testing.T) {
	h := newV3Harness(t, testenv.SQLitePath(t, "v3wake"))
	s0 := h.v3("alice_tok", "", `{"to_device":{}}`)
	done := make(chan v3Resp, 1)
	go func() {
		_, r := h.v3Raw("alice_tok", "timeout=10000&since="+s0.Next, ``)
		done <- r
	}()
	time.Sleep(100 * time.Millisecond)
	h.edu(toDeviceRec(1, user("alice"), "ALICEDEV", "hi"))
	select {
	case r := <-done:
		if got := r.toDeviceBodies(); !reflect.DeepEqual(got, []string{"hi"}) {
			t.Fatalf("woken with %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("to-device message did not wake the long-poll")
	}
}

// TestSyncV3SessionLifetime: sessions survive a restart, expire after the idle timeout
// (also across a restart), are bounded per device (oldest idle evicted, other devices
// untouched), and another instance's database does not know them.
func TestSyncV3SessionLifetime(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			h := newV3Harness(t, dsn)
			s := h.v3("alice_tok", "", `{"to_device":{"limit":3}}`)
			idle := h.v3("alice_tok", "", `{}`)

			h2 := newV3Harness(t, dsn) // a restart
			s2 := h2.v3("alice_tok", s.Next, ``)
			h2.edu(toDeviceRec(1, user("alice"), "ALICEDEV", "x"))
			if r := h2.v3("alice_tok", s2.Next, ``); r.ToDevice == nil || r.ToDevice.Limit != 3 {
				t.Fatalf("sticky parameters lost over a restart: %+v", r)
			}
			h3 := newV3Harness(t, dsn)
			h3.advance(31 * time.Minute)
			code, r := h3.v3Raw("alice_tok", "since="+idle.Next, ``)
			unknownSession(t, code, r)

			other := newV3Harness(t, testenv.SQLitePath(t, "otherinstance"))
			code, r = other.v3Raw("alice_tok", "since="+s.Next, ``)
			unknownSession(t, code, r)

			// Per device at most 10: the 11th evicts the oldest idle one.
			h4 := newV3Harness(t, testenv.SQLitePath(t, "bounds"))
			phone := h4.v3("alice:PHONE_tok", "", `{}`)
			var toks []string
			for i := 0; i < 11; i++ {
				toks = append(toks, h4.v3("alice_tok", "", `{}`).Next)
				h4.advance(time.Millisecond * 5)
			}
			code, r = h4.v3Raw("alice_tok", "since="+toks[0], ``)
			unknownSession(t, code, r)
			for _, tok := range append(toks[1:], phone.Next) {
				tokUser := "alice_tok"
				if tok == phone.Next {
					tokUser = "alice:PHONE_tok"
				}
				h4.v3(tokUser, tok, ``)
			}
		})
	}
}

// memberWithName publishes a join of target with a display name.
func (h *harness) memberWithName(room, target, name string) string {
	return h.send(ev{room: room, sender: target, typ: "m.room.member", stateKey: sk(target),
		content: fmt.Sprintf(`{"membership":"join","displayname":%q}`, name)})
}

// TestSyncV3RoomMembers: 1,000 members paginated in a stable order while members join and
// leave during the walk (the snapshot of ?since= holds), both sorts, negotiation, deltas
// without p.since, a long-poll woken by a join, and no members for a user outside.
func TestSyncV3RoomMembers(t *testing.T) {
	for name, dsn := range testenv.Databases(t) {
		t.Run(name, func(t *testing.T) {
			h := newV3Harness(t, dsn(t))
			room := "!big:test"
			alice := user("alice")
			h.createRoom(room, alice)
			const n = 1000
			names := map[string]string{alice: ""}
			for i := 0; i < n; i++ {
				u := user(fmt.Sprintf("m%04d", i))
				names[u] = fmt.Sprintf("Name %03d", (i*7919)%n) // unsorted display names
				h.memberWithName(room, u, names[u])
			}
			h.state(room, alice, "m.room.power_levels", "", fmt.Sprintf(`{"users":{%q:100,%q:50,%q:50}}`, alice, user("m0500"), user("m0007")))
			wantPL := []string{alice, user("m0007"), user("m0500")} // 100, then 50 by name ("Name 541" < "Name 595"... checked below)

			// Negotiation: limit capped, unknown sort replaced by the default.
			s0 := h.v3("alice_tok", "", `{"room_members":{"room_id":"`+room+`","p":{"limit":1000,"sort":"by_height","since":"1"}}}`)
			if p := s0.RoomMembers.P; p == nil || p.Limit != 100 || p.Sort != "by_pl" || p.Next == "" || len(s0.RoomMembers.Events) != 100 {
				t.Fatalf("negotiated %+v, %d events", s0.RoomMembers.P, len(s0.RoomMembers.Events))
			}
			if name7, name500 := names[user("m0007")], names[user("m0500")]; name500 < name7 {
				wantPL = []string{alice, user("m0500"), user("m0007")}
			}
			if got := []string{*s0.RoomMembers.Events[0].StateKey, *s0.RoomMembers.Events[1].StateKey, *s0.RoomMembers.Events[2].StateKey}; !reflect.DeepEqual(got, wantPL) {
				t.Fatalf("by_pl starts with %v, want %v", got, wantPL)
			}

			// Walk by_name with pages of 64 while members join and leave.
			seen := map[string]bool{}
			var order []string
			cursor := "1"
			for page := 0; cursor != ""; page++ {
				r := h.v3("alice_tok", s0.Next, fmt.Sprintf(`{"room_members":{"p":{"limit":64,"sort":"by_name","since":%q}}}`, cursor))
				if r.RoomMembers == nil || r.RoomMembers.P.Sort != "by_name" || r.RoomMembers.P.Limit != 64 {
					t.Fatalf("page %d: %+v", page, r.RoomMembers)
				}
				for _, e := range r.RoomMembers.Events {
					if seen[*e.StateKey] {
						t.Fatalf("page %d: %s twice", page, *e.StateKey)
					}
					seen[*e.StateKey] = true
					order = append(order, *e.StateKey)
				}
				cursor = r.RoomMembers.P.Next
				// Churn during the walk: a newcomer named to sort first, a leave.
				h.memberWithName(room, user(fmt.Sprintf("new%d", page)), "AAA")
				h.member(room, user(fmt.Sprintf("m%04d", page*3)), user(fmt.Sprintf("m%04d", page*3)), "leave")
			}
			if len(order) != n+1 {
				t.Fatalf("walked %d members, want %d", len(order), n+1)
			}
			key := func(u string) string {
				if names[u] == "" {
					return strings.ToLower(u)
				}
				return strings.ToLower(names[u])
			}
			for i := 1; i < len(order); i++ {
				a, b := order[i-1], order[i]
				if key(a) > key(b) || (key(a) == key(b) && a > b) {
					t.Fatalf("by_name out of order at %d: %s (%q) before %s (%q)", i, a, key(a), b, key(b))
				}
			}

			// Deltas without p.since: the member events since the token (the churn).
			d := h.v3("alice_tok", s0.Next, `{}`)
			if d.RoomMembers == nil || d.RoomMembers.P != nil || len(d.RoomMembers.Events) != 2*((n+1+63)/64) {
				t.Fatalf("deltas: %+v", d.RoomMembers)
			}
			// A join wakes a long-poll; the page sticky limit stays.
			done := make(chan v3Resp, 1)
			go func() {
				_, r := h.v3Raw("alice_tok", "timeout=10000&since="+d.Next, `{}`)
				done <- r
			}()
			time.Sleep(100 * time.Millisecond)
			late := h.member(room, user("late"), user("late"), "join")
			select {
			case r := <-done:
				if r.RoomMembers == nil || len(r.RoomMembers.Events) != 1 || r.RoomMembers.Events[0].EventID != late {
					t.Fatalf("woken with %+v", r.RoomMembers)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a join did not wake the long-poll")
			}

			// Someone never in the room gets the spec's 403.
			code, r := h.v3Raw("zed_tok", "", `{"room_members":{"room_id":"`+room+`","p":{"since":"1"}}}`)
			if code != 403 || r.Errcode != "M_FORBIDDEN" {
				t.Fatalf("outsider: %d %+v", code, r)
			}
		})
	}
}
