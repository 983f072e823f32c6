// Package internal implements api.UserAPI on the userapi's own tables. It is the userapi
// end of the unnumbered "every Tier 1 → userapi" arrow of ARCHITECTURE.md §2 (access tokens,
// profiles) and the producer of topic 1 (account data → syncapi).
package internal

import (
	"context"
	"sync"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/internal/writepos"
	"github.com/axon-matrix/axon/userapi/api"
	"github.com/axon-matrix/axon/userapi/storage"
)

// Config tunes the userapi. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// BcryptCost is the bcrypt work factor of new password hashes (default 12, like Synapse).
	BcryptCost int
	// ReservedLocalparts cannot be registered by users (appservice accounts may still use them).
	ReservedLocalparts []string
	// TokenCacheTTL is how long a verified access token is served from memory. Logout,
	// device deletion and password changes invalidate the cache at once; the TTL only bounds
	// what another userapi process (sharing the database) could still accept. Negative
	// disables the cache.
	TokenCacheTTL time.Duration
	// TokenCacheSize caps the number of cached tokens (default 10000).
	TokenCacheSize int
	// LastSeenInterval is the least time between two writes of a device's last-seen
	// timestamp and IP (default 5 minutes), so requests do not each cost a write.
	LastSeenInterval time.Duration
	// Now is the clock (default time.Now); tests replace it.
	Now func() time.Time
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		BcryptCost:       12,
		TokenCacheTTL:    time.Minute,
		TokenCacheSize:   10000,
		LastSeenInterval: 5 * time.Minute,
		Now:              time.Now,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.BcryptCost == 0 {
		c.BcryptCost = d.BcryptCost
	}
	if c.TokenCacheTTL == 0 {
		c.TokenCacheTTL = d.TokenCacheTTL
	}
	if c.TokenCacheSize <= 0 {
		c.TokenCacheSize = d.TokenCacheSize
	}
	if c.LastSeenInterval <= 0 {
		c.LastSeenInterval = d.LastSeenInterval
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	return c
}

// UserAPI is the direct implementation of api.UserAPI.
type UserAPI struct {
	db         *storage.Database
	serverName string
	outbox     eventlog.Outbox
	topic      string // full name of topic 1 (account data → syncapi)
	cfg        Config
	reserved   map[string]bool
	tokens     *tokenCache
	// adWrites is read-your-writes for topic 1: the newest account-data position of each
	// user's committed writes (SetAccountData), handed out with the device by
	// QueryAccessToken. The polylith runs one userapi, so it sees every write.
	adWrites *writepos.Tracker

	dummyOnce sync.Once
	dummyHash []byte
}

var _ api.UserAPI = (*UserAPI)(nil)

// New migrates db and returns the userapi. Account-data changes are staged on outbox under
// topicAccountData, the full (prefixed) name of topic 1.
func New(ctx context.Context, db *sqlutil.DB, serverName string, outbox eventlog.Outbox, topicAccountData string, cfg Config) (*UserAPI, error) {
	sdb, err := storage.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	u := &UserAPI{
		db:         sdb,
		serverName: serverName,
		outbox:     outbox,
		topic:      topicAccountData,
		cfg:        cfg,
		reserved:   map[string]bool{},
	}
	u.adWrites = &writepos.Tracker{Load: func(ctx context.Context) (int64, error) {
		return storage.CounterValue(ctx, sdb.DB, "account_data")
	}}
	for _, l := range cfg.ReservedLocalparts {
		u.reserved[l] = true
	}
	if cfg.TokenCacheTTL > 0 {
		u.tokens = newTokenCache(cfg.TokenCacheTTL, cfg.TokenCacheSize, cfg.Now)
	}
	return u, nil
}

func (u *UserAPI) nowMS() int64 { return u.cfg.Now().UnixMilli() }
