package internal

import (
	"context"
	"sync"

	"github.com/axon-matrix/axon/syncapi/storage"
)

// maxCachedUsers bounds the membership cache; past it the cache starts afresh.
const maxCachedUsers = 100000

// memberCache keeps each syncing user's memberships (storage.MembershipsAt) as read at some
// position, and serves them again at another position when the Notifier's record of moves
// proves that the user's membership changed in no room in between (topic 2). The entries
// are shared read-only between requests.
type memberCache struct {
	mu    sync.Mutex
	users map[string]cachedMemberships
}

type cachedMemberships struct {
	at   int64
	list []storage.Membership
}

// membershipsAt is storage.MembershipsAt(userID, pos), from the cache when it can.
func (s *Syncer) membershipsAt(ctx context.Context, userID string, pos int64) ([]storage.Membership, error) {
	if !s.NoShortcuts {
		s.members.mu.Lock()
		c, ok := s.members.users[userID]
		s.members.mu.Unlock()
		if ok && s.notifier.MembershipQuiet(userID, min(c.at, pos), max(c.at, pos)) {
			return c.list, nil
		}
	}
	list, err := s.db.MembershipsAt(ctx, userID, pos)
	if err != nil || s.NoShortcuts {
		return list, err
	}
	s.members.mu.Lock()
	defer s.members.mu.Unlock()
	if s.members.users == nil || len(s.members.users) >= maxCachedUsers {
		s.members.users = map[string]cachedMemberships{}
	}
	if c, ok := s.members.users[userID]; !ok || c.at < pos {
		s.members.users[userID] = cachedMemberships{at: pos, list: list}
	}
	return list, nil
}
