package internal

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/appservice/api"
)

// queryTimeout bounds one user or alias query to a service.
const queryTimeout = 10 * time.Second

// negativeTTL is how long "no service has it" is remembered, so lookups of an unknown
// user or alias do not reach the services on every request.
var negativeTTL = 30 * time.Second

// maxNegatives bounds the negative cache (it starts over beyond).
const maxNegatives = 10000

// negativeCache remembers IDs no service claimed, until their time runs out.
type negativeCache struct {
	mu      sync.Mutex
	expires map[string]time.Time
}

func (c *negativeCache) has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.expires[key]
	if ok && time.Now().After(t) {
		delete(c.expires, key)
		return false
	}
	return ok
}

func (c *negativeCache) add(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expires == nil || len(c.expires) >= maxNegatives {
		c.expires = map[string]time.Time{}
	}
	c.expires[key] = time.Now().Add(negativeTTL)
}

// Query asks a service about a user (GET /_matrix/app/v1/users/{userId}) or a room alias
// (GET /_matrix/app/v1/rooms/{roomAlias}): true when it answered 2xx.
func (b *Bridge) Query(ctx context.Context, reg *api.Registration, kind, id string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint(reg, "/_matrix/app/v1/"+kind+"/"+url.PathEscape(id)), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+reg.HSToken)
	resp, err := b.HC.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode <= 299, nil
}

// query asks every service with a URL that matches, in file order, until one claims id.
func (a *API) query(ctx context.Context, kind, id string, matches func(*api.Registration) bool) (*api.QueryResponse, error) {
	key := kind + " " + id
	if a.negatives.has(key) {
		return &api.QueryResponse{}, nil
	}
	for _, reg := range a.Regs.All() {
		if !reg.HasURL() || !matches(reg) {
			continue
		}
		ok, err := a.Bridge.Query(ctx, reg, kind, id)
		if err != nil {
			logrus.WithError(err).WithField("appservice", reg.ID).WithField(kind, id).Warn("application service query failed")
			continue
		}
		if ok {
			return &api.QueryResponse{Exists: true}, nil
		}
	}
	a.negatives.add(key)
	return &api.QueryResponse{}, nil
}

// QueryUser implements api.AppServiceAPI.
func (a *API) QueryUser(ctx context.Context, req *api.QueryUserRequest) (*api.QueryResponse, error) {
	return a.query(ctx, "users", req.UserID, func(r *api.Registration) bool { return r.OwnsUser(req.UserID) })
}

// QueryAlias implements api.AppServiceAPI.
func (a *API) QueryAlias(ctx context.Context, req *api.QueryAliasRequest) (*api.QueryResponse, error) {
	return a.query(ctx, "rooms", req.Alias, func(r *api.Registration) bool { return r.InterestedInAlias(req.Alias) })
}
