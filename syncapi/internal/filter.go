// Package internal is the syncapi's sync engine: the notifier that wakes long-polling
// /sync requests, the building of /sync responses from stream positions, history
// visibility, and the room endpoints (/messages, /context, /members, /event) served from
// the syncapi's own view of topics 1 and 2.
package internal

import (
	"encoding/json"
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
)

// EventFilter is the spec's EventFilter (sync_filter.yaml): which events to include.
type EventFilter struct {
	Limit      *int      `json:"limit,omitempty"`
	Types      *[]string `json:"types,omitempty"`
	NotTypes   []string  `json:"not_types,omitempty"`
	Senders    *[]string `json:"senders,omitempty"`
	NotSenders []string  `json:"not_senders,omitempty"`
}

// RoomEventFilter is the spec's RoomEventFilter: an EventFilter with room and lazy-loading options.
type RoomEventFilter struct {
	EventFilter
	Rooms                   *[]string `json:"rooms,omitempty"`
	NotRooms                []string  `json:"not_rooms,omitempty"`
	ContainsURL             *bool     `json:"contains_url,omitempty"`
	LazyLoadMembers         bool      `json:"lazy_load_members,omitempty"`
	IncludeRedundantMembers bool      `json:"include_redundant_members,omitempty"`
}

// RoomFilter is the spec's RoomFilter.
type RoomFilter struct {
	Rooms        *[]string       `json:"rooms,omitempty"`
	NotRooms     []string        `json:"not_rooms,omitempty"`
	IncludeLeave bool            `json:"include_leave,omitempty"`
	Timeline     RoomEventFilter `json:"timeline"`
	State        RoomEventFilter `json:"state"`
	Ephemeral    RoomEventFilter `json:"ephemeral"`
	AccountData  RoomEventFilter `json:"account_data"`
}

// Filter is the spec's sync Filter.
type Filter struct {
	EventFields []string    `json:"event_fields,omitempty"`
	EventFormat string      `json:"event_format,omitempty"`
	Presence    EventFilter `json:"presence"`
	AccountData EventFilter `json:"account_data"`
	Room        RoomFilter  `json:"room"`
}

// DefaultTimelineLimit is the number of timeline events per room when the filter sets
// none (Synapse's default).
const DefaultTimelineLimit = 10

// ParseFilter decodes and checks a filter (inline JSON or a stored filter's JSON). Bad
// JSON or out-of-range values are M_INVALID_PARAM.
func ParseFilter(raw []byte) (*Filter, error) {
	var f Filter
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, httputil.InvalidParam("Invalid filter: %v", err)
	}
	for _, l := range []*int{f.Room.Timeline.Limit, f.Presence.Limit, f.AccountData.Limit, f.Room.State.Limit, f.Room.AccountData.Limit} {
		if l != nil && *l < 0 {
			return nil, httputil.InvalidParam("Invalid filter: negative limit")
		}
	}
	if f.EventFormat != "" && f.EventFormat != "client" && f.EventFormat != "federation" {
		return nil, httputil.InvalidParam("Invalid filter: event_format must be client or federation")
	}
	rf := &f.Room
	if err := checkRoomIDs(rf.Rooms, rf.NotRooms); err != nil {
		return nil, err
	}
	for _, ef := range []*RoomEventFilter{&rf.Timeline, &rf.State, &rf.Ephemeral, &rf.AccountData} {
		if err := checkRoomIDs(ef.Rooms, ef.NotRooms); err != nil {
			return nil, err
		}
	}
	return &f, nil
}

// checkRoomIDs refuses a filter's rooms or not_rooms entry that is not a room ID.
func checkRoomIDs(rooms *[]string, notRooms []string) error {
	var all []string
	if rooms != nil {
		all = *rooms
	}
	for _, id := range append(all, notRooms...) {
		if !matrix.ValidRoomID(id) {
			return httputil.InvalidParam("Invalid filter: %q is not a room ID", id)
		}
	}
	return nil
}

// ParseRoomEventFilter decodes the filter query parameter of /messages and /context.
func ParseRoomEventFilter(raw string) (*RoomEventFilter, error) {
	var f RoomEventFilter
	if raw == "" {
		return &f, nil
	}
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		return nil, httputil.InvalidParam("Invalid filter: %v", err)
	}
	if f.Limit != nil && *f.Limit < 0 {
		return nil, httputil.InvalidParam("Invalid filter: negative limit")
	}
	if err := checkRoomIDs(f.Rooms, f.NotRooms); err != nil {
		return nil, err
	}
	return &f, nil
}

// TimelineLimit is the filter's timeline limit, or the default.
func (f *Filter) TimelineLimit() int {
	if f.Room.Timeline.Limit != nil {
		return *f.Room.Timeline.Limit
	}
	return DefaultTimelineLimit
}

// IncludesRoom reports whether the room filter lets roomID through.
func (f *RoomFilter) IncludesRoom(roomID string) bool {
	return roomAllowed(roomID, f.Rooms, f.NotRooms)
}

func roomAllowed(roomID string, rooms *[]string, notRooms []string) bool {
	for _, r := range notRooms {
		if r == roomID {
			return false
		}
	}
	if rooms == nil {
		return true
	}
	for _, r := range *rooms {
		if r == roomID {
			return true
		}
	}
	return false
}

// Matches reports whether an event of this type and sender passes the filter.
func (f *EventFilter) Matches(eventType, sender string) bool {
	for _, t := range f.NotTypes {
		if globMatch(t, eventType) {
			return false
		}
	}
	for _, s := range f.NotSenders {
		if s == sender {
			return false
		}
	}
	if f.Types != nil {
		ok := false
		for _, t := range *f.Types {
			if globMatch(t, eventType) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if f.Senders != nil {
		ok := false
		for _, s := range *f.Senders {
			if s == sender {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// MatchesEvent applies the room event filter (type, sender, room, contains_url) to an event.
func (f *RoomEventFilter) MatchesEvent(roomID, eventType, sender string, content json.RawMessage) bool {
	if !f.EventFilter.Matches(eventType, sender) || !roomAllowed(roomID, f.Rooms, f.NotRooms) {
		return false
	}
	if f.ContainsURL != nil {
		var c map[string]json.RawMessage
		_ = json.Unmarshal(content, &c)
		_, has := c["url"]
		if has != *f.ContainsURL {
			return false
		}
	}
	return true
}

// globMatch matches s against a pattern in which "*" stands for any run of characters, as
// the spec's filter types allow.
func globMatch(pattern, s string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == s
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last) && len(s) >= len(last)
}
