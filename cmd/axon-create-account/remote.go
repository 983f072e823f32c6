package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/csapi"
	"github.com/axon-matrix/axon/matrix"
)

// registerPath is Synapse's shared-secret registration endpoint, which the clientapi serves.
const registerPath = "/_synapse/admin/v1/register"

// remote creates accounts through a running server's shared-secret registration.
type remote struct {
	base   string // scheme://host[:port]
	secret string
	client *http.Client
}

// newRemote finds the server's URL and the shared secret (flags first, then the config).
func newRemote(o *options, cfg *config.Config) (*remote, error) {
	r := &remote{client: &http.Client{}}
	switch {
	case o.url != "":
		r.base = o.url
	case cfg.ClientAPI.PublicBaseURL != "":
		r.base = cfg.ClientAPI.PublicBaseURL
	default:
		r.base = localURL(cfg.Monolith.HTTPBind)
	}
	u, err := url.Parse(r.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q is not an http:// or https:// URL", r.base)
	}
	r.base = strings.TrimSuffix(r.base, "/")
	if o.sharedSecretFile != "" {
		raw, err := os.ReadFile(o.sharedSecretFile)
		if err != nil {
			return nil, fmt.Errorf("-shared-secret-file: %w", err)
		}
		r.secret = strings.TrimSpace(string(raw))
		if r.secret == "" {
			return nil, fmt.Errorf("-shared-secret-file %s is empty", o.sharedSecretFile)
		}
	} else if r.secret = cfg.ClientAPI.RegistrationSharedSecret; r.secret == "" {
		return nil, fmt.Errorf("%s has no client_api.registration_shared_secret: set one (and restart the server), "+
			"or create the account with -direct", o.configPath)
	}
	return r, nil
}

// localURL is the URL of a server listening on bind, reached from this machine.
func localURL(bind string) string {
	host, port, err := net.SplitHostPort(bind)
	if err != nil {
		return "http://localhost:8008"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// matrixError is an error answer of the server.
type matrixError struct {
	Status  int
	ErrCode string `json:"errcode"`
	Err     string `json:"error"`
}

func (e *matrixError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.ErrCode, e.Err)
}

// call sends a JSON request (body nil: none) through the client-server API client the
// project's tools share (internal/csapi) and decodes a 2xx answer into out; an error
// answer with an errcode becomes a *matrixError (explain reads it).
func (r *remote) call(ctx context.Context, method, path, token string, body, out any) error {
	c := &csapi.Client{BaseURL: r.base, AccessToken: token, HTTP: r.client}
	err := c.Do(ctx, method, path, body, out)
	var he *csapi.Error
	var ue *url.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &he) && he.ErrCode != "":
		return &matrixError{Status: he.Status, ErrCode: he.ErrCode, Err: he.Message}
	case errors.As(err, &he):
		return fmt.Errorf("%s %s answered %d: %.200s", method, path, he.Status, he.Body)
	case errors.As(err, &ue):
		return fmt.Errorf("cannot reach the server at %s (is it running? -url names another address; -direct writes to the database instead): %w", r.base, err)
	}
	return fmt.Errorf("%s %s: %w", method, path, err)
}

// registerRequest is the body of POST /_synapse/admin/v1/register.
type registerRequest struct {
	Nonce       string `json:"nonce"`
	Username    string `json:"username"`
	DisplayName string `json:"displayname,omitempty"`
	Password    string `json:"password"`
	Admin       bool   `json:"admin"`
	MAC         string `json:"mac"`
}

// register creates the account: a nonce, then the signed request. The server logs the new
// account in on a device; that session is logged out again, so no stray token is left.
func (r *remote) register(ctx context.Context, acc account) (string, error) {
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	if err := r.call(ctx, http.MethodGet, registerPath, "", nil, &nonce); err != nil {
		return "", explain(err)
	}
	req := &registerRequest{Nonce: nonce.Nonce, Username: acc.localpart, DisplayName: acc.displayName,
		Password: acc.password, Admin: acc.admin}
	req.MAC = matrix.SharedSecretRegistrationMAC(r.secret, req.Nonce, req.Username, req.Password, req.Admin, "")
	var created struct {
		UserID      string `json:"user_id"`
		AccessToken string `json:"access_token"`
	}
	if err := r.call(ctx, http.MethodPost, registerPath, "", req, &created); err != nil {
		return "", explain(err)
	}
	if created.AccessToken != "" {
		if err := r.call(ctx, http.MethodPost, "/_matrix/client/v3/logout", created.AccessToken, map[string]any{}, nil); err != nil {
			fmt.Fprintf(os.Stderr, "axon-create-account: warning: logging out the registration's session: %v\n", err)
		}
	}
	return created.UserID, nil
}

// explain turns the server's refusals into what to do about them.
func explain(err error) error {
	var me *matrixError
	if !errors.As(err, &me) {
		return err
	}
	switch {
	case me.ErrCode == "M_FORBIDDEN" && strings.Contains(me.Err, "HMAC"):
		return fmt.Errorf("the server refused the shared secret (%v): it is not the server's client_api.registration_shared_secret", me)
	case me.ErrCode == "M_UNRECOGNIZED" && me.Status == http.StatusBadRequest:
		return fmt.Errorf("the server has shared-secret registration off (%v): set client_api.registration_shared_secret in its config and restart it, or use -direct", me)
	case me.Status == http.StatusNotFound:
		return fmt.Errorf("the server does not serve %s (%v): is the URL the client API's?", registerPath, me)
	case me.ErrCode == "M_USER_IN_USE":
		return fmt.Errorf("that user exists already (%v)", me)
	case me.ErrCode == "M_INVALID_USERNAME":
		return fmt.Errorf("not a valid user name (%v)", me)
	}
	return fmt.Errorf("the server refused: %v", me)
}
