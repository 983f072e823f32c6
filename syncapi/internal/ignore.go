package internal

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/axon-matrix/axon/syncapi/storage"
)

// IgnoredUserListType is the global account data type of a user's ignore list (the spec's
// module "Ignoring Users"): {"ignored_users": {"@x:y": {}, …}}.
const IgnoredUserListType = "m.ignored_user_list"

// ignoreLists holds the ignore list of every user who has a non-empty one (topic 1), kept
// in memory: they are few, and a user without one — nearly everyone — costs a /sync or a
// room read one map lookup (IgnoredBy) and nothing per event. It lives on the Notifier,
// which every Syncer of the instance shares, so the database path (NoShortcuts) and the
// shortcuts filter alike. Loaded at start (LoadIgnoreLists) and kept up to date by the
// topic 1 consumer (SetIgnoreList) before it tells the Notifier, so a /sync woken by the
// change already applies it.
type ignoreLists struct {
	mu    sync.RWMutex
	users map[string]IgnoreList
	// pos is each user's newest list's topic 1 position, empty lists included, so an older
	// record never overwrites a newer list.
	pos map[string]int64
}

// IgnoreList is the set of user IDs one user ignores (the keys of ignored_users); nil for none.
type IgnoreList map[string]struct{}

// IgnoredBy returns the users userID ignores (nil for none). The set is never modified
// afterwards: a new list replaces it.
func (n *Notifier) IgnoredBy(userID string) IgnoreList {
	l := &n.ignores
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.users[userID]
}

// SetIgnoreList records userID's m.ignored_user_list content stored at topic 1 position
// pos, unless a newer one was recorded. Content that is not the spec's shape counts as an
// empty list.
func (n *Notifier) SetIgnoreList(userID string, pos int64, content []byte) {
	var c struct {
		IgnoredUsers map[string]json.RawMessage `json:"ignored_users"`
	}
	_ = json.Unmarshal(content, &c)
	var set IgnoreList
	for u := range c.IgnoredUsers {
		if u == userID {
			continue // one's own events are never hidden
		}
		if set == nil {
			set = IgnoreList{}
		}
		set[u] = struct{}{}
	}
	l := &n.ignores
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pos == nil {
		l.pos, l.users = map[string]int64{}, map[string]IgnoreList{}
	}
	if l.pos[userID] >= pos {
		return
	}
	l.pos[userID] = pos
	if set == nil {
		delete(l.users, userID)
	} else {
		l.users[userID] = set
	}
}

// LoadIgnoreLists reads every stored ignore list into n, before the consumers start.
func LoadIgnoreLists(ctx context.Context, db *storage.Database, n *Notifier) error {
	all, err := db.GlobalAccountDataOfType(ctx, IgnoredUserListType)
	if err != nil {
		return err
	}
	for u, ad := range all {
		n.SetIgnoreList(u, ad.StreamPos, ad.Content)
	}
	return nil
}

// hides reports whether e is an event the user's ignore list hides: a non-state event sent
// by an ignored user (as Synapse does, state events stay, so the client's room state stays
// right).
func (l IgnoreList) hides(e *storage.Event) bool {
	if len(l) == 0 || e.StateKey != nil {
		return false
	}
	_, ok := l[e.Sender]
	return ok
}

// invitedByIgnored reports whether m, an invite, was sent by a user the list ignores: such
// invites are left out of /sync (the spec's "Ignoring Users"). Read only for users with
// a list.
func (s *Syncer) invitedByIgnored(ctx context.Context, m storage.Membership, l IgnoreList) (bool, error) {
	if len(l) == 0 || m.Membership != "invite" {
		return false, nil
	}
	ev, err := s.db.EventByID(ctx, m.EventID)
	if err != nil || ev == nil {
		return false, err
	}
	_, ok := l[ev.Sender]
	return ok, nil
}
