package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

// The load tool speaks only the public client-server API (internal/csapi), so it can be
// pointed at any homeserver. Both modes set up the same way: registerUsers, then
// setupRooms.

// registerUsers registers o.users accounts named <prefix><runID>_<i> (user-interactive
// auth with m.login.dummy) and returns their clients, each holding its access token.
func registerUsers(ctx context.Context, o options, hc *http.Client, prefix, runID string) ([]*csapi.Client, error) {
	clients := make([]*csapi.Client, o.users)
	err := parallel(o.setupPar, o.users, func(i int) error {
		c := &csapi.Client{BaseURL: o.hs, HTTP: hc}
		name := fmt.Sprintf("%s%s_%d", prefix, runID, i)
		if _, err := c.Register(ctx, name, "loadtest-"+runID, "axon-loadtest"); err != nil {
			return fmt.Errorf("register %s: %w", name, err)
		}
		clients[i] = c
		return nil
	})
	return clients, err
}

// roomMembers gives room r the o.members users (r·members + k) mod users, k < members: the
// first creates the room, the others join it.
func roomMembers(o options) [][]int {
	members := make([][]int, o.rooms)
	for r := range o.rooms {
		for k := range o.members {
			members[r] = append(members[r], (r*o.members+k)%o.users)
		}
	}
	return members
}

// setupRooms creates o.rooms public rooms and joins their members; it returns the room IDs
// and each room's members (indexes into clients).
func setupRooms(ctx context.Context, o options, clients []*csapi.Client) ([]string, [][]int, error) {
	roomIDs := make([]string, o.rooms)
	members := roomMembers(o)
	if err := parallel(o.setupPar, o.rooms, func(r int) error {
		id, err := clients[members[r][0]].CreateRoom(ctx, csapi.CreateRoomRequest{Preset: "public_chat"})
		roomIDs[r] = id
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("createRoom: %w", err)
	}
	type joinJob struct{ r, u int }
	var joins []joinJob
	for r := range o.rooms {
		for _, u := range members[r][1:] {
			joins = append(joins, joinJob{r, u})
		}
	}
	if err := parallel(o.setupPar, len(joins), func(i int) error {
		return clients[joins[i].u].Join(ctx, roomIDs[joins[i].r])
	}); err != nil {
		return nil, nil, fmt.Errorf("join: %w", err)
	}
	return roomIDs, members, nil
}

// loadContent is what send mode's syncers read of a message's content.
type loadContent struct {
	LoadID string `json:"axon_loadtest_id"`
}

// syncFilter keeps send mode's responses small: no presence, members lazy-loaded, a large
// timeline so a burst of sends is not cut short (a limited timeline would count as missing
// deliveries).
const syncFilter = `{"presence":{"types":[]},"account_data":{"types":[]},"room":{"state":{"lazy_load_members":true},"timeline":{"limit":500},"ephemeral":{"types":[]},"account_data":{"types":[]}}}`

// syncSend is send mode's GET /sync.
func syncSend(ctx context.Context, c *csapi.Client, since string, timeout time.Duration) (*csapi.SyncResponse[loadContent], error) {
	return csapi.Sync[loadContent](ctx, c, csapi.SyncRequest{Since: since, Timeout: timeout, Filter: syncFilter})
}
