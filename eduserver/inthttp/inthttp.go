// Package inthttp carries api.EDUServerAPI over internal HTTP for the polylith, on the
// shared transport of internal/inthttp: Client POSTs JSON to the axon-edu-server binary's
// /api/eduserver/…, and AddRoutes serves those paths from the direct implementation. It is
// arrows 6 (clientapi), 5 (federationapi) and 18 (syncapi) over the network. Errors keep their
// Matrix errcode and status.
package inthttp

import (
	"context"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/inthttp"
)

// Paths of the internal API, below internal/inthttp.PathPrefix (/api).
const (
	pathPrefix       = "/eduserver"
	pathSetTyping    = pathPrefix + "/setTyping"
	pathSetReceipt   = pathPrefix + "/setReceipt"
	pathSendToDevice = pathPrefix + "/sendToDevice"
	pathSetPresence  = pathPrefix + "/setPresence"
	pathGetPresence  = pathPrefix + "/getPresence"
	pathWritePos     = pathPrefix + "/queryWritePosition"
	pathInputFedEDUs = pathPrefix + "/inputFederationEDUs"
)

// userReq and posResp carry GetPresence and QueryWritePosition.
type userReq struct {
	UserID string `json:"user_id"`
}

type posResp struct {
	Pos int64 `json:"pos"`
}

// Client is api.EDUServerAPI over internal HTTP. Every call is retried after a transport
// failure: typing and receipts set a state (a repeat sets the same), and send-to-device
// is idempotent per transaction ID.
type Client struct {
	c *inthttp.Client
}

var _ api.EDUServerAPI = (*Client)(nil)

// NewClient returns a client of the eduserver whose internal API is at baseURL (config
// edu_server.internal_api_url). secret is global.internal_api_secret.
func NewClient(baseURL, secret string, opts ...inthttp.Option) *Client {
	return &Client{c: inthttp.NewClient(baseURL, secret, opts...)}
}

// SetTyping implements api.EDUServerAPI.
func (c *Client) SetTyping(ctx context.Context, req *api.SetTypingRequest) error {
	return c.c.Call(ctx, pathSetTyping, req, &inthttp.Empty{}, true)
}

// SetReceipt implements api.EDUServerAPI.
func (c *Client) SetReceipt(ctx context.Context, req *api.SetReceiptRequest) error {
	return c.c.Call(ctx, pathSetReceipt, req, &inthttp.Empty{}, true)
}

// SendToDevice implements api.EDUServerAPI.
func (c *Client) SendToDevice(ctx context.Context, req *api.SendToDeviceRequest) error {
	return c.c.Call(ctx, pathSendToDevice, req, &inthttp.Empty{}, true)
}

// SetPresence implements api.EDUServerAPI (retried: it sets a state).
func (c *Client) SetPresence(ctx context.Context, req *api.SetPresenceRequest) error {
	return c.c.Call(ctx, pathSetPresence, req, &inthttp.Empty{}, true)
}

// GetPresence implements api.EDUServerAPI.
func (c *Client) GetPresence(ctx context.Context, userID string) (*api.PresenceResponse, error) {
	var resp api.PresenceResponse
	if err := c.c.Call(ctx, pathGetPresence, &userReq{UserID: userID}, &resp, true); err != nil {
		return nil, err
	}
	return &resp, nil
}

// QueryWritePosition implements api.EDUServerAPI (arrow 18: read your own writes).
func (c *Client) QueryWritePosition(ctx context.Context, userID string) (int64, error) {
	var resp posResp
	err := c.c.Call(ctx, pathWritePos, &userReq{UserID: userID}, &resp, true)
	return resp.Pos, err
}

// InputFederationEDUs implements api.EDUServerAPI (arrow 5). Retried: typing, receipts
// and presence set a state, and to-device messages are idempotent per message_id.
func (c *Client) InputFederationEDUs(ctx context.Context, req *api.InputFederationEDUsRequest) error {
	return c.c.Call(ctx, pathInputFedEDUs, req, &inthttp.Empty{}, true)
}

// AddRoutes serves the eduserver's internal API on r (a router mounted at
// inthttp.PathPrefix, such as setup's InternalAPIMux) from a, the direct implementation.
// The internal API secret is checked in front of r (polylith.Start).
func AddRoutes(r *mux.Router, a api.EDUServerAPI) {
	sr := r.PathPrefix(pathPrefix).Subrouter()
	p := func(full string) string { return strings.TrimPrefix(full, pathPrefix) }
	inthttp.HandleErr(sr, p(pathSetTyping), a.SetTyping)
	inthttp.HandleErr(sr, p(pathSetReceipt), a.SetReceipt)
	inthttp.HandleErr(sr, p(pathSendToDevice), a.SendToDevice)
	inthttp.HandleErr(sr, p(pathSetPresence), a.SetPresence)
	inthttp.HandleErr(sr, p(pathInputFedEDUs), a.InputFederationEDUs)
	inthttp.Handle(sr, p(pathGetPresence), func(ctx context.Context, req *userReq) (*api.PresenceResponse, error) {
		return a.GetPresence(ctx, req.UserID)
	})
	inthttp.Handle(sr, p(pathWritePos), func(ctx context.Context, req *userReq) (*posResp, error) {
		pos, err := a.QueryWritePosition(ctx, req.UserID)
		return &posResp{Pos: pos}, err
	})
}
