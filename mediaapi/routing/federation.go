package routing

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix/federation"
)

// Federation is what the mediaapi's federation parts need. Both are optional: without
// Keys the /_matrix/federation/v1/media routes are not registered (404 M_UNRECOGNIZED);
// without Transport media of other servers is 404 M_NOT_FOUND.
type Federation struct {
	// Keys finds origin servers' keys for the X-Matrix checks of
	// /_matrix/federation/v1/media (the serverkeyapi, arrow 11:
	// serverkeyapi/api.RequestKeyLookup).
	Keys federation.RequestKeyLookup
	// Transport signs and sends the requests for remote media (matrix-federation://
	// URLs): the *federation.Transport of internal/fedclient, whose dial guard applies
	// federation_api.allow_private_destinations.
	Transport http.RoundTripper
	// AllowPrivate is federation_api.allow_private_destinations, for the Location
	// redirects a remote server may answer with (fetched without the signing transport).
	AllowPrivate bool
	// InsecureTLS is federation_api.disable_tls_validation (test networks only), likewise.
	InsecureTLS bool
}

// SetFederation gives the handlers their federation parts; call it before Setup and
// SetupFederation.
func (h *Handlers) SetFederation(f Federation) {
	h.fed = f
	if f.Transport != nil {
		h.remoteClient = &http.Client{Transport: f.Transport,
			// A redirect of the federation request itself is not followed (the spec's
			// redirect is a Location header in the multipart answer).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		h.locationClient = newLocationClient(f.AllowPrivate, f.InsecureTLS)
	}
}

// SetupFederation registers the federation media routes, by their full paths, on fed (a
// router for /_matrix/federation such as setup.FullPathRouter gives), when SetFederation
// gave a key lookup. They live in the mediaapi, not the federationapi, because the files
// are here: the X-Matrix check is done here too, with the serverkeyapi (arrow 11).
func (h *Handlers) SetupFederation(fed *mux.Router) {
	if h.fed.Keys == nil {
		return
	}
	fed.Handle("/_matrix/federation/v1/media/download/{mediaId}", h.fedAuthed(h.fedDownload)).Methods(http.MethodGet)
	fed.Handle("/_matrix/federation/v1/media/thumbnail/{mediaId}", h.fedAuthed(h.fedThumbnail)).Methods(http.MethodGet)
}

// maxFederationMediaBody bounds the (normally empty) body of a federation media request.
const maxFederationMediaBody = 1 << 16

// fedAuthed checks the X-Matrix authentication of a federation request (server-server
// spec "Request Authentication"): 401 M_UNAUTHORIZED when it fails.
func (h *Handlers) fedAuthed(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := federation.VerifyHTTPRequest(r, h.cfg.ServerName, maxFederationMediaBody, h.fed.Keys); err != nil {
			var ae *federation.AuthError
			switch {
			case errors.As(err, &ae) && ae.ErrCode == "M_TOO_LARGE":
				httputil.WriteError(w, httputil.TooLarge("%s", ae.Message))
			case errors.As(err, &ae) && ae.ErrCode == "M_NOT_JSON":
				httputil.WriteError(w, httputil.NotJSON("%s", ae.Message))
			case errors.As(err, &ae):
				httputil.WriteError(w, &httputil.MatrixError{Status: http.StatusUnauthorized, ErrCode: "M_UNAUTHORIZED", Err: ae.Message})
			default:
				httputil.WriteError(w, httputil.BadJSON("could not read the request body"))
			}
			return
		}
		next(w, r)
	})
}

// fedDownload is GET /_matrix/federation/v1/media/download/{mediaId}: a media of this
// server (never one cached from another) as multipart/mixed, waiting like the client
// downloads (timeout_ms) for a pending asynchronous upload.
func (h *Handlers) fedDownload(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["mediaId"]
	wait, err := downloadWait(r.URL.Query())
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !validMediaID(id) {
		writeError(w, r, httputil.NotFound("Unknown media"))
		return
	}
	m, err := h.waitForContent(r.Context(), h.cfg.ServerName, id, wait)
	if err != nil {
		writeError(w, r, err)
		return
	}
	f, err := h.files.Open(m.SHA256)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer f.Close()
	ct := m.ContentType
	if ct == "" {
		ct = defaultContentType
	}
	writeMultipartMedia(w, ct, contentDisposition(ct, m.FileName), f)
}

// fedThumbnail is GET /_matrix/federation/v1/media/thumbnail/{mediaId}: the thumbnail
// the client path would give (thumbnail.go), as multipart/mixed.
func (h *Handlers) fedThumbnail(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["mediaId"]
	q := r.URL.Query()
	size, animated, err := h.thumbnailSize(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	wait, err := downloadWait(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !validMediaID(id) {
		writeError(w, r, httputil.NotFound("Unknown media"))
		return
	}
	m, err := h.waitForContent(r.Context(), h.cfg.ServerName, id, wait)
	if err != nil {
		writeError(w, r, err)
		return
	}
	t, err := h.storedThumbnail(r.Context(), m, size, animated)
	if err != nil {
		writeError(w, r, err)
		return
	}
	f, err := h.files.Open(t.SHA256)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer f.Close()
	writeMultipartMedia(w, t.ContentType, contentDisposition(t.ContentType, "thumbnail"+extension(t.ContentType)), f)
}

// writeMultipartMedia writes the federation media answer: multipart/mixed with exactly
// two parts, the metadata (an empty JSON object, as the spec has it today) and the bytes
// of f with their Content-Type and Content-Disposition.
func writeMultipartMedia(w http.ResponseWriter, contentType, disposition string, f *os.File) {
	mw := multipart.NewWriter(w)
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	w.WriteHeader(http.StatusOK)
	meta, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
	if err != nil {
		return
	}
	if _, err := meta.Write([]byte("{}")); err != nil {
		return
	}
	body, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {contentType}, "Content-Disposition": {disposition}})
	if err != nil {
		return
	}
	if _, err := io.Copy(body, f); err != nil {
		return // the client has gone: the answer stays unterminated, which it sees
	}
	_ = mw.Close()
}
