package event

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/cjson"
	"github.com/axon-matrix/axon/matrix/signing"
)

// Builder holds what a local event is made of. The roomserver fills it (prev_events from
// the room's forward extremities, auth_events from SelectAuthEvents) and calls Build to
// get a hashed, signed event with its ID (arrows 3 and 4 of ARCHITECTURE.md §2).
type Builder struct {
	Type     string
	StateKey *string
	Sender   string
	// RoomID is left empty for a room version 12 m.room.create, which carries none.
	RoomID string
	// Content is the event content: a json.RawMessage, []byte of JSON, or any value
	// encoding/json turns into an object. nil means {}.
	Content    any
	PrevEvents []string
	AuthEvents []string
	Depth      int64
	// Redacts is the redacted event of a m.room.redaction: written top-level before room
	// version 11 and into content from 11.
	Redacts string
	// OriginServerTS in milliseconds; 0 means now.
	OriginServerTS int64
	// Unsigned is an optional object put under "unsigned" (not hashed or signed).
	Unsigned json.RawMessage
	// ReferenceHashes gives, for room versions 1–2, the reference hash (unpadded base64,
	// Event.ReferenceHash) of every event in PrevEvents and AuthEvents, which those
	// versions list next to the IDs. Ignored for v3+.
	ReferenceHashes map[string]string
}

// Build makes the event: fills origin_server_ts, hashes, the event ID (random
// "$…:serverName" for v1–v2, from the reference hash for v3+) and serverName's signature.
// The sender must belong to serverName.
func (b *Builder) Build(version matrix.RoomVersionID, serverName string, keyID signing.KeyID, key ed25519.PrivateKey) (*Event, error) {
	v, err := matrix.GetRoomVersion(version)
	if err != nil {
		return nil, err
	}
	if err := b.check(v, serverName); err != nil {
		return nil, err
	}
	content, err := b.contentJSON(v)
	if err != nil {
		return nil, err
	}
	ts := b.OriginServerTS
	if ts == 0 {
		ts = time.Now().UnixMilli()
	}
	top := map[string]any{
		"type":             b.Type,
		"sender":           b.Sender,
		"content":          content,
		"depth":            b.Depth,
		"origin_server_ts": ts,
	}
	isV12Create := v.RoomIDFromCreateEvent && b.Type == "m.room.create"
	if !isV12Create {
		top["room_id"] = b.RoomID
	}
	if b.StateKey != nil {
		top["state_key"] = *b.StateKey
	}
	if v.Redaction < matrix.RedactionV11 {
		top["origin"] = serverName
	}
	if b.Redacts != "" && !v.RedactsInContent {
		top["redacts"] = b.Redacts
	}
	if b.Unsigned != nil {
		top["unsigned"] = b.Unsigned
	}
	if top["prev_events"], err = b.references(v, b.PrevEvents); err != nil {
		return nil, err
	}
	if top["auth_events"], err = b.references(v, b.AuthEvents); err != nil {
		return nil, err
	}
	if v.EventIDFormat == matrix.EventIDFormatServer {
		top["event_id"], err = randomEventID(serverName)
		if err != nil {
			return nil, err
		}
	}
	raw, err := cjson.Marshal(top, v.StrictCanonicalJSON)
	if err != nil {
		return nil, badf("%v", err) // e.g. a float in content of a v6+ room
	}
	return finishBuild(v, raw, serverName, keyID, key)
}

// finishBuild hashes, signs and wraps the canonical JSON of a new event. It parses the
// JSON once and works on its members from then on (every member is canonical JSON, so
// the signed bytes and the final JSON are the members written out in key order, without
// a further canonical pass). What it computes is what the spec's algorithms give:
//
//   - the content hash: sha256 of the event without "unsigned", "signatures", "hashes";
//   - the signed bytes: the redacted event without "signatures" and "unsigned";
//   - the v3+ event ID: the reference hash, which is sha256 of those same signed bytes,
//     as Build puts no top-level "age_ts" in an event (the one member the reference hash
//     also drops).
func finishBuild(v *matrix.RoomVersion, raw []byte, serverName string, keyID signing.KeyID, key ed25519.PrivateKey) (*Event, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("event: bad ed25519 private key")
	}
	members, err := topLevel(raw)
	if err != nil {
		return nil, err
	}
	hashed := make(map[string]json.RawMessage, len(members))
	for k, val := range members {
		if k != "unsigned" && k != "signatures" && k != "hashes" {
			hashed[k] = val
		}
	}
	hash := sha256.Sum256(appendSortedMembers(make([]byte, 0, len(raw)), hashed))
	if members["hashes"], err = cjson.Marshal(map[string]string{"sha256": signing.EncodeBase64(hash[:])}, false); err != nil {
		return nil, err
	}
	redacted, err := redactTop(members, v)
	if err != nil {
		return nil, err
	}
	delete(redacted, "signatures")
	delete(redacted, "unsigned")
	signed := appendSortedMembers(nil, redacted)
	sig := signing.EncodeBase64(ed25519.Sign(key, signed))
	if members["signatures"], err = cjson.Marshal(map[string]map[string]string{serverName: {string(keyID): sig}}, false); err != nil {
		return nil, err
	}
	raw = appendSortedMembers(make([]byte, 0, len(raw)+len(members["hashes"])+len(members["signatures"])+32), members)
	if len(raw) > MaxEventSize {
		return nil, &BadEventError{Msg: ErrTooLarge.Error(), Err: ErrTooLarge}
	}
	eventID := "" // v1–v2: the "event_id" member
	if v.EventIDFormat != matrix.EventIDFormatServer {
		sum := sha256.Sum256(signed)
		eventID = eventIDFromHash(sum[:], v)
	}
	return newEventFromTop(raw, members, v, eventID, true)
}

func (b *Builder) check(v *matrix.RoomVersion, serverName string) error {
	if b.Type == "" {
		return badf(`empty "type"`)
	}
	for name, val := range map[string]string{"type": b.Type, "sender": b.Sender, "room_id": b.RoomID} {
		if len(val) > MaxFieldLength {
			return badf("%q longer than %d bytes", name, MaxFieldLength)
		}
	}
	if b.StateKey != nil && len(*b.StateKey) > MaxFieldLength {
		return badf(`"state_key" longer than %d bytes`, MaxFieldLength)
	}
	_, senderServer, err := matrix.ParseUserID(b.Sender)
	if err != nil {
		return badf("bad sender: %v", err)
	}
	if senderServer != serverName {
		return badf("sender %s does not belong to %s", b.Sender, serverName)
	}
	if v.RoomIDFromCreateEvent && b.Type == "m.room.create" {
		if b.RoomID != "" {
			return badf("room version %s m.room.create events carry no room_id", v.ID)
		}
	} else if err := matrix.ValidRoomIDForVersion(b.RoomID, v); err != nil {
		return badf("bad room_id: %v", err)
	}
	if b.Depth < 0 || b.Depth > MaxDepth {
		return badf(`"depth" out of range`)
	}
	if len(b.PrevEvents) > MaxPrevEvents {
		return badf("more than %d prev_events", MaxPrevEvents)
	}
	if len(b.AuthEvents) > MaxAuthEvents {
		return badf("more than %d auth_events", MaxAuthEvents)
	}
	return nil
}

// contentJSON returns the content as a JSON object, with "redacts" moved in for v11+.
func (b *Builder) contentJSON(v *matrix.RoomVersion) (json.RawMessage, error) {
	var raw []byte
	switch c := b.Content.(type) {
	case nil:
		raw = []byte("{}")
	case json.RawMessage:
		raw = c
	case []byte:
		raw = c
	default:
		var err error
		if raw, err = json.Marshal(c); err != nil {
			return nil, fmt.Errorf("event: content: %w", err)
		}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, badf("content is not a JSON object")
	}
	if b.Redacts != "" && v.RedactsInContent {
		obj["redacts"], _ = json.Marshal(b.Redacts)
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// references renders prev_events/auth_events for the version: IDs for v3+, [ID, {sha256}]
// pairs for v1–v2.
func (b *Builder) references(v *matrix.RoomVersion, ids []string) (any, error) {
	if ids == nil {
		ids = []string{}
	}
	if v.EventIDFormat != matrix.EventIDFormatServer {
		return ids, nil
	}
	pairs := make([][2]any, len(ids))
	for i, id := range ids {
		h, ok := b.ReferenceHashes[id]
		if !ok {
			return nil, fmt.Errorf("event: room version %s needs the reference hash of %s", v.ID, id)
		}
		pairs[i] = [2]any{id, map[string]string{"sha256": h}}
	}
	return pairs, nil
}

// randomEventID makes a v1–v2 event ID: "$" + 18 random letters + ":" + server.
func randomEventID(serverName string) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var buf [18]byte
	if _, err := rand.Read(buf[:]); err != nil {
		return "", errors.New("event: no randomness for an event ID")
	}
	for i, c := range buf {
		buf[i] = alphabet[int(c)%len(alphabet)]
	}
	return "$" + string(buf[:]) + ":" + serverName, nil
}
