package config

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/axon-matrix/axon/matrix/signing"
)

// SigningKey reads this server's signing key from global.private_key_path (a Synapse-style
// key file, read by matrix/signing; the first key in it signs) and checks it against
// global.key_id when that is set.
func (c *Config) SigningKey() (signing.SigningKey, error) {
	keys, err := signing.LoadKeyFile(c.Global.PrivateKeyPath)
	if err != nil {
		return signing.SigningKey{}, fmt.Errorf("config: global.private_key_path: %w", err)
	}
	k := keys[0]
	if c.Global.KeyID != "" && signing.KeyID(c.Global.KeyID) != k.ID {
		return signing.SigningKey{}, fmt.Errorf("config: global.key_id: is %q but the key file %s holds %q",
			c.Global.KeyID, c.Global.PrivateKeyPath, k.ID)
	}
	return k, nil
}

// NewSigningKey generates a key for this server: its version comes from global.key_id
// when set, else it is a random "a_XXXX".
func (c *Config) NewSigningKey() (signing.SigningKey, error) {
	return signing.GenerateKey(signing.KeyID(c.Global.KeyID).Version(), nil)
}

// LoadOrCreateSigningKey is SigningKey, except that a missing key file is first created
// with a new key (NewSigningKey) — the monolith's first start. created says whether that
// happened. The file is never overwritten.
func (c *Config) LoadOrCreateSigningKey() (k signing.SigningKey, created bool, err error) {
	k, err = c.SigningKey()
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	nk, err := c.NewSigningKey()
	if err != nil {
		return signing.SigningKey{}, false, err
	}
	err = signing.WriteKeyFile(c.Global.PrivateKeyPath, nk)
	if err != nil && !errors.Is(err, fs.ErrExist) { // ErrExist: another process won the race
		return signing.SigningKey{}, false, fmt.Errorf("config: global.private_key_path: %w", err)
	}
	k, err = c.SigningKey()
	return k, err == nil && k.ID == nk.ID && k.Private.Equal(nk.Private), err
}
