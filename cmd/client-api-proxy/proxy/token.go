package proxy

import (
	"net/http"
	"strings"
)

// accessToken returns the request's access token as the client-server API carries it:
// "Authorization: Bearer <token>", or the deprecated access_token query parameter. It
// returns "" when there is none. The proxy only uses it to keep a client on one sync
// instance; checking it is the upstream's job.
func accessToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	return r.URL.Query().Get("access_token")
}
