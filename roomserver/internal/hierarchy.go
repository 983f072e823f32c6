package internal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/roomserver/storage"
)

// The client /hierarchy walk (arrow 4): depth first, as the spec says, from the room
// through the m.space.child links of spaces; rooms this server does not hold (or no
// longer takes part in) are asked of the servers the link names (arrow 17 → 7,
// QueryRemoteHierarchy), and the children summaries of such an answer are used for those
// children without asking again. A page ends after Limit rooms; what is left of the walk
// is kept in memory under a random next_batch token for hierarchySessionTTL.

const (
	defaultHierarchyLimit    = 50
	maxHierarchyLimit        = 100
	defaultHierarchyMaxDepth = 10
	maxHierarchyMaxDepth     = 50
	// maxHierarchyWalk bounds the rooms one walk (all its pages) visits, and its stack.
	maxHierarchyWalk = 1000
	// maxHierarchyRemote bounds the remote answers asked for in one page; a page that
	// reaches it ends early, with a next_batch.
	maxHierarchyRemote = 20
	// hierarchySessionTTL is how long a next_batch token stays usable.
	hierarchySessionTTL = 5 * time.Minute
	// maxHierarchySessions bounds the walks kept for their next page.
	maxHierarchySessions = 1000
)

// errRemoteBudget ends a page that has asked other servers maxHierarchyRemote times.
var errRemoteBudget = errors.New("remote request budget of the page spent")

// hierarchyEntry is a room still to visit.
type hierarchyEntry struct {
	roomID string
	depth  int
	via    []string
}

// hierarchyWalk is the state of one walk between pages. A stored walk is never changed: a
// page resumes from a copy, so a client may repeat a page.
type hierarchyWalk struct {
	userID, root  string
	suggestedOnly bool
	maxDepth      int
	stack         []hierarchyEntry
	seen          map[string]bool
	visited       int
	// remote holds children summaries of other servers' answers; inaccessible the rooms
	// they said this server cannot see.
	remote       map[string]*spaceRoom
	inaccessible map[string]bool
	expires      time.Time
}

func (w *hierarchyWalk) clone() *hierarchyWalk {
	c := *w
	c.stack = slices.Clone(w.stack)
	c.seen = maps.Clone(w.seen)
	c.remote = maps.Clone(w.remote)
	c.inaccessible = maps.Clone(w.inaccessible)
	return &c
}

// hierarchySessions holds walks by token. The zero value is ready.
type hierarchySessions struct {
	mu    sync.Mutex
	walks map[string]*hierarchyWalk
}

func (h *hierarchySessions) get(token string, now time.Time) *hierarchyWalk {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.walks[token]
	if w == nil || now.After(w.expires) {
		return nil
	}
	return w.clone()
}

func (h *hierarchySessions) put(w *hierarchyWalk, now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.walks == nil {
		h.walks = map[string]*hierarchyWalk{}
	}
	if len(h.walks) >= maxHierarchySessions {
		var oldest string
		for t, old := range h.walks {
			if now.After(old.expires) {
				delete(h.walks, t)
			} else if oldest == "" || old.expires.Before(h.walks[oldest].expires) {
				oldest = t
			}
		}
		if len(h.walks) >= maxHierarchySessions {
			delete(h.walks, oldest)
		}
	}
	w.expires = now.Add(hierarchySessionTTL)
	h.walks[token] = w
	return token
}

// QueryHierarchy implements api.RoomserverAPI (arrow 4, GET /rooms/{roomId}/hierarchy).
func (a *RoomserverInternalAPI) QueryHierarchy(ctx context.Context, req *api.HierarchyRequest) (*api.HierarchyResponse, error) {
	if !matrix.ValidRoomID(req.RoomID) {
		return nil, httputil.InvalidParam("Invalid room ID %q", req.RoomID)
	}
	limit := req.Limit
	if limit < 0 {
		return nil, httputil.InvalidParam("limit must be greater than zero")
	}
	if limit == 0 {
		limit = defaultHierarchyLimit
	}
	limit = min(limit, maxHierarchyLimit)
	maxDepth := defaultHierarchyMaxDepth
	if req.MaxDepth != nil {
		if *req.MaxDepth < 0 {
			return nil, httputil.InvalidParam("max_depth must not be negative")
		}
		maxDepth = min(*req.MaxDepth, maxHierarchyMaxDepth)
	}
	now := a.now()
	var w *hierarchyWalk
	if req.From != "" {
		if w = a.spaces.get(req.From, now); w == nil || w.userID != req.UserID {
			return nil, httputil.InvalidParam("Unknown or expired pagination token")
		}
		if w.root != req.RoomID || w.suggestedOnly != req.SuggestedOnly || w.maxDepth != maxDepth {
			return nil, httputil.InvalidParam("suggested_only and max_depth cannot change on paginated requests")
		}
	} else {
		w = &hierarchyWalk{userID: req.UserID, root: req.RoomID, suggestedOnly: req.SuggestedOnly, maxDepth: maxDepth,
			seen: map[string]bool{}, remote: map[string]*spaceRoom{}, inaccessible: map[string]bool{}}
		var via []string
		if server, ok := matrix.ServerNameOf(req.RoomID); ok {
			via = []string{server}
		}
		w.stack = []hierarchyEntry{{roomID: req.RoomID, via: via}}
	}
	s := a.db.Reader()
	resp := &api.HierarchyResponse{Rooms: []api.HierarchyRoom{}}
	remoteAsked := 0
	for len(w.stack) > 0 && len(resp.Rooms) < limit && w.visited < maxHierarchyWalk {
		e := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		if w.seen[e.roomID] {
			continue
		}
		w.seen[e.roomID] = true
		w.visited++
		room, err := a.hierarchyRoom(ctx, s, w, e, &remoteAsked)
		if errors.Is(err, errRemoteBudget) { // this page asked enough: the next one goes on here
			w.stack = append(w.stack, e)
			delete(w.seen, e.roomID)
			w.visited--
			break
		}
		if err != nil {
			return nil, err
		}
		ok := room != nil
		if ok {
			if ok, err = a.userMaySee(ctx, s, room, req.UserID); err != nil {
				return nil, err
			}
		}
		if !ok {
			if e.roomID == w.root && e.depth == 0 {
				return nil, httputil.Forbidden("You may not view room %s", req.RoomID)
			}
			continue
		}
		sum, kids := room.childrenFor(w.suggestedOnly)
		resp.Rooms = append(resp.Rooms, sum)
		if !room.isSpace() || e.depth >= w.maxDepth {
			continue
		}
		for i := len(kids) - 1; i >= 0; i-- { // the first child on top
			if k := kids[i]; !w.seen[k.roomID] && len(w.stack) < maxHierarchyWalk {
				w.stack = append(w.stack, hierarchyEntry{roomID: k.roomID, depth: e.depth + 1, via: k.via})
			}
		}
	}
	if len(w.stack) > 0 && w.visited < maxHierarchyWalk {
		resp.NextBatch = a.spaces.put(w, now)
	}
	return resp, nil
}

// hierarchyRoom summarises a room of the walk: from this server's state when it takes
// part in the room, else from another server's answer (or one it gave earlier about its
// children); nil when nobody could say. A held room this server no longer takes part in
// is summarised from its last state when its servers do not answer.
func (a *RoomserverInternalAPI) hierarchyRoom(ctx context.Context, s *storage.Store, w *hierarchyWalk, e hierarchyEntry, remoteAsked *int) (*spaceRoom, error) {
	local, err := a.localSpaceRoom(ctx, s, e.roomID)
	if err != nil {
		return nil, err
	}
	if local != nil {
		in, err := s.ServerHasMember(ctx, e.roomID, a.serverName, []string{"join"})
		if err != nil {
			return nil, err
		}
		if in || a.fedSender == nil {
			return local, nil
		}
	}
	if w.inaccessible[e.roomID] { // another server said so: not asked again
		return local, nil
	}
	// A child summary from an earlier answer will do, unless its own children are
	// wanted (a summary of a child carries no usable children_state when it came without).
	if r := w.remote[e.roomID]; r != nil && (!r.isSpace() || e.depth >= w.maxDepth || len(r.children) > 0) {
		return r, nil
	}
	rooms, ok := a.fedSender.(fsapi.RoomsAPI)
	if !ok || a.fedSender == nil {
		return local, nil
	}
	if *remoteAsked >= maxHierarchyRemote {
		return nil, errRemoteBudget
	}
	*remoteAsked++
	resp, err := rooms.QueryRemoteHierarchy(ctx, &fsapi.QueryRemoteHierarchyRequest{RoomID: e.roomID, Servers: e.via,
		SuggestedOnly: w.suggestedOnly})
	if err != nil {
		return local, nil // unreachable or unknown there: left out, like Synapse
	}
	room := remoteSpaceRoom(resp.Room, e.roomID)
	if room == nil {
		return local, nil
	}
	for _, id := range resp.InaccessibleChildren {
		if len(w.inaccessible) < maxHierarchyWalk {
			w.inaccessible[id] = true
		}
	}
	for _, raw := range resp.Children {
		if len(w.remote) >= maxHierarchyWalk {
			break
		}
		if c := remoteSpaceRoom(raw, ""); c != nil {
			w.remote[c.summary.RoomID] = c
		}
	}
	return room, nil
}
