package internal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/federation"
)

// PerformInvite implements api.FederationSenderAPI (arrow 17): invite v2 to the invitee's
// server, whose answer must be our event with its valid signature added.
func (a *API) PerformInvite(ctx context.Context, req *api.PerformInviteRequest) (*api.PerformInviteResponse, error) {
	version := matrix.RoomVersionID(req.RoomVersion)
	if _, err := matrix.GetRoomVersion(version); err != nil {
		return nil, httputil.InvalidParam("unsupported room version %q", req.RoomVersion)
	}
	ours, err := event.NewEventFromUntrustedJSON(req.Event, version)
	if err != nil {
		return nil, httputil.BadJSON("bad invite event: %v", err)
	}
	if ours.Type() != "m.room.member" || ours.StateKey() == nil {
		return nil, httputil.BadJSON("not a membership event")
	}
	server, ok := matrix.ServerNameOf(*ours.StateKey())
	if !ok || server == a.ServerName {
		return nil, httputil.InvalidParam("%q is not another server's user", *ours.StateKey())
	}
	res, err := a.Client.Invite(ctx, server, ours.RoomID(), ours.EventID(), federation.InviteRequest{
		RoomVersion: version, Event: req.Event, InviteRoomState: req.InviteRoomState})
	if err != nil {
		var he *federation.HTTPError
		if errors.As(err, &he) && he.StatusCode == http.StatusForbidden {
			return nil, httputil.Forbidden("%s refused the invite: %s", server, he.Message)
		}
		return nil, &httputil.MatrixError{Status: http.StatusBadGateway, ErrCode: "M_UNKNOWN",
			Err: fmt.Sprintf("could not send the invite to %s: %v", server, err)}
	}
	theirs, err := event.NewEventFromUntrustedJSON(res.Event, version)
	if err != nil {
		return nil, fmt.Errorf("invite: the event %s returned: %w", server, err)
	}
	if same, err := sameEvent(ours.JSON(), theirs.JSON()); err != nil || !same || theirs.EventID() != ours.EventID() {
		return nil, fmt.Errorf("invite: %s changed the invite event", server)
	}
	if err := a.verifyServerSignature(ctx, theirs, server); err != nil {
		return nil, fmt.Errorf("invite: %s's signature: %w", server, err)
	}
	return &api.PerformInviteResponse{Event: theirs.JSON()}, nil
}

// PerformLeave implements api.FederationSenderAPI (arrow 17): make_leave, then send_leave,
// with each server of req.ServerNames in turn.
func (a *API) PerformLeave(ctx context.Context, req *api.PerformLeaveRequest) (*api.PerformLeaveResponse, error) {
	if _, server, err := matrix.ParseUserID(req.UserID); err != nil || server != a.ServerName {
		return nil, httputil.InvalidParam("%q is not a user of this server", req.UserID)
	}
	var servers []string
	for _, s := range req.ServerNames {
		if s != a.ServerName && !slices.Contains(servers, s) && matrix.ValidateServerName(s) == nil {
			servers = append(servers, s)
		}
	}
	if len(servers) == 0 {
		return nil, httputil.NotFound("no other server to leave %s through", req.RoomID)
	}
	var errs []error
	for _, s := range servers {
		resp, err := a.leaveVia(ctx, s, req)
		if err == nil {
			return resp, nil
		}
		a.log().WithError(err).WithField("server", s).WithField("room_id", req.RoomID).Warn("remote leave failed")
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, &httputil.MatrixError{Status: http.StatusBadGateway, ErrCode: "M_UNKNOWN",
		Err: fmt.Sprintf("could not leave %s through any server: %v", req.RoomID, errors.Join(errs...))}
}

// leaveVia leaves through one server.
func (a *API) leaveVia(ctx context.Context, server string, req *api.PerformLeaveRequest) (*api.PerformLeaveResponse, error) {
	mk, err := a.Client.MakeLeave(ctx, server, req.RoomID, req.UserID)
	if err != nil {
		return nil, fmt.Errorf("make_leave: %w", err)
	}
	version := mk.Version()
	if _, err := matrix.GetRoomVersion(version); err != nil {
		return nil, fmt.Errorf("make_leave: unsupported room version %q", version)
	}
	e, err := a.buildFromTemplate(version, req.RoomID, req.UserID, "leave", mk.Event, nil)
	if err != nil {
		return nil, fmt.Errorf("make_leave template from %s: %w", server, err)
	}
	err = a.Client.SendLeave(ctx, server, req.RoomID, e.EventID(), e.JSON())
	var he *federation.HTTPError
	if errors.As(err, &he) && he.StatusCode == http.StatusNotFound && he.ErrCode == "M_UNRECOGNIZED" {
		// v1 answers [200, {}].
		var v1 []json.RawMessage
		path := "/_matrix/federation/v1/send_leave/" + url.PathEscape(req.RoomID) + "/" + url.PathEscape(e.EventID())
		err = a.Client.Do(ctx, server, http.MethodPut, path, nil, json.RawMessage(e.JSON()), &v1)
	}
	if err != nil {
		return nil, fmt.Errorf("send_leave: %w", err)
	}
	return &api.PerformLeaveResponse{RoomVersion: string(version), Event: e.JSON()}, nil
}
