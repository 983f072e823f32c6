package api

import (
	"context"
	"encoding/json"
)

// BackfillAPI is arrow 17's backfill (roomserver → federationsender): history of a room
// from before what this server holds, asked of the servers in it. Like DirectoryAPI it is
// an interface of its own, so that other components' fakes need not implement it.
type BackfillAPI interface {
	// PerformBackfill sends GET /_matrix/federation/v1/backfill/{roomId} with EventIDs as
	// v to each server of Servers in turn until one answers, and returns the events of
	// its answer that are well-formed events of the room with valid signatures (a wrong
	// content hash: redacted), in the order sent. M_NOT_FOUND when no server answered.
	PerformBackfill(ctx context.Context, req *PerformBackfillRequest) (*PerformBackfillResponse, error)
}

// PerformBackfillRequest asks for up to Limit events from EventIDs (included) backwards.
type PerformBackfillRequest struct {
	RoomID      string   `json:"room_id"`
	RoomVersion string   `json:"room_version"`
	Servers     []string `json:"servers"`
	EventIDs    []string `json:"event_ids"`
	Limit       int      `json:"limit"`
}

// PerformBackfillResponse is the checked events and the server that sent them.
type PerformBackfillResponse struct {
	Origin string            `json:"origin"`
	Events []json.RawMessage `json:"events"`
}
