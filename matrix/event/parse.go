package event

import (
	"encoding/json"
	"errors"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/cjson"
)

// Limits of the server-server spec ("Size limits") and the PDU schemas.
const (
	// MaxEventSize is the largest an event may be, as canonical JSON with signatures.
	MaxEventSize = 65536
	// MaxFieldLength bounds sender, room_id, state_key, type and event_id, in bytes.
	MaxFieldLength = 255
	// MaxPrevEvents is the most prev_events an event may list.
	MaxPrevEvents = 20
	// MaxAuthEvents is the most auth_events an event may list.
	MaxAuthEvents = 10
	// MaxDepth is the largest depth in room versions 6+ (2^53-1); older versions allow
	// any non-negative int64.
	MaxDepth = cjson.MaxSafeInteger
)

// ErrTooLarge is returned (wrapped) for an event over MaxEventSize; federation maps it to
// M_TOO_LARGE.
var ErrTooLarge = errors.New("event larger than 65536 bytes")

// NewEventFromUntrustedJSON parses an event received over federation and checks that it
// is well-formed for its room version:
//   - at most MaxEventSize bytes as canonical JSON; for v6+ strictly canonical numbers;
//   - required fields present with the right JSON types (the pdu_v*.yaml schemas),
//     sender/room_id/state_key/type/event_id at most 255 bytes, valid sender, room and
//     event IDs, at most 20 prev_events and 10 auth_events;
//   - the content hash: if it does not match, the event is returned redacted (the spec
//     says the receiver must then use the redacted copy), with IsRedacted true.
//
// Malformed input gives a *BadEventError (or an error wrapping ErrTooLarge). Signatures
// are not checked here; see VerifyEventSignatures.
func NewEventFromUntrustedJSON(eventJSON []byte, version matrix.RoomVersionID) (*Event, error) {
	v, err := matrix.GetRoomVersion(version)
	if err != nil {
		return nil, err
	}
	// Whitespace may make the input longer than its canonical form, but not without limit.
	if len(eventJSON) > 4*MaxEventSize {
		return nil, &BadEventError{Msg: ErrTooLarge.Error(), Err: ErrTooLarge}
	}
	canonical, err := cjson.Canonical(eventJSON, v.StrictCanonicalJSON)
	if err != nil {
		return nil, badf("%v", err)
	}
	if len(canonical) > MaxEventSize {
		return nil, &BadEventError{Msg: ErrTooLarge.Error(), Err: ErrTooLarge}
	}
	top, err := topLevelCanonical(canonical)
	if err != nil {
		return nil, err
	}
	if err := checkRequired(top, v); err != nil {
		return nil, err
	}
	e, err := newEventFromTop(canonical, top, v, "", true)
	if err != nil {
		return nil, err
	}
	if err := checkFields(e, top); err != nil {
		return nil, err
	}
	ok, err := e.checkContentHash(top)
	if err != nil {
		return nil, err
	}
	if !ok {
		return e.Redacted()
	}
	return e, nil
}

// checkRequired checks presence and JSON types of the fields the version's PDU schema
// requires.
func checkRequired(top map[string]json.RawMessage, v *matrix.RoomVersion) error {
	required := []string{"sender", "origin_server_ts", "type", "content", "depth", "hashes", "signatures",
		"auth_events", "prev_events"}
	if v.EventIDFormat == matrix.EventIDFormatServer {
		required = append(required, "event_id")
	}
	eventType, _, _ := stringField(top, "type")
	stateKey, hasStateKey, _ := stringField(top, "state_key")
	isCreate := eventType == "m.room.create" && hasStateKey && stateKey == ""
	if !(v.RoomIDFromCreateEvent && isCreate) {
		required = append(required, "room_id")
	}
	for _, k := range required {
		if isNull(top[k]) {
			return badf("missing %q", k)
		}
	}
	for _, k := range []string{"sender", "type", "room_id", "state_key", "event_id", "origin", "redacts"} {
		if _, _, err := stringField(top, k); err != nil {
			return err
		}
	}
	for _, k := range []string{"content", "hashes", "signatures"} {
		if !isObject(top[k]) {
			return badf("%q is not an object", k)
		}
	}
	if u, ok := top["unsigned"]; ok && !isNull(u) && !isObject(u) {
		return badf(`"unsigned" is not an object`)
	}
	var sigs map[string]map[string]string
	if err := json.Unmarshal(top["signatures"], &sigs); err != nil {
		return badf(`"signatures" must map server names to key IDs to strings`)
	}
	var hashes map[string]json.RawMessage
	_ = json.Unmarshal(top["hashes"], &hashes)
	if _, _, err := stringField(hashes, "sha256"); err != nil || isNull(hashes["sha256"]) {
		return badf(`"hashes" needs a sha256 string`)
	}
	return nil
}

// checkFields checks lengths and identifier grammar of the decoded fields.
func checkFields(e *Event, top map[string]json.RawMessage) error {
	for name, val := range map[string]string{"sender": e.sender, "type": e.typ, "room_id": e.roomID, "event_id": e.eventID} {
		if len(val) > MaxFieldLength {
			return badf("%q longer than %d bytes", name, MaxFieldLength)
		}
	}
	if e.stateKey != nil && len(*e.stateKey) > MaxFieldLength {
		return badf(`"state_key" longer than %d bytes`, MaxFieldLength)
	}
	if e.typ == "" {
		return badf(`empty "type"`)
	}
	if _, _, err := matrix.ParseUserID(e.sender); err != nil {
		return badf("bad sender: %v", err)
	}
	if err := matrix.ValidRoomIDForVersion(e.roomID, e.version); err != nil {
		return badf("bad room_id: %v", err)
	}
	if err := matrix.ValidEventIDForVersion(e.eventID, e.version); err != nil {
		return badf("bad event_id: %v", err)
	}
	if e.depth < 0 || (e.version.StrictCanonicalJSON && e.depth > MaxDepth) {
		return badf(`"depth" out of range`)
	}
	if len(e.prevEvents) > MaxPrevEvents {
		return badf("more than %d prev_events", MaxPrevEvents)
	}
	if len(e.authEvents) > MaxAuthEvents {
		return badf("more than %d auth_events", MaxAuthEvents)
	}
	for _, refs := range [][]EventReference{e.prevEvents, e.authEvents} {
		for _, r := range refs {
			if len(r.EventID) > MaxFieldLength {
				return badf("referenced event ID longer than %d bytes", MaxFieldLength)
			}
			if _, _, err := matrix.ParseEventID(r.EventID); err != nil {
				return badf("bad referenced event ID: %v", err)
			}
		}
	}
	return nil
}
