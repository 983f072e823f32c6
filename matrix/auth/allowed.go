package auth

import (
	"encoding/json"
	"strings"

	"github.com/axon-matrix/axon/matrix"
)

// Allowed applies the authorization rules of e's room version to e against the state
// that authEvents provides (e's auth events, or the room state before e). It returns nil
// if e is allowed and a *NotAllowed naming the failed rule otherwise. The rules about the
// auth_events list itself (duplicates, selection, rejected entries) are CheckAuthEvents';
// signature checks are done on receipt (arrow 11), not here.
func Allowed(e matrix.PDU, authEvents AuthEventProvider) error {
	v := e.Version()
	if v == nil {
		return notAllowed(e.EventID(), "version", "event has no room version")
	}
	if e.Type() == TypeCreate {
		return createAllowed(e)
	}
	id := e.EventID()
	create := authEvents.Create()
	if create == nil {
		return notAllowed(id, "auth_events.create", "no m.room.create event in the auth state")
	}
	if v.RoomIDFromCreateEvent {
		if !strings.HasPrefix(create.EventID(), "$") || e.RoomID() != "!"+create.EventID()[1:] {
			return notAllowed(id, "room_id", "room ID %s is not derived from create event %s", e.RoomID(), create.EventID())
		}
	} else if create.RoomID() != e.RoomID() {
		return notAllowed(id, "auth_events.room_id", "create event is in room %s, event in %s", create.RoomID(), e.RoomID())
	}
	cc := createInfoOf(create).content
	if cc.Federate != nil && !*cc.Federate && serverName(e.Sender()) != serverName(create.Sender()) {
		return notAllowed(id, "m.federate", "room is not federated and sender %s is not on the creator's server", e.Sender())
	}

	if v.SpecialCaseAliasesAuth && e.Type() == TypeAliases {
		if e.StateKey() == nil {
			return notAllowed(id, "aliases.state_key", "m.room.aliases has no state_key")
		}
		if *e.StateKey() != serverName(e.Sender()) {
			return notAllowed(id, "aliases.domain", "state_key %q is not the sender's server", *e.StateKey())
		}
		return nil
	}

	pl, err := NewPowerLevels(create, authEvents.PowerLevels())
	if err != nil {
		return notAllowed(id, "power_levels.current", "current power levels are invalid: %v", err)
	}
	if e.Type() == TypeMember {
		return memberAllowed(e, authEvents, create, pl)
	}

	if Membership(authEvents.Member(e.Sender())) != MembershipJoin {
		return notAllowed(id, "sender.joined", "sender %s is not joined to the room", e.Sender())
	}
	senderLevel := pl.UserPowerLevel(e.Sender())
	if e.Type() == TypeThirdPartyInvite {
		if senderLevel >= pl.Invite {
			return nil
		}
		return notAllowed(id, "third_party_invite.level", "sender level %d is below the invite level %d", senderLevel, pl.Invite)
	}
	if need := pl.EventLevel(e.Type(), e.StateKey() != nil); need > senderLevel {
		return notAllowed(id, "event.level", "sending %s needs level %d, sender has %d", e.Type(), need, senderLevel)
	}
	if sk := e.StateKey(); sk != nil && strings.HasPrefix(*sk, "@") && *sk != e.Sender() {
		return notAllowed(id, "state_key.user", "state_key %q names a user other than the sender", *sk)
	}
	if e.Type() == TypePowerLevels {
		return powerLevelsAllowed(e, authEvents, create, pl, senderLevel)
	}
	// v1–v2 only (event IDs with a server part): redactions need the redact level or the
	// same origin. From v3 the check happens when the redaction is applied.
	if v.EventIDFormat == matrix.EventIDFormatServer && e.Type() == TypeRedaction {
		if senderLevel >= pl.Redact {
			return nil
		}
		if serverName(e.Redacts()) != "" && serverName(e.Redacts()) == serverName(e.EventID()) {
			return nil
		}
		return notAllowed(id, "redaction.level", "sender level %d is below the redact level %d and %s is from another server", senderLevel, pl.Redact, e.Redacts())
	}
	return nil
}

// createAllowed is the m.room.create rule.
func createAllowed(e matrix.PDU) error {
	v := e.Version()
	id := e.EventID()
	if len(e.PrevEventIDs()) > 0 {
		return notAllowed(id, "create.prev_events", "m.room.create has prev_events")
	}
	if v.RoomIDFromCreateEvent {
		if j := e.JSON(); len(j) > 0 {
			var top map[string]json.RawMessage
			if err := json.Unmarshal(j, &top); err != nil {
				return notAllowed(id, "create.room_id", "event JSON is not an object")
			}
			if _, has := top["room_id"]; has {
				return notAllowed(id, "create.room_id", "m.room.create has a room_id")
			}
		}
	} else if serverName(e.RoomID()) == "" || serverName(e.RoomID()) != serverName(e.Sender()) {
		return notAllowed(id, "create.room_id", "room ID %s is not on the sender's server", e.RoomID())
	}
	var c createContent
	if err := json.Unmarshal(e.Content(), &c); err != nil {
		return notAllowed(id, "create.content", "content is not an object")
	}
	if c.RoomVersion != nil {
		var rv string
		if err := json.Unmarshal(*c.RoomVersion, &rv); err != nil {
			return notAllowed(id, "create.room_version", "room_version is not a string")
		}
		if _, err := matrix.GetRoomVersion(matrix.RoomVersionID(rv)); err != nil {
			return notAllowed(id, "create.room_version", "room_version %q is not recognised", rv)
		}
	}
	if !v.ImplicitRoomCreator && c.Creator == nil {
		return notAllowed(id, "create.creator", "content has no creator")
	}
	if v.PrivilegedCreators && c.AdditionalCreators != nil {
		var extra []json.RawMessage
		if err := json.Unmarshal(*c.AdditionalCreators, &extra); err != nil {
			return notAllowed(id, "create.additional_creators", "additional_creators is not an array")
		}
		for _, raw := range extra {
			var u string
			if err := json.Unmarshal(raw, &u); err != nil || !matrix.ValidUserID(u) {
				return notAllowed(id, "create.additional_creators", "%s is not a valid user ID", raw)
			}
		}
	}
	return nil
}

// powerLevelsAllowed is the m.room.power_levels rule; pl are the current levels.
func powerLevelsAllowed(e matrix.PDU, authEvents AuthEventProvider, create matrix.PDU, pl *PowerLevels, senderLevel int64) error {
	v := e.Version()
	id := e.EventID()
	newPL, err := ParsePowerLevels(e.Content(), v)
	if err != nil {
		return notAllowed(id, "power_levels.content", "%v", err)
	}
	if v.PrivilegedCreators {
		for _, c := range createInfoOf(create).creators {
			if _, listed := newPL.Users[c]; listed {
				return notAllowed(id, "power_levels.creators", "room creator %s may not be listed in users", c)
			}
		}
	}
	if authEvents.PowerLevels() == nil {
		return nil
	}
	old := pl
	for _, key := range topLevelKeys {
		oldSet, newSet := old.present[key], newPL.present[key]
		if oldSet == newSet && (!oldSet || old.level(key) == newPL.level(key)) {
			continue
		}
		if oldSet && old.level(key) > senderLevel {
			return notAllowed(id, "power_levels."+key, "current %s %d is above the sender's level %d", key, old.level(key), senderLevel)
		}
		if newSet && newPL.level(key) > senderLevel {
			return notAllowed(id, "power_levels."+key, "new %s %d is above the sender's level %d", key, newPL.level(key), senderLevel)
		}
	}
	check := func(name string, oldM, newM map[string]int64, isUsers bool) error {
		for k, ov := range oldM {
			nv, ok := newM[k]
			if ok && nv == ov {
				continue
			}
			if isUsers {
				if k != e.Sender() && ov >= senderLevel {
					return notAllowed(id, "power_levels."+name, "cannot change %s, whose level %d is not below the sender's %d", k, ov, senderLevel)
				}
			} else if ov > senderLevel {
				return notAllowed(id, "power_levels."+name, "cannot change %s[%s] from %d, above the sender's level %d", name, k, ov, senderLevel)
			}
		}
		for k, nv := range newM {
			if ov, ok := oldM[k]; ok && ov == nv {
				continue
			}
			if nv > senderLevel {
				return notAllowed(id, "power_levels."+name, "cannot set %s[%s] to %d, above the sender's level %d", name, k, nv, senderLevel)
			}
		}
		return nil
	}
	if err := check("events", old.Events, newPL.Events, false); err != nil {
		return err
	}
	if v.NotificationsPowerLevels {
		if err := check("notifications", old.Notifications, newPL.Notifications, false); err != nil {
			return err
		}
	}
	return check("users", old.Users, newPL.Users, true)
}
