package internal

import (
	"context"
	"fmt"
	"testing"

	"github.com/axon-matrix/axon/roomserver/api"
)

// TestListedRoomsInDirectory: rooms an application service lists for a network
// (ListedRoomIDs) show whatever their visibility, after the published ones and once
// each; with OnlyListed they alone; unknown room IDs are left out.
func TestListedRoomsInDirectory(t *testing.T) {
	forEachDB(t, func(t *testing.T, rs *testRS) {
		ctx := context.Background()
		alice := user("alice")
		pub := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, Visibility: "public", Name: "Published"})
		bridged := newRoom(t, rs, api.CreateRoomRequest{UserID: alice, Name: "Bridged", Topic: "irc"})
		roomNames := func(resp *api.PublicRoomsResponse) string {
			var out []string
			for _, c := range resp.Chunk {
				out = append(out, c.Name)
			}
			return fmt.Sprint(out)
		}
		for _, tc := range []struct {
			req  api.PublicRoomsRequest
			want string
		}{
			{api.PublicRoomsRequest{}, "[Published]"},
			{api.PublicRoomsRequest{ListedRoomIDs: []string{bridged, "!unknown:" + testServer, bridged, pub}}, "[Published Bridged]"},
			{api.PublicRoomsRequest{ListedRoomIDs: []string{bridged}, OnlyListed: true}, "[Bridged]"},
			{api.PublicRoomsRequest{OnlyListed: true}, "[]"},
			{api.PublicRoomsRequest{ListedRoomIDs: []string{bridged}, Filter: "irc"}, "[Bridged]"},
		} {
			resp, err := rs.QueryPublicRooms(ctx, &tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := roomNames(resp); got != tc.want {
				t.Fatalf("%+v: got %s, want %s", tc.req, got, tc.want)
			}
		}
		resp, err := rs.QueryPublicRooms(ctx, &api.PublicRoomsRequest{ListedRoomIDs: []string{bridged}, OnlyListed: true})
		if err != nil || resp.Chunk[0].NumJoinedMembers != 1 || resp.Chunk[0].Topic != "irc" || resp.Chunk[0].RoomID != bridged {
			t.Fatalf("entry %+v %v", resp.Chunk, err)
		}
	})
}
