package internal

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
	"github.com/axon-matrix/axon/matrix/signing"
)

// matrixEventLib is the eventLib over matrix/event, signing as this server.
type matrixEventLib struct {
	serverName string
	keyID      signing.KeyID
	key        ed25519.PrivateKey
}

func newMatrixEventLib(serverName, keyID string, key ed25519.PrivateKey) *matrixEventLib {
	return &matrixEventLib{serverName: serverName, keyID: signing.KeyID(keyID), key: key}
}

// Build hashes and signs a local event. Malformed input is M_BAD_JSON (for example a float
// in the content of a v6+ room), an event over 65,536 bytes M_TOO_LARGE.
func (l *matrixEventLib) Build(v *matrix.RoomVersion, p *proto) (matrix.PDU, error) {
	b := event.Builder{Type: p.Type, StateKey: p.StateKey, Sender: p.Sender, RoomID: p.RoomID, Content: p.Content,
		PrevEvents: p.PrevEvents, AuthEvents: p.AuthEvents, Depth: p.Depth, Redacts: p.Redacts,
		OriginServerTS: p.OriginServerTS, ReferenceHashes: p.ReferenceHashes}
	e, err := b.Build(v.ID, l.serverName, l.keyID, l.key)
	if err != nil {
		if errors.Is(err, event.ErrTooLarge) {
			return nil, httputil.TooLarge("Event is larger than %d bytes", event.MaxEventSize)
		}
		var bad *event.BadEventError
		if errors.As(err, &bad) {
			return nil, httputil.BadJSON("%s", bad.Msg)
		}
		return nil, err
	}
	return e, nil
}

// Parse reads an event from the roomserver's own tables.
func (l *matrixEventLib) Parse(v *matrix.RoomVersion, eventID string, js []byte) (matrix.PDU, error) {
	return event.NewEventFromTrustedJSONWithEventID(eventID, js, v.ID)
}

// Redact returns the redacted form of an event.
func (l *matrixEventLib) Redact(v *matrix.RoomVersion, js []byte) ([]byte, error) {
	return event.Redact(v.ID, js)
}

// ReferenceHash returns an event's reference hash (listed next to prev/auth event IDs in v1–v2).
func (l *matrixEventLib) ReferenceHash(e matrix.PDU) (string, error) {
	me, ok := e.(*event.Event)
	if !ok {
		return "", fmt.Errorf("roomserver: event %s is not a matrix/event event", e.EventID())
	}
	return me.ReferenceHash()
}

// AuthEventTuples is matrix/event's auth events selection.
func (l *matrixEventLib) AuthEventTuples(v *matrix.RoomVersion, p *proto) []matrix.StateKeyTuple {
	return event.AuthEventTuples(v, p.Type, p.StateKey, p.Sender, p.Content)
}

// ParseReceived parses an event received over federation (matrix/event's untrusted parse:
// format, size, content hash).
func (l *matrixEventLib) ParseReceived(v *matrix.RoomVersion, js []byte) (matrix.PDU, error) {
	e, err := event.NewEventFromUntrustedJSON(js, v.ID)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Template builds a join template for a remote server: the event is built and signed
// with a throwaway key (only its fields matter, for the auth rules), and the template is
// its JSON without hashes, signatures and (v1–v2) event_id, which the joining server sets.
func (l *matrixEventLib) Template(v *matrix.RoomVersion, p *proto, server string) (matrix.PDU, []byte, error) {
	_, throwaway, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, nil, err
	}
	b := event.Builder{Type: p.Type, StateKey: p.StateKey, Sender: p.Sender, RoomID: p.RoomID, Content: p.Content,
		PrevEvents: p.PrevEvents, AuthEvents: p.AuthEvents, Depth: p.Depth, OriginServerTS: p.OriginServerTS,
		ReferenceHashes: p.ReferenceHashes}
	e, err := b.Build(v.ID, server, "ed25519:template", throwaway)
	if err != nil {
		var bad *event.BadEventError
		if errors.As(err, &bad) {
			return nil, nil, httputil.BadJSON("%s", bad.Msg)
		}
		return nil, nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(e.JSON(), &top); err != nil {
		return nil, nil, err
	}
	delete(top, "hashes")
	delete(top, "signatures")
	delete(top, "event_id")
	tmpl, err := json.Marshal(top)
	return e, tmpl, err
}

// Countersign adds this server's signature.
func (l *matrixEventLib) Countersign(e matrix.PDU) (matrix.PDU, error) {
	me, ok := e.(*event.Event)
	if !ok {
		return nil, fmt.Errorf("roomserver: event %s is not a matrix/event event", e.EventID())
	}
	return me.Sign(l.serverName, l.keyID, l.key)
}
