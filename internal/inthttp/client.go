// Package inthttp is the internal HTTP transport of the polylith: the way one Axon binary
// calls another's api interface (the request/response arrows 2–13 of ARCHITECTURE.md §2,
// and the unnumbered "every Tier 1 → userapi" arrow). Every component's own inthttp
// package builds on it instead of writing the transport again:
//
//   - Client.Call POSTs a JSON request to <internal_api_url>/api/<component>/<method> and
//     decodes the JSON answer. An error answer becomes the same *httputil.MatrixError the
//     callee returned (status, errcode, message and extra fields), so an M_FORBIDDEN raised
//     by a Tier 2 component reaches the client as M_FORBIDDEN. Transport failures are
//     retried with backoff only for idempotent calls (queries), never for writes.
//   - Handle registers a typed handler (Go generics) that decodes the request, calls the
//     implementation and encodes its result or error.
//   - RequireSecret rejects calls without global.internal_api_secret, and CheckListen
//     refuses an internal API without a secret on a non-loopback address.
package inthttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/axon-matrix/axon/internal/setup"
)

// PathPrefix is where every internal API lives on an internal listener (setup's
// InternalAPIMux is mounted there). Component paths follow it: /api/<component>/<method>.
const PathPrefix = "/api"

// Defaults of a Client.
const (
	// DefaultTimeout bounds a call whose context has no deadline, retries included.
	DefaultTimeout = 30 * time.Second
	// DefaultRetries is how many times an idempotent call is retried after a transport
	// failure.
	DefaultRetries = 3
	// DefaultBackoff is the wait before the first retry; it doubles for each further one.
	DefaultBackoff = 100 * time.Millisecond
	// maxResponseBytes bounds an answer, so a confused peer cannot exhaust memory.
	maxResponseBytes = 64 << 20
)

// Client calls one component's internal API over HTTP. It is safe for concurrent use.
type Client struct {
	base    string // internal_api_url + PathPrefix, no trailing slash
	secret  string
	hc      *http.Client
	timeout time.Duration
	retries int
	backoff time.Duration
}

// Option tunes a Client.
type Option func(*Client)

// WithHTTPClient replaces the client's *http.Client (tests use httptest's).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTimeout sets the bound of a call whose context has no deadline (default 30s).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetries sets how many times an idempotent call is retried after a transport failure
// (default 3) and the wait before the first retry (default 100ms, doubling each time).
func WithRetries(n int, backoff time.Duration) Option {
	return func(c *Client) { c.retries, c.backoff = n, backoff }
}

// NewClient returns a client of the internal API served at baseURL (a component's
// internal_api_url, e.g. "http://userapi:7781"). secret is global.internal_api_secret, sent
// on every call ("" sends none).
func NewClient(baseURL, secret string, opts ...Option) *Client {
	c := &Client{
		base:    strings.TrimSuffix(baseURL, "/") + PathPrefix,
		secret:  secret,
		timeout: DefaultTimeout,
		retries: DefaultRetries,
		backoff: DefaultBackoff,
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = newHTTPClient()
	}
	return c
}

// newHTTPClient is tuned for many small calls to a few peers: bounded connect time and
// enough idle connections per host that a busy Tier 1 binary does not reconnect per call.
// The overall bound of a call comes from its context (see Call).
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 nil, // internal traffic never goes through HTTP_PROXY
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// Call POSTs req as JSON to path (e.g. "/userapi/queryAccessToken", below PathPrefix) and
// decodes the answer into resp (nil ignores it). An error answer is returned as the
// *httputil.MatrixError the server sent. A transport failure (no answer, or a proxy's
// 502/503/504 that is no Matrix error) is retried with backoff when idempotent is true —
// set it only for calls that change nothing — and returned at once otherwise, since a
// write may have taken effect before the connection broke. Without a deadline on ctx the
// call, retries included, is bounded by the client's timeout.
func (c *Client) Call(ctx context.Context, path string, req, resp any, idempotent bool) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("inthttp %s: encoding request: %w", path, err)
	}
	if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	wait := c.backoff
	for attempt := 0; ; attempt++ {
		raw, err := c.do(ctx, path, body)
		var te *transportError
		if err == nil || !errors.As(err, &te) || !idempotent || attempt >= c.retries || ctx.Err() != nil {
			if err != nil {
				return err
			}
			if resp == nil || len(raw) == 0 {
				return nil
			}
			if err := json.Unmarshal(raw, resp); err != nil {
				return fmt.Errorf("inthttp %s: decoding response: %w", path, err)
			}
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}

// transportError is a failure to get an answer from the component (as opposed to an
// answer that is an error). Only these are retried.
type transportError struct {
	path string
	err  error
}

func (e *transportError) Error() string { return fmt.Sprintf("inthttp %s: %v", e.path, e.err) }
func (e *transportError) Unwrap() error { return e.err }

// IsTransportError reports whether err (from Call) means the component gave no answer:
// it was unreachable, the connection broke, the call timed out, or a proxy in front of it
// answered 502/503/504.
func IsTransportError(err error) bool {
	var te *transportError
	return errors.As(err, &te)
}

// do makes one attempt and returns the body of a 2xx answer.
func (c *Client) do(ctx context.Context, path string, body []byte) ([]byte, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("inthttp %s: %w", path, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	if c.secret != "" {
		hr.Header.Set(SecretHeader, c.secret)
	}
	if id := setup.RequestID(ctx); id != "" {
		hr.Header.Set(setup.RequestIDHeader, id) // one request ID across binaries in the logs
	}
	res, err := c.hc.Do(hr)
	if err != nil {
		return nil, &transportError{path, err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes+1))
	if err != nil {
		return nil, &transportError{path, err}
	}
	if len(raw) > maxResponseBytes {
		return nil, fmt.Errorf("inthttp %s: answer over %d bytes", path, maxResponseBytes)
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return raw, nil
	}
	if me := decodeError(res.StatusCode, raw); me != nil {
		return nil, me
	}
	switch res.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return nil, &transportError{path, fmt.Errorf("answered %d without a Matrix error", res.StatusCode)}
	}
	return nil, fmt.Errorf("inthttp %s: answered %d without a Matrix error", path, res.StatusCode)
}
