package config

import (
	"crypto/rand"
	"encoding/base64"
)

// GenerateOption changes the configuration Generate writes out.
type GenerateOption func(c *Config)

// WithRegistrationSharedSecret makes Generate write secret as
// client_api.registration_shared_secret, which axon-create-account uses to create accounts
// on the running server (Synapse's shared-secret registration).
func WithRegistrationSharedSecret(secret string) GenerateOption {
	return func(c *Config) { c.ClientAPI.RegistrationSharedSecret = secret }
}

// NewSecret returns a random secret for a config file: 32 bytes from crypto/rand, base64url
// without padding (43 characters, no YAML-special characters).
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+): it crashes the process instead
	return base64.RawURLEncoding.EncodeToString(b)
}
