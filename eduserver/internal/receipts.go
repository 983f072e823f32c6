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
	if len(req.EventID) > matrix.MaxIDLength || len(req.RoomID) > matrix.MaxIDLength {
		return httputil.InvalidParam("room_id or event_id is too long")
	}
	if len(req.ThreadID) > maxThreadIDLength {
		return httputil.InvalidParam("thread_id is too long")
	}
	r := &storage.Receipt{RoomID: req.RoomID, UserID: req.UserID, Type: req.Type, ThreadID: req.ThreadID,
		EventID: req.EventID, TS: e.nowMS()}
	if req.TS > 0 {
		r.TS = req.TS
	}
	// Topic 5: a local user's public receipt goes to the other servers in the room.
	var fed []fedRecord
	if req.Type == api.ReceiptRead && e.isLocal(req.UserID) {
		dests, err := e.joinedServers(ctx, req.RoomID)
		if err != nil {
			// Stored and shown here all the same; the other servers miss this receipt
			// (the next one of the user replaces it there).
			e.log.WithError(err).WithField("room_id", req.RoomID).Warn("listing the servers of a room for a receipt; not sent to them")
		}
		data := map[string]any{"ts": r.TS}
		if r.ThreadID != "" {
			data["thread_id"] = r.ThreadID
		}
		rec, err := newFedRecord(req.RoomID, api.EDUReceipt, dests, map[string]any{req.RoomID: map[string]any{api.ReceiptRead: map[string]any{
			req.UserID: map[string]any{"event_ids": []string{req.EventID}, "data": data}}}})
		if err != nil {
			return err
		}
		fed = []fedRecord{rec}
	}
	err := e.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		recs := []api.OutputEDU{{Kind: api.OutputReceiptKind, Receipt: &api.OutputReceipt{
			RoomID: r.RoomID, UserID: r.UserID, Type: r.Type, EventID: r.EventID, ThreadID: r.ThreadID, TS: r.TS}}}
		if err := e.stage(ctx, tx, recs, func(*api.OutputEDU) string { return req.RoomID }); err != nil {
			return err
		}
		r.StreamPos = recs[0].StreamPos
		if err := e.stageFederation(ctx, tx, fed); err != nil {
			return err
		}
		return storage.UpsertReceipt(ctx, tx, r)
	})
	if err != nil {
		return err
	}
	e.outbox.Kick()
	e.noteWrite(r.StreamPos, req.UserID)
	return nil
}
