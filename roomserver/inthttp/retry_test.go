package inthttp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/roomserver/api"
)

// TestQueriesRetriedWritesNot checks each method's idempotency flag: against a server that
// drops every connection, a query is tried 1+retries times and a write once. SendEvent is
// retried only with a transaction ID, since a repeated (sender, device, txn) returns the
// first event instead of sending again.
func TestQueriesRetriedWritesNot(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path]++
		mu.Unlock()
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL, "", inthttp.WithRetries(2, time.Millisecond))
	ctx := context.Background()
	const room, user = "!r:" + server, "@u:" + server
	msg := func(txn string) *api.SendEventRequest {
		return &api.SendEventRequest{RoomID: room, Sender: user, DeviceID: "D", TxnID: txn, Type: "m.room.message", Content: json.RawMessage(`{}`)}
	}
	tests := []struct {
		name, path string
		query      bool
		call       func() error
	}{
		{"CreateRoom", pathCreateRoom, false, func() error { _, err := c.CreateRoom(ctx, &api.CreateRoomRequest{UserID: user}); return err }},
		{"SendEvent", pathSendEvent, false, func() error { _, err := c.SendEvent(ctx, msg("")); return err }},
		{"SendEvent with txn", pathSendEvent, true, func() error { _, err := c.SendEvent(ctx, msg("t1")); return err }},
		{"PerformMembership", pathPerformMember, false, func() error {
			_, err := c.PerformMembership(ctx, &api.MembershipRequest{Action: "join", RoomID: room, Sender: user})
			return err
		}},
		{"Forget", pathForget, false, func() error { return c.Forget(ctx, room, user) }},
		{"QueryMembership", pathQueryMembership, true, func() error { _, _, err := c.QueryMembership(ctx, room, user); return err }},
		{"QueryCurrentState", pathQueryState, true, func() error { _, err := c.QueryCurrentState(ctx, room, nil); return err }},
		{"QueryStateForUser", pathQueryStateUser, true, func() error { _, err := c.QueryStateForUser(ctx, room, user, nil); return err }},
		{"QueryEvent", pathQueryEvent, true, func() error { _, err := c.QueryEvent(ctx, "$e"); return err }},
		{"QueryEventsByID", pathQueryEventsByID, true, func() error { _, err := c.QueryEventsByID(ctx, []string{"$e"}); return err }},
		{"QueryRoomVersion", pathQueryVersion, true, func() error { _, err := c.QueryRoomVersion(ctx, room); return err }},
		{"QueryRoomsForUser", pathQueryRoomsUser, true, func() error { _, err := c.QueryRoomsForUser(ctx, user, nil); return err }},
		{"QueryWritePosition", pathQueryWritePos, true, func() error { _, err := c.QueryWritePosition(ctx, room, user); return err }},
		{"SetRoomAlias", pathSetAlias, false, func() error { return c.SetRoomAlias(ctx, "#a:"+server, room, user) }},
		{"ResolveRoomAlias", pathResolveAlias, true, func() error { _, _, err := c.ResolveRoomAlias(ctx, "#a:"+server); return err }},
		{"RemoveRoomAlias", pathRemoveAlias, false, func() error { return c.RemoveRoomAlias(ctx, "#a:"+server, user) }},
		{"GetAliasesForRoom", pathAliasesForRoom, true, func() error { _, err := c.GetAliasesForRoom(ctx, room); return err }},
		{"SetRoomVisibility", pathSetVisibility, false, func() error { return c.SetRoomVisibility(ctx, room, user, "public") }},
		{"GetRoomVisibility", pathGetVisibility, true, func() error { _, err := c.GetRoomVisibility(ctx, room); return err }},
		{"QueryPublicRooms", pathQueryPublicRooms, true, func() error { _, err := c.QueryPublicRooms(ctx, &api.PublicRoomsRequest{}); return err }},
		{"InputFederationEvents", pathInputFederation, true, func() error {
			_, err := c.InputFederationEvents(ctx, &api.InputFederationEventsRequest{RoomID: room})
			return err
		}},
		{"QueryMakeJoin", pathQueryMakeJoin, true, func() error { _, err := c.QueryMakeJoin(ctx, &api.MakeJoinRequest{RoomID: room}); return err }},
		{"PerformSendJoin", pathPerformSendJoin, true, func() error { _, err := c.PerformSendJoin(ctx, &api.SendJoinRequest{RoomID: room}); return err }},
		{"QueryStateAndAuthChain", pathQueryStateChain, true, func() error {
			_, err := c.QueryStateAndAuthChain(ctx, &api.StateAndAuthChainRequest{RoomID: room})
			return err
		}},
		{"QueryMissingEvents", pathQueryMissing, true, func() error {
			_, err := c.QueryMissingEvents(ctx, &api.MissingEventsRequest{RoomID: room})
			return err
		}},
		{"PerformInboundInvite", pathInboundInvite, true, func() error {
			_, err := c.PerformInboundInvite(ctx, &api.InboundInviteRequest{RoomVersion: "10", Event: []byte(`{}`)})
			return err
		}},
		{"QueryServerAllowedInRoom", pathQueryServerAllow, true, func() error { _, err := c.QueryServerAllowedInRoom(ctx, room, server); return err }},
		{"QueryAuthChain", pathQueryAuthChain, true, func() error { _, err := c.QueryAuthChain(ctx, &api.AuthChainRequest{RoomID: room}); return err }},
		{"QueryBackfill", pathQueryBackfill, true, func() error { _, err := c.QueryBackfill(ctx, &api.BackfillRequest{RoomID: room}); return err }},
		{"PerformBackfill", pathPerformBackfill, true, func() error {
			_, err := c.PerformBackfill(ctx, &api.BackfillHistoryRequest{RoomID: room})
			return err
		}},
		{"QueryEventByTimestamp", pathQueryEventByTime, true, func() error {
			_, err := c.QueryEventByTimestamp(ctx, &api.EventByTimestampRequest{RoomID: room, Dir: "f"})
			return err
		}},
		{"QueryHierarchy", pathQueryHierarchy, true, func() error {
			_, err := c.QueryHierarchy(ctx, &api.HierarchyRequest{RoomID: room, UserID: "@u:" + server})
			return err
		}},
		{"QueryFederationHierarchy", pathQueryFederationHierarchy, true, func() error {
			_, err := c.QueryFederationHierarchy(ctx, &api.FederationHierarchyRequest{RoomID: room, Origin: server})
			return err
		}},
	}
	// Every method is in the table (SendEvent twice).
	iface := reflect.TypeFor[api.RoomserverAPI]()
	for i := 0; i < iface.NumMethod(); i++ {
		name, found := iface.Method(i).Name, false
		for _, tc := range tests {
			found = found || tc.name == name
		}
		if !found {
			t.Errorf("method %s is not in the table", name)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			before := calls[inthttp.PathPrefix+tc.path]
			mu.Unlock()
			if err := tc.call(); !inthttp.IsTransportError(err) {
				t.Fatalf("err = %v, want a transport error", err)
			}
			want := 1
			if tc.query {
				want = 3
			}
			mu.Lock()
			got := calls[inthttp.PathPrefix+tc.path] - before
			mu.Unlock()
			if got != want {
				t.Fatalf("%d attempts, want %d", got, want)
			}
		})
	}
}
