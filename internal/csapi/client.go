// Package csapi is a small client of the Matrix client-server API (the public
// /_matrix/client/v3 surface that Axon's Tier 1 components serve, behind client-api-proxy
// in the polylith) for Axon's own tools and tests: cmd/axon-loadtest and the polylith's
// kill -9 drill (tests/polylith/drill). It speaks only what any Matrix client speaks, so
// the tools can be pointed at any homeserver. It is not a general SDK: it holds the
// requests the tools make and no retry policy (each tool decides what to repeat).
package csapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Client is one account's session with a homeserver. The zero AccessToken sends no
// Authorization header (register, login); Register and Login fill AccessToken, UserID
// and DeviceID. A Client is safe for concurrent use as long as its fields do not change.
type Client struct {
	BaseURL     string // e.g. http://127.0.0.1:8008, without a trailing slash
	AccessToken string
	UserID      string
	DeviceID    string
	HTTP        *http.Client // nil: http.DefaultClient
}

// Error is an answer other than 2xx. ErrCode and Message are the spec's error body
// ({"errcode","error"}) when the body is one; Body is the body as received, whatever it is
// (a proxy's 502 page has no errcode).
type Error struct {
	Status  int
	ErrCode string
	Message string
	Body    string
}

func (e *Error) Error() string { return fmt.Sprintf("HTTP %d: %.300s", e.Status, e.Body) }

// Do sends method path (path includes the query) with body, if not nil, as JSON, and
// decodes a 2xx answer into out, if not nil. A non-2xx answer is an *Error; a request
// that got no answer returns the transport's error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.AccessToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.AccessToken)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return newError(resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func newError(status int, body []byte) *Error {
	e := &Error{Status: status, Body: string(body)}
	var m struct {
		ErrCode string `json:"errcode"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &m) == nil {
		e.ErrCode, e.Message = m.ErrCode, m.Error
	}
	return e
}
