// Package authtest builds small rooms of in-memory events implementing matrix.PDU, for the
// tests of matrix/auth and matrix/stateres (which must not depend on matrix/event). Events
// are described compactly (type, state_key, sender, content JSON) and get prev_events,
// auth_events, depth and origin_server_ts from the room they are added to.
package authtest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/axon-matrix/axon/matrix"
)

// Event is a plain matrix.PDU whose fields tests set directly.
type Event struct {
	ID          string
	Room        string
	SenderID    string
	EventType   string
	SK          *string
	ContentJSON json.RawMessage
	Prev        []string
	Auth        []string
	DepthN      int64
	TS          int64
	RedactsID   string
	V           *matrix.RoomVersion
	// Signatures is put into JSON(); server name → key ID → signature.
	Signatures map[string]map[string]string
}

// EventID implements matrix.PDU.
func (e *Event) EventID() string { return e.ID }

// RoomID implements matrix.PDU.
func (e *Event) RoomID() string { return e.Room }

// Sender implements matrix.PDU.
func (e *Event) Sender() string { return e.SenderID }

// Type implements matrix.PDU.
func (e *Event) Type() string { return e.EventType }

// StateKey implements matrix.PDU.
func (e *Event) StateKey() *string { return e.SK }

// Content implements matrix.PDU.
func (e *Event) Content() json.RawMessage { return e.ContentJSON }

// PrevEventIDs implements matrix.PDU.
func (e *Event) PrevEventIDs() []string { return e.Prev }

// AuthEventIDs implements matrix.PDU.
func (e *Event) AuthEventIDs() []string { return e.Auth }

// Depth implements matrix.PDU.
func (e *Event) Depth() int64 { return e.DepthN }

// OriginServerTS implements matrix.PDU.
func (e *Event) OriginServerTS() int64 { return e.TS }

// Redacts implements matrix.PDU.
func (e *Event) Redacts() string { return e.RedactsID }

// Version implements matrix.PDU.
func (e *Event) Version() *matrix.RoomVersion { return e.V }

// JSON implements matrix.PDU: the fields as federation JSON (no hashes). A v12 create
// event has no room_id.
func (e *Event) JSON() []byte {
	m := map[string]any{
		"event_id": e.ID, "sender": e.SenderID, "type": e.EventType, "content": e.ContentJSON,
		"prev_events": nonNil(e.Prev), "auth_events": nonNil(e.Auth), "depth": e.DepthN,
		"origin_server_ts": e.TS,
	}
	if !(e.EventType == "m.room.create" && e.V != nil && e.V.RoomIDFromCreateEvent) {
		m["room_id"] = e.Room
	}
	if e.SK != nil {
		m["state_key"] = *e.SK
	}
	if e.RedactsID != "" {
		m["redacts"] = e.RedactsID
	}
	if e.Signatures != nil {
		m["signatures"] = e.Signatures
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// SK returns a pointer to a state key.
func SK(s string) *string { return &s }

// Room is a linear room history: each added event's prev_events is the previous event,
// its auth_events are chosen from the current state by the auth events selection rules.
type Room struct {
	V      *matrix.RoomVersion
	ID     string
	Create *Event
	// Events holds every event built, by ID.
	Events map[string]*Event
	// State is the current state.
	State map[matrix.StateKeyTuple]*Event
	last  *Event
	n     int
	// AuthSelect chooses whether a state tuple goes into a new event's auth_events; set by
	// NewRoom to a simple implementation of the spec's auth events selection.
	AuthSelect func(e matrix.PDU, t matrix.StateKeyTuple) bool
}

// NewRoom starts a room of version v created by creator, with extra create content
// (JSON object fields, may be "") merged in. Before v11 content.creator is set.
func NewRoom(v *matrix.RoomVersion, creator string, extraCreateContent string) *Room {
	server := serverOf(creator)
	r := &Room{V: v, Events: map[string]*Event{}, State: map[matrix.StateKeyTuple]*Event{}, AuthSelect: defaultSelect}
	fields := []string{fmt.Sprintf(`"room_version":%q`, string(v.ID))}
	if !v.ImplicitRoomCreator {
		fields = append(fields, fmt.Sprintf(`"creator":%q`, creator))
	}
	if extraCreateContent != "" {
		fields = append(fields, extraCreateContent)
	}
	createID := "$create:" + server
	r.ID = "!room:" + server
	if v.RoomIDFromCreateEvent {
		r.ID = "!create"
		createID = "$create"
	}
	r.n = 1
	c := &Event{ID: createID, Room: r.ID, SenderID: creator, EventType: "m.room.create", SK: SK(""),
		ContentJSON: json.RawMessage("{" + strings.Join(fields, ",") + "}"), DepthN: 1, TS: 1, V: v}
	r.Create = c
	r.Apply(c)
	return r
}

// Build makes an event on top of the current state without applying it. stateKey nil
// makes a message event.
func (r *Room) Build(typ string, stateKey *string, sender string, content string) *Event {
	r.n++
	e := &Event{
		ID: fmt.Sprintf("$e%d:%s", r.n, serverOf(sender)), Room: r.ID, SenderID: sender, EventType: typ,
		SK: stateKey, ContentJSON: json.RawMessage(content), V: r.V, TS: int64(r.n),
		Signatures: map[string]map[string]string{serverOf(sender): {"ed25519:a": "sig"}},
	}
	var via struct {
		Via string `json:"join_authorised_via_users_server"`
	}
	if json.Unmarshal(e.ContentJSON, &via) == nil && via.Via != "" {
		// A restricted join is countersigned by the authorising user's server.
		e.Signatures[serverOf(via.Via)] = map[string]string{"ed25519:a": "sig"}
	}
	if r.last != nil {
		e.Prev = []string{r.last.ID}
		e.DepthN = r.last.DepthN + 1
	}
	for t, se := range r.State {
		if r.AuthSelect(e, t) {
			e.Auth = append(e.Auth, se.ID)
		}
	}
	return e
}

// Apply records e as the newest event and, for a state event, puts it into the state.
func (r *Room) Apply(e *Event) *Event {
	r.Events[e.ID] = e
	r.last = e
	if e.SK != nil {
		r.State[matrix.StateKeyTuple{EventType: e.EventType, StateKey: *e.SK}] = e
	}
	return e
}

// Add is Build then Apply, for events the test assumes were accepted.
func (r *Room) Add(typ string, stateKey *string, sender string, content string) *Event {
	return r.Apply(r.Build(typ, stateKey, sender, content))
}

// Join adds a self-join of user.
func (r *Room) Join(user string) *Event {
	return r.Add("m.room.member", SK(user), user, `{"membership":"join"}`)
}

// StateEvents returns the current state as a slice, including the create event.
func (r *Room) StateEvents() []matrix.PDU {
	out := make([]matrix.PDU, 0, len(r.State))
	for _, e := range r.State {
		out = append(out, e)
	}
	return out
}

// AuthStateEvents returns the current state events of the five types that affect
// authorization.
func (r *Room) AuthStateEvents() []matrix.PDU {
	var out []matrix.PDU
	for t, e := range r.State {
		switch t.EventType {
		case "m.room.create", "m.room.power_levels", "m.room.join_rules", "m.room.member", "m.room.third_party_invite":
			out = append(out, e)
		}
	}
	return out
}

func serverOf(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		return id[i+1:]
	}
	return "example.org"
}

// defaultSelect is the auth events selection algorithm, written independently of
// matrix/auth so that tests of auth do not grade its own selection.
func defaultSelect(e matrix.PDU, t matrix.StateKeyTuple) bool {
	switch {
	case t.EventType == "m.room.create":
		return !e.Version().RoomIDFromCreateEvent
	case t.EventType == "m.room.power_levels":
		return true
	case t.EventType == "m.room.member" && t.StateKey == e.Sender():
		return true
	}
	if e.Type() != "m.room.member" || e.StateKey() == nil {
		return false
	}
	var c struct {
		Membership string `json:"membership"`
		Via        string `json:"join_authorised_via_users_server"`
		TPI        struct {
			Signed struct {
				Token string `json:"token"`
			} `json:"signed"`
		} `json:"third_party_invite"`
	}
	_ = json.Unmarshal(e.Content(), &c)
	switch t.EventType {
	case "m.room.member":
		return t.StateKey == *e.StateKey() || (c.Via != "" && t.StateKey == c.Via && c.Membership == "join")
	case "m.room.join_rules":
		return c.Membership == "join" || c.Membership == "invite" || c.Membership == "knock"
	case "m.room.third_party_invite":
		return c.Membership == "invite" && c.TPI.Signed.Token != "" && t.StateKey == c.TPI.Signed.Token
	}
	return false
}
