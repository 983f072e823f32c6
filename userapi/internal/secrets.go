package internal

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// deviceIDLength is the length of generated device IDs: uppercase letters, like Synapse's.
const deviceIDLength = 10

// newDeviceID returns a random device ID of 10 uppercase letters (26^10 ≈ 2^47 values).
func newDeviceID() string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, deviceIDLength)
	for i := range b {
		// Redraw bytes ≥ 234 (= 9·26) so every letter is equally likely.
		for {
			var r [1]byte
			_, _ = rand.Read(r[:])
			if r[0] < 234 {
				b[i] = letters[r[0]%26]
				break
			}
		}
	}
	return string(b)
}

// newAccessToken returns a fresh access token: 32 random bytes, base64url without padding.
func newAccessToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hashToken is the only form in which an access token is stored: hex SHA-256. Tokens carry
// 256 random bits, so a fast unsalted hash is enough to make a leaked table useless.
func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}
