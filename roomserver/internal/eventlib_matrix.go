package internal

import (
	"crypto/ed25519"
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
