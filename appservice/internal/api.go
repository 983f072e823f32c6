package internal

import (
	"context"

	"github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/appservice/storage"
	"github.com/axon-matrix/axon/internal/httputil"
)

// API is the direct implementation of api.AppServiceAPI (arrow 10).
type API struct {
	Regs   *api.Registrations
	Bridge *Bridge
	// DB holds the services' directory lists (listing.go).
	DB *storage.Database
	// negatives remembers users and aliases no service claimed (query.go).
	negatives negativeCache
}

var _ api.AppServiceAPI = (*API)(nil)

// Ping implements api.AppServiceAPI.
func (a *API) Ping(ctx context.Context, req *api.PingRequest) (*api.PingResponse, error) {
	reg := a.Regs.ByID(req.AppServiceID)
	if reg == nil {
		return nil, httputil.NotFound("Unknown application service %q", req.AppServiceID)
	}
	return a.Bridge.Ping(ctx, reg, req.TransactionID)
}
