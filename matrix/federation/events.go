package federation

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// Backfill asks for up to limit events preceding (and including) the given events (GET
// /_matrix/federation/v1/backfill/{roomId}); the roomserver will backfill with it and check
// the signatures of what it gets over arrow 13 (roomserver → serverkeyapi).
func (c *Client) Backfill(ctx context.Context, destination, roomID string, fromEventIDs []string, limit int) (Transaction, error) {
	q := url.Values{"v": fromEventIDs, "limit": {strconv.Itoa(limit)}}
	var out Transaction
	err := c.Do(ctx, destination, http.MethodGet, fedPath("/_matrix/federation/v1/backfill/%s", roomID), q, nil, &out)
	return out, err
}

// MissingEventsRequest is the body of get_missing_events.
type MissingEventsRequest struct {
	// EarliestEvents are events the sender already has; the walk stops there.
	EarliestEvents []string `json:"earliest_events"`
	// LatestEvents are the events whose missing ancestors are wanted.
	LatestEvents []string `json:"latest_events"`
	// Limit defaults to 10 on the server.
	Limit int `json:"limit,omitempty"`
	// MinDepth defaults to 0.
	MinDepth int64 `json:"min_depth,omitempty"`
}

// MissingEventsResponse holds the missing events.
type MissingEventsResponse struct {
	Events []json.RawMessage `json:"events"`
}

// GetMissingEvents sends POST /_matrix/federation/v1/get_missing_events/{roomId}.
func (c *Client) GetMissingEvents(ctx context.Context, destination, roomID string, req MissingEventsRequest) (MissingEventsResponse, error) {
	if req.EarliestEvents == nil {
		req.EarliestEvents = []string{}
	}
	var out MissingEventsResponse
	err := c.Do(ctx, destination, http.MethodPost, fedPath("/_matrix/federation/v1/get_missing_events/%s", roomID), nil, req, &out)
	return out, err
}

// StateResponse is the room state at an event, with its auth chain.
type StateResponse struct {
	AuthChain []json.RawMessage `json:"auth_chain"`
	PDUs      []json.RawMessage `json:"pdus"`
}

// State sends GET /_matrix/federation/v1/state/{roomId}?event_id=….
func (c *Client) State(ctx context.Context, destination, roomID, eventID string) (StateResponse, error) {
	var out StateResponse
	err := c.Do(ctx, destination, http.MethodGet, fedPath("/_matrix/federation/v1/state/%s", roomID), url.Values{"event_id": {eventID}}, nil, &out)
	return out, err
}

// StateIDsResponse is the room state at an event as event IDs.
type StateIDsResponse struct {
	AuthChainIDs []string `json:"auth_chain_ids"`
	PDUIDs       []string `json:"pdu_ids"`
}

// StateIDs sends GET /_matrix/federation/v1/state_ids/{roomId}?event_id=….
func (c *Client) StateIDs(ctx context.Context, destination, roomID, eventID string) (StateIDsResponse, error) {
	var out StateIDsResponse
	err := c.Do(ctx, destination, http.MethodGet, fedPath("/_matrix/federation/v1/state_ids/%s", roomID), url.Values{"event_id": {eventID}}, nil, &out)
	return out, err
}

// GetEvent fetches one event (GET /_matrix/federation/v1/event/{eventId}); the answer is a
// transaction with the event as its only PDU.
func (c *Client) GetEvent(ctx context.Context, destination, eventID string) (Transaction, error) {
	var out Transaction
	err := c.Do(ctx, destination, http.MethodGet, fedPath("/_matrix/federation/v1/event/%s", eventID), nil, nil, &out)
	return out, err
}

// EventAuthResponse is the full auth chain of an event.
type EventAuthResponse struct {
	AuthChain []json.RawMessage `json:"auth_chain"`
}

// EventAuth sends GET /_matrix/federation/v1/event_auth/{roomId}/{eventId}.
func (c *Client) EventAuth(ctx context.Context, destination, roomID, eventID string) (EventAuthResponse, error) {
	var out EventAuthResponse
	err := c.Do(ctx, destination, http.MethodGet, fedPath("/_matrix/federation/v1/event_auth/%s/%s", roomID, eventID), nil, nil, &out)
	return out, err
}
