package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateFederation(t *testing.T) {
	const key = "Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw"
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error; empty: valid
	}{
		{"defaults", "", nil},
		{"private destinations", "federation_api: {allow_private_destinations: true}", nil},
		{"notary ok", "server_key_api: {notaries: [{server_name: matrix.org, verify_keys: {'ed25519:auto': " + key + "}}]}", nil},
		{"notary without keys", "server_key_api: {notaries: [{server_name: matrix.org}]}",
			[]string{"server_key_api.notaries[0].verify_keys: must pin at least one key"}},
		{"notary bad name and key", "server_key_api: {notaries: [{server_name: 'a b', verify_keys: {'rsa:1': x}}]}",
			[]string{"server_key_api.notaries[0].server_name:", `key ID "rsa:1"`}},
		{"notary short key", "server_key_api: {notaries: [{server_name: n.org, verify_keys: {'ed25519:a': 'AAAA'}}]}",
			[]string{"32-byte ed25519 public key"}},
		{"notary is us", "global: {server_name: n.org}\nserver_key_api: {notaries: [{server_name: n.org, verify_keys: {'ed25519:a': " + key + "}}]}",
			[]string{"must not be this server"}},
		{"old key ok", "server_key_api: {old_signing_keys: [{key_id: 'ed25519:old', public_key: " + key + ", expired_ts: 1700000000000}]}", nil},
		{"old key without expiry", "server_key_api: {old_signing_keys: [{key_id: 'ed25519:old', public_key: " + key + "}]}",
			[]string{"server_key_api.old_signing_keys[0].expired_ts:"}},
		{"old key is current", "global: {key_id: 'ed25519:old'}\nserver_key_api: {old_signing_keys: [{key_id: 'ed25519:old', public_key: " + key + ", expired_ts: 1}]}",
			[]string{"is the current key"}},
		{"validity too short", "server_key_api: {key_validity_period: 10s}", []string{"server_key_api.key_validity_period:"}},
		{"validity too long", "server_key_api: {key_validity_period: 200h}", []string{"server_key_api.key_validity_period:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want errors %q, got none", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if d := Defaults(""); d.ServerKeyAPI.KeyValidityPeriod != 24*time.Hour || d.FederationAPI.AllowPrivateDestinations {
		t.Fatalf("defaults: %+v %+v", d.ServerKeyAPI, d.FederationAPI)
	}
}
