// Package userapi wires the userapi component: accounts, devices and access tokens,
// profiles, account data (the producer of topic 1, account data → syncapi) and filters.
// Every Tier 1 component calls it to check access tokens (ARCHITECTURE.md §2).
package userapi

import (
	"context"
	"time"

	"github.com/axon-matrix/axon/internal/eventlog"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/userapi/api"
	"github.com/axon-matrix/axon/userapi/internal"
)

// Option tunes the userapi.
type Option func(*internal.Config)

// WithBcryptCost sets the bcrypt work factor of new password hashes (default 12).
func WithBcryptCost(cost int) Option { return func(c *internal.Config) { c.BcryptCost = cost } }

// WithReservedLocalparts forbids users to register these localparts.
func WithReservedLocalparts(localparts ...string) Option {
	return func(c *internal.Config) { c.ReservedLocalparts = append(c.ReservedLocalparts, localparts...) }
}

// WithTokenCache sets how long verified access tokens are kept in memory (default one
// minute; negative disables the cache) and how many (default 10000).
func WithTokenCache(ttl time.Duration, size int) Option {
	return func(c *internal.Config) { c.TokenCacheTTL, c.TokenCacheSize = ttl, size }
}

// WithLastSeenInterval sets the least time between two writes of a device's last-seen
// time and IP (default 5 minutes).
func WithLastSeenInterval(d time.Duration) Option {
	return func(c *internal.Config) { c.LastSeenInterval = d }
}

// NewInternalAPI migrates the userapi's tables in db and returns the direct implementation
// of api.UserAPI for users of serverName. Account-data changes are staged on outbox (which
// must store its rows in the same database, db) under topicAccountData, the full prefixed
// name of topic 1; the caller runs the outbox relay. It fails only if the migrations fail.
func NewInternalAPI(db *sqlutil.DB, serverName string, outbox eventlog.Outbox, topicAccountData string, opts ...Option) (api.UserAPI, error) {
	cfg := internal.DefaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	return internal.New(context.Background(), db, serverName, outbox, topicAccountData, cfg)
}
