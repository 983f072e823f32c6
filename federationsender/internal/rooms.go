package internal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/federation"
)

var _ api.RoomsAPI = (*API)(nil)

const (
	// hierarchyTTL is how long another server's /hierarchy answer is remembered (the
	// spec asks for caching; a client paging through a space asks again soon).
	hierarchyTTL = 30 * time.Second
	// maxHierarchyEntries bounds that cache; when full it starts afresh.
	maxHierarchyEntries = 1024
	// maxHierarchyServers is how many of a child's via servers are tried.
	maxHierarchyServers = 5
	// maxHierarchyAnswerBytes bounds what is kept of one server's /hierarchy answer (the
	// room's summary, the children summaries and the inaccessible IDs, as sent): a
	// response may be as large as the federation client allows (64 MiB), and the answers
	// stay in the cache and in the roomserver's paginated walks. Children past it are left
	// out; a room summary larger than it alone is no answer.
	maxHierarchyAnswerBytes = 1 << 20
	// maxHierarchyCacheBytes bounds the cache's answers together; when full it starts afresh.
	maxHierarchyCacheBytes = 32 << 20
)

// hierarchyCache remembers other servers' /hierarchy answers. The zero value is ready.
type hierarchyCache struct {
	mu      sync.Mutex
	entries map[string]hierarchyEntry
	size    int // the entries' sizes together
}

type hierarchyEntry struct {
	resp    *api.QueryRemoteHierarchyResponse
	size    int // hierarchySize(resp)
	expires time.Time
}

// hierarchySize is the bytes an answer holds (what maxHierarchyAnswerBytes bounds).
func hierarchySize(resp *api.QueryRemoteHierarchyResponse) int {
	n := len(resp.Room)
	for _, c := range resp.Children {
		n += len(c)
	}
	for _, id := range resp.InaccessibleChildren {
		n += len(id)
	}
	return n
}

func (c *hierarchyCache) get(key string, now time.Time) *api.QueryRemoteHierarchyResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && now.Before(e.expires) {
		return e.resp
	}
	return nil
}

func (c *hierarchyCache) put(key string, resp *api.QueryRemoteHierarchyResponse, now time.Time) {
	size := hierarchySize(resp)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[key]; ok {
		delete(c.entries, key)
		c.size -= old.size
	}
	if c.entries == nil || len(c.entries) >= maxHierarchyEntries || c.size+size > maxHierarchyCacheBytes {
		c.entries, c.size = map[string]hierarchyEntry{}, 0
	}
	c.entries[key] = hierarchyEntry{resp: resp, size: size, expires: now.Add(hierarchyTTL)}
	c.size += size
}

// QueryRemotePublicRooms implements api.RoomsAPI (arrow 7): another server's room
// directory, for GET/POST /publicRooms?server= of the clientapi.
func (a *API) QueryRemotePublicRooms(ctx context.Context, req *api.QueryRemotePublicRoomsRequest) (*api.QueryRemotePublicRoomsResponse, error) {
	if !matrix.ValidServerName(req.Server) {
		return nil, httputil.InvalidParam("Invalid server name %q", req.Server)
	}
	if req.Server == a.ServerName {
		return nil, httputil.InvalidParam("Server %s is this server", req.Server)
	}
	fr := federation.PublicRoomsRequest{Limit: req.Limit, Since: req.Since,
		IncludeAllNetworks: req.IncludeAllNetworks, ThirdPartyInstanceID: req.ThirdPartyInstanceID}
	if req.Filter != "" || len(req.RoomTypes) > 0 {
		fr.Filter = &federation.PublicRoomsFilter{GenericSearchTerm: req.Filter, RoomTypes: req.RoomTypes}
	}
	resp, err := a.Client.PublicRooms(ctx, req.Server, fr) // POST when there is a filter
	if err != nil {
		return nil, remoteError(req.Server, "list the public rooms of", err)
	}
	out := &api.QueryRemotePublicRoomsResponse{Chunk: []json.RawMessage{}, NextBatch: resp.NextBatch,
		PrevBatch: resp.PrevBatch, Total: resp.TotalRoomCountEstimate}
	for _, c := range resp.Chunk {
		if matrix.ValidRoomID(c.RoomID) {
			js, err := json.Marshal(c)
			if err != nil {
				return nil, err
			}
			out.Chunk = append(out.Chunk, js)
		}
	}
	return out, nil
}

// QueryRemoteHierarchy implements api.RoomsAPI (arrow 7): the summary of a room this
// server does not hold, and its children's, from the first of its servers that answers.
func (a *API) QueryRemoteHierarchy(ctx context.Context, req *api.QueryRemoteHierarchyRequest) (*api.QueryRemoteHierarchyResponse, error) {
	if !matrix.ValidRoomID(req.RoomID) {
		return nil, httputil.InvalidParam("Invalid room ID %q", req.RoomID)
	}
	key := req.RoomID
	if req.SuggestedOnly {
		key += "\x00suggested"
	}
	now := time.Now()
	if resp := a.hierarchy.get(key, now); resp != nil {
		return resp, nil
	}
	tried := 0
	var lastErr error
	for _, server := range req.Servers {
		if server == a.ServerName || !matrix.ValidServerName(server) {
			continue
		}
		if tried++; tried > maxHierarchyServers {
			break
		}
		resp, err := a.Client.Hierarchy(ctx, server, req.RoomID, req.SuggestedOnly)
		if err != nil {
			lastErr = err
			continue
		}
		if roomIDOf(resp.Room) != req.RoomID {
			lastErr = errors.New(server + " answered with another room")
			continue
		}
		if len(resp.Room) > maxHierarchyAnswerBytes {
			lastErr = errors.New(server + " answered with a room summary too large")
			continue
		}
		out := &api.QueryRemoteHierarchyResponse{Origin: server, Room: resp.Room,
			Children: []json.RawMessage{}, InaccessibleChildren: []string{}}
		size := len(resp.Room) // kept within maxHierarchyAnswerBytes
		for _, id := range resp.InaccessibleChildren {
			if matrix.ValidRoomID(id) && size+len(id) <= maxHierarchyAnswerBytes {
				out.InaccessibleChildren = append(out.InaccessibleChildren, id)
				size += len(id)
			}
		}
		for _, c := range resp.Children {
			if roomIDOf(c) != "" && size+len(c) <= maxHierarchyAnswerBytes {
				out.Children = append(out.Children, c)
				size += len(c)
			}
		}
		a.hierarchy.put(key, out, now)
		return out, nil
	}
	if lastErr == nil {
		return nil, httputil.NotFound("No server to ask about room %s", req.RoomID)
	}
	return nil, httputil.NotFound("No server answered about room %s: %v", req.RoomID, lastErr)
}

// roomIDOf returns the valid room_id of a summary object, or "".
func roomIDOf(raw json.RawMessage) string {
	var r struct {
		RoomID string `json:"room_id"`
	}
	if json.Unmarshal(raw, &r) != nil || !matrix.ValidRoomID(r.RoomID) {
		return ""
	}
	return r.RoomID
}

// remoteError maps a failed request to another server: its own 4xx Matrix error is
// passed on, anything else (unreachable, 5xx, bad JSON) is 502 M_UNKNOWN.
func remoteError(server, what string, err error) error {
	var he *federation.HTTPError
	if errors.As(err, &he) && he.StatusCode >= 400 && he.StatusCode < 500 && he.ErrCode != "" {
		return &httputil.MatrixError{Status: he.StatusCode, ErrCode: he.ErrCode, Err: server + ": " + he.Message}
	}
	return &httputil.MatrixError{Status: http.StatusBadGateway, ErrCode: "M_UNKNOWN",
		Err: "Could not " + what + " " + server + ": " + err.Error()}
}
