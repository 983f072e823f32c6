package event

import (
	"encoding/json"

	"github.com/axon-matrix/axon/matrix"
)

// Top-level keys that survive redaction in every room version.
var redactKeepTopLevel = []string{"event_id", "type", "room_id", "sender", "state_key", "content",
	"hashes", "signatures", "depth", "prev_events", "auth_events", "origin_server_ts"}

// Extra top-level keys kept before room version 11.
var redactKeepTopLevelPreV11 = []string{"prev_state", "origin", "membership"}

// The same lists as sets: for room versions 11+, and before.
var keepTopLevelV11, keepTopLevelPreV11 = func() (v11, pre map[string]bool) {
	v11, pre = map[string]bool{}, map[string]bool{}
	for _, k := range redactKeepTopLevel {
		v11[k], pre[k] = true, true
	}
	for _, k := range redactKeepTopLevelPreV11 {
		pre[k] = true
	}
	return v11, pre
}()

// contentKeysToKeep returns which content keys survive redaction for an event type under
// an algorithm; all is true when the whole content is kept (m.room.create from v11).
func contentKeysToKeep(alg matrix.RedactionAlgorithm, eventType string) (keys []string, all bool) {
	switch eventType {
	case "m.room.member":
		keys = []string{"membership"}
		if alg >= matrix.RedactionV9 {
			keys = append(keys, "join_authorised_via_users_server")
		}
		// From v11, third_party_invite keeps only its "signed"; handled by the caller.
	case "m.room.create":
		if alg >= matrix.RedactionV11 {
			return nil, true
		}
		keys = []string{"creator"}
	case "m.room.join_rules":
		keys = []string{"join_rule"}
		if alg >= matrix.RedactionV8 {
			keys = append(keys, "allow")
		}
	case "m.room.power_levels":
		keys = []string{"ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"}
		if alg >= matrix.RedactionV11 {
			keys = append(keys, "invite")
		}
	case "m.room.aliases":
		if alg == matrix.RedactionV1 {
			keys = []string{"aliases"}
		}
	case "m.room.history_visibility":
		keys = []string{"history_visibility"}
	case "m.room.redaction":
		if alg >= matrix.RedactionV11 {
			keys = []string{"redacts"}
		}
	}
	return keys, false
}

// Redact applies the redaction algorithm of a room version to an event's JSON and returns
// the redacted event as canonical JSON. "unsigned" is removed with everything else that is
// not protected; callers add unsigned.redacted_because themselves.
func Redact(version matrix.RoomVersionID, eventJSON []byte) ([]byte, error) {
	v, err := matrix.GetRoomVersion(version)
	if err != nil {
		return nil, err
	}
	return redact(eventJSON, v)
}

func redact(eventJSON []byte, v *matrix.RoomVersion) ([]byte, error) {
	top, err := topLevel(eventJSON)
	if err != nil {
		return nil, err
	}
	out, err := redactTop(top, v)
	if err != nil {
		return nil, err
	}
	return marshalCanonical(out)
}

// redactTop returns the members that survive redaction; top is not modified.
func redactTop(top map[string]json.RawMessage, v *matrix.RoomVersion) (map[string]json.RawMessage, error) {
	var err error
	keep := keepTopLevelV11
	if v.Redaction < matrix.RedactionV11 {
		keep = keepTopLevelPreV11
	}
	out := map[string]json.RawMessage{}
	for k, val := range top {
		if keep[k] {
			out[k] = val
		}
	}
	eventType, _, _ := stringField(top, "type")
	var content map[string]json.RawMessage
	if raw, ok := top["content"]; ok {
		_ = json.Unmarshal(raw, &content) // not an object: treated as empty
	}
	keys, all := contentKeysToKeep(v.Redaction, eventType)
	newContent := map[string]json.RawMessage{}
	if all {
		newContent = content
		if newContent == nil {
			newContent = map[string]json.RawMessage{}
		}
	} else {
		for _, k := range keys {
			if val, ok := content[k]; ok {
				newContent[k] = val
			}
		}
		if eventType == "m.room.member" && v.Redaction >= matrix.RedactionV11 {
			var tpi map[string]json.RawMessage
			if json.Unmarshal(content["third_party_invite"], &tpi) == nil {
				if signed, ok := tpi["signed"]; ok {
					newContent["third_party_invite"], _ = json.Marshal(map[string]json.RawMessage{"signed": signed})
				}
			}
		}
	}
	if out["content"], err = marshalCanonical(newContent); err != nil {
		return nil, err
	}
	return out, nil
}

// Redacted returns the event as it is after redaction under its room version's rules. The
// event ID does not change.
func (e *Event) Redacted() (*Event, error) {
	raw, err := redact(e.raw, e.version)
	if err != nil {
		return nil, err
	}
	ne, err := newEvent(raw, e.version, e.eventID, true) // redact writes canonical JSON
	if err != nil {
		return nil, err
	}
	ne.redacted = true
	return ne, nil
}
