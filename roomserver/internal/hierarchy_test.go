package internal

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/testenv"
	"github.com/axon-matrix/axon/roomserver/api"
)

// spaceFixture is a space tree on one server:
//
//	S (space, public): S2 (order "a"), R1 (order "b"), R2 (invite only), R3 (restricted to
//	S, suggested), S itself, a child without via, an unknown room, Remote (on "b.test")
//	S2 (space, public): S (a loop), R5 (public)
type spaceFixture struct {
	S, S2, R1, R2, R3, R5 string
	remote                string
}

func createSpaceTree(t *testing.T, rs *testRS, server, remoteChild string) spaceFixture {
	t.Helper()
	ctx := context.Background()
	alice := "@alice:" + server
	mk := func(req api.CreateRoomRequest) string {
		t.Helper()
		req.UserID = alice
		resp, err := rs.CreateRoom(ctx, &req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.RoomID
	}
	space := json.RawMessage(`{"type":"m.space"}`)
	f := spaceFixture{remote: remoteChild}
	f.S = mk(api.CreateRoomRequest{Preset: "public_chat", Name: "Space", CreationContent: space})
	f.S2 = mk(api.CreateRoomRequest{Preset: "public_chat", Name: "Sub", CreationContent: space})
	f.R1 = mk(api.CreateRoomRequest{Preset: "public_chat", Name: "One", Topic: "first"})
	f.R2 = mk(api.CreateRoomRequest{Preset: "private_chat", Name: "Two"})
	f.R3 = mk(api.CreateRoomRequest{Preset: "private_chat", Name: "Three", InitialState: []api.InitialStateEvt{{
		Type: "m.room.join_rules", Content: json.RawMessage(`{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"` + f.S + `"}]}`)}}})
	f.R5 = mk(api.CreateRoomRequest{Preset: "public_chat", Name: "Five"})
	child := func(parent, room, content string) {
		t.Helper()
		key := room
		if _, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: parent, Sender: alice, Type: "m.space.child",
			StateKey: &key, Content: json.RawMessage(content)}); err != nil {
			t.Fatal(err)
		}
	}
	via := `"via":["` + server + `"]`
	child(f.S, f.S2, `{`+via+`,"order":"a"}`)
	child(f.S, f.R1, `{`+via+`,"order":"b"}`)
	child(f.S, f.R2, `{`+via+`}`)
	child(f.S, f.R3, `{`+via+`,"suggested":true}`)
	child(f.S, f.S, `{`+via+`}`)
	child(f.S, "!novia:"+server, `{}`)
	child(f.S, "!gone:"+server, `{`+via+`}`)
	if remoteChild != "" {
		child(f.S, remoteChild, `{"via":["b.test"]}`)
	}
	child(f.S2, f.S, `{`+via+`}`)
	child(f.S2, f.R5, `{`+via+`}`)
	return f
}

func roomIDs(rooms []api.HierarchyRoom) []string {
	out := []string{}
	for _, r := range rooms {
		out = append(out, r.RoomID)
	}
	return out
}

func intPtr(n int) *int { return &n }

// TestQueryHierarchy: the client walk over rooms this server holds — depth first in the
// spec's child order, loops and children without via ignored, only rooms the user may
// see, max_depth, suggested_only, pagination and its errors.
func TestQueryHierarchy(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		f := createSpaceTree(t, rs, testServer, "")
		bob := "@bob:" + testServer
		q := func(req api.HierarchyRequest) (*api.HierarchyResponse, error) {
			if req.UserID == "" {
				req.UserID = bob
			}
			return rs.QueryHierarchy(ctx, &req)
		}
		tests := []struct {
			name string
			req  api.HierarchyRequest
			want []string
			code string
		}{
			{"outsider sees open rooms", api.HierarchyRequest{RoomID: f.S}, []string{f.S, f.S2, f.R5, f.R1}, ""},
			{"creator sees all", api.HierarchyRequest{RoomID: f.S, UserID: "@alice:" + testServer}, []string{f.S, f.S2, f.R5, f.R1, f.R2, f.R3}, ""},
			{"max_depth 0", api.HierarchyRequest{RoomID: f.S, MaxDepth: intPtr(0)}, []string{f.S}, ""},
			{"max_depth 1", api.HierarchyRequest{RoomID: f.S, MaxDepth: intPtr(1)}, []string{f.S, f.S2, f.R1}, ""},
			{"suggested_only", api.HierarchyRequest{RoomID: f.S, SuggestedOnly: true, UserID: "@alice:" + testServer}, []string{f.S, f.R3}, ""},
			{"sub-space", api.HierarchyRequest{RoomID: f.S2}, []string{f.S2, f.S, f.R1, f.R5}, ""},
			{"private root", api.HierarchyRequest{RoomID: f.R2}, nil, "M_FORBIDDEN"},
			{"unknown root", api.HierarchyRequest{RoomID: "!nope:" + testServer}, nil, "M_FORBIDDEN"},
			{"bad room ID", api.HierarchyRequest{RoomID: "nope"}, nil, "M_INVALID_PARAM"},
			{"negative max_depth", api.HierarchyRequest{RoomID: f.S, MaxDepth: intPtr(-1)}, nil, "M_INVALID_PARAM"},
			{"negative limit", api.HierarchyRequest{RoomID: f.S, Limit: -1}, nil, "M_INVALID_PARAM"},
			{"unknown token", api.HierarchyRequest{RoomID: f.S, From: "abc"}, nil, "M_INVALID_PARAM"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp, err := q(tt.req)
				if errCode(err) != tt.code {
					t.Fatalf("err %v, want %q", err, tt.code)
				}
				if tt.code != "" {
					return
				}
				if got := roomIDs(resp.Rooms); !slices.Equal(got, tt.want) || resp.NextBatch != "" {
					t.Fatalf("rooms %v next %q, want %v", got, resp.NextBatch, tt.want)
				}
			})
		}

		// The space's summary and children_state (stripped, with origin_server_ts, valid
		// children only, in the spec's order).
		resp, err := q(api.HierarchyRequest{RoomID: f.S, MaxDepth: intPtr(0)})
		if err != nil {
			t.Fatal(err)
		}
		root := resp.Rooms[0]
		if root.Name != "Space" || root.RoomType != "m.space" || root.JoinRule != "public" || root.NumJoinedMembers != 1 || root.RoomVersion == "" {
			t.Fatalf("summary %+v", root)
		}
		var keys []string
		for _, ev := range root.ChildrenState {
			var e map[string]any
			if err := json.Unmarshal(ev, &e); err != nil {
				t.Fatal(err)
			}
			if e["type"] != "m.space.child" || e["origin_server_ts"] == nil || e["sender"] != "@alice:"+testServer || e["event_id"] != nil {
				t.Fatalf("children_state entry %s", ev)
			}
			keys = append(keys, e["state_key"].(string))
		}
		if want := []string{f.S2, f.R1, f.R2, f.R3, f.S, "!gone:" + testServer}; !slices.Equal(slices.Sorted(slices.Values(keys[2:])), slices.Sorted(slices.Values(want[2:]))) || !slices.Equal(keys[:2], want[:2]) {
			t.Fatalf("children_state keys %v, want %v (ordered ones first)", keys, want)
		}

		// A restricted room shows once the user is in an allowed room.
		if _, err := rs.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: f.S, Sender: bob}); err != nil {
			t.Fatal(err)
		}
		resp, err = q(api.HierarchyRequest{RoomID: f.S})
		if err != nil || !slices.Equal(roomIDs(resp.Rooms), []string{f.S, f.S2, f.R5, f.R1, f.R3}) {
			t.Fatalf("after joining the space: %v %v", roomIDs(resp.Rooms), err)
		}

		// Pagination: pages of two, a page may be asked again, parameters may not change.
		var all []string
		page, err := q(api.HierarchyRequest{RoomID: f.S, Limit: 2})
		if err != nil || page.NextBatch == "" {
			t.Fatalf("page 1: %+v %v", page, err)
		}
		all = append(all, roomIDs(page.Rooms)...)
		tok := page.NextBatch
		if _, err := q(api.HierarchyRequest{RoomID: f.S, From: tok, MaxDepth: intPtr(1)}); errCode(err) != "M_INVALID_PARAM" {
			t.Fatalf("changed max_depth: %v", err)
		}
		if _, err := q(api.HierarchyRequest{RoomID: f.S, From: tok, SuggestedOnly: true}); errCode(err) != "M_INVALID_PARAM" {
			t.Fatalf("changed suggested_only: %v", err)
		}
		if _, err := q(api.HierarchyRequest{RoomID: f.S, From: tok, UserID: "@alice:" + testServer}); errCode(err) != "M_INVALID_PARAM" {
			t.Fatalf("another user's token: %v", err)
		}
		again, err := q(api.HierarchyRequest{RoomID: f.S, From: tok, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for tok != "" {
			page, err := q(api.HierarchyRequest{RoomID: f.S, From: tok, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) == 2 && !slices.Equal(roomIDs(page.Rooms), roomIDs(again.Rooms)) {
				t.Fatalf("page 2 twice: %v then %v", roomIDs(again.Rooms), roomIDs(page.Rooms))
			}
			all = append(all, roomIDs(page.Rooms)...)
			tok = page.NextBatch
		}
		if !slices.Equal(all, []string{f.S, f.S2, f.R5, f.R1, f.R3}) {
			t.Fatalf("paged walk %v", all)
		}
	})
}

// TestQueryFederationHierarchy: another server sees the space and its children held here
// that it may peek or join; the others are inaccessible_children; rooms not held here are
// left out; a private room is M_NOT_FOUND; a child's server ACL counts.
func TestQueryFederationHierarchy(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		f := createSpaceTree(t, rs, testServer, "")
		resp, err := rs.QueryFederationHierarchy(ctx, &api.FederationHierarchyRequest{RoomID: f.S, Origin: "b.test"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Room.RoomID != f.S || len(resp.Room.ChildrenState) != 6 {
			t.Fatalf("room %+v", resp.Room)
		}
		if got := roomIDs(resp.Children); !slices.Equal(got, []string{f.S2, f.R1, f.S}) {
			t.Fatalf("children %v", got)
		}
		if len(resp.Children[0].ChildrenState) != 2 {
			t.Fatalf("a child space's children_state: %v", resp.Children[0].ChildrenState)
		}
		if got := slices.Sorted(slices.Values(resp.InaccessibleChildren)); !slices.Equal(got, slices.Sorted(slices.Values([]string{f.R2, f.R3}))) {
			t.Fatalf("inaccessible %v", got)
		}
		sugg, err := rs.QueryFederationHierarchy(ctx, &api.FederationHierarchyRequest{RoomID: f.S, Origin: "b.test", SuggestedOnly: true})
		if err != nil || len(sugg.Children) != 0 || !slices.Equal(sugg.InaccessibleChildren, []string{f.R3}) || len(sugg.Room.ChildrenState) != 1 {
			t.Fatalf("suggested only: %+v %v", sugg, err)
		}
		if _, err := rs.QueryFederationHierarchy(ctx, &api.FederationHierarchyRequest{RoomID: f.R2, Origin: "b.test"}); errCode(err) != "M_NOT_FOUND" {
			t.Fatalf("private room: %v", err)
		}
		if _, err := rs.QueryFederationHierarchy(ctx, &api.FederationHierarchyRequest{RoomID: "!gone:" + testServer, Origin: "b.test"}); errCode(err) != "M_NOT_FOUND" {
			t.Fatalf("unknown room: %v", err)
		}
		empty := ""
		if _, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: f.R1, Sender: "@alice:" + testServer, Type: "m.room.server_acl",
			StateKey: &empty, Content: json.RawMessage(`{"allow":["*"],"deny":["b.test"]}`)}); err != nil {
			t.Fatal(err)
		}
		resp, err = rs.QueryFederationHierarchy(ctx, &api.FederationHierarchyRequest{RoomID: f.S, Origin: "b.test"})
		if err != nil || slices.Contains(roomIDs(resp.Children), f.R1) || !slices.Contains(resp.InaccessibleChildren, f.R1) {
			t.Fatalf("denied by the child's ACL: %+v %v", resp, err)
		}
	})
}

// hierarchySender is a federationsender whose /hierarchy and /publicRooms go to another
// roomserver of the test (arrow 7 without the wire), as origin.
type hierarchySender struct {
	fsapi.FederationSenderAPI
	remote *testRS
	origin string
	asked  []string
}

func (h *hierarchySender) QueryRemoteHierarchy(ctx context.Context, req *fsapi.QueryRemoteHierarchyRequest) (*fsapi.QueryRemoteHierarchyResponse, error) {
	h.asked = append(h.asked, req.RoomID)
	resp, err := h.remote.QueryFederationHierarchy(ctx, &api.FederationHierarchyRequest{RoomID: req.RoomID, Origin: h.origin, SuggestedOnly: req.SuggestedOnly})
	if err != nil {
		return nil, err
	}
	out := &fsapi.QueryRemoteHierarchyResponse{Origin: req.Servers[0], Room: mustJSON(resp.Room), InaccessibleChildren: resp.InaccessibleChildren}
	for _, c := range resp.Children {
		out.Children = append(out.Children, mustJSON(c))
	}
	return out, nil
}

func (h *hierarchySender) QueryRemotePublicRooms(ctx context.Context, req *fsapi.QueryRemotePublicRoomsRequest) (*fsapi.QueryRemotePublicRoomsResponse, error) {
	resp, err := h.remote.QueryPublicRooms(ctx, &api.PublicRoomsRequest{Limit: req.Limit, Since: req.Since, Filter: req.Filter})
	if err != nil {
		return nil, err
	}
	out := &fsapi.QueryRemotePublicRoomsResponse{NextBatch: resp.NextBatch, Total: int64(resp.Total),
		Chunk: []json.RawMessage{json.RawMessage(`{"name":"no room ID"}`)}}
	for _, c := range resp.Chunk {
		out.Chunk = append(out.Chunk, mustJSON(c))
	}
	return out, nil
}

// TestHierarchyAcrossServers: a user of b.test asks b.test for a.test's space; b.test
// asks a.test for what it does not hold (the space, its sub-space and a room of it) and
// uses its own room for the child it holds.
func TestHierarchyAcrossServers(t *testing.T) {
	ctx := context.Background()
	b := newNamedRoomserver(t, testenv.SQLitePath(t, "b"), "b.test")
	rb, err := b.CreateRoom(ctx, &api.CreateRoomRequest{UserID: "@bea:b.test", Preset: "public_chat", Name: "On B"})
	if err != nil {
		t.Fatal(err)
	}
	aSender := &hierarchySender{origin: "a.test"}
	a := newNamedRoomserver(t, testenv.SQLitePath(t, "a"), "a.test", WithFederationSender(aSender))
	aSender.remote = b
	f := createSpaceTree(t, a, "a.test", rb.RoomID)
	sender := &hierarchySender{remote: a, origin: "b.test"}
	b.fedSender = sender
	resp, err := b.QueryHierarchy(ctx, &api.HierarchyRequest{RoomID: f.S, UserID: "@bob:b.test"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := roomIDs(resp.Rooms), []string{f.S, f.S2, f.R5, f.R1, rb.RoomID}; !slices.Equal(got, want) {
		t.Fatalf("rooms %v, want %v", got, want)
	}
	if resp.Rooms[4].Name != "On B" || resp.Rooms[1].Name != "Sub" || len(resp.Rooms[0].ChildrenState) != 7 {
		t.Fatalf("summaries %+v", resp.Rooms)
	}
	// S from a.test with the summaries of its children S2 (with its children_state) and
	// R1; R5, a child of S2; the unknown room, left out of a.test's answers; nothing for
	// the inaccessible R2 and R3 (a.test said so) nor for b.test's own room.
	if !slices.Equal(sender.asked, []string{f.S, f.R5, "!gone:a.test"}) {
		t.Fatalf("asked a.test about %v", sender.asked)
	}
	// The federation answer about a.test's space leaves out the child a.test does not hold.
	fed, err := a.QueryFederationHierarchy(ctx, &api.FederationHierarchyRequest{RoomID: f.S, Origin: "b.test"})
	if err != nil || slices.Contains(roomIDs(fed.Children), rb.RoomID) || slices.Contains(fed.InaccessibleChildren, rb.RoomID) {
		t.Fatalf("federation answer %+v %v", fed, err)
	}

	// /publicRooms?server=a.test from b.test: a.test's directory, entries without a
	// room ID dropped; without a federationsender M_NOT_FOUND.
	if err := a.SetRoomVisibility(ctx, f.R1, "@alice:a.test", "public"); err != nil {
		t.Fatal(err)
	}
	pr, err := b.QueryPublicRooms(ctx, &api.PublicRoomsRequest{Server: "a.test", Limit: 10})
	if err != nil || len(pr.Chunk) != 1 || pr.Chunk[0].RoomID != f.R1 || pr.Chunk[0].Name != "One" {
		t.Fatalf("remote directory: %+v %v", pr, err)
	}
	if _, err := b.QueryPublicRooms(ctx, &api.PublicRoomsRequest{Server: "bad server!"}); errCode(err) != "M_INVALID_PARAM" {
		t.Fatalf("bad server name: %v", err)
	}
	plain := newNamedRoomserver(t, testenv.SQLitePath(t, "c"), "c.test")
	if _, err := plain.QueryPublicRooms(ctx, &api.PublicRoomsRequest{Server: "a.test"}); errCode(err) != "M_NOT_FOUND" {
		t.Fatalf("without a federationsender: %v", err)
	}
	if _, err := plain.QueryHierarchy(ctx, &api.HierarchyRequest{RoomID: f.S, UserID: "@c:c.test"}); errCode(err) != "M_FORBIDDEN" {
		t.Fatalf("another server's space without federation: %v", err)
	}
}

// summarySender answers every /hierarchy with a public room of that ID and no children.
type summarySender struct {
	fsapi.FederationSenderAPI
	asked int
}

func (s *summarySender) QueryRemoteHierarchy(_ context.Context, req *fsapi.QueryRemoteHierarchyRequest) (*fsapi.QueryRemoteHierarchyResponse, error) {
	s.asked++
	return &fsapi.QueryRemoteHierarchyResponse{Origin: req.Servers[0], Room: json.RawMessage(`{"room_id":"` + req.RoomID + `","num_joined_members":1}`)}, nil
}

func (s *summarySender) QueryRemotePublicRooms(context.Context, *fsapi.QueryRemotePublicRoomsRequest) (*fsapi.QueryRemotePublicRoomsResponse, error) {
	return nil, errors.New("not asked here")
}

// TestHierarchyRemoteBudget: a page asks other servers at most maxHierarchyRemote times,
// then ends with a next_batch from which the walk goes on; summaries without a join rule
// count as public.
func TestHierarchyRemoteBudget(t *testing.T) {
	ctx := context.Background()
	sender := &summarySender{}
	rs := newNamedRoomserver(t, testenv.SQLitePath(t, "rs"), "a.test", WithFederationSender(sender))
	alice := "@alice:a.test"
	cr, err := rs.CreateRoom(ctx, &api.CreateRoomRequest{UserID: alice, Preset: "public_chat", CreationContent: json.RawMessage(`{"type":"m.space"}`)})
	if err != nil {
		t.Fatal(err)
	}
	const n = maxHierarchyRemote + 5
	for i := range n {
		key := "!child" + strconv.Itoa(i) + ":x.test"
		if _, err := rs.SendEvent(ctx, &api.SendEventRequest{RoomID: cr.RoomID, Sender: alice, Type: "m.space.child", StateKey: &key,
			Content: json.RawMessage(`{"via":["x.test"]}`)}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := rs.QueryHierarchy(ctx, &api.HierarchyRequest{RoomID: cr.RoomID, UserID: "@bob:a.test"})
	if err != nil || len(page.Rooms) != 1+maxHierarchyRemote || page.NextBatch == "" || sender.asked != maxHierarchyRemote {
		t.Fatalf("page 1: %d rooms, next %q, asked %d, %v", len(page.Rooms), page.NextBatch, sender.asked, err)
	}
	if page.Rooms[1].JoinRule != "public" {
		t.Fatalf("a summary without join_rule: %+v", page.Rooms[1])
	}
	page, err = rs.QueryHierarchy(ctx, &api.HierarchyRequest{RoomID: cr.RoomID, UserID: "@bob:a.test", From: page.NextBatch})
	if err != nil || len(page.Rooms) != 5 || page.NextBatch != "" || sender.asked != n {
		t.Fatalf("page 2: %d rooms, next %q, asked %d, %v", len(page.Rooms), page.NextBatch, sender.asked, err)
	}
}
