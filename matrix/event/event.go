// Package event is Axon's room event (PDU) type: parsing events from federation and from
// our own database, content and reference hashes, event IDs for every room version,
// redaction, signing and signature checks, building and signing local events, the auth
// events selection, and the client-server event format.
//
// *Event implements matrix.PDU, which the auth rules (matrix/auth) and state resolution
// (matrix/stateres) work on. The roomserver builds local events with Builder (arrows 3 and
// 4 of ARCHITECTURE.md §2) and publishes them on topics 2 and 6.
package event

import (
	"encoding/json"
	"sync/atomic"

	"github.com/axon-matrix/axon/matrix"
)

// Event is one room event in the federation (PDU) format. It is immutable: methods that
// change something return a new *Event.
type Event struct {
	raw        []byte // the event as sent over federation
	version    *matrix.RoomVersion
	eventID    string
	roomID     string
	sender     string
	typ        string
	stateKey   *string
	content    json.RawMessage
	prevEvents []EventReference
	authEvents []EventReference
	depth      int64
	ts         int64
	redacts    string
	origin     string
	unsigned   json.RawMessage
	redacted   bool
	// canonical says raw is its own canonical JSON form (cjson.Canonical(raw, false)):
	// true for events from NewEventFromUntrustedJSON, Builder, Redacted, Sign and
	// WithUnsigned. SignedBytes and the reference hash then skip re-encoding (signedbytes.go).
	canonical bool
	// memo is the matrix.Memoizer slot: a value the auth rules derived from the content.
	memo atomic.Pointer[memoEntry]
}

// memoEntry is one value kept by Memo.
type memoEntry struct {
	key, val any
}

// Memo implements matrix.Memoizer: the auth rules keep parsed content (power levels,
// create content, join rule) on the event, so that the thousands of events that cite the
// same auth event parse it once. Events are immutable, so the value never goes stale.
func (e *Event) Memo(key any, compute func() any) any {
	if m := e.memo.Load(); m != nil && m.key == key {
		return m.val
	}
	val := compute()
	e.memo.Store(&memoEntry{key: key, val: val})
	return val
}

// EventReference is an entry of prev_events or auth_events. SHA256 is the unpadded
// base64 reference hash that room versions 1–2 carry next to each ID; it is "" for v3+.
type EventReference struct {
	EventID string
	SHA256  string
}

var (
	_ matrix.PDU      = (*Event)(nil)
	_ matrix.Memoizer = (*Event)(nil)
)

// EventID is the event's ID.
func (e *Event) EventID() string { return e.eventID }

// RoomID is the room the event belongs to; for a v12 create event it is derived from the
// event's own ID ("!" + the hash part).
func (e *Event) RoomID() string { return e.roomID }

// Sender is the user who sent the event.
func (e *Event) Sender() string { return e.sender }

// Type is the event type.
func (e *Event) Type() string { return e.typ }

// StateKey is the state key, or nil for a non-state event.
func (e *Event) StateKey() *string { return e.stateKey }

// StateKeyEquals reports whether the event is a state event with state key s.
func (e *Event) StateKeyEquals(s string) bool { return e.stateKey != nil && *e.stateKey == s }

// Content is the raw JSON of the event's content (always an object).
func (e *Event) Content() json.RawMessage { return e.content }

// PrevEventIDs lists the IDs in prev_events.
func (e *Event) PrevEventIDs() []string { return referenceIDs(e.prevEvents) }

// AuthEventIDs lists the IDs in auth_events.
func (e *Event) AuthEventIDs() []string { return referenceIDs(e.authEvents) }

// PrevEvents lists prev_events with their hashes (v1–v2).
func (e *Event) PrevEvents() []EventReference { return append([]EventReference(nil), e.prevEvents...) }

// AuthEvents lists auth_events with their hashes (v1–v2).
func (e *Event) AuthEvents() []EventReference { return append([]EventReference(nil), e.authEvents...) }

func referenceIDs(refs []EventReference) []string {
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.EventID
	}
	return ids
}

// Depth is the event's depth in the room DAG.
func (e *Event) Depth() int64 { return e.depth }

// OriginServerTS is the sending server's timestamp, in milliseconds.
func (e *Event) OriginServerTS() int64 { return e.ts }

// Redacts is the ID of the event a m.room.redaction redacts: top-level before room
// version 11, content.redacts from 11. It is "" for other events.
func (e *Event) Redacts() string { return e.redacts }

// Origin is the deprecated top-level "origin" server name, if present.
func (e *Event) Origin() string { return e.origin }

// Version is the room version whose rules the event follows.
func (e *Event) Version() *matrix.RoomVersion { return e.version }

// JSON is the event as sent over federation, including signatures, hashes and unsigned.
// Events from Builder, NewEventFromUntrustedJSON, Redacted, Sign and WithUnsigned hold
// canonical JSON; trusted events hold the bytes they were read from. The caller must not
// modify it.
func (e *Event) JSON() []byte { return e.raw }

// Unsigned is the raw "unsigned" object, or nil.
func (e *Event) Unsigned() json.RawMessage { return e.unsigned }

// IsRedacted reports whether this copy of the event was redacted by Redacted or because
// its content hash did not match.
func (e *Event) IsRedacted() bool { return e.redacted }

// IsState reports whether the event is a state event.
func (e *Event) IsState() bool { return e.stateKey != nil }

// Membership returns content.membership of a m.room.member event ("" if absent or not a
// string).
func (e *Event) Membership() string {
	var c struct {
		Membership json.RawMessage `json:"membership"`
	}
	if json.Unmarshal(e.content, &c) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(c.Membership, &s) != nil {
		return ""
	}
	return s
}

// Hashes returns the "hashes" object (algorithm → unpadded base64).
func (e *Event) Hashes() map[string]string {
	var hashes map[string]json.RawMessage
	_ = json.Unmarshal(e.member("hashes"), &hashes)
	out := map[string]string{}
	for k, v := range hashes {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		}
	}
	return out
}

// Signatures returns the "signatures" object: server → key ID → unpadded base64.
func (e *Event) Signatures() map[string]map[string]string {
	var sigs map[string]map[string]json.RawMessage
	_ = json.Unmarshal(e.member("signatures"), &sigs)
	out := map[string]map[string]string{}
	for server, keys := range sigs {
		for id, v := range keys {
			var s string
			if json.Unmarshal(v, &s) == nil {
				if out[server] == nil {
					out[server] = map[string]string{}
				}
				out[server][id] = s
			}
		}
	}
	return out
}

// member returns the value of one top-level member of the event's JSON, or nil. The
// signature checks read "signatures" of every event twice (the keys to fetch, then the
// check): from canonical JSON it is cut out without decoding the rest.
func (e *Event) member(name string) json.RawMessage {
	if e.canonical {
		var val []byte
		err := eachMember(e.raw, func(k, v []byte) error {
			if string(k) == name {
				val = v
			}
			return nil
		})
		if err == nil {
			return val
		}
	}
	var top map[string]json.RawMessage
	_ = json.Unmarshal(e.raw, &top)
	return top[name]
}

// MarshalJSON writes the event in its federation format (JSON), so an *Event can be
// embedded in transactions and responses directly.
func (e *Event) MarshalJSON() ([]byte, error) { return e.raw, nil }

// WithUnsigned returns a copy of the event whose "unsigned" is replaced by the given
// object (nil removes it). unsigned is not covered by hashes or signatures.
func (e *Event) WithUnsigned(unsigned json.RawMessage) (*Event, error) {
	raw, err := setTopLevel(e.raw, "unsigned", unsigned)
	if err != nil {
		return nil, err
	}
	return e.withRaw(raw)
}

// withRaw re-reads the event's fields from new JSON (canonical, as Sign and WithUnsigned
// write it), keeping its ID and redaction flag.
func (e *Event) withRaw(raw []byte) (*Event, error) {
	ne, err := newEvent(raw, e.version, e.eventID, true)
	if err != nil {
		return nil, err
	}
	ne.redacted = e.redacted
	return ne, nil
}
