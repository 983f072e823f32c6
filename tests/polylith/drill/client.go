package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// client speaks the public client-server API only, through client-api-proxy: the drill
// must see what any Matrix client sees.
type client struct {
	base  string
	http  *http.Client
	token string
}

// httpError is an answer other than 2xx.
type httpError struct {
	Status int
	Body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %.300s", e.Status, e.Body) }

// retryable says whether a failed request may succeed when repeated as it is: no answer at
// all (connection refused or reset, timeout), a 5xx (an upstream the proxy could not reach,
// a roomserver that is down) or 429.
func retryable(err error) bool {
	var he *httpError
	if errors.As(err, &he) {
		return he.Status >= 500 || he.Status == http.StatusTooManyRequests
	}
	return err != nil && !errors.Is(err, context.Canceled)
}

func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &httpError{Status: resp.StatusCode, Body: string(b)}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// register creates an account through the user-interactive m.login.dummy flow.
func (c *client) register(ctx context.Context, username, password string) error {
	body := map[string]any{"username": username, "password": password, "initial_device_display_name": "drill"}
	var res struct {
		UserID      string `json:"user_id"`
		AccessToken string `json:"access_token"`
	}
	err := c.do(ctx, http.MethodPost, "/_matrix/client/v3/register", body, &res)
	var he *httpError
	if errors.As(err, &he) && he.Status == http.StatusUnauthorized {
		var uia struct {
			Session string `json:"session"`
		}
		_ = json.Unmarshal([]byte(he.Body), &uia)
		body["auth"] = map[string]any{"type": "m.login.dummy", "session": uia.Session}
		err = c.do(ctx, http.MethodPost, "/_matrix/client/v3/register", body, &res)
	}
	if err != nil {
		return fmt.Errorf("registering %s: %w", username, err)
	}
	if res.AccessToken == "" {
		return fmt.Errorf("registering %s: no access token", username)
	}
	c.token = res.AccessToken
	return nil
}

func (c *client) createRoom(ctx context.Context, name string) (string, error) {
	var res struct {
		RoomID string `json:"room_id"`
	}
	err := c.do(ctx, http.MethodPost, "/_matrix/client/v3/createRoom", map[string]any{"preset": "public_chat", "name": name}, &res)
	return res.RoomID, err
}

func (c *client) join(ctx context.Context, roomID string) error {
	return c.do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomID), map[string]any{}, nil)
}

// send is PUT /rooms/{roomId}/send/m.room.message/{txnId}: a repeated txnId must return
// the first event ID and create nothing (the spec's transaction idempotency).
func (c *client) send(ctx context.Context, roomID, txnID string, content any) (string, error) {
	var res struct {
		EventID string `json:"event_id"`
	}
	err := c.do(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/send/m.room.message/"+url.PathEscape(txnID), content, &res)
	if err == nil && res.EventID == "" {
		err = errors.New("send answered 200 without event_id")
	}
	return res.EventID, err
}

// syncResponse holds what the drill reads of GET /sync.
type syncResponse struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]struct {
			Timeline struct {
				Events  []syncEvent `json:"events"`
				Limited bool        `json:"limited"`
			} `json:"timeline"`
		} `json:"join"`
	} `json:"rooms"`
}

type syncEvent struct {
	Type    string `json:"type"`
	EventID string `json:"event_id"`
	Sender  string `json:"sender"`
	Content struct {
		DrillID string `json:"drill_id"`
		Seq     int    `json:"drill_seq"`
	} `json:"content"`
}

// syncFilter: no presence or account data; a timeline limit far above what one sync can
// accumulate in the drill, so no response is cut short (limited) and every event arrives
// through /sync itself.
const syncFilter = `{"presence":{"types":[]},"account_data":{"types":[]},"room":{"state":{"lazy_load_members":true},"timeline":{"limit":20000},"ephemeral":{"types":[]},"account_data":{"types":[]}}}`

func (c *client) sync(ctx context.Context, since string, timeout time.Duration) (*syncResponse, error) {
	q := url.Values{}
	q.Set("filter", syncFilter)
	q.Set("timeout", fmt.Sprint(timeout.Milliseconds()))
	if since != "" {
		q.Set("since", since)
	}
	var res syncResponse
	err := c.do(ctx, http.MethodGet, "/_matrix/client/v3/sync?"+q.Encode(), nil, &res)
	return &res, err
}
