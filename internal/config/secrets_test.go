package config

import (
	"regexp"
	"testing"
)

// TestGenerateWithRegistrationSharedSecret: the option's secret is in the file and loads
// back; NewSecret gives long, distinct, YAML-safe secrets; without the option the key is
// empty (shared-secret registration off).
func TestGenerateWithRegistrationSharedSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if a == b || !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(a) {
		t.Fatalf("secrets %q, %q", a, b)
	}
	tests := []struct {
		name string
		opts []GenerateOption
		want string
	}{
		{"with secret", []GenerateOption{WithRegistrationSharedSecret(a)}, a},
		{"without", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(Generate("example.org", "/d", tt.opts...))
			if err != nil {
				t.Fatal(err)
			}
			if c.ClientAPI.RegistrationSharedSecret != tt.want {
				t.Fatalf("registration_shared_secret %q, want %q", c.ClientAPI.RegistrationSharedSecret, tt.want)
			}
		})
	}
}
