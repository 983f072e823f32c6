package internal

import (
	"context"
	"encoding/json"

	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
)

// build assembles the response for req at position pos. It also returns the rooms whose
// events should wake the request if it has to wait (joined, invited and knocked rooms).
func (s *Syncer) build(ctx context.Context, req *SyncRequest, pos types.StreamToken) (*SyncResponse, []string, error) {
	// Topic 3: the device's to-device messages first, since a full batch of them moves
	// the edu position the whole response is built at (ephemeral.go).
	toDevice, eduUpTo, err := s.toDevice(ctx, req, pos.EDU)
	if err != nil {
		return nil, nil, err
	}
	pos.EDU = eduUpTo
	resp := newSyncResponse(pos)
	resp.ToDevice = eventListOf(toDevice)
	f := req.Filter
	req.ignored = s.notifier.IgnoredBy(req.UserID)
	forgotten := forgottenRooms{s: s, userID: req.UserID, upTo: pos.Room}
	fo := FormatOptions{UserID: req.UserID, DeviceID: req.DeviceID, Now: s.Now(),
		Federation: f.EventFormat == "federation", Fields: f.EventFields}
	memberships, err := s.membershipsAt(ctx, req.UserID, pos.Room)
	if err != nil {
		return nil, nil, err
	}
	incremental := req.Since != nil
	var since, sinceAD int64
	changed := map[string]bool{}
	joinedInWindow := map[string]bool{}
	before := map[string]string{}
	if incremental {
		since, sinceAD = req.Since.Room, req.Since.AccountData
		var changes []storage.Membership
		if s.NoShortcuts || !s.notifier.MembershipQuiet(req.UserID, since, pos.Room) {
			if changes, err = s.db.MembershipChanges(ctx, req.UserID, since, pos.Room); err != nil {
				return nil, nil, err
			}
		}
		for _, c := range changes {
			changed[c.RoomID] = true
			joinedInWindow[c.RoomID] = joinedInWindow[c.RoomID] || c.Membership == "join"
		}
		if len(changes) > 0 {
			old, err := s.db.MembershipsAt(ctx, req.UserID, since)
			if err != nil {
				return nil, nil, err
			}
			for _, m := range old {
				before[m.RoomID] = m.Membership
			}
		}
	}

	// Topic 1: account data, global and per room.
	ads, err := s.db.AccountDataBetween(ctx, req.UserID, sinceAD, pos.AccountData)
	if err != nil {
		return nil, nil, err
	}
	roomAD := map[string][]json.RawMessage{}
	for _, ad := range ads {
		ev, _ := json.Marshal(map[string]any{"type": ad.Type, "content": json.RawMessage(ad.Content)})
		if ad.RoomID == "" {
			if f.AccountData.Matches(ad.Type, "") && underLimit(f.AccountData.Limit, len(resp.AccountData.Events)) {
				resp.AccountData.Events = append(resp.AccountData.Events, ev)
			}
		} else if f.Room.AccountData.MatchesEvent(ad.RoomID, ad.Type, "", nil) && f.Room.IncludesRoom(ad.RoomID) &&
			underLimit(f.Room.AccountData.Limit, len(roomAD[ad.RoomID])) {
			roomAD[ad.RoomID] = append(roomAD[ad.RoomID], ev)
		}
	}
	if !incremental {
		resp.AccountData.Events = defaultPushRules(req.UserID, f, ads, resp.AccountData.Events)
	}

	// Topic 2: which of the user's rooms saw events in (since, pos].
	var interest, candidates []string
	for _, m := range memberships {
		switch m.Membership {
		case "join", "invite", "knock":
			interest = append(interest, m.RoomID)
		}
		if m.Membership == "join" || changed[m.RoomID] {
			candidates = append(candidates, m.RoomID)
		}
	}
	// Topic 3: the joined rooms' typing and receipts (ephemeral.go); rooms joined since the
	// token get them as an initial sync does.
	var joined []string
	fresh := map[string]bool{}
	for _, m := range memberships {
		if m.Membership == "join" && f.Room.IncludesRoom(m.RoomID) {
			joined = append(joined, m.RoomID)
			fresh[m.RoomID] = !incremental || (changed[m.RoomID] && before[m.RoomID] != "join")
		}
	}
	var sinceEDU int64
	if incremental {
		sinceEDU = min(req.Since.EDU, pos.EDU)
	}
	eph, err := s.ephemeral(ctx, req, joined, fresh, sinceEDU, pos.EDU)
	if err != nil {
		return nil, nil, err
	}
	// Topic 3: presence of the users who share a joined room with the user (presence.go).
	presenceSince := int64(-1)
	if incremental {
		presenceSince = sinceEDU
	}
	allJoined := map[string]bool{}
	for _, m := range memberships {
		if m.Membership == "join" {
			allJoined[m.RoomID] = true
		}
	}
	pres, err := s.presence(ctx, req, allJoined, presenceSince, pos.EDU, pos.Room)
	if err != nil {
		return nil, nil, err
	}
	resp.Presence = eventListOf(pres)

	active := map[string]bool{}
	if incremental && !req.FullState {
		ok := false
		if !s.NoShortcuts {
			// A room reported active whose events are all after pos.Room yields an empty
			// roomData, which is left out below like a quiet room.
			active, ok = s.notifier.RoomsWithEvents(candidates, since, pos.Room)
		}
		if !ok {
			if active, err = s.db.RoomsWithEvents(ctx, candidates, since, pos.Room); err != nil {
				return nil, nil, err
			}
		}
	}

	for _, m := range memberships {
		if !f.Room.IncludesRoom(m.RoomID) {
			continue
		}
		switch m.Membership {
		case "join":
			var rd *roomData
			switch {
			case !incremental || (changed[m.RoomID] && before[m.RoomID] != "join"):
				// Initial sync, or joined since the token: the room's full state.
				rd, err = s.roomData(ctx, req, fo, m.RoomID, 0, pos.Room, true, false)
				if err == nil && incremental {
					// Joined since the token: the client holds none of the room's history,
					// so the timeline is a gap to page back from, whatever the filter let
					// through (as Synapse marks newly joined rooms).
					rd.timeline.Limited = true
				}
			case req.FullState:
				rd, err = s.roomData(ctx, req, fo, m.RoomID, since, pos.Room, true, !changed[m.RoomID])
			case active[m.RoomID] || changed[m.RoomID] || len(roomAD[m.RoomID]) > 0:
				rd, err = s.roomData(ctx, req, fo, m.RoomID, since, pos.Room, false, !changed[m.RoomID])
			case len(eph[m.RoomID]) > 0:
				// Only typing or receipts (topic 3): nothing to read, so a typing change
				// woke every member's /sync without a query each.
				rd = &roomData{timeline: Timeline{Events: []json.RawMessage{}, PrevBatch: types.PaginationToken{Pos: pos.Room}.String()},
					state: newEventList()}
			default:
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			if incremental && !req.FullState && rd.empty() && len(roomAD[m.RoomID]) == 0 && len(eph[m.RoomID]) == 0 {
				continue
			}
			jr := &JoinedRoom{Timeline: rd.timeline, State: rd.state, AccountData: eventListOf(roomAD[m.RoomID]), Ephemeral: eventListOf(eph[m.RoomID])}
			if rd.summaryChanged {
				if jr.Summary, err = s.summary(ctx, m.RoomID, req.UserID, pos.Room); err != nil {
					return nil, nil, err
				}
			}
			resp.Rooms.Join[m.RoomID] = jr
		case "invite", "knock":
			if incremental && !changed[m.RoomID] {
				continue
			}
			if hide, err := s.invitedByIgnored(ctx, m, req.ignored); err != nil {
				return nil, nil, err
			} else if hide {
				continue
			}
			stripped, err := s.strippedState(ctx, m, fo)
			if err != nil {
				return nil, nil, err
			}
			if m.Membership == "invite" {
				resp.Rooms.Invite[m.RoomID] = &InvitedRoom{InviteState: stripped}
			} else {
				resp.Rooms.Knock[m.RoomID] = &KnockedRoom{KnockState: stripped}
			}
		case "leave", "ban":
			leftInWindow := incremental && changed[m.RoomID] && before[m.RoomID] != "leave" && before[m.RoomID] != "ban"
			if !leftInWindow && !((!incremental || req.FullState) && f.Room.IncludeLeave) {
				continue
			}
			// A room the user forgot since leaving it is not shown (forget.go).
			if gone, err := forgotten.has(ctx, m); err != nil {
				return nil, nil, err
			} else if gone {
				continue
			}
			var rd *roomData
			if leftInWindow {
				// Left (or was kicked, banned, or rejected an invite) since the token: the
				// timeline up to the leave. Full state if the user joined after the token (the
				// client never had the room's state); none if they never joined at all (a
				// rejected or withdrawn invite shows no more than the invite did).
				wasJoined := before[m.RoomID] == "join"
				rd, err = s.roomData(ctx, req, fo, m.RoomID, since, m.Pos, !wasJoined && joinedInWindow[m.RoomID], false)
				if err == nil && !wasJoined && !joinedInWindow[m.RoomID] {
					rd.state = newEventList()
				}
			} else {
				rd, err = s.roomData(ctx, req, fo, m.RoomID, 0, m.Pos, true, false)
			}
			if err != nil {
				return nil, nil, err
			}
			resp.Rooms.Leave[m.RoomID] = &LeftRoom{Timeline: rd.timeline, State: rd.state, AccountData: eventListOf(roomAD[m.RoomID])}
		}
	}
	// Topics 1, 2 and 3: each joined room's unread notification counts (unread.go).
	if err := s.addUnreadCounts(ctx, req, resp, pos, ads, sinceAD); err != nil {
		return nil, nil, err
	}
	if incremental {
		// Topics 2 and 7: device_lists (devicelists.go).
		if resp.DeviceLists, err = s.deviceLists(ctx, req.UserID, *req.Since, pos, memberships, changed, before); err != nil {
			return nil, nil, err
		}
	}
	return resp, interest, nil
}

func underLimit(limit *int, n int) bool { return limit == nil || n < *limit }

func eventListOf(evs []json.RawMessage) EventList {
	if evs == nil {
		return newEventList()
	}
	return EventList{Events: evs}
}

// summary is a joined room's m.joined_member_count, m.invited_member_count and, for a room
// without a name or canonical alias, up to five m.heroes (other members, in join order).
func (s *Syncer) summary(ctx context.Context, roomID, userID string, pos int64) (*Summary, error) {
	joined, invited, err := s.db.MemberCounts(ctx, roomID, pos)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Joined: joined, Invited: invited}
	named, err := s.db.StateAt(ctx, roomID, pos, "m.room.name", "m.room.canonical_alias")
	if err != nil {
		return nil, err
	}
	for i := range named {
		if contentField(&named[i], "name") != "" || contentField(&named[i], "alias") != "" {
			return sum, nil
		}
	}
	members, err := s.db.StateAt(ctx, roomID, pos, "m.room.member")
	if err != nil {
		return nil, err
	}
	var gone []string
	for _, m := range members {
		if m.StateKey == nil || *m.StateKey == userID {
			continue
		}
		switch m.Membership {
		case "join", "invite":
			if len(sum.Heroes) < 5 {
				sum.Heroes = append(sum.Heroes, *m.StateKey)
			}
		case "leave", "ban":
			gone = append(gone, *m.StateKey)
		}
	}
	if len(sum.Heroes) == 0 && len(gone) > 0 {
		// Everyone else left: name the room after those who were there.
		if len(gone) > 5 {
			gone = gone[:5]
		}
		sum.Heroes = gone
	}
	return sum, nil
}

// strippedState builds invite_state / knock_state: the stripped state the roomserver put
// in the membership event's unsigned (invite_room_state / knock_room_state) or, when it
// did not (a local room whose state the syncapi has), the spec's recommended state events
// at the membership event; then the membership event itself.
func (s *Syncer) strippedState(ctx context.Context, m storage.Membership, fo FormatOptions) (EventList, error) {
	out := newEventList()
	ev, err := s.db.EventByID(ctx, m.EventID)
	if err != nil || ev == nil {
		return out, err
	}
	key := "invite_room_state"
	if m.Membership == "knock" {
		key = "knock_room_state"
	}
	var fed struct {
		Unsigned map[string][]json.RawMessage `json:"unsigned"`
	}
	_ = json.Unmarshal(ev.JSON, &fed)
	if st, ok := fed.Unsigned[key]; ok {
		out.Events = append(out.Events, st...)
	} else {
		st, err := s.db.StateAt(ctx, m.RoomID, m.Pos-1, "m.room.create", "m.room.join_rules", "m.room.name",
			"m.room.avatar", "m.room.canonical_alias", "m.room.encryption", "m.room.topic")
		if err != nil {
			return out, err
		}
		for i := range st {
			out.Events = append(out.Events, StrippedEvent(&st[i]))
		}
		if sender, err := s.db.StateEventAt(ctx, m.RoomID, "m.room.member", ev.Sender, m.Pos-1); err != nil {
			return out, err
		} else if sender != nil && ev.Sender != fo.UserID {
			out.Events = append(out.Events, StrippedEvent(sender))
		}
	}
	out.Events = append(out.Events, ClientEvent(ev, fo))
	return out, nil
}
