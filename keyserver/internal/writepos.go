package internal

import (
	"context"
	"sync"

	"github.com/axon-matrix/axon/internal/writepos"
)

// Read your own writes for topic 7 (docs/wiring.md, "Read your own writes"): the stager
// (keychanges.go) notes each staged change's position and users in the write's context;
// once the write has committed, the method that made it records them in the keyserver's
// tracker, which QueryWritePosition (arrow 16, asked by every /sync) answers from.

type writesKey struct{}

// stagedWrites collects the positions a write staged (possibly over several transactions).
type stagedWrites struct {
	mu    sync.Mutex
	notes []stagedWrite
}

type stagedWrite struct {
	pos   int64
	users []string
}

// noteStaged is called by the stager: the change at pos concerns users.
func noteStaged(ctx context.Context, pos int64, users ...string) {
	if w, ok := ctx.Value(writesKey{}).(*stagedWrites); ok {
		w.mu.Lock()
		w.notes = append(w.notes, stagedWrite{pos: pos, users: users})
		w.mu.Unlock()
	}
}

// tracked runs write with a context that collects what it stages and, when it succeeded
// (so its transactions committed), records the positions for QueryWritePosition.
func (k *KeyServer) tracked(ctx context.Context, write func(ctx context.Context) error) error {
	w := &stagedWrites{}
	err := write(context.WithValue(ctx, writesKey{}, w))
	if err == nil {
		w.mu.Lock()
		for _, n := range w.notes {
			k.writes.Record(n.pos, n.users...)
		}
		w.mu.Unlock()
	}
	return err
}

// newWritesTracker is the tracker of a keyserver: its floor is the newest topic 7
// position handed out when it started.
func (k *KeyServer) newWritesTracker() *writepos.Tracker {
	return &writepos.Tracker{Load: k.db.KeyChangePosition}
}

// QueryWritePosition implements api.KeyServerAPI (arrow 16, read your own writes).
func (k *KeyServer) QueryWritePosition(ctx context.Context, userID string) (int64, error) {
	return k.writes.Position(ctx, userID)
}
