package syncapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	rsapi "github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/syncapi/internal"
	"github.com/axon-matrix/axon/syncapi/types"
)

// The incremental /sync's shortcuts (the Notifier's record of what moved on topic 2 and the
// membership cache) must give exactly what the database path gives. A randomized sequence
// of joins, leaves, invites, messages, state changes, membership changes by state
// resolution (no timeline event of their own), out-of-order records and ignore lists is played; after
// each step every user syncs from a token (their last one, or an older one) through both
// paths, and the answers must be equal byte for byte.
func TestShortcutsMatchDatabase(t *testing.T) {
	forEachDB(t, func(t *testing.T, h *harness) {
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 42))
		now := time.Unix(1700000100, 0)
		fast := h.api.Syncer
		fast.Now = func() time.Time { return now }
		slow := internal.NewSyncer(h.api.DB, h.api.Notifier, nil)
		slow.Now, slow.NoShortcuts = fast.Now, true

		users := []string{user("u0"), user("u1"), user("u2"), user("u3"), user("u4")}
		rooms := []string{"!r0:test", "!r1:test", "!r2:test"}
		member := map[string]map[string]string{} // room → user → membership
		for _, r := range rooms {
			h.createRoom(r, users[0])
			member[r] = map[string]string{users[0]: "join"}
		}
		filters := []*internal.Filter{{}, lazyFilter(t)}
		compare := func(u string, since *types.StreamToken, f *internal.Filter) types.StreamToken {
			t.Helper()
			ctx := context.Background()
			a, err := fast.Sync(ctx, &internal.SyncRequest{UserID: u, DeviceID: "D", Since: since, Filter: f})
			if err != nil {
				t.Fatal(err)
			}
			b, err := slow.Sync(ctx, &internal.SyncRequest{UserID: u, DeviceID: "D", Since: since, Filter: f})
			if err != nil {
				t.Fatal(err)
			}
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if string(ja) != string(jb) {
				t.Fatalf("user %s since %v (seed %d):\nshortcuts: %s\ndatabase:  %s", u, since, seed, ja, jb)
			}
			next, err := types.ParseStreamToken(a.NextBatch)
			if err != nil {
				t.Fatal(err)
			}
			return next
		}
		tokens := map[string][]types.StreamToken{}
		for _, u := range users {
			tokens[u] = []types.StreamToken{compare(u, nil, filters[0])}
		}
		type syncAsked struct {
			since types.StreamToken
			f     *internal.Filter
		}
		asked := map[string]syncAsked{}
		quietSeen := false
		n := 0
		for step := 0; step < 120; step++ {
			r := rooms[rng.IntN(len(rooms))]
			u := users[rng.IntN(len(users))]
			joined := []string{}
			for _, x := range users {
				if member[r][x] == "join" {
					joined = append(joined, x)
				}
			}
			actor := joined[rng.IntN(len(joined))]
			switch op := rng.IntN(10); {
			case op < 4:
				h.msg(r, actor, fmt.Sprintf("m%d", step))
			case op == 4 && member[r][u] != "join":
				h.member(r, u, u, "join")
				member[r][u] = "join"
			case op == 5 && member[r][u] == "join" && u != users[0]:
				h.member(r, u, u, "leave")
				member[r][u] = "leave"
			case op == 6 && member[r][u] == "":
				h.member(r, actor, u, "invite")
				member[r][u] = "invite"
			case op == 7:
				h.state(r, actor, "m.room.topic", "", fmt.Sprintf(`{"topic":"t%d"}`, step))
			case op == 8 && u != users[0]:
				// State resolution changes u's membership without a timeline event of its own:
				// a message whose record adds a member event fetched over arrow 2.
				n++
				want := "join"
				if member[r][u] == "join" {
					want = "leave"
				}
				se := ev{id: fmt.Sprintf("$sr%d", n), room: r, sender: u, typ: "m.room.member", stateKey: sk(u), content: fmt.Sprintf(`{"membership":%q}`, want)}
				h.rs.mu.Lock()
				h.rs.events[se.id] = se.json()
				h.rs.mu.Unlock()
				msg := ev{id: h.nextID(), room: r, sender: actor, typ: "m.room.message", content: `{"body":"sr"}`}
				rec := record(h.pos+1, msg)
				rec.NewRoomEvent.AddsStateEventIDs = []string{se.id}
				h.pos++
				h.deliver(rec)
				member[r][u] = want
			case op == 9:
				// Two records out of order (another partition first): the watermark moves over
				// both at once.
				e1 := ev{id: h.nextID(), room: r, sender: actor, typ: "m.room.message", content: `{"body":"o1"}`}
				switch {
				case member[r][u] != "join" && rng.IntN(2) == 0:
					e1 = ev{id: e1.id, room: r, sender: u, typ: "m.room.member", stateKey: sk(u), content: `{"membership":"join"}`}
					member[r][u] = "join"
				case rng.IntN(2) == 0:
					e1 = ev{id: e1.id, room: r, sender: actor, typ: "m.room.topic", stateKey: sk(""), content: fmt.Sprintf(`{"topic":"o%d"}`, step)}
				}
				e2 := ev{id: h.nextID(), room: rooms[rng.IntN(len(rooms))], sender: users[0], typ: "m.room.message", content: `{"body":"o2"}`}
				h.deliver(record(h.pos+2, e2))
				h.deliver(record(h.pos+1, e1))
				h.pos += 2
			default:
				h.msg(r, actor, "x")
			}
			// redact redacts the newest unredacted message of room r: shared reads made
			// before must not serve its old content. Without a position (nor event) of its
			// own, the position does not move, so the same windows are read again after it.
			redact := func(withPos bool) bool {
				evs, err := h.api.DB.RoomEvents(context.Background(), r, 0, h.pos, true, 50)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range evs {
					if e.Type != "m.room.message" || e.RedactedBecause != nil {
						continue
					}
					red, redPos := "$unknown-redaction", int64(0)
					if withPos {
						red = h.send(ev{room: r, sender: users[0], typ: "m.room.redaction", content: `{"redacts":"` + e.EventID + `"}`})
						h.pos++
						redPos = h.pos
					}
					h.deliver(rsapi.OutputEvent{Type: rsapi.OutputRedaction, StreamPos: redPos, Redaction: &rsapi.OutputRedactionData{
						RedactedEventID: e.EventID, RedactionEventID: red,
						RedactedEvent: ev{id: e.EventID, room: r, sender: e.Sender, typ: "m.room.message", content: `{}`}.json()}})
					return true
				}
				return false
			}
			if rng.IntN(8) == 0 {
				redact(true)
			}
			if rng.IntN(10) == 0 {
				// An ignore list (topic 1) changes what both paths leave out, per recipient.
				list := `{"ignored_users":{}}`
				if rng.IntN(3) > 0 {
					list = fmt.Sprintf(`{"ignored_users":{%q:{}}}`, users[rng.IntN(len(users))])
				}
				h.accountData(users[rng.IntN(len(users))], "", "m.ignored_user_list", list)
			}
			pos := h.api.Notifier.Position().Room
			for _, x := range users {
				ts := tokens[x]
				since := ts[len(ts)-1]
				if rng.IntN(4) == 0 {
					since = ts[rng.IntN(len(ts))] // an older token: a longer window
				}
				quietSeen = quietSeen || h.api.Notifier.MembershipQuiet(x, since.Room, pos)
				f := filters[rng.IntN(len(filters))]
				next := compare(x, &since, f)
				tokens[x] = append(ts, next)
				asked[x] = syncAsked{since, f}
			}
			if rng.IntN(4) == 0 && redact(false) {
				for _, x := range users {
					a := asked[x]
					compare(x, &a.since, a.f)
				}
			}
		}
		if !quietSeen {
			t.Fatal("the shortcuts were never usable: the comparison proved nothing")
		}
	})
}

func lazyFilter(t *testing.T) *internal.Filter {
	f, err := internal.ParseFilter(json.RawMessage(`{"room":{"state":{"lazy_load_members":true},"timeline":{"limit":3}}}`))
	if err != nil {
		t.Fatal(err)
	}
	return f
}
