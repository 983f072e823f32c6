package internal

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/syncapi/storage"
)

// Presence in /sync (topic 3, eduserver → syncapi): each user's newest presence is held in
// memory (and stored, loaded at start), so a /sync with no presence change after its
// token costs no query. Changed users are shown to those who share a joined room with
// them (and to themselves); an initial sync shows everyone's who is not offline.

// presenceState is the Notifier's record of presence, under its own lock.
type presenceState struct {
	mu     sync.Mutex
	users  map[string]storage.Presence
	maxPos int64
	// recent are the newest changes in position order (at most maxRecentPresence), so an
	// incremental /sync looks at the changes after its token only.
	recent []storage.Presence
}

// maxRecentPresence bounds presenceState.recent; a token older than all of it scans users.
const maxRecentPresence = 4096

// PresenceStored records a user's presence as of its topic 3 position; an older record
// than the one held changes nothing.
func (n *Notifier) PresenceStored(p storage.Presence) {
	ps := &n.presence
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.users == nil {
		ps.users = map[string]storage.Presence{}
	}
	if old, ok := ps.users[p.UserID]; ok && old.StreamPos >= p.StreamPos {
		return
	}
	ps.users[p.UserID] = p
	if p.StreamPos > ps.maxPos {
		ps.maxPos = p.StreamPos
		if len(ps.recent) >= maxRecentPresence {
			ps.recent = append(ps.recent[:0:0], ps.recent[len(ps.recent)/2:]...)
		}
		ps.recent = append(ps.recent, p)
	} else {
		ps.recent = nil // out of order (loading, a gap closing): no longer a complete tail
	}
}

// LoadPresence fills the Notifier's record of presence from the database (at start).
func LoadPresence(ctx context.Context, db *storage.Database, n *Notifier) error {
	all, err := db.AllPresence(ctx)
	if err != nil {
		return err
	}
	for _, p := range all {
		n.PresenceStored(p)
	}
	return nil
}

// presenceChanged returns the presence records at positions in (since, upTo] (since < 0:
// every record up to upTo that is not offline), sorted by user.
func (n *Notifier) presenceChanged(since, upTo int64) []storage.Presence {
	ps := &n.presence
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.maxPos <= since {
		return nil // the common case: nothing new, no scan
	}
	var out []storage.Presence
	if since >= 0 && len(ps.recent) > 0 && ps.recent[0].StreamPos <= since {
		// Only the changes after since; a user's newest one counts.
		seen := map[string]bool{}
		for i := len(ps.recent) - 1; i >= 0 && ps.recent[i].StreamPos > since; i-- {
			p := ps.recent[i]
			if p.StreamPos > upTo || seen[p.UserID] {
				seen[p.UserID] = true
				continue
			}
			seen[p.UserID] = true
			if cur := ps.users[p.UserID]; cur.StreamPos == p.StreamPos {
				out = append(out, p)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
		return out
	}
	for _, p := range ps.users {
		if p.StreamPos > upTo || p.StreamPos <= since || (since < 0 && p.Presence == eduapi.PresenceOffline) {
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out
}

// PresenceUsersBetween returns the users whose presence record is at a position in
// (after, upTo] (whom to wake when a gap before them closed).
func (n *Notifier) PresenceUsersBetween(after, upTo int64) []string {
	var out []string
	for _, p := range n.presenceChanged(after, upTo) {
		out = append(out, p.UserID)
	}
	return out
}

// presence returns the m.presence events for the window (since, upTo] of the edu stream
// (since < 0: an initial sync) of the users who share one of joined (the requester's
// joined rooms) with the requester, at room position roomPos.
func (s *Syncer) presence(ctx context.Context, req *SyncRequest, joined map[string]bool, since, upTo, roomPos int64) ([]json.RawMessage, error) {
	changed := s.notifier.presenceChanged(since, upTo)
	if len(changed) == 0 {
		return nil, nil
	}
	f := &req.Filter.Presence
	nowMS := s.Now().UnixMilli()
	var out []json.RawMessage
	for _, p := range changed {
		if !f.Matches("m.presence", p.UserID) || !underLimit(f.Limit, len(out)) || isIgnored(req.ignored, p.UserID) {
			continue
		}
		if p.UserID != req.UserID {
			theirs, err := s.membershipsAt(ctx, p.UserID, roomPos)
			if err != nil {
				return nil, err
			}
			shared := false
			for _, m := range theirs {
				if m.Membership == "join" && joined[m.RoomID] {
					shared = true
					break
				}
			}
			if !shared {
				continue
			}
		}
		content := map[string]any{"presence": p.Presence, "currently_active": p.CurrentlyActive}
		if p.LastActiveTS > 0 {
			content["last_active_ago"] = max(0, nowMS-p.LastActiveTS)
		}
		if p.StatusMsg != nil {
			content["status_msg"] = *p.StatusMsg
		}
		ev, err := json.Marshal(map[string]any{"type": "m.presence", "sender": p.UserID, "content": content})
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// presenceReportEvery is how often at most a /sync tells the eduserver (arrow 18) that
// its user is still there: the eduserver's idle timeout (at least a minute) is longer.
const presenceReportEvery = 30 * time.Second

// presenceReports remembers when each user's /sync last reported their presence.
type presenceReports struct {
	mu   sync.Mutex
	last map[string]presenceReport
}

type presenceReport struct {
	at    time.Time
	state string
}

// setPresence passes a /sync's set_presence (SetPresence, "" meaning online) to the
// eduserver (arrow 18), at most once per presenceReportEvery per user and state (also
// after a failure, which is logged; the sync goes on).
func (s *Syncer) setPresence(ctx context.Context, req *SyncRequest) {
	if s.EDUAPI == nil || req.SetPresence == eduapi.PresenceOffline {
		return
	}
	state := req.SetPresence
	if state == "" {
		state = eduapi.PresenceOnline
	}
	now := s.Now()
	r := &s.presenceReports
	r.mu.Lock()
	last, ok := r.last[req.UserID]
	if ok && last.state == state && now.Sub(last.at) < presenceReportEvery {
		r.mu.Unlock()
		return
	}
	if r.last == nil || len(r.last) >= maxCachedUsers {
		r.last = map[string]presenceReport{}
	}
	r.last[req.UserID] = presenceReport{at: now, state: state}
	r.mu.Unlock()
	if err := s.EDUAPI.SetPresence(ctx, &eduapi.SetPresenceRequest{UserID: req.UserID, Presence: state, FromSync: true}); err != nil {
		// Tried again after presenceReportEvery: an eduserver that is down does not slow
		// every /sync down.
		if ctx.Err() == nil {
			logrus.WithError(err).WithField("user_id", req.UserID).Warn("syncapi: passing set_presence to the eduserver")
		}
	}
}

func isIgnored(l IgnoreList, userID string) bool {
	_, ok := l[userID]
	return ok
}
