package matrix

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
)

// SharedSecretRegistrationMAC is the "mac" of a shared-secret registration request
// (Synapse's admin API POST /_synapse/admin/v1/register, which register_new_matrix_user
// and Axon's axon-create-account speak): the hex HMAC-SHA1, keyed with the shared secret,
// of nonce, username, password and "admin" or "notadmin", separated by NUL bytes, then NUL
// and userType when userType is not empty. The server computes it again and compares in
// constant time (hmac.Equal).
func SharedSecretRegistrationMAC(secret, nonce, username, password string, admin bool, userType string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(nonce + "\x00" + username + "\x00" + password + "\x00"))
	if admin {
		m.Write([]byte("admin"))
	} else {
		m.Write([]byte("notadmin"))
	}
	if userType != "" {
		m.Write([]byte("\x00" + userType))
	}
	return hex.EncodeToString(m.Sum(nil))
}
