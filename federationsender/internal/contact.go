package internal

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/federation"
)

var (
	_ api.DirectoryAPI = (*API)(nil)
	_ api.ContactAPI   = (*API)(nil)
)

// directoryTTL is how long a remote alias lookup is remembered (found or not found).
const directoryTTL = 30 * time.Second

// maxDirectoryEntries bounds the cache; when full it starts afresh.
const maxDirectoryEntries = 4096

// directoryCache remembers remote alias lookups briefly. The zero value is ready.
type directoryCache struct {
	mu      sync.Mutex
	entries map[string]directoryEntry
}

type directoryEntry struct {
	resp    *api.QueryRemoteDirectoryResponse // nil: not found
	expires time.Time
}

func (c *directoryCache) get(alias string, now time.Time) (directoryEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[alias]
	if !ok || now.After(e.expires) {
		return directoryEntry{}, false
	}
	return e, true
}

func (c *directoryCache) put(alias string, e directoryEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxDirectoryEntries {
		c.entries = map[string]directoryEntry{}
	}
	c.entries[alias] = e
}

// QueryRemoteDirectory implements api.DirectoryAPI (arrow 7): GET /query/directory on the
// alias's server. 404 from it is M_NOT_FOUND; an unreachable server or another answer is
// 502 M_UNKNOWN. Both a room and "not found" are remembered for directoryTTL.
func (a *API) QueryRemoteDirectory(ctx context.Context, req *api.QueryRemoteDirectoryRequest) (*api.QueryRemoteDirectoryResponse, error) {
	server, ok := matrix.ServerNameOf(req.Alias)
	if !matrix.ValidRoomAlias(req.Alias) || !ok {
		return nil, httputil.InvalidParam("Invalid room alias %q", req.Alias)
	}
	if server == a.ServerName {
		return nil, httputil.InvalidParam("Room alias %s is this server's", req.Alias)
	}
	now := time.Now()
	if e, ok := a.directory.get(req.Alias, now); ok {
		if e.resp == nil {
			return nil, httputil.NotFound("Room alias %s not found", req.Alias)
		}
		return e.resp, nil
	}
	resp, err := a.Client.QueryDirectory(ctx, server, req.Alias)
	if err != nil {
		var he *federation.HTTPError
		if errors.As(err, &he) && he.StatusCode == http.StatusNotFound {
			a.directory.put(req.Alias, directoryEntry{expires: now.Add(directoryTTL)})
			return nil, httputil.NotFound("Room alias %s not found", req.Alias)
		}
		return nil, &httputil.MatrixError{Status: http.StatusBadGateway, ErrCode: "M_UNKNOWN",
			Err: "Could not resolve " + req.Alias + " on " + server + ": " + err.Error()}
	}
	if !matrix.ValidRoomID(resp.RoomID) {
		return nil, &httputil.MatrixError{Status: http.StatusBadGateway, ErrCode: "M_UNKNOWN", Err: server + " answered no valid room ID"}
	}
	out := &api.QueryRemoteDirectoryResponse{RoomID: resp.RoomID}
	for _, s := range resp.Servers {
		if matrix.ValidServerName(s) {
			out.Servers = append(out.Servers, s)
		}
	}
	if len(out.Servers) == 0 {
		out.Servers = []string{server}
	}
	a.directory.put(req.Alias, directoryEntry{resp: out, expires: now.Add(directoryTTL)})
	return out, nil
}

// ServerContacted implements api.ContactAPI (arrow 8): the server's queue stops backing
// off and sends what waits at once.
func (a *API) ServerContacted(_ context.Context, req *api.ServerContactedRequest) error {
	if a.Queues != nil && req.Server != "" && req.Server != a.ServerName {
		a.Queues.ResetBackoff(req.Server)
	}
	return nil
}
