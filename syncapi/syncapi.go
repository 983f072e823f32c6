// Package syncapi is the sync component (Tier 1): it builds each user's view of their
// rooms from the log topics only — topic 2 (roomserver → syncapi: room events, redactions),
// topic 1 (account data → syncapi), topic 3 (eduserver → syncapi: typing, receipts,
// to-device messages) and topic 7 (keyserver → syncapi: device-list changes) — and serves
// GET /sync, /messages, /context, /members, /joined_members, /event and /keys/changes. It calls the roomserver over arrow 2 (fetching
// state events it lacks) and the userapi for access tokens and filters.
//
// Positions are the producers' stream positions, so any sync instance can serve any token
// (ARCHITECTURE.md §7). Each instance consumes the topics itself, under its own consumer
// group, into its own tables.
package syncapi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	eduapi "github.com/axon-matrix/axon/eduserver/api"
	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/syncv3"
	keyapi "github.com/axon-matrix/axon/keyserver/api"
	rsapi "github.com/axon-matrix/axon/roomserver/api"
	"github.com/axon-matrix/axon/syncapi/consumers"
	"github.com/axon-matrix/axon/syncapi/internal"
	"github.com/axon-matrix/axon/syncapi/routing"
	"github.com/axon-matrix/axon/syncapi/storage"
	"github.com/axon-matrix/axon/syncapi/types"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Topics are the full names (with the configured prefix) of the topics the syncapi consumes.
type Topics struct {
	// RoomEvent is topic 2 (eventlog.TopicRoomEvent with prefix).
	RoomEvent string
	// AccountData is topic 1 (eventlog.TopicAccountData with prefix).
	AccountData string
	// EDU is topic 3 (eventlog.TopicEDU with prefix: typing, receipts, to-device from the
	// eduserver); empty leaves it unconsumed.
	EDU string
	// KeyChange is topic 7 (eventlog.TopicKeyChange with prefix: device-list changes from
	// the keyserver); empty leaves it unconsumed.
	KeyChange string
}

// DefaultTopics are the topic names without a prefix.
var DefaultTopics = Topics{RoomEvent: eventlog.TopicRoomEvent, AccountData: eventlog.TopicAccountData, EDU: eventlog.TopicEDU,
	KeyChange: eventlog.TopicKeyChange}

// SyncAPI is a running sync component.
type SyncAPI struct {
	DB       *storage.Database
	Notifier *internal.Notifier
	Syncer   *internal.Syncer
	// RoomEvents and AccountData are the topic handlers (exported for tests and for
	// wiring them to a log by hand).
	RoomEvents  *consumers.RoomEventConsumer
	AccountData *consumers.AccountDataConsumer
	// EDUs is the topic 3 handler.
	EDUs *consumers.EDUConsumer
	// KeyChanges is the topic 7 handler.
	KeyChanges *consumers.KeyChangeConsumer
	// V3 is the sync v3 engine (POST /sync, docs/sync-v3.md): its sessions live in this
	// instance's database, its streams read this instance's storage (internal/v3source*.go).
	V3 *syncv3.Engine
	// RoomEventDelay is a test hook: when set before StartConsumers, the topic 2 consumer
	// waits this long per record before storing it, so that tests can make this instance
	// lag behind the roomserver for certain (read-your-writes tests).
	RoomEventDelay time.Duration

	userAPI userapi.UserAPI
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	errs    []error
}

// New migrates the syncapi's tables in db and builds the component, starting from the
// persisted watermarks.
func New(ctx context.Context, db *sqlutil.DB, rsAPI rsapi.RoomserverAPI, userAPI userapi.UserAPI) (*SyncAPI, error) {
	st, err := storage.NewDatabase(ctx, db)
	if err != nil {
		return nil, err
	}
	room, ad, err := st.Watermarks(ctx)
	if err != nil {
		return nil, err
	}
	edu, err := st.EDUWatermark(ctx)
	if err != nil {
		return nil, err
	}
	keyChange, err := st.KeyChangeWatermark(ctx)
	if err != nil {
		return nil, err
	}
	n := internal.NewNotifier(types.StreamToken{Room: room, AccountData: ad, EDU: edu, KeyChange: keyChange})
	if err := internal.LoadIgnoreLists(ctx, st, n); err != nil {
		return nil, err
	}
	if err := internal.LoadEDUState(ctx, st, n); err != nil {
		return nil, err
	}
	if err := internal.LoadPresence(ctx, st, n); err != nil {
		return nil, err
	}
	v3Store, err := syncv3.NewStore(ctx, db)
	if err != nil {
		return nil, err
	}
	syncer := internal.NewSyncer(st, n, rsAPI)
	v3 := syncv3.NewEngine(v3Store, syncer.V3Source(), syncv3.Config{})
	// A spec GET /sync deletes no to-device message a live v3 session of the device lacks.
	syncer.ToDeviceHold = v3.ToDeviceHold
	return &SyncAPI{
		DB: st, Notifier: n, Syncer: syncer, V3: v3,
		RoomEvents:  consumers.NewRoomEventConsumer(st, n, rsAPI),
		AccountData: consumers.NewAccountDataConsumer(st, n),
		EDUs:        consumers.NewEDUConsumer(st, n),
		KeyChanges:  consumers.NewKeyChangeConsumer(st, n),
		userAPI:     userAPI,
	}, nil
}

// SetDraining hands the component the channel closed when shutdown begins
// (setup.Base.Draining): long-polling /sync requests then answer at once instead of
// holding the shutdown up to the drain limit.
func (s *SyncAPI) SetDraining(ch <-chan struct{}) {
	s.Syncer.SetDraining(ch)
	s.V3.SetDraining(ch)
}

// AddPublicRoutes registers the public endpoints on router.
func (s *SyncAPI) AddPublicRoutes(router *mux.Router) {
	(&routing.Handlers{Syncer: s.Syncer, UserAPI: s.userAPI, V3: s.V3}).Register(router)
}

// StartConsumers consumes topics 2, 1, 3 and 7 (3 and 7 when set in topics) from consumer under the consumer group `group`
// (one group per sync instance, e.g. "syncapi-<instance>", since every instance needs every
// record) until Stop.
func (s *SyncAPI) StartConsumers(consumer eventlog.Consumer, topics Topics, group string) {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	// maxBatch 1 is Consume; topic 2 takes a room's queued records in runs (one transaction
	// for a burst of a room's messages, consumers.RoomEventConsumer.HandleBatch).
	run := func(topic string, maxBatch int, h eventlog.BatchHandler) {
		defer s.wg.Done()
		if err := consumer.ConsumeBatch(ctx, topic, group, maxBatch, h); err != nil && !errors.Is(err, context.Canceled) {
			logrus.WithError(err).WithField("topic", topic).Error("syncapi consumer stopped")
			s.mu.Lock()
			s.errs = append(s.errs, fmt.Errorf("consuming %s: %w", topic, err))
			s.mu.Unlock()
		}
	}
	roomEvents := s.RoomEvents.HandleBatch
	if d := s.RoomEventDelay; d > 0 {
		roomEvents = func(ctx context.Context, msgs []eventlog.Message) error {
			select {
			case <-time.After(time.Duration(len(msgs)) * d):
			case <-ctx.Done():
				return ctx.Err()
			}
			return s.RoomEvents.HandleBatch(ctx, msgs)
		}
	}
	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		s.V3.RunExpiry(ctx) // deletes expired sync v3 sessions
	}()
	go run(topics.RoomEvent, consumers.MaxBatch, roomEvents)
	go run(topics.AccountData, 1, eventlog.Batch(s.AccountData.Handle))
	if topics.EDU != "" {
		s.wg.Add(1)
		go run(topics.EDU, consumers.EDUMaxBatch, s.EDUs.HandleBatch) // runs of to-device records in one transaction
	}
	if topics.KeyChange != "" {
		s.wg.Add(1)
		go run(topics.KeyChange, 1, eventlog.Batch(s.KeyChanges.Handle))
	}
}

// Stop stops the consumers, waits for the handlers in flight, and returns the errors the
// consumers stopped with, if any.
func (s *SyncAPI) Stop() error {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

// Option changes a setting of AddPublicRoutes.
type Option func(*SyncAPI)

// WithReadYourWritesTimeout bounds how long a read waits to reflect the writes it must
// (config sync_api.read_your_writes_timeout; internal.DefaultCatchUpLimit without it).
func WithReadYourWritesTimeout(d time.Duration) Option {
	return func(s *SyncAPI) {
		if d > 0 {
			s.Syncer.CatchUpLimit = d
		}
	}
}

// WithUnreadCounts turns the unread notification counts (unread_notifications in /sync,
// notification_count and highlight_count in sync v3's room_list) on or off (config
// sync_api.unread_counts; on without it).
func WithUnreadCounts(on bool) Option {
	return func(s *SyncAPI) { s.Syncer.NoUnreadCounts = !on }
}

// WithSyncV3 sets the sync v3 session bounds (config sync_api.v3.session_idle_timeout,
// max_sessions_per_device, max_sessions); zero values keep their defaults.
func WithSyncV3(idleTimeout time.Duration, maxPerDevice, maxSessions int) Option {
	cfg := syncv3.Config{IdleTimeout: idleTimeout, MaxSessionsPerDevice: maxPerDevice, MaxSessions: maxSessions}
	return func(s *SyncAPI) {
		if cfg.IdleTimeout > 0 {
			s.V3.Config.IdleTimeout = cfg.IdleTimeout
		}
		if cfg.MaxSessionsPerDevice > 0 {
			s.V3.Config.MaxSessionsPerDevice = cfg.MaxSessionsPerDevice
		}
		if cfg.MaxSessions > 0 {
			s.V3.Config.MaxSessions = cfg.MaxSessions
		}
	}
}

// WithKeyServer gives /sync the device's one-time key counts and unused fallback key types
// from the keyserver (arrow 16, syncapi → keyserver); without it they are left out.
func WithKeyServer(k keyapi.KeyServerAPI) Option {
	return func(s *SyncAPI) { s.Syncer.KeyAPI = k }
}

// WithEDUServer gives /sync arrow 18 (syncapi → eduserver): set_presence, and the
// position of the user's own topic 3 writes for read-your-writes; without it /sync sets
// no presence and reflects topic 3 writes only once consumed.
func WithEDUServer(e eduapi.EDUServerAPI) Option {
	return func(s *SyncAPI) { s.Syncer.EDUAPI = e }
}

// WithRoomEventDelay sets the RoomEventDelay test hook.
func WithRoomEventDelay(d time.Duration) Option {
	return func(s *SyncAPI) { s.RoomEventDelay = d }
}

// EnvRoomEventDelay is the environment variable (a Go duration) through which the
// binaries set the RoomEventDelay test hook: end-to-end tests use it to make a sync
// instance lag for certain. Never set it in production.
const EnvRoomEventDelay = "AXON_TEST_SYNC_ROOM_EVENT_DELAY"

// WithRoomEventDelayFromEnv is WithRoomEventDelay with the duration in EnvRoomEventDelay
// (nothing when unset).
func WithRoomEventDelayFromEnv() Option {
	return func(s *SyncAPI) {
		v := os.Getenv(EnvRoomEventDelay)
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			logrus.WithField("value", v).Warnf("syncapi: ignoring %s: not a duration", EnvRoomEventDelay)
			return
		}
		logrus.WithField("delay", d).Warnf("syncapi: test hook %s set: topic 2 records are stored late on purpose", EnvRoomEventDelay)
		s.RoomEventDelay = d
	}
}

// AddPublicRoutes is the one-call wiring: it builds the component on db, registers its
// routes on router and starts consuming topics from consumer. Call Stop on the result to
// shut down.
func AddPublicRoutes(ctx context.Context, router *mux.Router, db *sqlutil.DB, consumer eventlog.Consumer, topics Topics, group string,
	userAPI userapi.UserAPI, rsAPI rsapi.RoomserverAPI, opts ...Option) (*SyncAPI, error) {
	s, err := New(ctx, db, rsAPI, userAPI)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(s)
	}
	s.AddPublicRoutes(router)
	s.StartConsumers(consumer, topics, group)
	return s, nil
}
