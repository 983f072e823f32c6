package matrix

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"testing"
)

// TestSharedSecretRegistrationMAC checks the MAC against one computed by hand from the
// scheme's bytes, and that every input changes it.
func TestSharedSecretRegistrationMAC(t *testing.T) {
	m := hmac.New(sha1.New, []byte("s3cret"))
	m.Write([]byte("abc\x00alice\x00pw\x00admin\x00bot"))
	want := hex.EncodeToString(m.Sum(nil))
	if got := SharedSecretRegistrationMAC("s3cret", "abc", "alice", "pw", true, "bot"); got != want {
		t.Fatalf("mac %s, want %s", got, want)
	}
	base := SharedSecretRegistrationMAC("s", "n", "u", "p", false, "")
	for name, other := range map[string]string{
		"secret":    SharedSecretRegistrationMAC("t", "n", "u", "p", false, ""),
		"nonce":     SharedSecretRegistrationMAC("s", "m", "u", "p", false, ""),
		"username":  SharedSecretRegistrationMAC("s", "n", "v", "p", false, ""),
		"password":  SharedSecretRegistrationMAC("s", "n", "u", "q", false, ""),
		"admin":     SharedSecretRegistrationMAC("s", "n", "u", "p", true, ""),
		"user type": SharedSecretRegistrationMAC("s", "n", "u", "p", false, "bot"),
	} {
		if other == base {
			t.Errorf("changing the %s leaves the MAC unchanged", name)
		}
	}
}
