package csapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// SyncRequest is the query of GET /sync.
type SyncRequest struct {
	Since   string        // "" for an initial sync
	Timeout time.Duration // how long the server may hold the request; always sent, 0 too
	Filter  string        // an inline filter (JSON) or a filter ID; "" for none
}

// SyncResponse holds the parts of GET /sync's answer the tools read: the next position
// and the joined rooms' timelines, events decoded with content type C.
type SyncResponse[C any] struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]JoinedRoom[C] `json:"join"`
	} `json:"rooms"`
}

// JoinedRoom is one room of rooms.join.
type JoinedRoom[C any] struct {
	Timeline struct {
		Events    []Event[C] `json:"events"`
		Limited   bool       `json:"limited"` // events were skipped: the answer is not complete
		PrevBatch string     `json:"prev_batch"`
	} `json:"timeline"`
}

// Sync is GET /sync, decoded into SyncResponse[C]. (A function, not a method: Go
// methods take no type parameters.)
func Sync[C any](ctx context.Context, c *Client, req SyncRequest) (*SyncResponse[C], error) {
	var res SyncResponse[C]
	err := c.SyncInto(ctx, req, &res)
	return &res, err
}

// SyncInto is GET /sync decoded into out, for a caller that reads less than
// SyncResponse (the load tool's read mode reads next_batch only, and its own CPU time
// is one of its figures).
func (c *Client) SyncInto(ctx context.Context, req SyncRequest, out any) error {
	q := url.Values{}
	if req.Filter != "" {
		q.Set("filter", req.Filter)
	}
	q.Set("timeout", fmt.Sprint(req.Timeout.Milliseconds()))
	if req.Since != "" {
		q.Set("since", req.Since)
	}
	return c.Do(ctx, http.MethodGet, "/_matrix/client/v3/sync?"+q.Encode(), nil, out)
}
