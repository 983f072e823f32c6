package routing

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
	skapi "github.com/axon-matrix/axon/serverkeyapi/api"
)

type originKey struct{}

// Origin is the authenticated origin server of a request that went through Authenticate.
func Origin(ctx context.Context) string {
	s, _ := ctx.Value(originKey{}).(string)
	return s
}

// Authenticate checks the X-Matrix authentication of a federation request (server-server
// spec "Request Authentication") before next runs: every Authorization header names one
// well-formed origin, the destination (when given) is this server, and a signature over
// method, URI, origin, destination and body verifies with a current key of the origin,
// which the serverkeyapi supplies (arrow 11). Failures are 401 M_UNAUTHORIZED (a body
// that is not JSON 400 M_NOT_JSON, one over the limit 413 M_TOO_LARGE). next reads the
// origin with Origin(r.Context()) and finds the body in r.Body again.
func Authenticate(cfg Config, keys skapi.ServerKeyAPI, next http.Handler) http.Handler {
	maxBody := cfg.MaxBodyBytes
	if maxBody == 0 {
		maxBody = DefaultMaxBodyBytes
	}
	lookup := requestKeyLookup(keys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin, _, err := federation.VerifyHTTPRequest(r, cfg.ServerName, maxBody, lookup)
		if err != nil {
			var ae *federation.AuthError
			switch {
			case errors.As(err, &ae) && ae.ErrCode == "M_NOT_JSON":
				httputil.WriteError(w, httputil.NotJSON("%s", ae.Message))
			case errors.As(err, &ae) && ae.ErrCode == "M_TOO_LARGE":
				httputil.WriteError(w, httputil.TooLarge("%s", ae.Message))
			case errors.As(err, &ae):
				httputil.WriteError(w, &httputil.MatrixError{Status: http.StatusUnauthorized, ErrCode: "M_UNAUTHORIZED", Err: ae.Message})
			default: // reading the body failed
				httputil.WriteError(w, httputil.BadJSON("could not read the request body"))
			}
			return
		}
		cfg.contacts.contacted(origin) // arrow 8 (contact.go), at most once a minute per origin
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), originKey{}, origin)))
	})
}

// requestKeyLookup is the key lookup of X-Matrix checks over the serverkeyapi: a current
// (not replaced) key of a well-formed origin, valid now.
func requestKeyLookup(keys skapi.ServerKeyAPI) federation.RequestKeyLookup {
	return func(ctx context.Context, server string, keyID signing.KeyID) (ed25519.PublicKey, error) {
		if err := matrix.ValidateServerName(server); err != nil {
			return nil, fmt.Errorf("origin %q is not a server name: %v", server, err)
		}
		now := time.Now().UnixMilli()
		resp, err := keys.FetchKeys(ctx, &skapi.FetchKeysRequest{Keys: []skapi.KeyRequest{
			{ServerName: server, KeyID: string(keyID), MinimumValidUntilTS: now}}})
		if err != nil {
			return nil, err
		}
		for _, k := range resp.Keys {
			if k.ServerName != server || k.KeyID != string(keyID) {
				continue
			}
			if k.Expired || k.ValidUntilTS < now {
				return nil, fmt.Errorf("key %s of %s is no longer valid", keyID, server)
			}
			raw, err := signing.DecodeBase64(k.Key)
			if err != nil || len(raw) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("key %s of %s is not an ed25519 key", keyID, server)
			}
			return raw, nil
		}
		return nil, fmt.Errorf("key %s of %s not found", keyID, server)
	}
}
