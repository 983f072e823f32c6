package internal

import (
	"encoding/json"

	"github.com/axon-matrix/axon/syncapi/types"
)

// EventList is the spec's {"events": [...]} wrapper.
type EventList struct {
	Events []json.RawMessage `json:"events"`
}

func newEventList() EventList { return EventList{Events: []json.RawMessage{}} }

// Timeline is a room's timeline section.
type Timeline struct {
	Events    []json.RawMessage `json:"events"`
	Limited   bool              `json:"limited"`
	PrevBatch string            `json:"prev_batch,omitempty"`
}

// Summary is a joined room's summary (m.heroes and member counts).
type Summary struct {
	Heroes  []string `json:"m.heroes,omitempty"`
	Joined  int      `json:"m.joined_member_count"`
	Invited int      `json:"m.invited_member_count"`
}

// JoinedRoom is one entry of rooms.join.
type JoinedRoom struct {
	Timeline    Timeline  `json:"timeline"`
	State       EventList `json:"state"`
	AccountData EventList `json:"account_data"`
	Ephemeral   EventList `json:"ephemeral"`
	Summary     *Summary  `json:"summary,omitempty"`
	// UnreadNotifications is set for every joined room of a response unless the counts
	// are turned off (unread.go).
	UnreadNotifications *UnreadNotifications `json:"unread_notifications,omitempty"`
}

// LeftRoom is one entry of rooms.leave.
type LeftRoom struct {
	Timeline    Timeline  `json:"timeline"`
	State       EventList `json:"state"`
	AccountData EventList `json:"account_data"`
}

// InvitedRoom is one entry of rooms.invite.
type InvitedRoom struct {
	InviteState EventList `json:"invite_state"`
}

// KnockedRoom is one entry of rooms.knock.
type KnockedRoom struct {
	KnockState EventList `json:"knock_state"`
}

// Rooms is the rooms section of a /sync response.
type Rooms struct {
	Join   map[string]*JoinedRoom  `json:"join"`
	Invite map[string]*InvitedRoom `json:"invite"`
	Leave  map[string]*LeftRoom    `json:"leave"`
	Knock  map[string]*KnockedRoom `json:"knock"`
}

// DeviceLists is the device_lists section (filled once the keyserver feeds the syncapi).
type DeviceLists struct {
	Changed []string `json:"changed"`
	Left    []string `json:"left"`
}

// SyncResponse is the body of GET /sync.
type SyncResponse struct {
	NextBatch   string      `json:"next_batch"`
	Rooms       Rooms       `json:"rooms"`
	AccountData EventList   `json:"account_data"`
	Presence    EventList   `json:"presence"`
	ToDevice    EventList   `json:"to_device"`
	DeviceLists DeviceLists `json:"device_lists"`
	// DeviceOneTimeKeysCount and DeviceUnusedFallbackKeyTypes are the requesting device's,
	// from the keyserver (keycounts.go); left out when unknown (nil), so that an empty list
	// of fallback key types still shows as [].
	DeviceOneTimeKeysCount       map[string]int `json:"device_one_time_keys_count,omitempty"`
	DeviceUnusedFallbackKeyTypes *[]string      `json:"device_unused_fallback_key_types,omitempty"`
}

func newSyncResponse(pos types.StreamToken) *SyncResponse {
	return &SyncResponse{
		NextBatch: pos.String(),
		Rooms: Rooms{Join: map[string]*JoinedRoom{}, Invite: map[string]*InvitedRoom{},
			Leave: map[string]*LeftRoom{}, Knock: map[string]*KnockedRoom{}},
		AccountData:            newEventList(),
		Presence:               newEventList(),
		ToDevice:               newEventList(),
		DeviceLists:            DeviceLists{Changed: []string{}, Left: []string{}},
		DeviceOneTimeKeysCount: map[string]int{},
	}
}

// IsEmpty reports whether the response carries nothing new for the client (a long-poll
// keeps waiting then).
func (r *SyncResponse) IsEmpty() bool {
	return len(r.Rooms.Join) == 0 && len(r.Rooms.Invite) == 0 && len(r.Rooms.Leave) == 0 && len(r.Rooms.Knock) == 0 &&
		len(r.AccountData.Events) == 0 && len(r.Presence.Events) == 0 && len(r.ToDevice.Events) == 0 &&
		len(r.DeviceLists.Changed) == 0 && len(r.DeviceLists.Left) == 0
}
