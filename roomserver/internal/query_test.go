package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/axon-matrix/axon/roomserver/api"
)

func TestStreamPositionsDenseUnderConcurrency(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		const rooms, perRoom = 4, 15
		roomIDs := make([]string, rooms)
		for i := range roomIDs {
			roomIDs[i] = newRoom(t, rs, api.CreateRoomRequest{UserID: user(fmt.Sprint("u", i)), RoomVersion: "12", Preset: "public_chat"})
		}
		var wg sync.WaitGroup
		errs := make(chan error, rooms*perRoom)
		for i, room := range roomIDs {
			wg.Add(1)
			go func(i int, room string) {
				defer wg.Done()
				for j := 0; j < perRoom; j++ {
					_, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: user(fmt.Sprint("u", i)), Type: "m.room.message",
						Content: json.RawMessage(fmt.Sprintf(`{"body":"%d"}`, j)), DeviceID: "D", TxnID: fmt.Sprint(j)})
					if err != nil {
						errs <- err
					}
				}
			}(i, room)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		outs := rs.outbox.roomEvents(t)
		// Staging order is commit order: positions must be 1, 2, 3, … in it, with no gap.
		for i, o := range outs {
			if o.StreamPos != int64(i+1) {
				t.Fatalf("record %d has position %d", i, o.StreamPos)
			}
		}
		// Per room, depth grows by one with each event and each event follows the previous.
		last := map[string]string{}
		for _, o := range outs {
			var ev struct {
				RoomID     string   `json:"room_id"`
				PrevEvents []string `json:"prev_events"`
			}
			_ = json.Unmarshal(o.NewRoomEvent.Event, &ev)
			if ev.RoomID == "" { // v12 create event
				last[o.NewRoomEvent.EventID] = o.NewRoomEvent.EventID
				ev.RoomID = "!" + o.NewRoomEvent.EventID[1:]
			} else if len(ev.PrevEvents) != 1 || ev.PrevEvents[0] != last[ev.RoomID] {
				t.Fatalf("event %s prev_events %v, want [%s]", o.NewRoomEvent.EventID, ev.PrevEvents, last[ev.RoomID])
			}
			last[ev.RoomID] = o.NewRoomEvent.EventID
		}
	})
}

func TestStateForUser(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice, bob, carol := user("alice"), user("bob"), user("carol")
		room := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, Preset: "public_chat", Name: "first"})
		join := func(u string) {
			if _, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: u}); err != nil {
				t.Fatal(err)
			}
		}
		setName := func(name string) {
			if _, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.name", StateKey: sk(""),
				Content: json.RawMessage(`{"name":"` + name + `"}`)}); err != nil {
				t.Fatal(err)
			}
		}
		join(bob)
		setName("second")
		if _, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: "leave", RoomID: room, Sender: bob}); err != nil {
			t.Fatal(err)
		}
		// Long enough to cross several full snapshots.
		for i := 0; i < 40; i++ {
			setName(fmt.Sprint("name ", i))
		}
		join(carol)
		nameTuple := []api.StateTuple{{EventType: "m.room.name"}}
		tests := []struct {
			name     string
			user     string
			tuples   []api.StateTuple
			wantErr  string
			wantName string
			wantLen  int
		}{
			{"joined sees current state", carol, nameTuple, "", "name 39", 1},
			{"left sees state at leave", bob, nameTuple, "", "second", 1},
			{"left sees their leave", bob, []api.StateTuple{{EventType: "m.room.member", StateKey: bob}}, "", "", 1},
			{"left does not see later joins", bob, []api.StateTuple{{EventType: "m.room.member", StateKey: carol}}, "", "", 0},
			{"never joined", user("dave"), nil, "M_FORBIDDEN", "", 0},
			{"full current state", alice, nil, "", "", 9},
		}
		for _, tc := range tests {
			evs, err := rs.QueryStateForUser(ctx, room, tc.user, tc.tuples)
			if got := errCode(err); got != tc.wantErr {
				t.Fatalf("%s: error %q, want %q", tc.name, got, tc.wantErr)
			}
			if len(evs) != tc.wantLen {
				t.Fatalf("%s: %d events, want %d", tc.name, len(evs), tc.wantLen)
			}
			if tc.wantName != "" {
				var e struct {
					Content struct{ Name string } `json:"content"`
				}
				_ = json.Unmarshal(evs[0], &e)
				if e.Content.Name != tc.wantName {
					t.Fatalf("%s: name %q, want %q", tc.name, e.Content.Name, tc.wantName)
				}
			}
		}
		// A world_readable room shows its current state to anyone.
		if _, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: room, Sender: alice, Type: "m.room.history_visibility", StateKey: sk(""),
			Content: json.RawMessage(`{"history_visibility":"world_readable"}`)}); err != nil {
			t.Fatal(err)
		}
		if evs, err := rs.QueryStateForUser(ctx, room, user("dave"), nameTuple); err != nil || len(evs) != 1 {
			t.Fatalf("world_readable state for a stranger: %d %v", len(evs), err)
		}
		if _, err := rs.QueryStateForUser(ctx, "!unknown:"+testServer, alice, nil); errCode(err) != "M_NOT_FOUND" {
			t.Fatalf("unknown room: %v", err)
		}
		if _, err := rs.QueryEvent(ctx, "$unknown"); errCode(err) != "M_NOT_FOUND" {
			t.Fatalf("unknown event: %v", err)
		}
		joined, _ := rs.QueryRoomsForUser(ctx, carol, []string{"join"})
		if len(joined) != 1 || joined[0] != room {
			t.Fatalf("carol's rooms %v", joined)
		}
	})
}

func TestAliasesAndDirectory(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice, bob, carol := user("alice"), user("bob"), user("carol")
		var public []string
		for i, name := range []string{"Cats", "Dogs", "Cat videos", "Birds"} {
			public = append(public, newRoom(t, rs, api.CreateRoomRequest{UserID: alice, Visibility: "public", Name: name,
				Topic: fmt.Sprint("topic ", i), RoomAliasName: fmt.Sprint("pub", i)}))
		}
		private := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, Name: "Cats secret"})
		if _, err := rs.CreateRoom(ctx, &api.CreateRoomRequest{UserID: bob, RoomAliasName: "pub0"}); errCode(err) != "M_ROOM_IN_USE" {
			t.Fatalf("taken alias: %v", err)
		}
		if _, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: public[0], Sender: bob}); err != nil {
			t.Fatal(err)
		}
		alias := "#bobs:" + testServer
		steps := []struct {
			name    string
			do      func() error
			wantErr string
		}{
			{"bob adds an alias", func() error { return rs.SetRoomAlias(ctx, alias, public[0], bob) }, ""},
			{"taken", func() error { return rs.SetRoomAlias(ctx, alias, private, alice) }, "M_UNKNOWN"},
			{"remote alias", func() error { return rs.SetRoomAlias(ctx, "#x:elsewhere", public[0], bob) }, "M_INVALID_PARAM"},
			{"unknown room", func() error { return rs.SetRoomAlias(ctx, "#y:"+testServer, "!nope:"+testServer, bob) }, "M_NOT_FOUND"},
			{"carol may not remove it", func() error { return rs.RemoveRoomAlias(ctx, alias, carol) }, "M_FORBIDDEN"},
			{"room admin may remove it", func() error { return rs.RemoveRoomAlias(ctx, alias, alice) }, ""},
			{"gone", func() error { return rs.RemoveRoomAlias(ctx, alias, alice) }, "M_NOT_FOUND"},
			{"bob re-adds", func() error { return rs.SetRoomAlias(ctx, alias, public[0], bob) }, ""},
			{"creator removes", func() error { return rs.RemoveRoomAlias(ctx, alias, bob) }, ""},
			{"member may not publish", func() error { return rs.SetRoomVisibility(ctx, public[0], bob, "private") }, "M_FORBIDDEN"},
			{"admin unpublishes", func() error { return rs.SetRoomVisibility(ctx, public[3], alice, "private") }, ""},
			{"bad visibility", func() error { return rs.SetRoomVisibility(ctx, public[3], alice, "secret") }, "M_INVALID_PARAM"},
		}
		for _, st := range steps {
			if got := errCode(st.do()); got != st.wantErr {
				t.Fatalf("%s: error %q, want %q", st.name, got, st.wantErr)
			}
		}
		if got, servers, err := rs.ResolveRoomAlias(ctx, "#pub1:"+testServer); err != nil || got != public[1] || len(servers) != 1 || servers[0] != testServer {
			t.Fatalf("resolve: %s %v %v", got, servers, err)
		}
		if aliases, _ := rs.GetAliasesForRoom(ctx, public[2]); len(aliases) != 1 || aliases[0] != "#pub2:"+testServer {
			t.Fatalf("aliases %v", aliases)
		}
		if v, _ := rs.GetRoomVisibility(ctx, public[3]); v != "private" {
			t.Fatalf("visibility %q", v)
		}
		names := func(r *api.PublicRoomsResponse) string {
			var n []string
			for _, c := range r.Chunk {
				n = append(n, c.Name)
			}
			sort.Strings(n)
			return fmt.Sprint(n)
		}
		tests := []struct {
			req       api.PublicRoomsRequest
			wantNames string
			wantTotal int
			wantNext  string
		}{
			{api.PublicRoomsRequest{}, "[Cat videos Cats Dogs]", 3, ""},
			{api.PublicRoomsRequest{Filter: "CAT"}, "[Cat videos Cats]", 2, ""},
			{api.PublicRoomsRequest{Filter: "topic 1"}, "[Dogs]", 1, ""},
			{api.PublicRoomsRequest{Limit: 2}, "[Cats Dogs]", 3, "2"},
			{api.PublicRoomsRequest{Limit: 2, Since: "2"}, "[Cat videos]", 3, ""},
		}
		for _, tc := range tests {
			resp, err := rs.QueryPublicRooms(ctx, &tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if names(resp) != tc.wantNames || resp.Total != tc.wantTotal || resp.NextBatch != tc.wantNext {
				t.Fatalf("%+v: got %s total %d next %q", tc.req, names(resp), resp.Total, resp.NextBatch)
			}
		}
		resp, _ := rs.QueryPublicRooms(ctx, &api.PublicRoomsRequest{Filter: "Cats"})
		c := resp.Chunk[0]
		if c.NumJoinedMembers != 2 || c.JoinRule != "public" || c.GuestCanJoin || c.WorldReadable || c.CanonicalAlias != "#pub0:"+testServer || c.Topic != "topic 0" {
			t.Fatalf("entry %+v", c)
		}
		if _, err := rs.QueryPublicRooms(ctx, &api.PublicRoomsRequest{Since: "x"}); errCode(err) != "M_INVALID_PARAM" {
			t.Fatalf("bad since: %v", err)
		}
		// Removing the canonical alias also updates m.room.canonical_alias.
		if err := rs.RemoveRoomAlias(ctx, "#pub0:"+testServer, alice); err != nil {
			t.Fatal(err)
		}
		if ca := string(stateOf(t, rs, public[0])["m.room.canonical_alias/"]); ca != `{}` {
			t.Fatalf("canonical alias after removal: %s", ca)
		}
		if _, _, err := rs.ResolveRoomAlias(ctx, "#pub0:"+testServer); errCode(err) != "M_NOT_FOUND" {
			t.Fatalf("removed alias still resolves: %v", err)
		}
	})
}
