package testfakes

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
)

// Roomserver is an in-memory roomserver.RoomserverAPI with just enough room logic for the
// clientapi's handler tests: rooms, current state, memberships (joined users may send;
// public rooms and invites allow joins), aliases and visibility. Events are unsigned, with
// placeholder hashes and no prev/auth events. It records every SendEvent and PerformMembership request.
type Roomserver struct {
	ServerName string

	mu          sync.Mutex
	n           int
	rooms       map[string]*fakeRoom
	aliases     map[string]string
	events      map[string]json.RawMessage
	eventRoom   map[string]string
	txns        map[string]string
	Sent        []rsapi.SendEventRequest
	Memberships []rsapi.MembershipRequest
	Created     []rsapi.CreateRoomRequest
}

type fakeRoom struct {
	version    string
	state      map[rsapi.StateTuple]json.RawMessage
	visibility string
	public     bool
}

var _ rsapi.RoomserverAPI = (*Roomserver)(nil)

// NewRoomserver returns an empty fake roomserver.
func NewRoomserver(serverName string) *Roomserver {
	return &Roomserver{ServerName: serverName, rooms: map[string]*fakeRoom{}, aliases: map[string]string{},
		events: map[string]json.RawMessage{}, eventRoom: map[string]string{}, txns: map[string]string{}}
}

// addEvent builds a federation-format event of the room's version (no event_id for v3+;
// the ID is computed by matrix/event from the reference hash, as real events' are) and
// stores it. A create event of a v12 room has no room_id.
func (f *Roomserver) addEvent(roomID, sender, typ string, stateKey *string, content any, redacts string) string {
	return f.addEventVersion(roomID, f.rooms[roomID].version, sender, typ, stateKey, content, redacts)
}

func (f *Roomserver) addEventVersion(roomID, version, sender, typ string, stateKey *string, content any, redacts string) string {
	f.n++
	ev := map[string]any{"room_id": roomID, "sender": sender, "type": typ, "content": content,
		"origin_server_ts": time.Now().UnixMilli() + int64(f.n), "depth": f.n, "prev_events": []string{}, "auth_events": []string{},
		"hashes": map[string]string{"sha256": "x"}, "signatures": map[string]any{}}
	v := matrix.MustRoomVersion(matrix.RoomVersionID(version))
	if v.EventIDFormat == matrix.EventIDFormatServer {
		ev["event_id"] = fmt.Sprintf("$ev%d:%s", f.n, f.ServerName)
		ev["prev_events"], ev["auth_events"] = [][]any{}, [][]any{}
	}
	if typ == "m.room.create" && v.RoomIDFromCreateEvent {
		delete(ev, "room_id")
	}
	if stateKey != nil {
		ev["state_key"] = *stateKey
	}
	if redacts != "" {
		ev["redacts"] = redacts
	}
	b, _ := json.Marshal(ev)
	parsed, err := event.NewEventFromTrustedJSON(b, v.ID)
	if err != nil {
		panic(fmt.Sprintf("testfakes: built an unreadable event: %v", err))
	}
	id := parsed.EventID()
	if roomID == "" { // v12 create event: the room ID derives from it
		roomID = parsed.RoomID()
	}
	if _, ok := f.rooms[roomID]; !ok {
		f.rooms[roomID] = &fakeRoom{version: version, state: map[rsapi.StateTuple]json.RawMessage{}, visibility: "private"}
	}
	f.events[id] = b
	f.eventRoom[id] = roomID
	if stateKey != nil {
		f.rooms[roomID].state[rsapi.StateTuple{EventType: typ, StateKey: *stateKey}] = b
	}
	return id
}

func (f *Roomserver) membershipLocked(roomID, userID string) string {
	r := f.rooms[roomID]
	raw, ok := r.state[rsapi.StateTuple{EventType: "m.room.member", StateKey: userID}]
	if !ok {
		return ""
	}
	var ev struct {
		Content struct {
			Membership string `json:"membership"`
		} `json:"content"`
	}
	_ = json.Unmarshal(raw, &ev)
	return ev.Content.Membership
}

func (f *Roomserver) CreateRoom(ctx context.Context, req *rsapi.CreateRoomRequest) (*rsapi.CreateRoomResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := req.RoomVersion
	if v == "" {
		v = "12"
	}
	alias := ""
	if req.RoomAliasName != "" {
		alias = "#" + req.RoomAliasName + ":" + f.ServerName
		if _, ok := f.aliases[alias]; ok {
			return nil, httputil.RoomInUse("Room alias already taken")
		}
	}
	f.Created = append(f.Created, *req)
	roomID := ""
	rv := matrix.MustRoomVersion(matrix.RoomVersionID(v))
	if !rv.RoomIDFromCreateEvent {
		roomID = fmt.Sprintf("!room%d:%s", f.n+1, f.ServerName)
		f.rooms[roomID] = &fakeRoom{version: v, state: map[rsapi.StateTuple]json.RawMessage{}}
	}
	empty := ""
	createID := f.addEventVersion(roomID, v, req.UserID, "m.room.create", &empty, map[string]any{"room_version": v}, "")
	roomID = f.eventRoom[createID]
	f.rooms[roomID].visibility = "private"
	f.rooms[roomID].public = req.Preset == "public_chat" || (req.Preset == "" && req.Visibility == "public")
	if req.Visibility == "public" {
		f.rooms[roomID].visibility = "public"
	}
	f.addEvent(roomID, req.UserID, "m.room.member", &req.UserID, map[string]any{"membership": "join"}, "")
	if req.Name != "" {
		f.addEvent(roomID, req.UserID, "m.room.name", &empty, map[string]any{"name": req.Name}, "")
	}
	for _, inv := range req.Invite {
		inv := inv
		f.addEvent(roomID, req.UserID, "m.room.member", &inv, map[string]any{"membership": "invite"}, "")
	}
	if alias != "" {
		f.aliases[alias] = roomID
	}
	return &rsapi.CreateRoomResponse{RoomID: roomID, RoomAlias: alias}, nil
}

func (f *Roomserver) SendEvent(ctx context.Context, req *rsapi.SendEventRequest) (*rsapi.SendEventResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.rooms[req.RoomID]; !ok {
		return nil, httputil.NotFound("Unknown room")
	}
	if f.membershipLocked(req.RoomID, req.Sender) != "join" {
		return nil, httputil.Forbidden("User is not joined to the room")
	}
	txnKey := req.Sender + "|" + req.DeviceID + "|" + req.TxnID
	if req.TxnID != "" {
		if id, ok := f.txns[txnKey]; ok {
			return &rsapi.SendEventResponse{EventID: id, RoomID: req.RoomID}, nil
		}
	}
	f.Sent = append(f.Sent, *req)
	var content any
	_ = json.Unmarshal(req.Content, &content)
	id := f.addEvent(req.RoomID, req.Sender, req.Type, req.StateKey, content, req.Redacts)
	if req.TxnID != "" {
		f.txns[txnKey] = id
	}
	return &rsapi.SendEventResponse{EventID: id, RoomID: req.RoomID}, nil
}

func (f *Roomserver) PerformMembership(ctx context.Context, req *rsapi.MembershipRequest) (*rsapi.SendEventResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	roomID := req.RoomID
	if strings.HasPrefix(roomID, "#") {
		r, ok := f.aliases[roomID]
		if !ok {
			return nil, httputil.NotFound("Unknown room alias")
		}
		roomID = r
	}
	room, ok := f.rooms[roomID]
	if !ok {
		return nil, httputil.NotFound("Unknown room")
	}
	f.Memberships = append(f.Memberships, *req)
	target, membership := req.Sender, ""
	senderMembership := f.membershipLocked(roomID, req.Sender)
	switch req.Action {
	case "join":
		cur := senderMembership
		if cur == "ban" || (cur != "invite" && cur != "join" && !room.public) {
			return nil, httputil.Forbidden("You are not invited to this room")
		}
		membership = "join"
	case "leave":
		if senderMembership != "join" && senderMembership != "invite" && senderMembership != "knock" {
			return nil, httputil.Forbidden("You are not in this room")
		}
		membership = "leave"
	case "knock":
		membership = "knock"
	case "invite", "kick", "ban", "unban":
		if senderMembership != "join" {
			return nil, httputil.Forbidden("You are not joined to this room")
		}
		target = req.Target
		membership = map[string]string{"invite": "invite", "kick": "leave", "ban": "ban", "unban": "leave"}[req.Action]
	default:
		return nil, httputil.InvalidParam("unknown action")
	}
	content := map[string]any{"membership": membership}
	if req.Reason != "" {
		content["reason"] = req.Reason
	}
	id := f.addEvent(roomID, req.Sender, "m.room.member", &target, content, "")
	return &rsapi.SendEventResponse{EventID: id, RoomID: roomID}, nil
}

func (f *Roomserver) Forget(ctx context.Context, roomID, userID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.rooms[roomID]; !ok {
		return httputil.NotFound("Unknown room")
	}
	if m := f.membershipLocked(roomID, userID); m == "join" || m == "invite" {
		return httputil.Unknown("User is still in the room")
	}
	return nil
}

func (f *Roomserver) QueryMembership(ctx context.Context, roomID, userID string) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rooms[roomID]
	if !ok {
		return "", "", httputil.NotFound("Unknown room")
	}
	raw := r.state[rsapi.StateTuple{EventType: "m.room.member", StateKey: userID}]
	var ev struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(raw, &ev)
	return f.membershipLocked(roomID, userID), ev.EventID, nil
}

func (f *Roomserver) stateLocked(roomID string, tuples []rsapi.StateTuple) ([]json.RawMessage, error) {
	r, ok := f.rooms[roomID]
	if !ok {
		return nil, httputil.NotFound("Unknown room")
	}
	var keys []rsapi.StateTuple
	if len(tuples) > 0 {
		keys = tuples
	} else {
		for k := range r.state {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			return keys[i].EventType+"|"+keys[i].StateKey < keys[j].EventType+"|"+keys[j].StateKey
		})
	}
	var out []json.RawMessage
	for _, k := range keys {
		if ev, ok := r.state[k]; ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (f *Roomserver) QueryCurrentState(ctx context.Context, roomID string, tuples []rsapi.StateTuple) ([]json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stateLocked(roomID, tuples)
}

func (f *Roomserver) QueryStateForUser(ctx context.Context, roomID, userID string, tuples []rsapi.StateTuple) ([]json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.rooms[roomID]; !ok {
		return nil, httputil.NotFound("Unknown room")
	}
	if f.membershipLocked(roomID, userID) != "join" {
		return nil, httputil.Forbidden("User is not in the room")
	}
	return f.stateLocked(roomID, tuples)
}

func (f *Roomserver) QueryEvent(ctx context.Context, eventID string) (*rsapi.EventJSON, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev, ok := f.events[eventID]
	if !ok {
		return nil, httputil.NotFound("Unknown event")
	}
	return &rsapi.EventJSON{RoomVersion: f.rooms[f.eventRoom[eventID]].version, Event: ev}, nil
}

func (f *Roomserver) QueryRoomVersion(ctx context.Context, roomID string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rooms[roomID]
	if !ok {
		return "", httputil.NotFound("Unknown room")
	}
	return r.version, nil
}

func (f *Roomserver) QueryRoomsForUser(ctx context.Context, userID string, memberships []string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id := range f.rooms {
		m := f.membershipLocked(id, userID)
		for _, want := range memberships {
			if m == want {
				out = append(out, id)
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func (f *Roomserver) SetRoomAlias(ctx context.Context, alias, roomID, userID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.rooms[roomID]; !ok {
		return httputil.NotFound("Unknown room")
	}
	if _, ok := f.aliases[alias]; ok {
		return &httputil.MatrixError{Status: 409, ErrCode: "M_UNKNOWN", Err: "Room alias already exists"}
	}
	f.aliases[alias] = roomID
	return nil
}

func (f *Roomserver) ResolveRoomAlias(ctx context.Context, alias string) (string, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.aliases[alias]
	if !ok {
		return "", nil, httputil.NotFound("Room alias not found")
	}
	return r, []string{f.ServerName}, nil
}

func (f *Roomserver) RemoveRoomAlias(ctx context.Context, alias, userID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.aliases[alias]; !ok {
		return httputil.NotFound("Room alias not found")
	}
	delete(f.aliases, alias)
	return nil
}

func (f *Roomserver) GetAliasesForRoom(ctx context.Context, roomID string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for a, r := range f.aliases {
		if r == roomID {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (f *Roomserver) SetRoomVisibility(ctx context.Context, roomID, userID, visibility string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rooms[roomID]
	if !ok {
		return httputil.NotFound("Unknown room")
	}
	r.visibility = visibility
	return nil
}

func (f *Roomserver) GetRoomVisibility(ctx context.Context, roomID string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rooms[roomID]
	if !ok {
		return "", httputil.NotFound("Unknown room")
	}
	return r.visibility, nil
}

func (f *Roomserver) QueryPublicRooms(ctx context.Context, req *rsapi.PublicRoomsRequest) (*rsapi.PublicRoomsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &rsapi.PublicRoomsResponse{Chunk: []rsapi.PublicRoom{}}
	var ids []string
	for id, r := range f.rooms {
		if r.visibility == "public" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		if req.Limit > 0 && len(resp.Chunk) >= req.Limit {
			resp.NextBatch = "more"
			break
		}
		resp.Chunk = append(resp.Chunk, rsapi.PublicRoom{RoomID: id, NumJoinedMembers: 1})
	}
	resp.Total = len(ids)
	return resp, nil
}
