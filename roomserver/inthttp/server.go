package inthttp

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/roomserver/api"
)

// maxRequestBytes bounds an internal request (an event is at most 64 KiB; createRoom may
// carry initial_state).
const maxRequestBytes = 4 << 20

type rawJSON = json.RawMessage

// AddRoutes serves the roomserver's internal API on r (the internal listener's /api
// router) from a, the direct implementation.
func AddRoutes(r *mux.Router, a api.RoomserverAPI) {
	handle := func(name string, fn func(ctx context.Context, body []byte) (any, error)) {
		r.Handle(pathPrefix+name, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			body, me := httputil.ReadBody(req, maxRequestBytes)
			if me != nil {
				httputil.WriteError(w, me)
				return
			}
			resp, err := fn(req.Context(), body)
			if err != nil {
				if httputil.AsMatrixError(err).Status >= 500 {
					logrus.WithError(err).WithField("method", name).Error("roomserver internal API")
				}
				httputil.WriteError(w, err)
				return
			}
			httputil.WriteJSON(w, http.StatusOK, resp)
		})).Methods(http.MethodPost)
	}
	handle(pathCreateRoom, func(ctx context.Context, b []byte) (any, error) {
		var req api.CreateRoomRequest
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		return a.CreateRoom(ctx, &req)
	})
	handle(pathSendEvent, func(ctx context.Context, b []byte) (any, error) {
		var req api.SendEventRequest
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		return a.SendEvent(ctx, &req)
	})
	handle(pathPerformMember, func(ctx context.Context, b []byte) (any, error) {
		var req api.MembershipRequest
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		return a.PerformMembership(ctx, &req)
	})
	handle(pathForget, func(ctx context.Context, b []byte) (any, error) {
		var req roomUserReq
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		return emptyResp{}, a.Forget(ctx, req.RoomID, req.UserID)
	})
	handle(pathQueryMembership, func(ctx context.Context, b []byte) (any, error) {
		var req roomUserReq
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		m, id, err := a.QueryMembership(ctx, req.RoomID, req.UserID)
		return membershipResp{Membership: m, EventID: id}, err
	})
	handle(pathQueryState, func(ctx context.Context, b []byte) (any, error) {
		var req stateReq
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		evs, err := a.QueryCurrentState(ctx, req.RoomID, fromTuples(req.Tuples))
		return eventsResp{Events: orEmpty(evs)}, err
	})
	handle(pathQueryStateUser, func(ctx context.Context, b []byte) (any, error) {
		var req stateReq
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		evs, err := a.QueryStateForUser(ctx, req.RoomID, req.UserID, fromTuples(req.Tuples))
		return eventsResp{Events: orEmpty(evs)}, err
	})
	handle(pathQueryEvent, func(ctx context.Context, b []byte) (any, error) {
		var req eventIDReq
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		return a.QueryEvent(ctx, req.EventID)
	})
	handle(pathQueryVersion, func(ctx context.Context, b []byte) (any, error) {
		var req roomReq
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		v, err := a.QueryRoomVersion(ctx, req.RoomID)
		return stringResp{Value: v}, err
	})
	handle(pathQueryRoomsUser, func(ctx context.Context, b []byte) (any, error) {
		var req roomsForUserReq
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		rooms, err := a.QueryRoomsForUser(ctx, req.UserID, req.Memberships)
		return stringsResp{Values: rooms}, err
	})
	handle(pathSetAlias, func(ctx context.Context, b []byte) (any, error) {
		var req aliasReq
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		return emptyResp{}, a.SetRoomAlias(ctx, req.Alias, req.RoomID, req.UserID)
	})
	handle(pathResolveAlias, func(ctx context.Context, b []byte) (any, error) {
		var req aliasReq
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		roomID, servers, err := a.ResolveRoomAlias(ctx, req.Alias)
		return resolveResp{RoomID: roomID, Servers: servers}, err
	})
	handle(pathRemoveAlias, func(ctx context.Context, b []byte) (any, error) {
		var req aliasReq
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		return emptyResp{}, a.RemoveRoomAlias(ctx, req.Alias, req.UserID)
	})
	handle(pathAliasesForRoom, func(ctx context.Context, b []byte) (any, error) {
		var req roomReq
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		aliases, err := a.GetAliasesForRoom(ctx, req.RoomID)
		return stringsResp{Values: aliases}, err
	})
	handle(pathSetVisibility, func(ctx context.Context, b []byte) (any, error) {
		var req visibilityReq
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		return emptyResp{}, a.SetRoomVisibility(ctx, req.RoomID, req.UserID, req.Visibility)
	})
	handle(pathGetVisibility, func(ctx context.Context, b []byte) (any, error) {
		var req roomReq
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		v, err := a.GetRoomVisibility(ctx, req.RoomID)
		return stringResp{Value: v}, err
	})
	handle(pathQueryPublicRooms, func(ctx context.Context, b []byte) (any, error) {
		var req api.PublicRoomsRequest
		if err := decode(b, &req); err != nil {
			return nil, err
		}
		return a.QueryPublicRooms(ctx, &req)
	})
}

func decode(b []byte, v any) error {
	if me := httputil.DecodeJSONObject(b, v); me != nil {
		return me
	}
	return nil
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
