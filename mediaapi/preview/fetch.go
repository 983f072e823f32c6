// Package preview fetches the pages and images of URL previews (GET
// /_matrix/client/v1/media/preview_url) safely — only http and https, only public
// addresses unless allowed, a size and a time limit, every redirect checked again — and
// reads a page's OpenGraph data with golang.org/x/net/html (html.go). Storing the image
// and caching the result are the routing's.
package preview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/axon-matrix/axon/matrix/federation"
)

// maxRedirects bounds the redirects one fetch follows.
const maxRedirects = 5

// maxURLBytes bounds the URL a client may ask to preview.
const maxURLBytes = 4096

// Errors of Fetch besides the network's.
var (
	// ErrTooLarge: the response is longer than the limit.
	ErrTooLarge = errors.New("preview: response over the size limit")
	// ErrPrivate: the URL (or a redirect) leads to a non-public address and private
	// destinations are not allowed. It wraps federation.ErrPrivateDestination.
	ErrPrivate = federation.ErrPrivateDestination
	// ErrStatus: the server answered with a status other than 200.
	ErrStatus = errors.New("preview: the server did not answer 200")
)

// Fetcher makes the outbound requests of URL previews.
type Fetcher struct {
	client   *http.Client
	maxBytes int64
}

// NewFetcher returns a fetcher whose connections refuse loopback, private, link-local and
// other non-public addresses — checked after DNS, at connect time, for every connection a
// fetch makes, redirects included (matrix/federation's dial guard) — unless allowPrivate;
// that follows at most 5 redirects and only to http and https; that uses no proxy from the
// environment (a proxy would connect for it, past the guard); and that gives up on a body
// over maxBytes or a fetch longer than timeout.
func NewFetcher(allowPrivate bool, maxBytes int64, timeout time.Duration) *Fetcher {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           federation.PublicDialer(allowPrivate),
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &Fetcher{maxBytes: maxBytes, client: &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("preview: more than %d redirects", maxRedirects)
			}
			return checkURL(req.URL)
		},
	}}
}

// ParseURL parses the url parameter of a preview request: an absolute http or https URL
// with a host, at most 4096 bytes. The fragment is dropped (it never reaches the server).
func ParseURL(raw string) (*url.URL, error) {
	if len(raw) > maxURLBytes {
		return nil, fmt.Errorf("preview: URL longer than %d bytes", maxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	if err := checkURL(u); err != nil {
		return nil, err
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

func checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("preview: only http and https URLs are previewed, not %q", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("preview: URL without a host")
	}
	return nil
}

// Response is a fetched body.
type Response struct {
	Body        []byte
	ContentType string   // the Content-Type header as sent
	URL         *url.URL // after redirects: the base of the page's relative links
}

// Fetch GETs u (an http or https URL) and reads its body, at most the fetcher's maxBytes
// (ErrTooLarge beyond).
func (f *Fetcher) Fetch(ctx context.Context, u *url.URL) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	req.Header.Set("User-Agent", "Axon URL preview (Matrix homeserver)")
	req.Header.Set("Accept", "text/html,application/xhtml+xml,image/*;q=0.9,*/*;q=0.5")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s", ErrStatus, resp.Status)
	}
	if resp.ContentLength > f.maxBytes {
		return nil, ErrTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > f.maxBytes {
		return nil, ErrTooLarge
	}
	return &Response{Body: body, ContentType: resp.Header.Get("Content-Type"), URL: resp.Request.URL}, nil
}
