package internal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/federation"
)

// PerformKnock implements api.FederationSenderAPI (arrow 17): make_knock, then
// send_knock, with each server of req.ServerNames in turn until one accepts.
func (a *API) PerformKnock(ctx context.Context, req *api.PerformKnockRequest) (*api.PerformKnockResponse, error) {
	if _, _, err := matrix.ParseRoomID(req.RoomID); err != nil && !matrix.ValidRoomID(req.RoomID) {
		return nil, httputil.InvalidParam("bad room ID %q", req.RoomID)
	}
	if _, server, err := matrix.ParseUserID(req.UserID); err != nil || server != a.ServerName {
		return nil, httputil.InvalidParam("%q is not a user of this server", req.UserID)
	}
	var extra map[string]json.RawMessage
	if len(req.Content) > 0 {
		if err := json.Unmarshal(req.Content, &extra); err != nil {
			return nil, httputil.BadJSON("knock content is not a JSON object")
		}
	}
	var servers []string
	for _, s := range req.ServerNames {
		if s != a.ServerName && !slices.Contains(servers, s) && matrix.ValidateServerName(s) == nil {
			servers = append(servers, s)
		}
	}
	if len(servers) == 0 {
		return nil, httputil.NotFound("no other server to knock on %s through", req.RoomID)
	}
	var errs []error
	for _, s := range servers {
		resp, err := a.knockVia(ctx, s, req, extra)
		if err == nil {
			return resp, nil
		}
		a.log().WithError(err).WithField("server", s).WithField("room_id", req.RoomID).Warn("remote knock failed")
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	// The same verdicts as a join: the remote's refusal, an unsupported version, unknown room.
	err := joinError(req.RoomID, errs)
	if me := httputil.AsMatrixError(err); me.ErrCode == "M_UNKNOWN" {
		me.Err = fmt.Sprintf("could not knock on %s through any server: %v", req.RoomID, errors.Join(errs...))
	}
	return nil, err
}

// knockVia knocks through one server.
func (a *API) knockVia(ctx context.Context, server string, req *api.PerformKnockRequest, extra map[string]json.RawMessage) (*api.PerformKnockResponse, error) {
	mk, err := a.Client.MakeKnock(ctx, server, req.RoomID, req.UserID, supportedVersions())
	if err != nil {
		return nil, fmt.Errorf("make_knock: %w", err)
	}
	version := mk.Version()
	if _, err := matrix.GetRoomVersion(version); err != nil {
		return nil, &federation.HTTPError{StatusCode: http.StatusBadRequest, ErrCode: "M_UNSUPPORTED_ROOM_VERSION",
			Message: fmt.Sprintf("room version %q", version)}
	}
	e, err := a.buildFromTemplate(version, req.RoomID, req.UserID, "knock", mk.Event, extra)
	if err != nil {
		return nil, fmt.Errorf("make_knock template from %s: %w", server, err)
	}
	sk, err := a.Client.SendKnock(ctx, server, req.RoomID, e.EventID(), e.JSON())
	if err != nil {
		return nil, fmt.Errorf("send_knock: %w", err)
	}
	return &api.PerformKnockResponse{RoomVersion: string(version), Event: e.JSON(), KnockRoomState: sk.KnockRoomState}, nil
}
