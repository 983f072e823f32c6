package routing

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/mediaapi/storage"
)

// Tuning of the remote media cache (media_api.remote_cache_max_bytes).
const (
	// touchEvery: a remote media's last use is written at most this often.
	touchEvery = time.Minute
	// fileGrace: a file written (or found stored by an upload of the same bytes) this
	// recently is not removed, even when no row names it yet: its row may be on its way.
	fileGrace = 10 * time.Minute
	// evictBatch: remote media read from the database per round of eviction.
	evictBatch = 64
)

// touchRemote records that cached media of another server was served (the
// least-recently-used order of the cache); only when the cache is bounded.
func (h *Handlers) touchRemote(ctx context.Context, m *storage.Media) {
	if h.cfg.RemoteCacheMax <= 0 || m.Origin == h.cfg.ServerName {
		return
	}
	if err := h.db.TouchMedia(ctx, m.Origin, m.MediaID, h.now().UnixMilli(), touchEvery.Milliseconds()); err != nil {
		logrus.WithError(err).WithField("media", m.Origin+"/"+m.MediaID).Warn("mediaapi: recording use of remote media")
	}
}

// evictRemote drops the least recently used media of other servers (their metadata, their
// thumbnails', and the files no other row names) until the cache holds at most
// media_api.remote_cache_max_bytes, never keep (the media just fetched) and never local
// media. One eviction runs at a time in this instance; instances sharing the store may
// overlap, which only drops a little more.
func (h *Handlers) evictRemote(ctx context.Context, keep *storage.Media) error {
	max := h.cfg.RemoteCacheMax
	if max <= 0 {
		return nil
	}
	h.evictMu.Lock()
	defer h.evictMu.Unlock()
	total, err := h.db.RemoteBytes(ctx, h.cfg.ServerName)
	if err != nil {
		return err
	}
	for total > max {
		batch, err := h.db.LeastRecentlyUsedRemote(ctx, h.cfg.ServerName, evictBatch)
		if err != nil {
			return err
		}
		dropped := false
		for _, m := range batch {
			if total <= max {
				break
			}
			if m.Origin == keep.Origin && m.MediaID == keep.MediaID {
				continue
			}
			hashes, err := h.db.DeleteMedia(ctx, m.Origin, m.MediaID)
			if err != nil {
				return err
			}
			total -= m.Size
			dropped = true
			cutoff := h.now().Add(-fileGrace)
			for _, hash := range hashes {
				used, err := h.db.Referenced(ctx, hash)
				if err != nil {
					return err
				}
				if !used {
					if _, err := h.files.RemoveUnused(hash, cutoff); err != nil {
						return err
					}
				}
			}
		}
		if !dropped {
			return nil // only keep is left
		}
	}
	return nil
}
