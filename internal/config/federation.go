package config

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"strconv"
	"text/template"
	"time"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/signing"
)

// Notary is a server trusted to vouch for other servers' keys (server_key_api.notaries;
// Synapse's trusted_key_servers). Its own keys are pinned here, never fetched.
type Notary struct {
	// ServerName is the notary's server name.
	ServerName string `yaml:"server_name"`
	// VerifyKeys maps the notary's key IDs ("ed25519:…") to their unpadded base64 public
	// keys.
	VerifyKeys map[string]string `yaml:"verify_keys"`
}

// OldSigningKey is a key this server signed with before (server_key_api.old_signing_keys),
// published as old_verify_keys so that events signed with it still verify.
type OldSigningKey struct {
	// KeyID is "ed25519:<version>".
	KeyID string `yaml:"key_id"`
	// PublicKey is the unpadded base64 public key.
	PublicKey string `yaml:"public_key"`
	// ExpiredTS is when the server stopped using the key (ms since the epoch).
	ExpiredTS int64 `yaml:"expired_ts"`
}

// Defaults of the federation keys.
const (
	// DefaultKeyValidityPeriod is how long this server's published keys are valid.
	DefaultKeyValidityPeriod = 24 * time.Hour
	// maxKeyValidityPeriod: other servers believe at most 7 days anyway (server-server
	// spec, "Retrieving server keys").
	maxKeyValidityPeriod = 7 * 24 * time.Hour
)

func (c *Config) federationDefaults() {
	c.ServerKeyAPI.KeyValidityPeriod = DefaultKeyValidityPeriod
	c.ServerKeyAPI.Notaries = []Notary{}
	c.ServerKeyAPI.OldSigningKeys = []OldSigningKey{}
}

// validateFederation checks the federation_api and server_key_api keys.
func (c *Config) validateFederation(bad func(path, format string, a ...any)) {
	s := &c.ServerKeyAPI
	if s.KeyValidityPeriod < time.Minute || s.KeyValidityPeriod > maxKeyValidityPeriod {
		bad("server_key_api.key_validity_period", "must be between 1m and 168h, got %s", s.KeyValidityPeriod)
	}
	for i, n := range s.Notaries {
		path := fmt.Sprintf("server_key_api.notaries[%d]", i)
		if err := matrix.ValidateServerName(n.ServerName); err != nil {
			bad(path+".server_name", "%v", err)
		}
		if n.ServerName == c.Global.ServerName {
			bad(path+".server_name", "must not be this server (%q)", n.ServerName)
		}
		if len(n.VerifyKeys) == 0 {
			bad(path+".verify_keys", "must pin at least one key of the notary")
		}
		for id, key := range n.VerifyKeys {
			if err := checkPublicKey(id, key); err != nil {
				bad(path+".verify_keys", "%v", err)
			}
		}
	}
	for i, k := range s.OldSigningKeys {
		path := fmt.Sprintf("server_key_api.old_signing_keys[%d]", i)
		if err := checkPublicKey(k.KeyID, k.PublicKey); err != nil {
			bad(path, "%v", err)
		}
		if k.ExpiredTS <= 0 {
			bad(path+".expired_ts", "must be when the key stopped being used (ms since 1970), got %d", k.ExpiredTS)
		}
		if c.Global.KeyID != "" && k.KeyID == c.Global.KeyID {
			bad(path+".key_id", "is the current key (global.key_id)")
		}
	}
}

// checkPublicKey checks an ed25519 key ID and its unpadded base64 public key.
func checkPublicKey(id, key string) error {
	kid := signing.KeyID(id)
	if err := kid.Validate(); err != nil || kid.Algorithm() != signing.AlgorithmEd25519 {
		return fmt.Errorf("key ID %q must look like \"ed25519:<letters, digits, _>\"", id)
	}
	raw, err := signing.DecodeBase64(key)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return fmt.Errorf("key %s must be a 32-byte ed25519 public key in base64", id)
	}
	return nil
}

// generateFederation is the extra part of the federation_api (component "federationapi")
// or server_key_api ("serverkeyapi") section in the generated file.
func generateFederation(c *Config, component string) string {
	var buf bytes.Buffer
	var err error
	switch component {
	case ComponentFederationAPI:
		err = federationAPITmpl.Execute(&buf, c)
	case ComponentServerKeyAPI:
		err = serverKeyAPITmpl.Execute(&buf, c)
	}
	if err != nil {
		panic("config: federation template: " + err.Error()) // fixed template: a bug, not input
	}
	return buf.String()
}

var federationAPITmpl = template.Must(template.New("federation_api").Parse(`
  # Outbound federation (key fetches now; events, media later) refuses destinations that
  # resolve to private, loopback or link-local addresses, so a crafted server name cannot
  # reach the internal network. true lifts that: for test networks on one machine only.
  allow_private_destinations: {{.FederationAPI.AllowPrivateDestinations}}
  # Outbound federation and key requests verify other servers' TLS certificates against
  # the system roots. true skips that (self-signed certificates): test networks only.
  disable_tls_validation: {{.FederationAPI.DisableTLSValidation}}`))

var serverKeyAPITmpl = template.Must(template.New("server_key_api").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(`
  # How long the keys this server publishes (/_matrix/key/v2/server) are valid:
  # valid_until_ts = now + this. Other servers refetch them after it (at most 168h).
  key_validity_period: {{.ServerKeyAPI.KeyValidityPeriod}}
  # Notary servers asked for other servers' keys when a server cannot be reached directly,
  # each with its own keys pinned (like Synapse's trusted_key_servers). Empty: ask every
  # server directly only. Example:
  #   notaries:
  #     - server_name: "matrix.org"
  #       verify_keys:
  #         "ed25519:auto": "Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw"
  notaries: []
  # Keys this server signed with before its current one, published as old_verify_keys.
  # The serverkeyapi also records a replaced global.private_key_path key by itself. Example:
  #   old_signing_keys:
  #     - key_id: "ed25519:old"
  #       public_key: "<unpadded base64>"
  #       expired_ts: 1700000000000
  old_signing_keys: []`))
