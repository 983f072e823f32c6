package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/axon-matrix/axon/internal/csapi"
)

// The drill speaks the public client-server API only (internal/csapi), through
// client-api-proxy: it must see what any Matrix client sees.

// retryable says whether a failed request may succeed when repeated as it is: no answer at
// all (connection refused or reset, timeout), a 5xx (an upstream the proxy could not reach,
// a roomserver that is down) or 429.
func retryable(err error) bool {
	var he *csapi.Error
	if errors.As(err, &he) {
		return he.Status >= 500 || he.Status == http.StatusTooManyRequests
	}
	return err != nil && !errors.Is(err, context.Canceled)
}

// drillContent is what the drill reads of a message's content.
type drillContent struct {
	DrillID string `json:"drill_id"`
	Seq     int    `json:"drill_seq"`
}

// syncResponse is what the drill reads of GET /sync.
type syncResponse = csapi.SyncResponse[drillContent]

// syncFilter: no presence or account data; a timeline limit far above what one sync can
// accumulate in the drill, so no response is cut short (limited) and every event arrives
// through /sync itself.
const syncFilter = `{"presence":{"types":[]},"account_data":{"types":[]},"room":{"state":{"lazy_load_members":true},"timeline":{"limit":20000},"ephemeral":{"types":[]},"account_data":{"types":[]}}}`

func syncOnce(ctx context.Context, c *csapi.Client, since string, timeout time.Duration) (*syncResponse, error) {
	return csapi.Sync[drillContent](ctx, c, csapi.SyncRequest{Since: since, Timeout: timeout, Filter: syncFilter})
}
