package httputil

import (
	"net/http"
	"strings"
)

// AccessToken extracts the client's access token: the Authorization: Bearer header, which
// is the spec's only way since MSC4127, or, for older clients that Synapse still serves, the
// access_token query parameter. A request with neither gets M_MISSING_TOKEN (401).
func AccessToken(r *http.Request) (string, *MatrixError) {
	if h := r.Header.Get("Authorization"); h != "" {
		const prefix = "Bearer "
		if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
			return strings.TrimSpace(h[len(prefix):]), nil
		}
		return "", UnknownToken("Authorization header is not a Bearer token")
	}
	if t := r.URL.Query().Get("access_token"); t != "" {
		return t, nil
	}
	return "", MissingToken("Missing access token")
}
