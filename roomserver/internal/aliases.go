package internal

import (
	"context"
	"encoding/json"
	"errors"
	"sort"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// localAlias checks that alias is a valid alias on this server.
func (a *RoomserverInternalAPI) localAlias(alias string) error {
	if !matrix.ValidRoomAlias(alias) {
		return httputil.InvalidParam("Invalid room alias %q", alias)
	}
	if server, _ := matrix.ServerNameOf(alias); server != a.serverName {
		return httputil.InvalidParam("Room alias %s is not on this server", alias)
	}
	return nil
}

// SetRoomAlias points a local alias at a room. As in Synapse, any local user may create an
// alias for a known room; a taken alias is 409 M_UNKNOWN.
func (a *RoomserverInternalAPI) SetRoomAlias(ctx context.Context, alias, roomID, userID string) error {
	if err := a.localAlias(alias); err != nil {
		return err
	}
	if server, _ := matrix.ServerNameOf(userID); server != a.serverName {
		return httputil.Forbidden("Only local users may create aliases")
	}
	if _, err := a.knownRoom(ctx, a.db.Reader(), roomID); err != nil {
		return err
	}
	ok, err := a.db.Reader().InsertAlias(ctx, alias, roomID, userID)
	if err != nil {
		return err
	}
	if !ok {
		return &httputil.MatrixError{Status: 409, ErrCode: "M_UNKNOWN", Err: "Room alias " + alias + " already exists"}
	}
	return nil
}

// ResolveRoomAlias returns the room of an alias and servers that are in it: a local alias
// from the database, another server's from that server (arrow 7).
func (a *RoomserverInternalAPI) ResolveRoomAlias(ctx context.Context, alias string) (string, []string, error) {
	if !matrix.ValidRoomAlias(alias) {
		return "", nil, httputil.InvalidParam("Invalid room alias %q", alias)
	}
	if server, _ := matrix.ServerNameOf(alias); server != a.serverName {
		return a.resolveRemoteAlias(ctx, alias) // arrow 7 through the federationsender (directory_remote.go)
	}
	s := a.db.Reader()
	roomID, _, err := s.Alias(ctx, alias)
	if err != nil {
		return "", nil, err
	}
	if roomID == "" {
		return "", nil, httputil.NotFound("Room alias %s not found", alias)
	}
	members, err := s.RoomMembers(ctx, roomID, auth.MembershipJoin)
	if err != nil {
		return "", nil, err
	}
	servers := []string{a.serverName}
	seen := map[string]bool{a.serverName: true}
	var others []string
	for _, m := range members {
		if srv, ok := matrix.ServerNameOf(m); ok && !seen[srv] {
			seen[srv] = true
			others = append(others, srv)
		}
	}
	sort.Strings(others)
	return roomID, append(servers, others...), nil
}

// RemoveRoomAlias deletes a local alias: allowed for the alias's creator and for room
// members whose power level lets them send m.room.canonical_alias (room admins). If the
// room's m.room.canonical_alias names the alias, it is updated without it (as in Synapse),
// when the remover has the power to; the alias is deleted either way.
func (a *RoomserverInternalAPI) RemoveRoomAlias(ctx context.Context, alias, userID string) error {
	if err := a.localAlias(alias); err != nil {
		return err
	}
	roomID, _, err := a.db.Reader().Alias(ctx, alias)
	if err != nil {
		return err
	}
	if roomID == "" {
		return httputil.NotFound("Room alias %s not found", alias)
	}
	return a.writeRoom(ctx, "remove_alias", roomID, func(ctx context.Context, w *roomWriter) error {
		stillRoom, creator, err := w.s.Alias(ctx, alias)
		if err != nil {
			return err
		}
		if stillRoom != roomID {
			return httputil.NotFound("Room alias %s not found", alias)
		}
		if creator != userID {
			ok, err := a.canSendState(ctx, w.s, roomID, userID, "m.room.canonical_alias")
			if err != nil {
				return err
			}
			if !ok {
				return httputil.Forbidden("You did not create alias %s and may not change the room's aliases", alias)
			}
		}
		if err := w.s.DeleteAlias(ctx, alias); err != nil {
			return err
		}
		return w.dropFromCanonicalAlias(ctx, alias, userID)
	})
}

// dropFromCanonicalAlias sends a new m.room.canonical_alias without alias if the current
// one names it. A sender without the power to is not an error: the event is not sent.
func (w *roomWriter) dropFromCanonicalAlias(ctx context.Context, alias, sender string) error {
	ca, err := w.stateEvent(ctx, "m.room.canonical_alias", "")
	if err != nil || ca == nil {
		return err
	}
	content, err := objectOrEmpty(ca.Content(), "m.room.canonical_alias content")
	if err != nil {
		return nil // not ours to repair
	}
	changed := false
	var main string
	if json.Unmarshal(content["alias"], &main) == nil && main == alias {
		delete(content, "alias")
		changed = true
	}
	var alt []string
	if json.Unmarshal(content["alt_aliases"], &alt) == nil {
		kept := alt[:0:0]
		for _, x := range alt {
			if x != alias {
				kept = append(kept, x)
			}
		}
		if len(kept) != len(alt) {
			content["alt_aliases"] = mustJSON(kept)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	_, err = w.send(ctx, eventTemplate{Type: "m.room.canonical_alias", StateKey: strPtr(""), Content: mustJSON(content)}, sender, sendOpts{})
	if errCodeOf(err) == "M_FORBIDDEN" {
		return nil // build refused it before writing anything
	}
	return err
}

func errCodeOf(err error) string {
	var me *httputil.MatrixError
	if errors.As(err, &me) {
		return me.ErrCode
	}
	return ""
}

// GetAliasesForRoom lists a room's local aliases.
func (a *RoomserverInternalAPI) GetAliasesForRoom(ctx context.Context, roomID string) ([]string, error) {
	s := a.db.Reader()
	if _, err := a.knownRoom(ctx, s, roomID); err != nil {
		return nil, err
	}
	return s.AliasesForRoom(ctx, roomID)
}

// canSendState reports whether userID is joined to the room with the power level to send
// a state event of type typ.
func (a *RoomserverInternalAPI) canSendState(ctx context.Context, s *storage.Store, roomID, userID, typ string) (bool, error) {
	room, err := a.knownRoom(ctx, s, roomID)
	if err != nil {
		return false, err
	}
	if m, _, _, err := s.Membership(ctx, roomID, userID); err != nil || m != auth.MembershipJoin {
		return false, err
	}
	v, err := matrix.GetRoomVersion(matrix.RoomVersionID(room.RoomVersion))
	if err != nil {
		return false, err
	}
	createT, plT := matrix.StateKeyTuple{EventType: "m.room.create"}, matrix.StateKeyTuple{EventType: "m.room.power_levels"}
	nids, err := s.CurrentState(ctx, roomID, []matrix.StateKeyTuple{createT, plT})
	if err != nil {
		return false, err
	}
	rows, err := s.EventsByNID(ctx, []int64{nids[createT], nids[plT]})
	if err != nil {
		return false, err
	}
	var create, pl matrix.PDU
	if r := rows[nids[createT]]; r != nil {
		if create, err = a.events.Parse(v, r.EventID, r.JSON); err != nil {
			return false, err
		}
	}
	if r, ok := rows[nids[plT]]; ok && nids[plT] != 0 {
		if pl, err = a.events.Parse(v, r.EventID, r.JSON); err != nil {
			return false, err
		}
	}
	levels, err := auth.NewPowerLevels(create, pl)
	if err != nil {
		return false, err
	}
	return levels.UserPowerLevel(userID) >= levels.EventLevel(typ, true), nil
}
