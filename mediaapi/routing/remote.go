package routing

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/mediaapi/storage"
)

// remoteFetchTimeout bounds one fetch of remote media (beyond the timeout_ms the remote
// server may wait for a pending upload), the body included.
const remoteFetchTimeout = 5 * time.Minute

// maxRemoteMetadata bounds the JSON metadata part of a federation media answer.
const maxRemoteMetadata = 64 << 10

// remoteMedia returns the metadata of media of another server: from the store when it was
// fetched before, otherwise fetched now over federation (GET
// /_matrix/federation/v1/media/download/{mediaId} on its origin), stored content-addressed
// like uploads with its origin, and recorded. Concurrent first requests for one media wait
// for one fetch. Errors are what Synapse answers: 404 M_NOT_FOUND when the origin has no
// such media (or is no server name, or federation is not wired), 502 M_TOO_LARGE for
// content over media_api.max_upload_size, 504 M_NOT_YET_UPLOADED passed on, 502 M_UNKNOWN
// for any other failure.
func (h *Handlers) remoteMedia(ctx context.Context, origin, id string, wait time.Duration) (*storage.Media, error) {
	cached := func() (*storage.Media, error) {
		m, err := h.db.GetMedia(ctx, origin, id)
		if err != nil || m == nil || m.Pending() {
			return nil, err
		}
		return m, nil
	}
	if m, err := cached(); m != nil || err != nil {
		return m, err
	}
	if h.remoteClient == nil || matrix.ValidateServerName(origin) != nil {
		return nil, httputil.NotFound("Unknown media")
	}
	unlock := h.remoteLocks.lock(origin + "/" + id)
	defer unlock()
	if m, err := cached(); m != nil || err != nil {
		return m, err // fetched by the request this one waited for
	}
	// The fetch outlives the request that started it: others may be waiting for it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait+remoteFetchTimeout)
	defer cancel()
	m, err := h.fetchRemote(fctx, origin, id, wait)
	if err != nil {
		return nil, err
	}
	if err := h.db.InsertMedia(ctx, m); err != nil {
		if errors.Is(err, storage.ErrExists) { // another instance recorded it first
			if m, err := cached(); m != nil || err != nil {
				return m, err
			}
		}
		return nil, err
	}
	if err := h.evictRemote(ctx, m); err != nil {
		logrus.WithError(err).Warn("mediaapi: evicting remote media from the cache")
	}
	return m, nil
}

// remoteError is the answer to a failed fetch of remote media.
func remoteError(format string, args ...any) error {
	return &httputil.MatrixError{Status: http.StatusBadGateway, ErrCode: "M_UNKNOWN",
		Err: "Failed to fetch remote media: " + fmt.Sprintf(format, args...)}
}

// fetchRemote downloads media id from origin and stores its content: the federation
// endpoint first; when the origin does not know it (an older server: 404 M_UNRECOGNIZED,
// 400 or 405), the legacy /_matrix/media/v3/download with allow_remote=false.
func (h *Handlers) fetchRemote(ctx context.Context, origin, id string, wait time.Duration) (*storage.Media, error) {
	timeout := url.Values{"timeout_ms": {strconv.FormatInt(wait.Milliseconds(), 10)}}
	resp, err := h.remoteGet(ctx, origin, "/_matrix/federation/v1/media/download/"+id, timeout)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	legacy := false
	if resp.StatusCode != http.StatusOK && unknownEndpoint(resp) {
		resp.Body.Close()
		q := url.Values{"allow_remote": {"false"}, "timeout_ms": timeout["timeout_ms"]}
		if resp, err = h.remoteGet(ctx, origin, "/_matrix/media/v3/download/"+url.PathEscape(origin)+"/"+id, q); err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		legacy = true
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, httputil.NotFound("Unknown media")
	case http.StatusGatewayTimeout:
		if errcode(resp) == "M_NOT_YET_UPLOADED" {
			return nil, &httputil.MatrixError{Status: http.StatusGatewayTimeout, ErrCode: "M_NOT_YET_UPLOADED",
				Err: "The content of this media ID has not been uploaded yet"}
		}
		return nil, remoteError("%s answered %d", origin, resp.StatusCode)
	default:
		return nil, remoteError("%s answered %d", origin, resp.StatusCode)
	}
	if resp.ContentLength > h.cfg.MaxUploadSize+maxRemoteMetadata {
		return nil, h.remoteTooLarge()
	}
	var body io.Reader
	var header http.Header
	if legacy {
		body, header = resp.Body, resp.Header
	} else {
		var closer io.Closer
		body, header, closer, err = h.mediaPart(ctx, resp)
		if err != nil {
			return nil, err
		}
		defer closer.Close()
	}
	return h.storeRemote(origin, id, body, header)
}

// remoteGet sends a signed GET to origin (through the federation transport's discovery
// and destination guard).
func (h *Handlers) remoteGet(ctx context.Context, origin, path string, q url.Values) (*http.Response, error) {
	u := federation.URLScheme + "://" + origin + path + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, remoteError("%v", err)
	}
	resp, err := h.remoteClient.Do(req)
	if err != nil {
		return nil, remoteError("%v", err)
	}
	return resp, nil
}

// unknownEndpoint says whether an error answer means the server has no federation media
// endpoint (servers before Matrix 1.11).
func unknownEndpoint(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusMethodNotAllowed:
		return true
	case http.StatusNotFound:
		return errcode(resp) == "M_UNRECOGNIZED"
	}
	return false
}

// errcode reads the errcode of a JSON error answer (the first 4 KiB of the body; the body
// is consumed).
func errcode(resp *http.Response) string {
	var e struct {
		ErrCode string `json:"errcode"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&e)
	return e.ErrCode
}

// mediaPart reads a federation media answer (multipart/mixed: JSON metadata, then the
// media) up to its second part and returns that part's bytes and headers. A second part
// with a Location header is fetched from there (plain HTTPS, the same destination guard).
func (h *Handlers) mediaPart(ctx context.Context, resp *http.Response) (io.Reader, http.Header, io.Closer, error) {
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		return nil, nil, nil, remoteError("the answer is not multipart/mixed")
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	meta, err := mr.NextPart()
	if err != nil {
		return nil, nil, nil, remoteError("no metadata part: %v", err)
	}
	var obj map[string]any
	if err := json.NewDecoder(io.LimitReader(meta, maxRemoteMetadata)).Decode(&obj); err != nil {
		return nil, nil, nil, remoteError("the metadata part is not a JSON object")
	}
	part, err := mr.NextPart()
	if err != nil {
		return nil, nil, nil, remoteError("no media part: %v", err)
	}
	loc := part.Header.Get("Location")
	if loc == "" {
		return part, http.Header(part.Header), io.NopCloser(part), nil
	}
	u, err := url.Parse(loc)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, nil, nil, remoteError("bad Location %q", loc)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, nil, remoteError("%v", err)
	}
	lr, err := h.locationClient.Do(req)
	if err != nil {
		return nil, nil, nil, remoteError("%v", err)
	}
	if lr.StatusCode != http.StatusOK {
		lr.Body.Close()
		return nil, nil, nil, remoteError("the Location answered %d", lr.StatusCode)
	}
	if lr.ContentLength > h.cfg.MaxUploadSize {
		lr.Body.Close()
		return nil, nil, nil, h.remoteTooLarge()
	}
	return lr.Body, lr.Header, lr.Body, nil
}

// newLocationClient is the client of Location redirects: no proxy, the dial guard of
// federation_api.allow_private_destinations on every connection, at most 5 redirects;
// certificates verified unless federation_api.disable_tls_validation (insecure).
func newLocationClient(allowPrivate, insecure bool) *http.Client {
	var tlsConfig *tls.Config
	if insecure {
		tlsConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opt-in, documented as test-only
	}
	return &http.Client{
		Transport: &http.Transport{Proxy: nil, DialContext: federation.PublicDialer(allowPrivate), TLSClientConfig: tlsConfig,
			TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: time.Minute, MaxIdleConnsPerHost: 2},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 || (req.URL.Scheme != "https" && req.URL.Scheme != "http") {
				return errors.New("too many redirects or not http(s)")
			}
			return nil
		},
	}
}

func (h *Handlers) remoteTooLarge() error {
	return &httputil.MatrixError{Status: http.StatusBadGateway, ErrCode: "M_TOO_LARGE",
		Err: fmt.Sprintf("Remote media is larger than the maximum of %d bytes", h.cfg.MaxUploadSize)}
}

// storeRemote writes the content of remote media to the store (at most
// media_api.max_upload_size bytes, checked while it streams) and returns its metadata,
// with the type and file name header gives when they are valid.
func (h *Handlers) storeRemote(origin, id string, body io.Reader, header http.Header) (*storage.Media, error) {
	rec := &readErr{r: body}
	hash, size, err := h.files.Write(rec, h.cfg.MaxUploadSize)
	switch {
	case errors.Is(err, storage.ErrTooLarge):
		return nil, h.remoteTooLarge()
	case rec.err != nil: // the remote server's answer broke off
		return nil, remoteError("%v", rec.err)
	case err != nil:
		return nil, err
	}
	ct, err := uploadContentType(header.Get("Content-Type"))
	if err != nil {
		ct = defaultContentType
	}
	name := ""
	if _, p, err := mime.ParseMediaType(header.Get("Content-Disposition")); err == nil && checkFileName(p["filename"]) == nil {
		name = p["filename"]
	}
	now := h.now().UnixMilli()
	return &storage.Media{Origin: origin, MediaID: id, ContentType: ct, FileName: name, Size: size, SHA256: hash,
		CreatedTS: now, UploadedTS: now}, nil
}

// readErr remembers the error of its reader (other than io.EOF), so a broken remote
// answer is told from a failure of the store.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}
