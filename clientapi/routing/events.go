package routing

import (
	"encoding/json"
	"fmt"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/event"
)

// toClientEvent converts one stored event (federation format, as the roomserver returns
// it) of a room of roomVersion to the client format. Room versions 3+ carry no event_id
// in that format; matrix/event computes it from the reference hash.
func toClientEvent(raw json.RawMessage, roomVersion string) (*event.ClientEvent, error) {
	ev, err := event.NewEventFromTrustedJSON(raw, matrix.RoomVersionID(roomVersion))
	if err != nil {
		return nil, fmt.Errorf("roomserver returned an unreadable event: %w", err)
	}
	ce := event.ToClientEvent(ev, event.ClientFormatClient)
	if len(ce.Content) == 0 {
		ce.Content = json.RawMessage(`{}`)
	}
	return &ce, nil
}
