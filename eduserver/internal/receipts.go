package internal

import (
	"context"
	"database/sql"

	"github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/eduserver/storage"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
)

// maxThreadIDLength bounds a thread ID ("main" or an event ID).
const maxThreadIDLength = matrix.MaxIDLength

// SetReceipt implements api.EDUServerAPI: the receipt is stored (replacing the user's
// previous one of the same type and thread in the room) and staged on topic 3 (key: the
// room ID) in one transaction.
func (e *EDUServer) SetReceipt(ctx context.Context, req *api.SetReceiptRequest) error {
	if req.RoomID == "" || req.UserID == "" || req.EventID == "" {
		return httputil.MissingParam("room_id, user_id and event_id are required")
	}
	if req.Type != api.ReceiptRead && req.Type != api.ReceiptReadPrivate {
		return httputil.InvalidParam("Unknown receipt type %q", req.Type)
	}
	if len(req.ThreadID) > maxThreadIDLength {
		return httputil.InvalidParam("thread_id is too long")
	}
	r := &storage.Receipt{RoomID: req.RoomID, UserID: req.UserID, Type: req.Type, ThreadID: req.ThreadID,
		EventID: req.EventID, TS: e.nowMS()}
	err := e.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		recs := []api.OutputEDU{{Kind: api.OutputReceiptKind, Receipt: &api.OutputReceipt{
			RoomID: r.RoomID, UserID: r.UserID, Type: r.Type, EventID: r.EventID, ThreadID: r.ThreadID, TS: r.TS}}}
		if err := e.stage(ctx, tx, recs, func(*api.OutputEDU) string { return req.RoomID }); err != nil {
			return err
		}
		r.StreamPos = recs[0].StreamPos
		return storage.UpsertReceipt(ctx, tx, r)
	})
	if err != nil {
		return err
	}
	e.outbox.Kick()
	return nil
}
