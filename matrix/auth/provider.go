package auth

import (
	"encoding/json"
	"fmt"

	"github.com/axon-matrix/axon/matrix"
)

// AuthEventProvider gives the state an event is authorised against: either its auth
// events, or the room state before it. Each method returns nil when the state holds no
// such event. In v12 rooms Create must still return the create event, although it is not
// listed in auth_events: the caller adds it (it is the event whose ID the room ID derives
// from).
type AuthEventProvider interface {
	Create() matrix.PDU
	PowerLevels() matrix.PDU
	JoinRules() matrix.PDU
	Member(userID string) matrix.PDU
	ThirdPartyInvite(token string) matrix.PDU
}

// AuthEvents is an AuthEventProvider over a fixed set of state events.
type AuthEvents struct {
	create, powerLevels, joinRules matrix.PDU
	members                        map[string]matrix.PDU
	thirdPartyInvites              map[string]matrix.PDU
}

// NewAuthEvents indexes events by (type, state_key). It rejects non-state events, types
// that never affect authorization, and two events with the same (type, state_key).
func NewAuthEvents(events []matrix.PDU) (*AuthEvents, error) {
	a := &AuthEvents{members: map[string]matrix.PDU{}, thirdPartyInvites: map[string]matrix.PDU{}}
	for _, e := range events {
		if err := a.add(e); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *AuthEvents) add(e matrix.PDU) error {
	if e == nil {
		return fmt.Errorf("auth: nil auth event")
	}
	t, ok := matrix.Tuple(e)
	if !ok {
		return fmt.Errorf("auth: auth event %s is not a state event", e.EventID())
	}
	dup := func(have matrix.PDU) error {
		if have != nil {
			return fmt.Errorf("auth: duplicate auth events for (%s, %q): %s and %s", t.EventType, t.StateKey, have.EventID(), e.EventID())
		}
		return nil
	}
	switch t.EventType {
	case TypeCreate, TypePowerLevels, TypeJoinRules:
		if t.StateKey != "" {
			return fmt.Errorf("auth: auth event %s of type %s has non-empty state_key", e.EventID(), t.EventType)
		}
		slot := map[string]*matrix.PDU{TypeCreate: &a.create, TypePowerLevels: &a.powerLevels, TypeJoinRules: &a.joinRules}[t.EventType]
		if err := dup(*slot); err != nil {
			return err
		}
		*slot = e
	case TypeMember:
		if err := dup(a.members[t.StateKey]); err != nil {
			return err
		}
		a.members[t.StateKey] = e
	case TypeThirdPartyInvite:
		if err := dup(a.thirdPartyInvites[t.StateKey]); err != nil {
			return err
		}
		a.thirdPartyInvites[t.StateKey] = e
	default:
		return fmt.Errorf("auth: event %s of type %s does not affect authorization", e.EventID(), t.EventType)
	}
	return nil
}

// Create returns the m.room.create event.
func (a *AuthEvents) Create() matrix.PDU { return a.create }

// PowerLevels returns the m.room.power_levels event.
func (a *AuthEvents) PowerLevels() matrix.PDU { return a.powerLevels }

// JoinRules returns the m.room.join_rules event.
func (a *AuthEvents) JoinRules() matrix.PDU { return a.joinRules }

// Member returns userID's m.room.member event.
func (a *AuthEvents) Member(userID string) matrix.PDU { return a.members[userID] }

// ThirdPartyInvite returns the m.room.third_party_invite event with state_key token.
func (a *AuthEvents) ThirdPartyInvite(token string) matrix.PDU { return a.thirdPartyInvites[token] }

// AuthEventAllowed reports whether the auth events selection algorithm (server-server
// API, "Auth events selection") may select a state event of tuple t for e: the create
// event (not in v12), the power levels, the sender's membership, and for m.room.member
// events the target's membership, the join rules (join, invite, knock), the
// third-party invite named by the token (invite), and the authorising user's membership
// (join with join_authorised_via_users_server, v8+).
func AuthEventAllowed(e matrix.PDU, t matrix.StateKeyTuple) bool {
	v := e.Version()
	switch t.EventType {
	case TypeCreate:
		return t.StateKey == "" && !v.RoomIDFromCreateEvent
	case TypePowerLevels:
		return t.StateKey == ""
	case TypeMember:
		if t.StateKey == e.Sender() {
			return true
		}
	}
	if e.Type() != TypeMember || e.StateKey() == nil {
		return false
	}
	target := *e.StateKey()
	c, _ := parseMemberContent(e.Content())
	membership := ""
	if c.Membership != nil {
		membership = *c.Membership
	}
	switch t.EventType {
	case TypeMember:
		if t.StateKey == target {
			return true
		}
		return v.RestrictedJoins && membership == MembershipJoin && c.AuthorisedVia != nil && *c.AuthorisedVia == t.StateKey
	case TypeJoinRules:
		return t.StateKey == "" && (membership == MembershipJoin || membership == MembershipInvite ||
			(v.Knocking && membership == MembershipKnock))
	case TypeThirdPartyInvite:
		if membership != MembershipInvite || c.ThirdPartyInviteRaw == nil {
			return false
		}
		var tpi struct {
			Signed struct {
				Token string `json:"token"`
			} `json:"signed"`
		}
		return json.Unmarshal(*c.ThirdPartyInviteRaw, &tpi) == nil && tpi.Signed.Token != "" && tpi.Signed.Token == t.StateKey
	}
	return false
}

// CheckAuthEvents applies the auth rules about an event's auth_events (rule "Considering
// the event's auth_events") to authEvents, the events e.AuthEventIDs() name: every listed
// event is present, no (type, state_key) appears twice, each is one the selection
// algorithm allows, each belongs to e's room, and (before v12) the create event is among
// them. Whether an auth event was itself rejected is the caller's knowledge: it must not
// pass rejected events here. On success it returns the provider to give Allowed; in v12
// pass the room's create event as create (it is not in auth_events), before v12 create is
// ignored and may be nil.
func CheckAuthEvents(e matrix.PDU, authEvents []matrix.PDU, create matrix.PDU) (*AuthEvents, error) {
	v := e.Version()
	listed := make(map[string]bool, len(e.AuthEventIDs()))
	for _, id := range e.AuthEventIDs() {
		listed[id] = true
	}
	given := make(map[string]bool, len(authEvents))
	seen := make(map[matrix.StateKeyTuple]string, len(authEvents))
	var haveCreate bool
	for _, ae := range authEvents {
		if ae == nil {
			return nil, notAllowed(e.EventID(), "auth_events.missing", "nil auth event")
		}
		if !listed[ae.EventID()] {
			return nil, notAllowed(e.EventID(), "auth_events.missing", "%s is not in auth_events", ae.EventID())
		}
		given[ae.EventID()] = true
		t, ok := matrix.Tuple(ae)
		if !ok {
			return nil, notAllowed(e.EventID(), "auth_events.selection", "auth event %s is not a state event", ae.EventID())
		}
		if prev, dup := seen[t]; dup {
			return nil, notAllowed(e.EventID(), "auth_events.duplicate", "%s and %s are both (%s, %q)", prev, ae.EventID(), t.EventType, t.StateKey)
		}
		seen[t] = ae.EventID()
		if !AuthEventAllowed(e, t) {
			return nil, notAllowed(e.EventID(), "auth_events.selection", "auth event %s (%s, %q) is not one the auth events selection allows", ae.EventID(), t.EventType, t.StateKey)
		}
		if ae.RoomID() != e.RoomID() {
			return nil, notAllowed(e.EventID(), "auth_events.room_id", "auth event %s is in room %s, not %s", ae.EventID(), ae.RoomID(), e.RoomID())
		}
		if t.EventType == TypeCreate {
			haveCreate = true
		}
	}
	for id := range listed {
		if !given[id] {
			return nil, notAllowed(e.EventID(), "auth_events.missing", "auth event %s was not supplied", id)
		}
	}
	if !v.RoomIDFromCreateEvent && !haveCreate {
		return nil, notAllowed(e.EventID(), "auth_events.create", "no m.room.create event among the auth events")
	}
	events := authEvents
	if v.RoomIDFromCreateEvent && create != nil {
		events = append(append(make([]matrix.PDU, 0, len(authEvents)+1), authEvents...), create)
	}
	a, err := NewAuthEvents(events)
	if err != nil {
		return nil, notAllowed(e.EventID(), "auth_events.selection", "%v", err)
	}
	return a, nil
}
