package internal

import (
	"context"
	"encoding/json"

	"github.com/axon-matrix/axon/matrix"
)

// maxAuthChainOutliers bounds the auth chain events stored for one received event.
const maxAuthChainOutliers = 1000

// storeAuthChain is arrow 3 for a received event whose auth events this server lacks
// though its prev_events are held: the federationapi fetched its auth chain from the
// origin (/event_auth, signatures checked) and sent it as Outliers. The events of it
// that e's auth_events reach (directly or through other auth events) and that are not
// held are stored as outliers, each authorised against its own auth events (rejected
// otherwise); the rest is ignored. The event is then checked as usual.
func (w *roomWriter) storeAuthChain(ctx context.Context, e matrix.PDU, outliers []json.RawMessage, create matrix.PDU) error {
	if create == nil {
		return nil
	}
	sent := map[string]matrix.PDU{}
	for i, raw := range outliers {
		if i >= maxAuthChainOutliers {
			break
		}
		p, err := w.a.events.ParseReceived(w.version, raw)
		if err != nil || p.RoomID() != w.room.RoomID {
			continue
		}
		sent[p.EventID()] = p
	}
	// The part of the chain e reaches; held events end the walk.
	byID := map[string]matrix.PDU{}
	queue := append([]string(nil), e.AuthEventIDs()...)
	var held []string
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if _, done := byID[id]; done {
			continue
		}
		p, ok := sent[id]
		if !ok {
			held = append(held, id)
			continue
		}
		byID[id] = p
		queue = append(queue, p.AuthEventIDs()...)
	}
	if len(byID) == 0 {
		return nil
	}
	// storeOutliers needs every auth event in byID: the held ones as they are.
	rows, err := w.s.EventsByID(ctx, held)
	if err != nil {
		return err
	}
	for id, r := range rows {
		if r.RoomID != w.room.RoomID {
			continue
		}
		p, err := w.parsedRow(r)
		if err != nil {
			return err
		}
		byID[id] = p
	}
	_, _, err = w.storeOutliers(ctx, byID, create)
	return err
}
