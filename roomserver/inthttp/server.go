package inthttp

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/roomserver/api"
)

// AddRoutes serves the roomserver's internal API on r (a router mounted at
// inthttp.PathPrefix, such as setup's InternalAPIMux) from a, the direct implementation.
// The internal API secret is checked in front of r (polylith.Start wraps the internal
// listener with inthttp.RequireSecret).
func AddRoutes(r *mux.Router, a api.RoomserverAPI) {
	sr := r.PathPrefix(pathPrefix).Subrouter()
	p := func(full string) string { return strings.TrimPrefix(full, pathPrefix) }

	inthttp.Handle(sr, p(pathCreateRoom), func(ctx context.Context, req *api.CreateRoomRequest) (*api.CreateRoomResponse, error) {
		return a.CreateRoom(ctx, req)
	})
	inthttp.Handle(sr, p(pathSendEvent), func(ctx context.Context, req *api.SendEventRequest) (*api.SendEventResponse, error) {
		return a.SendEvent(ctx, req)
	})
	inthttp.Handle(sr, p(pathPerformMember), func(ctx context.Context, req *api.MembershipRequest) (*api.SendEventResponse, error) {
		return a.PerformMembership(ctx, req)
	})
	inthttp.HandleErr(sr, p(pathForget), func(ctx context.Context, req *roomUserReq) error {
		return a.Forget(ctx, req.RoomID, req.UserID)
	})
	inthttp.Handle(sr, p(pathQueryMembership), func(ctx context.Context, req *roomUserReq) (*membershipResp, error) {
		m, id, err := a.QueryMembership(ctx, req.RoomID, req.UserID)
		return &membershipResp{Membership: m, EventID: id}, err
	})
	inthttp.Handle(sr, p(pathQueryState), func(ctx context.Context, req *stateReq) (*eventsResp, error) {
		evs, err := a.QueryCurrentState(ctx, req.RoomID, fromTuples(req.Tuples))
		return &eventsResp{Events: orEmpty(evs)}, err
	})
	inthttp.Handle(sr, p(pathQueryStateUser), func(ctx context.Context, req *stateReq) (*eventsResp, error) {
		evs, err := a.QueryStateForUser(ctx, req.RoomID, req.UserID, fromTuples(req.Tuples))
		return &eventsResp{Events: orEmpty(evs)}, err
	})
	inthttp.Handle(sr, p(pathQueryEvent), func(ctx context.Context, req *eventIDReq) (*api.EventJSON, error) {
		return a.QueryEvent(ctx, req.EventID)
	})
	inthttp.Handle(sr, p(pathQueryVersion), func(ctx context.Context, req *roomReq) (*stringResp, error) {
		v, err := a.QueryRoomVersion(ctx, req.RoomID)
		return &stringResp{Value: v}, err
	})
	inthttp.Handle(sr, p(pathQueryRoomsUser), func(ctx context.Context, req *roomsForUserReq) (*stringsResp, error) {
		rooms, err := a.QueryRoomsForUser(ctx, req.UserID, req.Memberships)
		return &stringsResp{Values: rooms}, err
	})
	// Arrow 2 (syncapi → roomserver): read-your-writes.
	inthttp.Handle(sr, p(pathQueryWritePos), func(ctx context.Context, req *roomUserReq) (*positionResp, error) {
		pos, err := a.QueryWritePosition(ctx, req.RoomID, req.UserID)
		return &positionResp{Pos: pos}, err
	})
	inthttp.HandleErr(sr, p(pathSetAlias), func(ctx context.Context, req *aliasReq) error {
		return a.SetRoomAlias(ctx, req.Alias, req.RoomID, req.UserID)
	})
	inthttp.Handle(sr, p(pathResolveAlias), func(ctx context.Context, req *aliasReq) (*resolveResp, error) {
		roomID, servers, err := a.ResolveRoomAlias(ctx, req.Alias)
		return &resolveResp{RoomID: roomID, Servers: servers}, err
	})
	inthttp.HandleErr(sr, p(pathRemoveAlias), func(ctx context.Context, req *aliasReq) error {
		return a.RemoveRoomAlias(ctx, req.Alias, req.UserID)
	})
	inthttp.Handle(sr, p(pathAliasesForRoom), func(ctx context.Context, req *roomReq) (*stringsResp, error) {
		aliases, err := a.GetAliasesForRoom(ctx, req.RoomID)
		return &stringsResp{Values: aliases}, err
	})
	inthttp.HandleErr(sr, p(pathSetVisibility), func(ctx context.Context, req *visibilityReq) error {
		return a.SetRoomVisibility(ctx, req.RoomID, req.UserID, req.Visibility)
	})
	inthttp.Handle(sr, p(pathGetVisibility), func(ctx context.Context, req *roomReq) (*stringResp, error) {
		v, err := a.GetRoomVisibility(ctx, req.RoomID)
		return &stringResp{Value: v}, err
	})
	inthttp.Handle(sr, p(pathQueryPublicRooms), func(ctx context.Context, req *api.PublicRoomsRequest) (*api.PublicRoomsResponse, error) {
		return a.QueryPublicRooms(ctx, req)
	})
	addFederationRoutes(sr, a, p)
	addEventsRoutes(sr, a, p) // events.go
}

func fromTuples(ts []stateTupleJSON) []api.StateTuple {
	if len(ts) == 0 {
		return nil
	}
	out := make([]api.StateTuple, len(ts))
	for i, t := range ts {
		out[i] = api.StateTuple{EventType: t.EventType, StateKey: t.StateKey}
	}
	return out
}

func toTuples(ts []api.StateTuple) []stateTupleJSON {
	out := make([]stateTupleJSON, len(ts))
	for i, t := range ts {
		out[i] = stateTupleJSON{EventType: t.EventType, StateKey: t.StateKey}
	}
	return out
}

func orEmpty(evs []json.RawMessage) []json.RawMessage {
	if evs == nil {
		return []json.RawMessage{}
	}
	return evs
}
