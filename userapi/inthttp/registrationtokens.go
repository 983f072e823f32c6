package inthttp

import (
	"context"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/userapi/api"
)

// Paths of the registration token methods, below inthttp.PathPrefix.
const (
	pathCreateRegistrationToken  = pathPrefix + "/createRegistrationToken"
	pathListRegistrationTokens   = pathPrefix + "/listRegistrationTokens"
	pathGetRegistrationToken     = pathPrefix + "/getRegistrationToken"
	pathUpdateRegistrationToken  = pathPrefix + "/updateRegistrationToken"
	pathDeleteRegistrationToken  = pathPrefix + "/deleteRegistrationToken"
	pathRegistrationTokenValid   = pathPrefix + "/registrationTokenValid"
	pathReserveRegistrationToken = pathPrefix + "/reserveRegistrationToken"
)

type registrationTokenReq struct {
	Token   string `json:"token"`
	Session string `json:"session,omitempty"`
}

type listTokensReq struct {
	Valid *bool `json:"valid,omitempty"`
}

type tokensResp struct {
	Tokens []api.RegistrationToken `json:"registration_tokens"`
}

type validResp struct {
	Valid bool `json:"valid"`
}

// CreateRegistrationToken implements api.UserAPI.
func (c *Client) CreateRegistrationToken(ctx context.Context, req *api.NewRegistrationTokenRequest) (*api.RegistrationToken, error) {
	var resp api.RegistrationToken
	if err := c.c.Call(ctx, pathCreateRegistrationToken, req, &resp, write); err != nil {
		return nil, err
	}
	return &resp, nil
}

// ListRegistrationTokens implements api.UserAPI.
func (c *Client) ListRegistrationTokens(ctx context.Context, valid *bool) ([]api.RegistrationToken, error) {
	var resp tokensResp
	if err := c.c.Call(ctx, pathListRegistrationTokens, listTokensReq{valid}, &resp, query); err != nil {
		return nil, err
	}
	return resp.Tokens, nil
}

// GetRegistrationToken implements api.UserAPI.
func (c *Client) GetRegistrationToken(ctx context.Context, token string) (*api.RegistrationToken, error) {
	var resp api.RegistrationToken
	if err := c.c.Call(ctx, pathGetRegistrationToken, registrationTokenReq{Token: token}, &resp, query); err != nil {
		return nil, err
	}
	return &resp, nil
}

// UpdateRegistrationToken implements api.UserAPI.
func (c *Client) UpdateRegistrationToken(ctx context.Context, req *api.UpdateRegistrationTokenRequest) (*api.RegistrationToken, error) {
	var resp api.RegistrationToken
	if err := c.c.Call(ctx, pathUpdateRegistrationToken, req, &resp, write); err != nil {
		return nil, err
	}
	return &resp, nil
}

// DeleteRegistrationToken implements api.UserAPI.
func (c *Client) DeleteRegistrationToken(ctx context.Context, token string) error {
	return c.c.Call(ctx, pathDeleteRegistrationToken, registrationTokenReq{Token: token}, nil, write)
}

// RegistrationTokenValid implements api.UserAPI.
func (c *Client) RegistrationTokenValid(ctx context.Context, token string) (bool, error) {
	var resp validResp
	err := c.c.Call(ctx, pathRegistrationTokenValid, registrationTokenReq{Token: token}, &resp, query)
	return resp.Valid && err == nil, err
}

// ReserveRegistrationToken implements api.UserAPI. It is idempotent per session, so it is
// retried like a query.
func (c *Client) ReserveRegistrationToken(ctx context.Context, token, session string) error {
	return c.c.Call(ctx, pathReserveRegistrationToken, registrationTokenReq{Token: token, Session: session}, nil, query)
}

// addRegistrationTokenRoutes serves the registration token methods on sr (AddRoutes'
// subrouter below pathPrefix).
func addRegistrationTokenRoutes(sr *mux.Router, a api.UserAPI) {
	p := func(full string) string { return strings.TrimPrefix(full, pathPrefix) }
	inthttp.Handle(sr, p(pathCreateRegistrationToken), func(ctx context.Context, req *api.NewRegistrationTokenRequest) (*api.RegistrationToken, error) {
		return a.CreateRegistrationToken(ctx, req)
	})
	inthttp.Handle(sr, p(pathListRegistrationTokens), func(ctx context.Context, req *listTokensReq) (*tokensResp, error) {
		ts, err := a.ListRegistrationTokens(ctx, req.Valid)
		if ts == nil {
			ts = []api.RegistrationToken{}
		}
		return &tokensResp{ts}, err
	})
	inthttp.Handle(sr, p(pathGetRegistrationToken), func(ctx context.Context, req *registrationTokenReq) (*api.RegistrationToken, error) {
		return a.GetRegistrationToken(ctx, req.Token)
	})
	inthttp.Handle(sr, p(pathUpdateRegistrationToken), func(ctx context.Context, req *api.UpdateRegistrationTokenRequest) (*api.RegistrationToken, error) {
		return a.UpdateRegistrationToken(ctx, req)
	})
	inthttp.HandleErr(sr, p(pathDeleteRegistrationToken), func(ctx context.Context, req *registrationTokenReq) error {
		return a.DeleteRegistrationToken(ctx, req.Token)
	})
	inthttp.Handle(sr, p(pathRegistrationTokenValid), func(ctx context.Context, req *registrationTokenReq) (*validResp, error) {
		ok, err := a.RegistrationTokenValid(ctx, req.Token)
		return &validResp{ok}, err
	})
	inthttp.HandleErr(sr, p(pathReserveRegistrationToken), func(ctx context.Context, req *registrationTokenReq) error {
		return a.ReserveRegistrationToken(ctx, req.Token, req.Session)
	})
}
