package internal

import (
	"context"
	"encoding/json"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/auth"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// writeRoom runs fn with a roomWriter for an existing room, under the room's lock and in
// one transaction, and wakes the outbox relay after the commit.
func (a *RoomserverInternalAPI) writeRoom(ctx context.Context, op, roomID string, fn func(ctx context.Context, w *roomWriter) error) error {
	unlock := a.locks.lock(roomID)
	defer unlock()
	return a.writeRoomLocked(ctx, op, roomID, []writeFn{fn})[0]
}

// SendEvent builds, signs, authorises and stores one event from a local user (arrow 4).
func (a *RoomserverInternalAPI) SendEvent(ctx context.Context, req *api.SendEventRequest) (*api.SendEventResponse, error) {
	if req.Type == "" {
		return nil, httputil.BadJSON("Event type is missing")
	}
	if !matrix.ValidUserID(req.Sender) {
		return nil, httputil.InvalidParam("Invalid sender %q", req.Sender)
	}
	return a.groupSend(ctx, req)
}

// sendOne is one SendEvent inside its room's transaction (arrow 4).
func (w *roomWriter) sendOne(ctx context.Context, req *api.SendEventRequest) (string, error) {
	if req.TxnID != "" {
		// Idempotency: the room lock and the transaction make the check and the insert one
		// step for this room (a group commit runs its sends one after another).
		id, err := w.s.TxnEventID(ctx, req.RoomID, req.Sender, req.DeviceID, req.TxnID)
		if err != nil || id != "" {
			return id, err
		}
	}
	t := eventTemplate{Type: req.Type, StateKey: req.StateKey, Content: req.Content, Redacts: req.Redacts, TS: req.Timestamp}
	opts := sendOpts{DeviceID: req.DeviceID, TxnID: req.TxnID}
	if req.StateKey != nil && req.Type != "m.room.redaction" {
		// As in Synapse, a state event that repeats the current one (same sender and
		// content) is not sent again: the current event is the answer.
		old, err := w.stateEvent(ctx, req.Type, *req.StateKey)
		if err != nil {
			return "", err
		}
		if old != nil && old.Sender() == req.Sender && sameJSON(old.Content(), req.Content) {
			if req.TxnID != "" {
				if err := w.s.InsertTxn(ctx, req.RoomID, req.Sender, req.DeviceID, req.TxnID, old.EventID()); err != nil {
					return "", err
				}
			}
			return old.EventID(), nil
		}
	}
	var e matrix.PDU
	var err error
	switch {
	case req.Type == "m.room.redaction":
		e, err = w.sendRedaction(ctx, t, req.Sender, opts)
	case req.Type == "m.room.canonical_alias" && req.StateKey != nil && *req.StateKey == "":
		// Authorised first (build), so a sender without the power gets 403 whatever the
		// content, then the aliases it adds are checked.
		var b *built
		if b, err = w.build(ctx, t, req.Sender); err == nil {
			if err = w.checkCanonicalAlias(ctx, req.Content); err == nil {
				e, err = b.e, w.storeBuilt(ctx, b, opts)
			}
		}
	default:
		e, err = w.send(ctx, t, req.Sender, opts)
	}
	if err != nil {
		return "", err
	}
	return e.EventID(), nil
}

// send builds, authorises and stores one event.
func (w *roomWriter) send(ctx context.Context, t eventTemplate, sender string, opts sendOpts) (matrix.PDU, error) {
	b, err := w.build(ctx, t, sender)
	if err != nil {
		return nil, err
	}
	return b.e, w.storeBuilt(ctx, b, opts)
}

// storeBuilt stores a built event: the fast path for an event on top of all forward
// extremities, or the forked path.
func (w *roomWriter) storeBuilt(ctx context.Context, b *built, opts sendOpts) error {
	if b.forked {
		return w.storeWithPrevState(ctx, b.e, b.before, b.historyVisibility, opts)
	}
	return w.store(ctx, b.e, b.historyVisibility, opts)
}

// sendRedaction sends an m.room.redaction and applies it: the redacted event's stored JSON
// is replaced by its redacted form and topic 2 carries an OutputRedaction. From v3 the auth
// rules accept any redaction; the server applies it only if the sender may redact the event
// (its own event, or the redact power level), and refuses to send one that it would not apply.
func (w *roomWriter) sendRedaction(ctx context.Context, t eventTemplate, sender string, opts sendOpts) (matrix.PDU, error) {
	if t.Redacts == "" {
		var c struct {
			Redacts string `json:"redacts"`
		}
		_ = json.Unmarshal(t.Content, &c)
		t.Redacts = c.Redacts
	}
	if t.Redacts == "" {
		return nil, httputil.MissingParam("A redaction must name the event it redacts")
	}
	if w.version.RedactsInContent {
		c, err := objectOrEmpty(t.Content, "content")
		if err != nil {
			return nil, err
		}
		c["redacts"] = mustJSON(t.Redacts)
		t.Content = mustJSON(c)
	}
	target, err := w.s.EventByID(ctx, t.Redacts)
	if err != nil {
		return nil, err
	}
	if target == nil || target.RoomID != w.room.RoomID {
		return nil, httputil.NotFound("Event %s not found in this room", t.Redacts)
	}
	b, err := w.build(ctx, t, sender)
	if err != nil {
		return nil, err
	}
	e := b.e
	if target.Sender != sender {
		pl, err := auth.NewPowerLevels(b.provider.Create(), b.provider.PowerLevels())
		if err != nil {
			return nil, err
		}
		if pl.UserPowerLevel(sender) < pl.Redact {
			return nil, httputil.Forbidden("You may only redact your own events: redacting others' needs power level %d", pl.Redact)
		}
	}
	if err := w.storeBuilt(ctx, b, opts); err != nil {
		return nil, err
	}
	return e, w.applyRedaction(ctx, e.EventID(), target)
}

// applyRedaction replaces the redacted event's stored JSON with its redacted form and
// stages the topic 2 redaction record (for a local redaction, and for a received one the
// server applies: federation_input.go).
func (w *roomWriter) applyRedaction(ctx context.Context, redactionID string, target *storage.EventRow) error {
	redacted, err := w.a.events.Redact(w.version, target.JSON)
	if err != nil {
		return err
	}
	if err := w.s.SetEventRedacted(ctx, target.EventID, redacted); err != nil {
		return err
	}
	delete(w.parsed, target.NID)
	w.a.cache.evict(target.EventID)
	if err := w.s.InsertRedaction(ctx, redactionID, target.EventID, true); err != nil {
		return err
	}
	// Topic 2: the redaction record takes its own stream position, after the redaction
	// event's, so positions stay dense.
	w.pending = append(w.pending, pendingOutput{topic: w.a.topics.RoomEvent, key: w.room.RoomID,
		roomEvent: &api.OutputEvent{Type: api.OutputRedaction, Redaction: &api.OutputRedactionData{
			RedactedEventID: target.EventID, RedactionEventID: redactionID, RedactedEvent: redacted}}})
	return nil
}
