package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/axon-matrix/axon/matrix/federation/discovery"
	"github.com/axon-matrix/axon/matrix/signing"
)

// ClientOptions tunes a Client.
type ClientOptions struct {
	Transport TransportOptions
	// Timeout bounds each request when the context has no earlier deadline (30s).
	Timeout time.Duration
	// MaxResponseSize caps a response body (64 MiB; room state can be large).
	MaxResponseSize int64
}

// Client makes server-server requests as one origin server. Every request goes through a
// Transport, so it is discovered and X-Matrix signed. It is safe for concurrent use.
type Client struct {
	origin    string
	transport *Transport
	http      *http.Client
	timeout   time.Duration
	maxSize   int64
}

// NewClient builds a Client for origin, signing with key and finding servers with
// resolver.
func NewClient(origin string, key signing.SigningKey, resolver *discovery.Resolver, opts ClientOptions) *Client {
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.MaxResponseSize == 0 {
		opts.MaxResponseSize = 64 << 20
	}
	t := NewTransport(origin, key, resolver, opts.Transport)
	return &Client{origin: origin, transport: t, timeout: opts.Timeout, maxSize: opts.MaxResponseSize,
		http: &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Origin is the server name the client signs as.
func (c *Client) Origin() string { return c.origin }

// Transport returns the client's signing Transport, e.g. for media downloads.
func (c *Client) Transport() *Transport { return c.transport }

// fedPath joins a path template's fixed parts with escaped parameters: fedPath("/a/%s/b",
// x) escapes x as one path segment.
func fedPath(format string, segments ...string) string {
	args := make([]any, len(segments))
	for i, s := range segments {
		args[i] = url.PathEscape(s)
	}
	return fmt.Sprintf(format, args...)
}

// Do sends one request to destination and decodes a 2xx JSON answer into out (unless out
// is nil). path must already be escaped; reqBody, if not nil, is sent as JSON (a
// json.RawMessage is sent as is). Non-2xx answers are *HTTPError.
func (c *Client) Do(ctx context.Context, destination, method, path string, query url.Values, reqBody, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	u := URLScheme + "://" + destination + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if reqBody != nil {
		raw, ok := reqBody.(json.RawMessage)
		if !ok {
			var err error
			if raw, err = json.Marshal(reqBody); err != nil {
				return err
			}
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxSize+1))
	if err != nil {
		return fmt.Errorf("federation: reading response from %s: %w", destination, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if len(data) > 4096 {
			data = data[:4096]
		}
		return newHTTPError(resp.StatusCode, data)
	}
	if int64(len(data)) > c.maxSize {
		return fmt.Errorf("federation: response from %s larger than %d bytes", destination, c.maxSize)
	}
	if out == nil {
		return nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") {
		return fmt.Errorf("federation: %s answered %q, not JSON", destination, ct)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("federation: bad JSON from %s: %w", destination, err)
	}
	return nil
}

// errBadResponse wraps a response that parsed but breaks the spec.
var errBadResponse = errors.New("federation: invalid response")
