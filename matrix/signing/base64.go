// Package signing signs and verifies JSON objects with ed25519 keys the way the Matrix
// spec's "Signing JSON" appendix describes, and reads and writes signing-key files in
// Synapse's format. Event hashing and signing build on it in matrix/event; the
// serverkeyapi (arrows 11–13 of ARCHITECTURE.md §2) uses VerifyJSON to check signatures.
package signing

import (
	"encoding/base64"
	"errors"
	"strings"
)

// EncodeBase64 encodes b as unpadded standard base64 (spec appendix "Unpadded Base64").
func EncodeBase64(b []byte) string {
	return base64.RawStdEncoding.EncodeToString(b)
}

// DecodeBase64 decodes base64 with or without "=" padding. Standard and URL-safe
// alphabets are both accepted, as the spec asks decoders to be lenient.
func DecodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		if strings.ContainsAny(s, "+/") {
			return nil, errors.New("base64 mixes standard and URL-safe alphabets")
		}
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
