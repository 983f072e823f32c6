// Package serverkeyapi wires the serverkeyapi component (ARCHITECTURE.md §1, tier 2): this
// server's signing keys as other servers fetch them (/_matrix/key/v2/server, served by the
// federationapi), the notary, and other servers' keys fetched directly or through the
// configured notaries and cached by validity. Its api is called by the federationapi
// (arrow 11) and later the federationsender (12) and the roomserver (13).
package serverkeyapi

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/axon-matrix/axon/internal/config"
	"github.com/axon-matrix/axon/internal/fedclient"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/matrix/federation"
	"github.com/axon-matrix/axon/matrix/signing"
	"github.com/axon-matrix/axon/serverkeyapi/api"
	"github.com/axon-matrix/axon/serverkeyapi/internal"
	"github.com/axon-matrix/axon/serverkeyapi/storage"
)

// Notary is a notary server with its pinned keys (server_key_api.notaries).
type Notary = internal.Notary

// Config is what the serverkeyapi needs.
type Config struct {
	ServerName string
	Key        signing.SigningKey
	// ValidityPeriod is server_key_api.key_validity_period.
	ValidityPeriod time.Duration
	// Notaries and OldKeys come from server_key_api.notaries and old_signing_keys.
	Notaries []Notary
	OldKeys  []storage.OwnKey
	// Client makes the outbound key requests (fedclient.New).
	Client *federation.Client
	// MinFetchInterval: 0 for the default (10s).
	MinFetchInterval time.Duration
	// Now is the clock; nil for time.Now.
	Now func() time.Time
}

// ConfigFromFile builds the Config from the config file and the signing key; outbound
// requests go through fedclient.New (federation_api.allow_private_destinations).
func ConfigFromFile(cfg *config.Config, key signing.SigningKey) (Config, error) {
	c := Config{ServerName: cfg.Global.ServerName, Key: key, ValidityPeriod: cfg.ServerKeyAPI.KeyValidityPeriod,
		Client: fedclient.New(cfg, key, fedclient.Options{})}
	for _, n := range cfg.ServerKeyAPI.Notaries {
		keys := map[signing.KeyID]ed25519.PublicKey{}
		for id, k := range n.VerifyKeys {
			raw, err := signing.DecodeBase64(k)
			if err != nil || len(raw) != ed25519.PublicKeySize {
				return Config{}, fmt.Errorf("server_key_api.notaries: key %s of %s is not an ed25519 key", id, n.ServerName)
			}
			keys[signing.KeyID(id)] = raw
		}
		c.Notaries = append(c.Notaries, internal.Notary{ServerName: n.ServerName, Keys: keys})
	}
	for _, o := range cfg.ServerKeyAPI.OldSigningKeys {
		raw, err := signing.DecodeBase64(o.PublicKey)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return Config{}, fmt.Errorf("server_key_api.old_signing_keys: key %s is not an ed25519 key", o.KeyID)
		}
		c.OldKeys = append(c.OldKeys, storage.OwnKey{KeyID: o.KeyID, PublicKey: raw, ExpiredTS: o.ExpiredTS})
	}
	return c, nil
}

// NewInternalAPI migrates the serverkeyapi's tables in db, records the current signing key
// (a replaced one becomes an old key) and returns the direct (monolith) implementation of
// api.ServerKeyAPI.
func NewInternalAPI(ctx context.Context, db *sqlutil.DB, c Config) (api.ServerKeyAPI, error) {
	sdb, err := storage.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	return internal.New(ctx, sdb, internal.Options{ServerName: c.ServerName, Key: c.Key, ValidityPeriod: c.ValidityPeriod,
		OldKeys: c.OldKeys, Client: c.Client, Notaries: c.Notaries, MinFetchInterval: c.MinFetchInterval, Now: c.Now})
}
