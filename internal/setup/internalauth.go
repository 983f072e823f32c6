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

// withInternalSecret rejects /api requests without the configured secret (403
// M_FORBIDDEN). With no secret configured every request passes.
func (b *Base) withInternalSecret(next http.Handler) http.Handler {
	secret := b.Cfg.Global.InternalAPISecret
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if secret != "" && strings.HasPrefix(r.URL.Path, "/api/") {
			got := r.Header.Get(InternalSecretHeader)
			if subtle.ConstantTimeCompare([]byte(got), []byte(secret)) != 1 {
				httputil.WriteError(w, httputil.Forbidden("Missing or wrong internal API secret"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
