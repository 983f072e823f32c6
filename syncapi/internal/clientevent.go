package internal

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"github.com/axon-matrix/axon/syncapi/storage"
)

// clientKeys are the top-level keys of a federation event that the client format keeps
// (the spec's ClientEvent); the rest (auth_events, prev_events, depth, hashes, signatures,
// origin, prev_state, membership) are federation-only.
var clientKeys = []string{"content", "event_id", "origin_server_ts", "sender", "state_key", "type", "redacts"}

// FormatOptions says for whom and how an event is rendered.
type FormatOptions struct {
	// IncludeRoomID is false in /sync (ClientEventWithoutRoomID), true elsewhere.
	IncludeRoomID bool
	// UserID and DeviceID are the requester; the sender's own device gets
	// unsigned.transaction_id.
	UserID, DeviceID string
	// Now is the time age is computed against.
	Now time.Time
	// Federation renders the event as stored (the filter's event_format "federation"),
	// with event_id and the unsigned additions.
	Federation bool
	// Fields, when set, keeps only these dot-separated paths (the filter's event_fields).
	Fields []string
	// membership, when set, gives the requester's membership at each event (spec 1.11
	// unsigned.membership, membershipat.go: withMembership): set for the events the
	// visibility rules let through (/sync timelines, /messages chunks, /context, /event),
	// nil for state. A pointer, not a func value: setting it allocates nothing.
	membership *roomVisibility
}

// clientFields are the federation event's keys the client format reads; decoding into it
// skips the federation-only keys (hashes, signatures, auth and prev events) instead of
// building map entries for them.
type clientFields struct {
	Content        json.RawMessage `json:"content"`
	EventID        json.RawMessage `json:"event_id"`
	OriginServerTS json.RawMessage `json:"origin_server_ts"`
	Sender         json.RawMessage `json:"sender"`
	StateKey       json.RawMessage `json:"state_key"`
	Type           json.RawMessage `json:"type"`
	Redacts        json.RawMessage `json:"redacts"`
	Unsigned       json.RawMessage `json:"unsigned"`
}

// ClientEvent renders a stored event in the client format. It runs for every event of
// every /sync timeline, once per recipient. An event read once for the requests one event
// woke (Event.Derived, set by the shared reads) is parsed once and, for every recipient
// but the sender's own device, rendered once (renderedEvent); each response writes its
// own unsigned.age and unsigned.membership into a copy of it. The rest decodes only the
// keys it keeps and writes the object without re-validating the values (writeObject).
func ClientEvent(e *storage.Event, o FormatOptions) json.RawMessage {
	if e.Derived != nil && !o.Federation && len(o.Fields) == 0 && !o.Now.IsZero() && len(e.RedactedBecause) == 0 &&
		!ownTransaction(e, o) {
		membership := ""
		if o.membership != nil {
			membership = o.membership.membershipAt(e)
		}
		return parsedOf(e).rendered(e, o.IncludeRoomID, o.membership != nil).at(o.Now, membership)
	}
	return renderClientEvent(e, o, parsedOf(e), false, false).json
}

// ownTransaction reports whether the requester is the sender's device that sent e, which
// gets unsigned.transaction_id.
func ownTransaction(e *storage.Event, o FormatOptions) bool {
	return e.TxnID != "" && e.Sender == o.UserID && e.TxnDeviceID == o.DeviceID && o.DeviceID != ""
}

// renderClientEvent renders e for o. With ageLater, unsigned.age is left out and the
// result says where its digits go; with membershipLater, likewise unsigned.membership's
// value (renderedEvent.at writes both per response).
func renderClientEvent(e *storage.Event, o FormatOptions, p *parsedEvent, ageLater, membershipLater bool) renderedEvent {
	out := make(map[string]json.RawMessage, 10)
	var unsignedRaw json.RawMessage
	if o.Federation {
		var fed map[string]json.RawMessage
		if err := json.Unmarshal(e.JSON, &fed); err != nil {
			fed = map[string]json.RawMessage{}
		}
		for k, v := range fed {
			out[k] = v
		}
		unsignedRaw = fed["unsigned"]
	} else {
		f := &p.fields
		for k, v := range map[string]json.RawMessage{"content": f.Content, "event_id": f.EventID,
			"origin_server_ts": f.OriginServerTS, "sender": f.Sender, "state_key": f.StateKey, "type": f.Type,
			"redacts": f.Redacts} {
			if v != nil {
				out[k] = v
			}
		}
		unsignedRaw = f.Unsigned
	}
	out["event_id"], _ = json.Marshal(e.EventID)
	out["type"], _ = json.Marshal(e.Type)
	out["sender"], _ = json.Marshal(e.Sender)
	if _, ok := out["content"]; !ok {
		out["content"] = json.RawMessage(`{}`)
	}
	if e.StateKey != nil {
		out["state_key"], _ = json.Marshal(*e.StateKey)
	}
	if e.Type == "m.room.redaction" && !o.Federation {
		bothRedacts(out)
	}
	if o.IncludeRoomID {
		out["room_id"], _ = json.Marshal(e.RoomID)
	}
	unsigned := map[string]json.RawMessage{}
	if unsignedRaw != nil {
		_ = json.Unmarshal(unsignedRaw, &unsigned)
	}
	// Federation-only unsigned keys a client must not see as the sender's data.
	delete(unsigned, "age_ts")
	if e.OriginServerTS > 0 && ageLater {
		unsigned["age"] = json.RawMessage{} // written per response, at the mark
	} else if e.OriginServerTS > 0 && !o.Now.IsZero() {
		age := o.Now.UnixMilli() - e.OriginServerTS
		if age < 0 {
			age = 0
		}
		unsigned["age"], _ = json.Marshal(age)
	}
	// Only this server says what the requester's membership was (never a remote's unsigned).
	delete(unsigned, "membership")
	if membershipLater {
		unsigned["membership"] = json.RawMessage{} // written per response, at its mark
	} else if o.membership != nil {
		unsigned["membership"], _ = json.Marshal(o.membership.membershipAt(e))
	}
	delete(unsigned, "transaction_id")
	if ownTransaction(e, o) {
		unsigned["transaction_id"], _ = json.Marshal(e.TxnID)
	}
	if e.ReplacesState != "" {
		unsigned["replaces_state"], _ = json.Marshal(e.ReplacesState)
		if len(e.PrevContent) > 0 {
			unsigned["prev_content"] = json.RawMessage(e.PrevContent)
		}
		if e.PrevSender != "" {
			unsigned["prev_sender"], _ = json.Marshal(e.PrevSender)
		}
	}
	if len(e.RedactedBecause) > 0 {
		if red := parseStoredEvent(e.RedactedBecause); red != nil {
			ro := o
			ro.DeviceID = "" // no transaction_id inside redacted_because
			ro.Fields = nil
			ro.membership = nil
			unsigned["redacted_because"] = ClientEvent(red, ro)
		}
	}
	r := renderedEvent{ageAt: -1, membershipAt: -1}
	if len(unsigned) > 0 {
		ageMark, membershipMark := "", "" // a stored age (no origin_server_ts) is kept as it is
		if ageLater && e.OriginServerTS > 0 {
			ageMark = "age"
		}
		if membershipLater {
			membershipMark = "membership"
		}
		ub, ageAt, membershipAt := appendObject(nil, unsigned, ageMark, membershipMark)
		out["unsigned"] = ub
		b, unsignedAt, _ := appendObject(nil, out, "unsigned", "")
		r.json = b
		if ageAt >= 0 {
			r.ageAt, r.ts = unsignedAt+ageAt, e.OriginServerTS
		}
		if membershipAt >= 0 {
			r.membershipAt = unsignedAt + membershipAt
		}
	} else {
		r.json, _, _ = appendObject(nil, out, "", "")
	}
	if len(o.Fields) > 0 {
		r.json = onlyFields(r.json, o.Fields)
	}
	return r
}

// renderedEvent is an event's client-format JSON, with the places of unsigned.age and
// unsigned.membership when they are written per response.
type renderedEvent struct {
	json  []byte
	ageAt int   // offset of age's digits in json; -1: no age to write
	ts    int64 // origin_server_ts the age counts from
	// membershipAt is the offset of membership's value in json; -1: none to write. It
	// follows ageAt when both are set (unsigned's keys are sorted).
	membershipAt int
}

// at returns the rendering with unsigned.age as of now and unsigned.membership (if the
// rendering has its place). The result may share memory with r.json and must not be
// modified (its capacity is clipped, so appending copies).
func (r *renderedEvent) at(now time.Time, membership string) json.RawMessage {
	if r.ageAt < 0 && r.membershipAt < 0 {
		return r.json[:len(r.json):len(r.json)]
	}
	b := make([]byte, 0, len(r.json)+24+len(membership))
	done := 0
	if r.ageAt >= 0 {
		age := now.UnixMilli() - r.ts
		if age < 0 {
			age = 0
		}
		b = append(b, r.json[:r.ageAt]...)
		b = strconv.AppendInt(b, age, 10)
		done = r.ageAt
	}
	if r.membershipAt >= 0 {
		b = append(b, r.json[done:r.membershipAt]...)
		b = appendJSONString(b, membership)
		done = r.membershipAt
	}
	return append(b, r.json[done:]...)
}

// appendJSONString appends s as json.Marshal writes it: the membership values (join,
// leave, ...) directly, anything else through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 'a' || c > 'z' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// writeObject writes a JSON object with sorted keys, as json.Marshal would, but copies the
// values as they are: each is valid JSON already (decoded from stored JSON or produced by
// json.Marshal), so json.Marshal's compaction and re-validation of every RawMessage is
// work thrown away. Keys are the fixed ASCII names of the event format, or keys of the
// event's own unsigned object, which are encoded as JSON strings.
func writeObject(m map[string]json.RawMessage) json.RawMessage {
	b, _, _ := appendObject(nil, m, "", "")
	return b
}

// appendObject appends m as writeObject writes it to b and returns, for the keys mark1
// and mark2 ("" for none), the offsets in the result at which their values start (-1 if
// m has no such key). A mark's value is written as it is, even empty (a place left for a
// value written later).
func appendObject(b []byte, m map[string]json.RawMessage, mark1, mark2 string) ([]byte, int, int) {
	keys := make([]string, 0, len(m))
	n := 2
	for k, v := range m {
		keys = append(keys, k)
		n += len(k) + len(v) + 4
	}
	sort.Strings(keys)
	if b == nil {
		b = make([]byte, 0, n)
	}
	at1, at2 := -1, -1
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		kb, _ := json.Marshal(k)
		b = append(b, kb...)
		b = append(b, ':')
		v := m[k]
		switch {
		case k == mark1 && mark1 != "":
			at1 = len(b)
		case k == mark2 && mark2 != "":
			at2 = len(b)
		case len(v) == 0:
			v = json.RawMessage("null")
		}
		b = append(b, v...)
	}
	return append(b, '}'), at1, at2
}

// bothRedacts gives a client-format m.room.redaction its target in both places clients
// look: room versions 11+ carry it in content.redacts, older ones at the top level; the
// spec asks servers to add the top-level key for v11+ so older clients keep working, and
// Synapse likewise copies an old version's top-level key into content.
func bothRedacts(out map[string]json.RawMessage) {
	var content map[string]json.RawMessage
	if json.Unmarshal(out["content"], &content) != nil || content == nil {
		return
	}
	top, hasTop := out["redacts"]
	inner, hasInner := content["redacts"]
	switch {
	case hasInner && !hasTop:
		var id string
		if json.Unmarshal(inner, &id) == nil && id != "" {
			out["redacts"] = inner
		}
	case hasTop && !hasInner:
		content["redacts"] = top
		out["content"], _ = json.Marshal(content)
	}
}

// onlyFields keeps the given dot-separated paths of a JSON object ("content.body"; a
// literal dot in a key is written "\.").
func onlyFields(raw []byte, fields []string) json.RawMessage {
	var src map[string]any
	if json.Unmarshal(raw, &src) != nil {
		return raw
	}
	dst := map[string]any{}
	for _, f := range fields {
		path := splitPath(f)
		var cur any = src
		ok := true
		for _, p := range path {
			m, isMap := cur.(map[string]any)
			if !isMap {
				ok = false
				break
			}
			if cur, ok = m[p]; !ok {
				break
			}
		}
		if !ok {
			continue
		}
		d := dst
		for _, p := range path[:len(path)-1] {
			next, isMap := d[p].(map[string]any)
			if !isMap {
				next = map[string]any{}
				d[p] = next
			}
			d = next
		}
		d[path[len(path)-1]] = cur
	}
	b, _ := json.Marshal(dst)
	return b
}

// splitPath splits an event_fields entry on unescaped dots.
func splitPath(f string) []string {
	var parts []string
	var cur []byte
	for i := 0; i < len(f); i++ {
		switch {
		case f[i] == '\\' && i+1 < len(f) && f[i+1] == '.':
			cur = append(cur, '.')
			i++
		case f[i] == '.':
			parts = append(parts, string(cur))
			cur = cur[:0]
		default:
			cur = append(cur, f[i])
		}
	}
	return append(parts, string(cur))
}

// ClientEvents renders a list of events.
func ClientEvents(evs []storage.Event, o FormatOptions) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(evs))
	for i := range evs {
		out = append(out, ClientEvent(&evs[i], o))
	}
	return out
}

// StrippedEvent renders a state event as the spec's StrippedStateEvent (invite_state,
// knock_state): content, sender, state_key, type.
func StrippedEvent(e *storage.Event) json.RawMessage {
	content := parsedOf(e).fields.Content
	if len(content) == 0 {
		content = json.RawMessage(`{}`)
	}
	sk := ""
	if e.StateKey != nil {
		sk = *e.StateKey
	}
	b, _ := json.Marshal(map[string]any{"content": content, "sender": e.Sender, "state_key": sk, "type": e.Type})
	return b
}

// eventFields is the part of a federation-format event the syncapi indexes.
type eventFields struct {
	EventID        string          `json:"event_id"`
	RoomID         string          `json:"room_id"`
	Sender         string          `json:"sender"`
	Type           string          `json:"type"`
	StateKey       *string         `json:"state_key"`
	OriginServerTS int64           `json:"origin_server_ts"`
	Content        json.RawMessage `json:"content"`
}

// ParseEvent reads the indexed fields of a federation-format event. eventID overrides the
// JSON's event_id (absent in room versions 3+). It returns nil for JSON that is not an
// event (no ID, type or sender).
func ParseEvent(raw []byte, eventID string) *storage.Event {
	var f eventFields
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil
	}
	if eventID != "" {
		f.EventID = eventID
	}
	if f.EventID == "" || f.Type == "" || f.Sender == "" {
		return nil
	}
	e := &storage.Event{EventID: f.EventID, RoomID: f.RoomID, Type: f.Type, Sender: f.Sender, StateKey: f.StateKey,
		OriginServerTS: f.OriginServerTS, JSON: raw}
	if f.Type == "m.room.member" {
		var c struct {
			Membership string `json:"membership"`
		}
		_ = json.Unmarshal(f.Content, &c)
		e.Membership = c.Membership
	}
	return e
}

func parseStoredEvent(raw []byte) *storage.Event { return ParseEvent(raw, "") }

// contentField returns a string field of an event's content ("" if absent).
func contentField(e *storage.Event, field string) string {
	var fed struct {
		Content map[string]json.RawMessage `json:"content"`
	}
	_ = json.Unmarshal(e.JSON, &fed)
	var s string
	_ = json.Unmarshal(fed.Content[field], &s)
	return s
}

// eventContent returns an event's raw content.
func eventContent(e *storage.Event) json.RawMessage { return parsedOf(e).fields.Content }
