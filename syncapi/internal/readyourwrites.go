package internal

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/syncapi/types"
)

// Read your own writes (docs/wiring.md): a write is acknowledged once its producer
// committed it, but this instance serves it only once it has consumed that far (topic 2
// from the roomserver, topic 1 from the userapi, topic 3 from the eduserver). So every
// read first asks where the writes it must reflect landed — arrow 2 (QueryWritePosition:
// the room's newest write for a room read, the user's own newest write for /sync), for
// account data the position the userapi handed over with the device, and for /sync arrow
// 18 (the eduserver's QueryWritePosition: the user's own typing, receipts, presence and
// to-device), for /sync and /keys/changes arrow 16 (the keyserver's QueryWritePosition:
// the user's own key uploads, cross-signing keys and signatures) — and waits, bounded by CatchUpLimit, until the Notifier's watermarks have
// passed them.

var (
	rywWaits = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "axon", Subsystem: "syncapi", Name: "read_your_writes_wait_seconds",
		Help:    "Time reads waited for this instance to catch up with writes they must reflect, by endpoint (only reads that had to wait).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"endpoint"})
	rywGiveUps = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "axon", Subsystem: "syncapi", Name: "read_your_writes_give_ups_total",
		Help: "Reads answered before this instance caught up with the writes they must reflect, by endpoint and reason (timeout: the catch-up limit passed; unreachable: the roomserver could not say where the writes are).",
	}, []string{"endpoint", "reason"})
)

// WritesToReflect names the writes a read must reflect: the room's (RoomID, a room read)
// or the user's own (UserID, /sync) on topic 2, and the user's account data up to
// AccountDataPos on topic 1.
type WritesToReflect struct {
	Endpoint       string // for the metrics and the log
	RoomID, UserID string
	AccountDataPos int64
	// EDUWrites: also the user's own topic 3 writes (typing, receipts, presence,
	// to-device), whose position arrow 18 asks the eduserver for.
	EDUWrites bool
	// KeyWrites: also the user's own topic 7 writes (device keys, cross-signing keys and
	// signatures), whose position arrow 16 asks the keyserver for.
	KeyWrites bool
}

// catchUpToWrites waits until this instance serves the writes w names (arrow 2 asks the
// roomserver where they are), at most CatchUpLimit; then the read goes on with what the
// instance has, counted and logged as a give-up. Only the request's end is an error.
func (s *Syncer) catchUpToWrites(ctx context.Context, w WritesToReflect) error {
	var roomPos int64
	if s.rsAPI != nil && (w.RoomID != "" || w.UserID != "") {
		pos, err := s.rsAPI.QueryWritePosition(ctx, w.RoomID, w.UserID)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rywGiveUps.WithLabelValues(w.Endpoint, "unreachable").Inc()
			logrus.WithError(err).WithFields(logrus.Fields{"endpoint": w.Endpoint, "room_id": w.RoomID, "user_id": w.UserID}).
				Warn("syncapi: read answered without read-your-writes: the roomserver could not say where the writes are")
		}
		roomPos = pos
	}
	var eduPos int64
	if w.EDUWrites && s.EDUAPI != nil && w.UserID != "" {
		pos, err := s.EDUAPI.QueryWritePosition(ctx, w.UserID)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rywGiveUps.WithLabelValues(w.Endpoint, "unreachable").Inc()
			logrus.WithError(err).WithFields(logrus.Fields{"endpoint": w.Endpoint, "user_id": w.UserID}).
				Warn("syncapi: read answered without read-your-writes: the eduserver could not say where the writes are")
		}
		eduPos = pos
	}
	var keyPos int64
	if w.KeyWrites && s.KeyAPI != nil && w.UserID != "" {
		pos, err := s.KeyAPI.QueryWritePosition(ctx, w.UserID)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rywGiveUps.WithLabelValues(w.Endpoint, "unreachable").Inc()
			logrus.WithError(err).WithFields(logrus.Fields{"endpoint": w.Endpoint, "user_id": w.UserID}).
				Warn("syncapi: read answered without read-your-writes: the keyserver could not say where the writes are")
		}
		keyPos = pos
	}
	caughtUp := func(now types.StreamToken) (bool, error) {
		return now.Room >= roomPos && now.AccountData >= w.AccountDataPos && now.EDU >= eduPos && now.KeyChange >= keyPos, nil
	}
	if ok, _ := caughtUp(s.notifier.Position()); ok {
		return nil // the common case: no wait, no clock read
	}
	start := time.Now()
	reached, err := s.catchUp(ctx, caughtUp)
	switch {
	case err != nil:
		return err
	case reached:
		rywWaits.WithLabelValues(w.Endpoint).Observe(time.Since(start).Seconds())
	case !s.isDraining(): // shutting down: every wait ends at once, no give-up
		now := s.notifier.Position()
		rywGiveUps.WithLabelValues(w.Endpoint, "timeout").Inc()
		logrus.WithFields(logrus.Fields{
			"endpoint": w.Endpoint, "room_id": w.RoomID, "user_id": w.UserID, "waited": s.CatchUpLimit.String(),
			"room_pos_wanted": roomPos, "room_pos_served": now.Room,
			"account_data_pos_wanted": w.AccountDataPos, "account_data_pos_served": now.AccountData,
			"edu_pos_wanted": eduPos, "edu_pos_served": now.EDU,
			"key_change_pos_wanted": keyPos, "key_change_pos_served": now.KeyChange,
		}).Warn("syncapi: read answered before this instance caught up with the writes it must reflect")
	}
	return nil
}
