package csapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
)

// CreateRoomRequest is the part of POST /createRoom's body the tools set; empty fields are
// left out.
type CreateRoomRequest struct {
	Preset string `json:"preset,omitempty"` // e.g. public_chat
	Name   string `json:"name,omitempty"`
	// Invite lists users to invite (any server's); IsDirect marks their invites as a DM.
	Invite   []string `json:"invite,omitempty"`
	IsDirect bool     `json:"is_direct,omitempty"`
}

// CreateRoom is POST /createRoom; it returns the new room's ID.
func (c *Client) CreateRoom(ctx context.Context, req CreateRoomRequest) (string, error) {
	var res struct {
		RoomID string `json:"room_id"`
	}
	err := c.Do(ctx, http.MethodPost, "/_matrix/client/v3/createRoom", req, &res)
	if err == nil && res.RoomID == "" {
		err = errors.New("createRoom answered without room_id")
	}
	return res.RoomID, err
}

// Join is POST /join/{roomIdOrAlias} with an empty body.
func (c *Client) Join(ctx context.Context, roomIDOrAlias string) error {
	return c.Do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomIDOrAlias), map[string]any{}, nil)
}

// Send is PUT /rooms/{roomId}/send/m.room.message/{txnId} and returns the event ID. The
// same txnID again (from the same device) must answer the first event ID and create
// nothing: the spec's transaction idempotency, which the drill checks.
func (c *Client) Send(ctx context.Context, roomID, txnID string, content any) (string, error) {
	var res struct {
		EventID string `json:"event_id"`
	}
	err := c.Do(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/send/m.room.message/"+url.PathEscape(txnID), content, &res)
	if err == nil && res.EventID == "" {
		err = errors.New("send answered 200 without event_id")
	}
	return res.EventID, err
}

// Event is a client event as /sync timelines and /messages chunks carry it, with its
// content decoded into C: a struct of the fields the caller reads (struct{} for none).
type Event[C any] struct {
	Type           string  `json:"type"`
	EventID        string  `json:"event_id"`
	Sender         string  `json:"sender"`
	OriginServerTS int64   `json:"origin_server_ts"`
	StateKey       *string `json:"state_key,omitempty"`
	Content        C       `json:"content"`
}

// MessagesRequest is the query of GET /rooms/{roomId}/messages.
type MessagesRequest struct {
	Dir   string // "b" (newest first) or "f"
	From  string // a pagination token; "" starts from the newest (dir=b) or oldest (dir=f)
	Limit int    // 0: the server's default
}

// MessagesResponse is GET /messages' answer.
type MessagesResponse[C any] struct {
	Chunk []Event[C] `json:"chunk"`
	Start string     `json:"start"`
	End   string     `json:"end"` // "" when there is nothing further
}

// Messages is GET /rooms/{roomId}/messages, the events decoded with content type C.
// (A function, not a method: Go methods take no type parameters.)
func Messages[C any](ctx context.Context, c *Client, roomID string, req MessagesRequest) (*MessagesResponse[C], error) {
	q := url.Values{}
	q.Set("dir", req.Dir)
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	if req.From != "" {
		q.Set("from", req.From)
	}
	var res MessagesResponse[C]
	err := c.Do(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/messages?"+q.Encode(), nil, &res)
	return &res, err
}
