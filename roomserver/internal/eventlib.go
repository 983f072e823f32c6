package internal

import (
	"encoding/json"

	"github.com/axon-matrix/axon/matrix"
)

// proto is a new local event before it is built: what the roomserver decides (prev and
// auth events, depth) plus what the sender asked for.
type proto struct {
	RoomID         string // "" for a v12 create event (its room ID derives from it)
	Sender         string
	Type           string
	StateKey       *string
	Content        json.RawMessage
	Redacts        string
	PrevEvents     []string
	AuthEvents     []string
	Depth          int64
	OriginServerTS int64
	// ReferenceHashes are the reference hashes of the prev and auth events (v1–v2 only).
	ReferenceHashes map[string]string
}

// eventLib is what the roomserver needs from matrix/event: building a local event (content
// hash, signature, event ID per room version), parsing stored events, and redaction. The
// adapter over matrix/event is in eventlib_matrix.go.
type eventLib interface {
	// Build hashes and signs p as this server and returns the finished event.
	Build(v *matrix.RoomVersion, p *proto) (matrix.PDU, error)
	// Parse reads an event stored by the roomserver (already checked on the way in).
	Parse(v *matrix.RoomVersion, eventID string, js []byte) (matrix.PDU, error)
	// Redact returns the redacted form of an event's JSON.
	Redact(v *matrix.RoomVersion, js []byte) ([]byte, error)
	// ReferenceHash returns a parsed event's reference hash (for v1–v2 references).
	ReferenceHash(e matrix.PDU) (string, error)
	// AuthEventTuples is the auth events selection: the state tuples p needs as auth events.
	AuthEventTuples(v *matrix.RoomVersion, p *proto) []matrix.StateKeyTuple

	// Federation (arrow 3).

	// ParseReceived reads an event another server sent, checking its format and computing
	// its ID (the redacted form when its content hash does not match). Signatures are the
	// caller's to check.
	ParseReceived(v *matrix.RoomVersion, js []byte) (matrix.PDU, error)
	// Template builds p as an event of server (any key) for the auth rules, and returns
	// it with the unsigned template make_join answers (no hashes, signatures or v1–v2
	// event_id).
	Template(v *matrix.RoomVersion, p *proto, server string) (matrix.PDU, []byte, error)
	// Countersign adds this server's signature to an event (a restricted join one of our
	// users authorised).
	Countersign(e matrix.PDU) (matrix.PDU, error)
}
