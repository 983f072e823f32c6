package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// csClient is a minimal client-server API client: the load tool speaks only the public
// API, so it can be pointed at any homeserver.
type csClient struct {
	base  string
	http  *http.Client
	token string
}

// apiError is a non-2xx answer.
type apiError struct {
	Status int
	Body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

func (c *csClient) do(ctx context.Context, method, path string, body, out any) error {
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
		return &apiError{Status: resp.StatusCode, Body: string(b)}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

type registerResp struct {
	UserID      string `json:"user_id"`
	AccessToken string `json:"access_token"`
	DeviceID    string `json:"device_id"`
	Session     string `json:"session"`
}

// register creates an account through user-interactive auth with m.login.dummy.
func (c *csClient) register(ctx context.Context, username, password string) (*registerResp, error) {
	body := map[string]any{"username": username, "password": password, "initial_device_display_name": "axon-loadtest"}
	var first registerResp
	err := c.do(ctx, http.MethodPost, "/_matrix/client/v3/register", body, &first)
	if err == nil {
		return &first, nil
	}
	ae, ok := err.(*apiError)
	if !ok || ae.Status != http.StatusUnauthorized {
		return nil, err
	}
	var uia struct {
		Session string `json:"session"`
	}
	_ = json.Unmarshal([]byte(ae.Body), &uia)
	body["auth"] = map[string]any{"type": "m.login.dummy", "session": uia.Session}
	var res registerResp
	if err := c.do(ctx, http.MethodPost, "/_matrix/client/v3/register", body, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

func (c *csClient) createRoom(ctx context.Context) (string, error) {
	var res struct {
		RoomID string `json:"room_id"`
	}
	err := c.do(ctx, http.MethodPost, "/_matrix/client/v3/createRoom", map[string]any{"preset": "public_chat"}, &res)
	return res.RoomID, err
}

func (c *csClient) join(ctx context.Context, roomID string) error {
	return c.do(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomID), map[string]any{}, nil)
}

func (c *csClient) send(ctx context.Context, roomID, txnID string, content any) (string, error) {
	var res struct {
		EventID string `json:"event_id"`
	}
	err := c.do(ctx, http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/send/m.room.message/"+url.PathEscape(txnID), content, &res)
	return res.EventID, err
}

// syncResp holds the parts of a /sync response the load tool reads.
type syncResp struct {
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
	Content struct {
		LoadID string `json:"axon_loadtest_id"`
	} `json:"content"`
}

// syncFilter keeps responses small: no presence, members lazy-loaded, a large timeline so a
// burst of sends is not cut short (a limited timeline would count as missing deliveries).
const syncFilter = `{"presence":{"types":[]},"account_data":{"types":[]},"room":{"state":{"lazy_load_members":true},"timeline":{"limit":500},"ephemeral":{"types":[]},"account_data":{"types":[]}}}`

func (c *csClient) sync(ctx context.Context, since string, timeout time.Duration) (*syncResp, error) {
	q := url.Values{}
	q.Set("filter", syncFilter)
	q.Set("timeout", fmt.Sprint(timeout.Milliseconds()))
	if since != "" {
		q.Set("since", since)
	}
	var res syncResp
	err := c.do(ctx, http.MethodGet, "/_matrix/client/v3/sync?"+q.Encode(), nil, &res)
	return &res, err
}
