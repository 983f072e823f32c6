package federation

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// HierarchyResponse is a server's answer to GET /_matrix/federation/v1/hierarchy/{roomId}:
// the space's summary (with its m.space.child events in children_state), the summaries
// of its children the asking server may peek or join, and the IDs of those it may not.
// The summaries are kept as sent; the caller checks what it uses.
type HierarchyResponse struct {
	Room                 json.RawMessage   `json:"room"`
	Children             []json.RawMessage `json:"children"`
	InaccessibleChildren []string          `json:"inaccessible_children"`
}

// Hierarchy sends GET /_matrix/federation/v1/hierarchy/{roomId}, with suggested_only=true
// when only suggested children are wanted.
func (c *Client) Hierarchy(ctx context.Context, destination, roomID string, suggestedOnly bool) (HierarchyResponse, error) {
	var q url.Values
	if suggestedOnly {
		q = url.Values{"suggested_only": {"true"}}
	}
	var out HierarchyResponse
	err := c.Do(ctx, destination, http.MethodGet, fedPath("/_matrix/federation/v1/hierarchy/%s", roomID), q, nil, &out)
	return out, err
}
