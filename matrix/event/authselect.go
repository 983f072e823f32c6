package event

import (
	"encoding/json"

	"github.com/axon-matrix/axon/matrix"
)

// StateLookup returns the current state event for a (type, state_key), or nil if the room
// has none.
type StateLookup func(matrix.StateKeyTuple) matrix.PDU

// AuthEventTuples lists the state an event of this shape needs in its auth_events, per
// the server-server spec's "Auth events selection":
//   - the m.room.create event (not in room version 12, where the room ID stands for it);
//   - the current m.room.power_levels;
//   - the sender's current m.room.member;
//   - for m.room.member events: the target's m.room.member; for join, invite and (v7+) knock
//     the m.room.join_rules; for an invite with third_party_invite the
//     m.room.third_party_invite whose state_key is its signed.token; for a join with
//     join_authorised_via_users_server (v8+) that user's m.room.member.
//
// A m.room.create event needs nothing.
func AuthEventTuples(v *matrix.RoomVersion, eventType string, stateKey *string, sender string, content json.RawMessage) []matrix.StateKeyTuple {
	if eventType == "m.room.create" && stateKey != nil && *stateKey == "" {
		return nil
	}
	var tuples []matrix.StateKeyTuple
	add := func(t, sk string) {
		tuple := matrix.StateKeyTuple{EventType: t, StateKey: sk}
		for _, have := range tuples {
			if have == tuple {
				return
			}
		}
		tuples = append(tuples, tuple)
	}
	if !v.RoomIDFromCreateEvent {
		add("m.room.create", "")
	}
	add("m.room.power_levels", "")
	add("m.room.member", sender)
	if eventType == "m.room.member" && stateKey != nil {
		var c struct {
			Membership       string `json:"membership"`
			ThirdPartyInvite *struct {
				Signed struct {
					Token string `json:"token"`
				} `json:"signed"`
			} `json:"third_party_invite"`
			AuthorisedVia string `json:"join_authorised_via_users_server"`
		}
		_ = json.Unmarshal(content, &c) // malformed content: the auth rules reject it later
		add("m.room.member", *stateKey)
		if c.Membership == "join" || c.Membership == "invite" || (v.Knocking && c.Membership == "knock") {
			add("m.room.join_rules", "")
		}
		if c.Membership == "invite" && c.ThirdPartyInvite != nil && c.ThirdPartyInvite.Signed.Token != "" {
			add("m.room.third_party_invite", c.ThirdPartyInvite.Signed.Token)
		}
		if c.Membership == "join" && v.RestrictedJoins && c.AuthorisedVia != "" {
			add("m.room.member", c.AuthorisedVia)
		}
	}
	return tuples
}

// SelectAuthEvents returns the IDs of the current state events an event needs in its
// auth_events (AuthEventTuples), skipping those the room does not have, in the order of
// AuthEventTuples.
func SelectAuthEvents(v *matrix.RoomVersion, eventType string, stateKey *string, sender string, content json.RawMessage, lookup StateLookup) []string {
	var ids []string
	for _, t := range AuthEventTuples(v, eventType, stateKey, sender, content) {
		if e := lookup(t); e != nil {
			ids = append(ids, e.EventID())
		}
	}
	return ids
}

// SelectAuthEvents fills b.AuthEvents from the room's current state.
func (b *Builder) SelectAuthEvents(version matrix.RoomVersionID, lookup StateLookup) error {
	v, err := matrix.GetRoomVersion(version)
	if err != nil {
		return err
	}
	content, err := b.contentJSON(v)
	if err != nil {
		return err
	}
	b.AuthEvents = SelectAuthEvents(v, b.Type, b.StateKey, b.Sender, content, lookup)
	return nil
}
