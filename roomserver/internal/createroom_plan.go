package internal

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/roomserver/api"
)

// eventTemplate is an event to build: what createRoom, SendEvent and PerformMembership ask
// the event builder for.
type eventTemplate struct {
	Type     string
	StateKey *string
	Content  json.RawMessage
	Redacts  string
	// Prev, when set, are the prev_events instead of the room's forward extremities: the
	// event forks the DAG (tests use it to make forks as federation will).
	Prev []string
	// TS, when positive, is the origin_server_ts instead of now (SendEventRequest.Timestamp).
	TS int64
}

func strPtr(s string) *string { return &s }

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// roomPlan is the sequence of events createRoom sends (arrow 4, clientapi → roomserver),
// in the spec's order.
type roomPlan struct {
	Version *matrix.RoomVersion
	// Create is the m.room.create content.
	Create json.RawMessage
	// Events follow the create event: creator join, power levels, canonical alias, preset,
	// initial_state, name, topic, invites.
	Events []eventTemplate
	// Alias is the full alias for room_alias_name, "" if none.
	Alias      string
	Visibility string
}

const (
	presetPrivate        = "private_chat"
	presetTrustedPrivate = "trusted_private_chat"
	presetPublic         = "public_chat"
)

// planCreateRoom turns a createRoom request into the events to send. It validates
// everything it can before a single event is built, so a bad request writes nothing.
func planCreateRoom(req *api.CreateRoomRequest, serverName string) (*roomPlan, error) {
	versionID := matrix.RoomVersionID(req.RoomVersion)
	if versionID == "" {
		versionID = matrix.DefaultRoomVersion
	}
	v, err := matrix.GetRoomVersion(versionID)
	if err != nil {
		return nil, httputil.UnsupportedRoomVersion("Room version %q is not supported", req.RoomVersion)
	}
	if !matrix.ValidUserID(req.UserID) {
		return nil, httputil.InvalidParam("Invalid user ID %q", req.UserID)
	}
	visibility := req.Visibility
	switch visibility {
	case "":
		visibility = "private"
	case "public", "private":
	default:
		return nil, httputil.InvalidParam("visibility must be \"public\" or \"private\"")
	}
	preset := req.Preset
	switch preset {
	case "":
		preset = presetPrivate
		if visibility == "public" {
			preset = presetPublic
		}
	case presetPrivate, presetTrustedPrivate, presetPublic:
	default:
		return nil, httputil.InvalidParam("Unknown preset %q", req.Preset)
	}
	invites := make([]string, 0, len(req.Invite))
	seenInvite := map[string]bool{req.UserID: true}
	for _, u := range req.Invite {
		if !matrix.ValidUserID(u) {
			return nil, httputil.InvalidParam("Invalid user ID to invite: %q", u)
		}
		if !seenInvite[u] {
			seenInvite[u] = true
			invites = append(invites, u)
		}
	}
	p := &roomPlan{Version: v, Visibility: visibility}

	// 1. m.room.create: creation_content, then the keys the server owns.
	create, err := objectOrEmpty(req.CreationContent, "creation_content")
	if err != nil {
		return nil, err
	}
	create["room_version"] = mustJSON(string(v.ID))
	if v.ImplicitRoomCreator {
		delete(create, "creator")
	} else {
		create["creator"] = mustJSON(req.UserID)
	}
	var additionalCreators []string
	if v.PrivilegedCreators {
		if raw, ok := create["additional_creators"]; ok {
			var list []string
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, httputil.BadJSON("creation_content.additional_creators must be an array of user IDs")
			}
			additionalCreators = list
		}
		if preset == presetTrustedPrivate {
			additionalCreators = appendUnique(additionalCreators, invites...)
		}
		if len(additionalCreators) > 0 {
			create["additional_creators"] = mustJSON(additionalCreators)
		}
	}
	p.Create = mustJSON(create)

	// 2. The creator's join, with their profile if the caller gave it.
	join, err := objectOrEmpty(req.CreatorMemberContent, "creator_member_content")
	if err != nil {
		return nil, err
	}
	join["membership"] = mustJSON("join")
	p.Events = append(p.Events, eventTemplate{Type: "m.room.member", StateKey: strPtr(req.UserID), Content: mustJSON(join)})

	// initial_state entries, checked now; power levels and preset keys they name take
	// precedence over the defaults.
	initial := make([]eventTemplate, 0, len(req.InitialState))
	inInitial := map[matrix.StateKeyTuple]bool{}
	var initialPL json.RawMessage
	for i, s := range req.InitialState {
		if s.Type == "" {
			return nil, httputil.BadJSON("initial_state[%d] has no type", i)
		}
		if _, err := objectOrEmpty(s.Content, fmt.Sprintf("initial_state[%d].content", i)); err != nil || len(s.Content) == 0 {
			return nil, httputil.BadJSON("initial_state[%d].content must be an object", i)
		}
		if s.Type == "m.room.create" || (s.Type == "m.room.member") {
			return nil, httputil.BadJSON("initial_state may not contain %s events", s.Type)
		}
		t := matrix.StateKeyTuple{EventType: s.Type, StateKey: s.StateKey}
		inInitial[t] = true
		if t == (matrix.StateKeyTuple{EventType: "m.room.power_levels"}) {
			initialPL = s.Content
			continue
		}
		initial = append(initial, eventTemplate{Type: s.Type, StateKey: strPtr(s.StateKey), Content: s.Content})
	}

	// 3. Power levels: the default, or initial_state's, with the override on top.
	pl := defaultPowerLevels(req.UserID, v, preset, invites)
	if initialPL != nil {
		if pl, err = objectOrEmpty(initialPL, "initial_state power levels"); err != nil {
			return nil, err
		}
	}
	override, err := objectOrEmpty(req.PowerLevelContentOverride, "power_level_content_override")
	if err != nil {
		return nil, err
	}
	for k, val := range override {
		pl[k] = val
	}
	p.Events = append(p.Events, eventTemplate{Type: "m.room.power_levels", StateKey: strPtr(""), Content: mustJSON(pl)})

	// 4. The canonical alias.
	if req.RoomAliasName != "" {
		p.Alias = "#" + req.RoomAliasName + ":" + serverName
		if strings.ContainsAny(req.RoomAliasName, ": \t\n") || !matrix.ValidRoomAlias(p.Alias) {
			return nil, httputil.InvalidParam("Invalid room_alias_name %q", req.RoomAliasName)
		}
		p.Events = append(p.Events, eventTemplate{Type: "m.room.canonical_alias", StateKey: strPtr(""),
			Content: mustJSON(map[string]string{"alias": p.Alias})})
	}

	// 5. The preset's events, unless initial_state sets them.
	joinRule, guestAccess := "invite", "can_join"
	if preset == presetPublic {
		joinRule, guestAccess = "public", "forbidden"
	}
	for _, e := range []struct{ typ, key, val string }{
		{"m.room.join_rules", "join_rule", joinRule},
		{"m.room.history_visibility", "history_visibility", "shared"},
		{"m.room.guest_access", "guest_access", guestAccess},
	} {
		if inInitial[matrix.StateKeyTuple{EventType: e.typ}] {
			continue
		}
		p.Events = append(p.Events, eventTemplate{Type: e.typ, StateKey: strPtr(""), Content: mustJSON(map[string]string{e.key: e.val})})
	}

	// 6. initial_state, in order.
	p.Events = append(p.Events, initial...)

	// 7. Name and topic.
	if req.Name != "" {
		p.Events = append(p.Events, eventTemplate{Type: "m.room.name", StateKey: strPtr(""), Content: mustJSON(map[string]string{"name": req.Name})})
	}
	if req.Topic != "" {
		p.Events = append(p.Events, eventTemplate{Type: "m.room.topic", StateKey: strPtr(""), Content: mustJSON(map[string]any{
			"topic":   req.Topic,
			"m.topic": map[string]any{"m.text": []map[string]string{{"body": req.Topic, "mimetype": "text/plain"}}},
		})})
	}

	// 8. Invites.
	for _, u := range invites {
		c := map[string]any{"membership": "invite"}
		if req.IsDirect {
			c["is_direct"] = true
		}
		p.Events = append(p.Events, eventTemplate{Type: "m.room.member", StateKey: strPtr(u), Content: mustJSON(c)})
	}
	return p, nil
}

// defaultPowerLevels is the power levels content of a new room (step 3 of createRoom).
// Before v12 the creator gets 100 and is the only one allowed to send state; from v12 the
// creator has infinite power and is not listed, and m.room.tombstone needs more than
// state_default (150). trusted_private_chat gives invitees the creator's level (v12: they
// are additional creators instead). Members of private chats may invite (level 0), of
// public rooms only moderators (50).
func defaultPowerLevels(creator string, v *matrix.RoomVersion, preset string, invites []string) map[string]json.RawMessage {
	users := map[string]int{}
	if !v.PrivilegedCreators {
		users[creator] = 100
		if preset == presetTrustedPrivate {
			for _, u := range invites {
				users[u] = 100
			}
		}
	}
	tombstone := 100
	if v.PrivilegedCreators {
		tombstone = 150
	}
	// As in Synapse: anyone in a private chat may invite, in a public room moderators.
	invite := 0
	if preset == presetPublic {
		invite = 50
	}
	return map[string]json.RawMessage{
		"users":          mustJSON(users),
		"users_default":  mustJSON(0),
		"events_default": mustJSON(0),
		"state_default":  mustJSON(50),
		"ban":            mustJSON(50),
		"kick":           mustJSON(50),
		"redact":         mustJSON(50),
		"invite":         mustJSON(invite),
		"events": mustJSON(map[string]int{
			"m.room.name":               50,
			"m.room.power_levels":       100,
			"m.room.history_visibility": 100,
			"m.room.canonical_alias":    50,
			"m.room.avatar":             50,
			"m.room.tombstone":          tombstone,
			"m.room.server_acl":         100,
			"m.room.encryption":         100,
		}),
		"notifications": mustJSON(map[string]int{"room": 50}),
	}
}

// objectOrEmpty parses raw as a JSON object; empty or null raw gives an empty object.
func objectOrEmpty(raw json.RawMessage, what string) (map[string]json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(raw) == 0 || string(raw) == "null" {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, httputil.BadJSON("%s must be a JSON object", what)
	}
	return m, nil
}

func appendUnique(list []string, add ...string) []string {
	seen := map[string]bool{}
	for _, s := range list {
		seen[s] = true
	}
	for _, s := range add {
		if !seen[s] {
			seen[s] = true
			list = append(list, s)
		}
	}
	return list
}
