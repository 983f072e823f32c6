package internal

import (
	"context"
	"encoding/json"
	"slices"
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
	// incremental /sync looks at the changes after its token only; a record a newer one of
	// its user replaced is marked stale (recentAt: each user's entry), so reading a window
	// needs no lookup per record.
	recent   []recentPresence
	recentAt map[string]int
}

type recentPresence struct {
	storage.Presence
	stale bool
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
	ps.maxPos = max(ps.maxPos, p.StreamPos)
	if i, ok := ps.recentAt[p.UserID]; ok {
		ps.recent[i].stale = true
	}
	if len(ps.recent) >= maxRecentPresence {
		// Keep the newer half, less what was replaced.
		kept := make([]recentPresence, 0, maxRecentPresence)
		for _, r := range ps.recent[len(ps.recent)/2:] {
			if !r.stale {
				kept = append(kept, r)
			}
		}
		ps.recent, ps.recentAt = kept, make(map[string]int, len(kept))
		for i, r := range kept {
			ps.recentAt[r.UserID] = i
		}
	}
	if ps.recentAt == nil {
		ps.recentAt = map[string]int{}
	}
	at := len(ps.recent)
	if at > 0 && ps.recent[at-1].StreamPos > p.StreamPos {
		// Out of order (topic 3's partitions are consumed side by side, a gap closing,
		// the records loaded at start): in its place, so recent stays every known record
		// from recent[0] on. One older than all of it is left to the scan of users.
		at = sort.Search(len(ps.recent), func(i int) bool { return ps.recent[i].StreamPos > p.StreamPos })
		if at == 0 {
			delete(ps.recentAt, p.UserID)
			return
		}
		for i := at; i < len(ps.recent); i++ {
			if !ps.recent[i].stale {
				ps.recentAt[ps.recent[i].UserID] = i + 1
			}
		}
	}
	ps.recent = slices.Insert(ps.recent, at, recentPresence{Presence: p})
	ps.recentAt[p.UserID] = at
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
// every record up to upTo that is not offline), in no particular order: a user's newest
// record, when it lies in the window. It runs under the lock every /sync with presence
// news takes, and right after many users came online (a restart, a load test's start)
// each window holds a thousand records: callers sort what they keep, not all of it.
func (n *Notifier) presenceChanged(since, upTo int64) []storage.Presence {
	ps := &n.presence
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.maxPos <= since {
		return nil // the common case: nothing new, no scan
	}
	var out []storage.Presence
	if since >= 0 && len(ps.recent) > 0 && ps.recent[0].StreamPos <= since {
		// Only the changes after since, the records no newer one replaced (one per user).
		from := sort.Search(len(ps.recent), func(i int) bool { return ps.recent[i].StreamPos > since })
		for i := from; i < len(ps.recent) && ps.recent[i].StreamPos <= upTo; i++ {
			if r := &ps.recent[i]; !r.stale {
				out = append(out, r.Presence)
			}
		}
		return out
	}
	for _, p := range ps.users {
		if p.StreamPos > upTo || p.StreamPos <= since || (since < 0 && p.Presence == eduapi.PresenceOffline) {
			continue
		}
		out = append(out, p)
	}
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
	var kept []storage.Presence
	for _, p := range changed {
		if !f.Matches("m.presence", p.UserID) || isIgnored(req.ignored, p.UserID) {
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
		kept = append(kept, p)
	}
	// By user, then the filter's limit: the same users whatever order the records came in.
	sort.Slice(kept, func(i, j int) bool { return kept[i].UserID < kept[j].UserID })
	if f.Limit != nil && len(kept) > max(0, *f.Limit) {
		kept = kept[:max(0, *f.Limit)]
	}
	nowMS := s.Now().UnixMilli()
	var out []json.RawMessage
	for _, p := range kept {
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
