package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/cjson"
)

// BadEventError says why an event from outside was rejected as malformed. Federation
// code maps it to M_BAD_JSON (M_NOT_JSON if it is not JSON at all).
type BadEventError struct {
	Msg string
	// Err is a sentinel the error wraps, such as ErrTooLarge, or nil.
	Err error
}

// Error implements error.
func (e *BadEventError) Error() string { return "malformed event: " + e.Msg }

// Unwrap lets errors.Is(err, ErrTooLarge) find size rejections.
func (e *BadEventError) Unwrap() error { return e.Err }

func badf(format string, args ...any) error {
	return &BadEventError{Msg: fmt.Sprintf(format, args...)}
}

// topLevel parses an event's JSON object into its members.
func topLevel(raw []byte) (map[string]json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, badf("not a JSON object: %v", err)
	}
	if top == nil {
		return nil, badf("not a JSON object")
	}
	return top, nil
}

// topLevelCanonical is topLevel for canonical JSON (as cjson.Canonical writes it, so
// valid): the members are cut out in one pass instead of decoded.
func topLevelCanonical(raw []byte) (map[string]json.RawMessage, error) {
	top := make(map[string]json.RawMessage, 16)
	err := eachMember(raw, func(key, val []byte) error {
		name := string(key)
		if bytes.IndexByte(key, '\\') >= 0 {
			quoted := make([]byte, 0, len(key)+2)
			quoted = append(append(append(quoted, '"'), key...), '"')
			if err := json.Unmarshal(quoted, &name); err != nil {
				return errNotCanonical
			}
		}
		top[name] = val
		return nil
	})
	if err != nil {
		return topLevel(raw)
	}
	return top, nil
}

// marshalCanonical writes a member map back as canonical JSON. Values must be valid
// JSON; the canonical pass at the end normalises them (appendSortedMembers without it).
func marshalCanonical(top map[string]json.RawMessage) ([]byte, error) {
	size := 2
	for k, v := range top {
		size += len(k) + len(v) + 4
	}
	return cjson.Canonical(appendSortedMembers(make([]byte, 0, size), top), false)
}

// appendSortedMembers appends the members as a JSON object with its keys in canonical
// order. It is marshalCanonical without the final canonical pass, so every value must be
// canonical JSON already (a member of canonical JSON, or the output of cjson).
func appendSortedMembers(buf []byte, members map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	slices.Sort(keys) // canonical JSON orders keys by their UTF-8 bytes, as Go compares strings
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = cjson.AppendString(buf, k)
		buf = append(buf, ':')
		if v := members[k]; len(v) == 0 {
			buf = append(buf, "null"...)
		} else {
			buf = append(buf, v...)
		}
	}
	return append(buf, '}')
}

// setTopLevel sets (or with nil value, removes) one top-level key of an event.
func setTopLevel(raw []byte, key string, value json.RawMessage) ([]byte, error) {
	top, err := topLevel(raw)
	if err != nil {
		return nil, err
	}
	if value == nil {
		delete(top, key)
	} else {
		top[key] = value
	}
	return marshalCanonical(top)
}

func isNull(raw json.RawMessage) bool { return raw == nil || bytes.Equal(raw, []byte("null")) }

// stringField decodes an optional string member; present is false if absent or null.
func stringField(top map[string]json.RawMessage, key string) (s string, present bool, err error) {
	raw, ok := top[key]
	if !ok || isNull(raw) {
		return "", false, nil
	}
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && bytes.IndexByte(raw[1:n-1], '\\') < 0 &&
		bytes.IndexByte(raw[1:n-1], '"') < 0 && utf8.Valid(raw[1:n-1]) {
		// No escapes: the string is the bytes between the quotes (the JSON was validated
		// when it was split into members, so there are no control characters).
		return string(raw[1 : n-1]), true, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, badf("%q is not a string", key)
	}
	return s, true, nil
}

// intField decodes an optional integer member.
func intField(top map[string]json.RawMessage, key string) (n int64, present bool, err error) {
	raw, ok := top[key]
	if !ok || isNull(raw) {
		return 0, false, nil
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, true, badf("%q is not an integer", key)
	}
	return n, true, nil
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == '{'
}

// references decodes prev_events or auth_events: a list of IDs (v3+) or of
// [ID, {"sha256": hash}] pairs (v1–v2).
func references(top map[string]json.RawMessage, key string, v *matrix.RoomVersion) ([]EventReference, bool, error) {
	raw, ok := top[key]
	if !ok || isNull(raw) {
		return nil, false, nil
	}
	if v.EventIDFormat != matrix.EventIDFormatServer {
		var ids []string
		if err := json.Unmarshal(raw, &ids); err != nil {
			return nil, true, badf("%q is not a list of event IDs", key)
		}
		refs := make([]EventReference, len(ids))
		for i, id := range ids {
			refs[i] = EventReference{EventID: id}
		}
		return refs, true, nil
	}
	var pairs []json.RawMessage
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, true, badf("%q is not a list", key)
	}
	refs := make([]EventReference, len(pairs))
	for i, p := range pairs {
		var pair []json.RawMessage
		if err := json.Unmarshal(p, &pair); err != nil || len(pair) != 2 {
			return nil, true, badf("%q entries must be [event_id, hashes] pairs", key)
		}
		var hashes map[string]json.RawMessage
		if err := json.Unmarshal(pair[0], &refs[i].EventID); err != nil {
			return nil, true, badf("%q entry has a non-string event ID", key)
		}
		if err := json.Unmarshal(pair[1], &hashes); err != nil || hashes == nil {
			return nil, true, badf("%q entry has no hashes object", key)
		}
		if h, ok := hashes["sha256"]; ok {
			if err := json.Unmarshal(h, &refs[i].SHA256); err != nil {
				return nil, true, badf("%q entry has a non-string sha256", key)
			}
		}
	}
	return refs, true, nil
}

// newEvent reads an event's fields. It checks types (a field of the wrong JSON type is an
// error) but not presence, lengths or hashes; see NewEventFromUntrustedJSON for that.
// eventID, if "", is taken from the JSON (v1–v2) or computed (v3+). canonical says raw is
// known to be canonical JSON (its own cjson.Canonical form), which lets the hashes and the
// signed bytes be computed straight from it.
func newEvent(raw []byte, v *matrix.RoomVersion, eventID string, canonical bool) (*Event, error) {
	top, err := topLevel(raw)
	if err != nil {
		return nil, err
	}
	return newEventFromTop(raw, top, v, eventID, canonical)
}

// newEventFromTop is newEvent for JSON already split into its members.
func newEventFromTop(raw []byte, top map[string]json.RawMessage, v *matrix.RoomVersion, eventID string, canonical bool) (*Event, error) {
	var err error
	e := &Event{raw: raw, version: v, canonical: canonical}
	if e.roomID, _, err = stringField(top, "room_id"); err != nil {
		return nil, err
	}
	if e.sender, _, err = stringField(top, "sender"); err != nil {
		return nil, err
	}
	if e.typ, _, err = stringField(top, "type"); err != nil {
		return nil, err
	}
	if e.origin, _, err = stringField(top, "origin"); err != nil {
		return nil, err
	}
	if sk, present, err := stringField(top, "state_key"); err != nil {
		return nil, err
	} else if present {
		e.stateKey = &sk
	}
	e.content = top["content"]
	if isNull(e.content) {
		e.content = json.RawMessage("{}")
	} else if !isObject(e.content) {
		return nil, badf(`"content" is not an object`)
	}
	if u, ok := top["unsigned"]; ok && !isNull(u) {
		if !isObject(u) {
			return nil, badf(`"unsigned" is not an object`)
		}
		e.unsigned = u
	}
	if e.prevEvents, _, err = references(top, "prev_events", v); err != nil {
		return nil, err
	}
	if e.authEvents, _, err = references(top, "auth_events", v); err != nil {
		return nil, err
	}
	if e.depth, _, err = intField(top, "depth"); err != nil {
		return nil, err
	}
	if e.ts, _, err = intField(top, "origin_server_ts"); err != nil {
		return nil, err
	}
	if v.RedactsInContent {
		var c map[string]json.RawMessage
		_ = json.Unmarshal(e.content, &c)
		if e.typ == "m.room.redaction" {
			if e.redacts, _, err = stringField(c, "redacts"); err != nil {
				return nil, err
			}
		}
	} else if e.redacts, _, err = stringField(top, "redacts"); err != nil {
		return nil, err
	}

	switch {
	case eventID != "":
		e.eventID = eventID
	case v.EventIDFormat == matrix.EventIDFormatServer:
		id, present, err := stringField(top, "event_id")
		if err != nil {
			return nil, err
		}
		if !present {
			return nil, badf(`room version %s events need "event_id"`, v.ID)
		}
		e.eventID = id
	default:
		if e.eventID, err = e.computeEventID(top); err != nil {
			return nil, err
		}
	}
	if v.RoomIDFromCreateEvent && e.typ == "m.room.create" && e.StateKeyEquals("") {
		e.roomID = "!" + e.eventID[1:]
	}
	return e, nil
}

// NewEventFromTrustedJSON reads an event from our own database: no size, field or hash
// checks. The event ID is taken from the JSON (v1–v2) or computed from it (v3+).
func NewEventFromTrustedJSON(eventJSON []byte, version matrix.RoomVersionID) (*Event, error) {
	v, err := matrix.GetRoomVersion(version)
	if err != nil {
		return nil, err
	}
	return newEvent(eventJSON, v, "", false)
}

// NewEventFromTrustedJSONWithEventID is NewEventFromTrustedJSON with an event ID known
// already (stored next to the JSON), which saves hashing the event.
func NewEventFromTrustedJSONWithEventID(eventID string, eventJSON []byte, version matrix.RoomVersionID) (*Event, error) {
	v, err := matrix.GetRoomVersion(version)
	if err != nil {
		return nil, err
	}
	if eventID == "" {
		return nil, errors.New("event: empty event ID")
	}
	return newEvent(eventJSON, v, eventID, false)
}
