package setup

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
)

// InternalSecretHeader carries global.internal_api_secret on internal API calls between
// polylith binaries (arrows 2–13 over HTTP). Clients set it with SetInternalSecret.
const InternalSecretHeader = "X-Axon-Internal-Secret"

// SetInternalSecret adds the configured internal API secret (if any) to an outgoing
// internal API request.
func SetInternalSecret(req *http.Request, secret string) {
	if secret != "" {
		req.Header.Set(InternalSecretHeader, secret)
	}
}

// InternalSecretRefused is the one answer to an internal API call (arrows 2–13 over HTTP)
// without the right secret, from setup's internal listener and from inthttp alike: 401
// M_UNAUTHORIZED, the spec's code for a request that was not correctly authorized.
// M_MISSING_TOKEN / M_UNKNOWN_TOKEN are deliberately not used: they are about a user's
// access token, and a caller that relays an internal error to a client (clientapi asking
// the userapi to check a token) would make the client log its user out over a server
// misconfiguration.
func InternalSecretRefused() *httputil.MatrixError {
	return &httputil.MatrixError{Status: http.StatusUnauthorized, ErrCode: "M_UNAUTHORIZED",
		Err: "Missing or wrong internal API secret"}
}

// withInternalSecret rejects /api requests without the configured secret
// (InternalSecretRefused: 401 M_UNAUTHORIZED). With no secret configured every request
// passes.
func (b *Base) withInternalSecret(next http.Handler) http.Handler {
	secret := b.Cfg.Global.InternalAPISecret
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if secret != "" && strings.HasPrefix(r.URL.Path, "/api/") {
			got := r.Header.Get(InternalSecretHeader)
			if subtle.ConstantTimeCompare([]byte(got), []byte(secret)) != 1 {
				LoggerFrom(r.Context()).WithField("remote", r.RemoteAddr).WithField("path", r.URL.Path).
					Warn("internal API call without the right secret refused")
				httputil.WriteError(w, InternalSecretRefused())
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
