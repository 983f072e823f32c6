package internal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/cjson"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/federation"
)

func (a *API) log() *logrus.Entry { return logrus.WithField("component", "federationsender") }

// supportedVersions are the room versions offered in make_join (every version this
// server implements).
func supportedVersions() []matrix.RoomVersionID {
	var out []matrix.RoomVersionID
	for _, v := range matrix.RoomVersions() {
		out = append(out, v.ID)
	}
	return out
}

// PerformJoin implements api.FederationSenderAPI (arrow 17): make_join, then send_join,
// with each server of req.ServerNames in turn until one succeeds.
func (a *API) PerformJoin(ctx context.Context, req *api.PerformJoinRequest) (*api.PerformJoinResponse, error) {
	if _, _, err := matrix.ParseRoomID(req.RoomID); err != nil && !matrix.ValidRoomID(req.RoomID) {
		return nil, httputil.InvalidParam("bad room ID %q", req.RoomID)
	}
	if _, server, err := matrix.ParseUserID(req.UserID); err != nil || server != a.ServerName {
		return nil, httputil.InvalidParam("%q is not a user of this server", req.UserID)
	}
	var extra map[string]json.RawMessage
	if len(req.Content) > 0 {
		if err := json.Unmarshal(req.Content, &extra); err != nil {
			return nil, httputil.BadJSON("join content is not a JSON object")
		}
	}
	var servers []string
	for _, s := range req.ServerNames {
		if s == a.ServerName || slices.Contains(servers, s) || matrix.ValidateServerName(s) != nil {
			continue
		}
		servers = append(servers, s)
	}
	if len(servers) == 0 {
		joins.WithLabelValues("no_server").Inc()
		return nil, httputil.NotFound("no other server to join %s through", req.RoomID)
	}
	var errs []error
	for _, s := range servers {
		resp, err := a.joinVia(ctx, s, req, extra)
		if err == nil {
			joins.WithLabelValues("ok").Inc()
			return resp, nil
		}
		a.log().WithError(err).WithField("server", s).WithField("room_id", req.RoomID).Warn("remote join failed")
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	joins.WithLabelValues("failed").Inc()
	return nil, joinError(req.RoomID, errs)
}

// joinError is what the client sees when no server let us join: the remote's refusal
// (M_FORBIDDEN) or unsupported room version when one said so, M_NOT_FOUND when every
// server said it does not know the room, else M_UNKNOWN.
func joinError(roomID string, errs []error) error {
	notFound := 0
	for _, err := range errs {
		var he *federation.HTTPError
		if !errors.As(err, &he) {
			continue
		}
		switch {
		case he.StatusCode == http.StatusForbidden:
			return &httputil.MatrixError{Status: http.StatusForbidden, ErrCode: "M_FORBIDDEN", Err: "the remote server refused the join: " + he.Message}
		case he.ErrCode == "M_INCOMPATIBLE_ROOM_VERSION" || he.ErrCode == "M_UNSUPPORTED_ROOM_VERSION":
			return &httputil.MatrixError{Status: http.StatusBadRequest, ErrCode: he.ErrCode, Err: "the room's version is not supported: " + he.Message}
		case he.StatusCode == http.StatusNotFound && he.ErrCode != "M_UNRECOGNIZED":
			notFound++
		}
	}
	if notFound == len(errs) {
		return httputil.NotFound("no server knows room %s", roomID)
	}
	return &httputil.MatrixError{Status: http.StatusBadGateway, ErrCode: "M_UNKNOWN",
		Err: fmt.Sprintf("could not join %s through any server: %v", roomID, errors.Join(errs...))}
}

// joinTemplate is the make_join answer's event.
type joinTemplate struct {
	Type       string                     `json:"type"`
	StateKey   *string                    `json:"state_key"`
	Sender     string                     `json:"sender"`
	RoomID     string                     `json:"room_id"`
	Content    map[string]json.RawMessage `json:"content"`
	PrevEvents json.RawMessage            `json:"prev_events"`
	AuthEvents json.RawMessage            `json:"auth_events"`
	Depth      int64                      `json:"depth"`
}

// joinVia joins through one server.
func (a *API) joinVia(ctx context.Context, server string, req *api.PerformJoinRequest, extra map[string]json.RawMessage) (*api.PerformJoinResponse, error) {
	mk, err := a.Client.MakeJoin(ctx, server, req.RoomID, req.UserID, supportedVersions())
	if err != nil {
		return nil, fmt.Errorf("make_join: %w", err)
	}
	version := mk.Version()
	if _, err := matrix.GetRoomVersion(version); err != nil {
		return nil, &federation.HTTPError{StatusCode: http.StatusBadRequest, ErrCode: "M_UNSUPPORTED_ROOM_VERSION",
			Message: fmt.Sprintf("room version %q", version)}
	}
	joinEvent, err := a.buildFromTemplate(version, req.RoomID, req.UserID, "join", mk.Event, extra)
	if err != nil {
		return nil, fmt.Errorf("make_join template from %s: %w", server, err)
	}
	sj, err := a.sendJoin(ctx, server, req.RoomID, joinEvent)
	if err != nil {
		return nil, err
	}
	return a.checkSendJoin(ctx, server, version, req.RoomID, joinEvent, sj)
}

// buildFromTemplate builds and signs our membership event (join or leave) from a
// make_join/make_leave template: the template's fields, its content with the caller's
// (display name, avatar, reason) under it, and the membership.
func (a *API) buildFromTemplate(version matrix.RoomVersionID, roomID, userID, membership string, raw json.RawMessage, extra map[string]json.RawMessage) (*event.Event, error) {
	var t joinTemplate
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("bad template: %w", err)
	}
	if t.Type != "m.room.member" || t.StateKey == nil || *t.StateKey != userID || t.Sender != userID || t.RoomID != roomID {
		return nil, fmt.Errorf("the template is not our user's %s of the room", membership)
	}
	content := map[string]json.RawMessage{}
	for k, v := range extra {
		content[k] = v
	}
	for k, v := range t.Content {
		content[k] = v
	}
	content["membership"], _ = json.Marshal(membership)
	b := event.Builder{Type: t.Type, StateKey: t.StateKey, Sender: t.Sender, RoomID: t.RoomID, Content: content, Depth: t.Depth,
		ReferenceHashes: map[string]string{}}
	var err error
	if b.PrevEvents, err = templateRefs(t.PrevEvents, b.ReferenceHashes); err != nil {
		return nil, fmt.Errorf("prev_events: %w", err)
	}
	if b.AuthEvents, err = templateRefs(t.AuthEvents, b.ReferenceHashes); err != nil {
		return nil, fmt.Errorf("auth_events: %w", err)
	}
	return b.Build(version, a.ServerName, a.Key.ID, a.Key.Private)
}

// templateRefs reads prev_events/auth_events in either form: event IDs (v3+) or [ID,
// {"sha256": …}] pairs (v1–v2), whose hashes go into hashes.
func templateRefs(raw json.RawMessage, hashes map[string]string) ([]string, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var ids []string
	if json.Unmarshal(raw, &ids) == nil {
		return ids, nil
	}
	ids = nil // a failed decoding above may have filled some
	var pairs [][]json.RawMessage
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, errors.New("neither event IDs nor [ID, hashes] pairs")
	}
	for _, p := range pairs {
		var id string
		var h struct {
			SHA256 string `json:"sha256"`
		}
		if len(p) < 2 || json.Unmarshal(p[0], &id) != nil || json.Unmarshal(p[1], &h) != nil {
			return nil, errors.New("bad [ID, hashes] pair")
		}
		ids = append(ids, id)
		hashes[id] = h.SHA256
	}
	return ids, nil
}

// sendJoin sends the join with send_join v2, or v1 when the server does not know v2.
func (a *API) sendJoin(ctx context.Context, server, roomID string, e *event.Event) (federation.SendJoinResponse, error) {
	sj, err := a.Client.SendJoin(ctx, server, roomID, e.EventID(), e.JSON(), false)
	var he *federation.HTTPError
	if err == nil || !errors.As(err, &he) || he.StatusCode != http.StatusNotFound || he.ErrCode != "M_UNRECOGNIZED" {
		if err != nil {
			err = fmt.Errorf("send_join: %w", err)
		}
		return sj, err
	}
	// v1 answers [200, {…}].
	var v1 []json.RawMessage
	path := "/_matrix/federation/v1/send_join/" + url.PathEscape(roomID) + "/" + url.PathEscape(e.EventID())
	if err := a.Client.Do(ctx, server, http.MethodPut, path, nil, json.RawMessage(e.JSON()), &v1); err != nil {
		return sj, fmt.Errorf("send_join v1: %w", err)
	}
	if len(v1) != 2 {
		return sj, errors.New("send_join v1: answer is not [200, {…}]")
	}
	if err := json.Unmarshal(v1[1], &sj); err != nil {
		return sj, fmt.Errorf("send_join v1: %w", err)
	}
	return sj, nil
}

// checkSendJoin verifies the send_join answer: the join event, if returned, is ours with
// at most signatures added (and those verify); state and auth chain events with a bad
// signature or malformed are dropped; the room's create event must be among them.
func (a *API) checkSendJoin(ctx context.Context, server string, version matrix.RoomVersionID, roomID string, ours *event.Event, sj federation.SendJoinResponse) (*api.PerformJoinResponse, error) {
	join := json.RawMessage(ours.JSON())
	if len(sj.Event) > 0 && !bytes.Equal(sj.Event, []byte("null")) {
		theirs, err := event.NewEventFromUntrustedJSON(sj.Event, version)
		if err != nil {
			return nil, fmt.Errorf("send_join: the returned join event: %w", err)
		}
		same, err := sameEvent(ours.JSON(), theirs.JSON())
		if err != nil {
			return nil, err
		}
		if !same || theirs.IsRedacted() {
			return nil, fmt.Errorf("send_join: %s changed our join event", server)
		}
		kept, _, err := a.verifiedEvents(ctx, version, roomID, []json.RawMessage{theirs.JSON()})
		if err != nil {
			return nil, err
		}
		if len(kept) != 1 {
			return nil, fmt.Errorf("send_join: the join event %s returned does not verify", server)
		}
		// The resident's own signature, when it added one, must verify too, even where the
		// auth rules do not ask for it (a join not through a restricted room).
		if _, signed := theirs.Signatures()[server]; signed {
			if err := a.verifyServerSignature(ctx, theirs, server); err != nil {
				return nil, fmt.Errorf("send_join: the join event %s returned: %w", server, err)
			}
		}
		join = kept[0]
	}
	state, stateEvents, err := a.verifiedEvents(ctx, version, roomID, sj.State)
	if err != nil {
		return nil, err
	}
	chain, chainEvents, err := a.verifiedEvents(ctx, version, roomID, sj.AuthChain)
	if err != nil {
		return nil, err
	}
	hasCreate := false
	for _, e := range append(stateEvents, chainEvents...) {
		if e.Type() == "m.room.create" && e.StateKeyEquals("") {
			hasCreate = true
			break
		}
	}
	if !hasCreate {
		return nil, fmt.Errorf("send_join: %s returned no valid m.room.create event", server)
	}
	origin := sj.Origin
	if origin == "" {
		origin = server
	}
	resp := &api.PerformJoinResponse{RoomVersion: string(version), Origin: origin, JoinEvent: join, StateEvents: state, AuthChain: chain}
	resp.StateEventIDs, resp.StateParsed = idsAndPDUs(stateEvents)
	resp.AuthChainIDs, resp.AuthChainParsed = idsAndPDUs(chainEvents)
	return resp, nil
}

// idsAndPDUs lists the IDs of checked events and the events as matrix.PDU (the
// PerformJoinResponse fields that spare the roomserver parsing them again).
func idsAndPDUs(events []*event.Event) ([]string, []matrix.PDU) {
	ids := make([]string, len(events))
	pdus := make([]matrix.PDU, len(events))
	for i, e := range events {
		ids[i], pdus[i] = e.EventID(), e
	}
	return ids, pdus
}

// sameEvent says whether two events are equal apart from their signatures and unsigned
// data.
func sameEvent(a, b []byte) (bool, error) {
	strip := func(raw []byte) ([]byte, error) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		delete(m, "signatures")
		delete(m, "unsigned")
		return cjson.Marshal(m, false)
	}
	sa, err := strip(a)
	if err != nil {
		return false, err
	}
	sb, err := strip(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(sa, sb), nil
}
