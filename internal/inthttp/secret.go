package inthttp

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/setup"
)

// SecretHeader carries global.internal_api_secret on every internal API call. It is the
// header setup checks on its internal listener, so clients of both agree.
const SecretHeader = setup.InternalSecretHeader

// Unauthorized is the answer to an internal API call without the right secret: 401
// M_UNAUTHORIZED (the spec's code for a request that was not correctly authorized). It is
// setup.InternalSecretRefused, so setup's internal listener and inthttp answer alike.
func Unauthorized() *httputil.MatrixError { return setup.InternalSecretRefused() }

// RequireSecret wraps next so that a request below PathPrefix without secret in
// SecretHeader is refused with 401 M_UNAUTHORIZED. /health and /metrics stay open. An
// empty secret lets every request through: pair it with CheckListen.
func RequireSecret(secret string, next http.Handler) http.Handler {
	if secret == "" {
		return next
	}
	guarded := SecretMiddleware(secret)(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == PathPrefix || strings.HasPrefix(r.URL.Path, PathPrefix+"/") {
			guarded.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// SecretMiddleware returns a gorilla/mux middleware that refuses every request it sees
// without secret in SecretHeader (401 M_UNAUTHORIZED). Components put it on the subrouter
// of their internal API, so their routes are guarded whatever router they are mounted on.
// The comparison takes constant time, so the answer time tells nothing about the secret.
// An empty secret lets every request through.
func SecretMiddleware(secret string) mux.MiddlewareFunc {
	want := []byte(secret)
	return func(next http.Handler) http.Handler {
		if secret == "" {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if subtle.ConstantTimeCompare([]byte(r.Header.Get(SecretHeader)), want) != 1 {
				setup.LoggerFrom(r.Context()).WithField("remote", r.RemoteAddr).WithField("path", r.URL.Path).
					Warn("internal API call without the right secret refused")
				httputil.WriteError(w, Unauthorized())
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// CheckListen refuses to serve an internal API without a secret anywhere but on loopback:
// with global.internal_api_secret empty, anybody who can reach listen could create
// accounts or send events as any user. listen is an internal_api_listen address; a
// missing host (":7781") means every interface. A host name other than "localhost" counts
// as non-loopback, since it may resolve to anything.
func CheckListen(listen, secret string) error {
	if secret != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("internal API listen address %q: %w", listen, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("internal API on %q without global.internal_api_secret: set a secret (at least 16 characters) "+
		"or listen on a loopback address such as 127.0.0.1", listen)
}
