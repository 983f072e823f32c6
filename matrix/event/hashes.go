package event

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"github.com/axon-matrix/axon/matrix"
	"github.com/axon-matrix/axon/matrix/signing"
)

// ContentHash computes an event's content hash (server-server spec "Calculating the
// content hash"): sha256 of the canonical JSON of the event without "unsigned",
// "signatures" and "hashes".
func ContentHash(eventJSON []byte) ([]byte, error) {
	top, err := topLevel(eventJSON)
	if err != nil {
		return nil, err
	}
	return contentHash(top)
}

func contentHash(top map[string]json.RawMessage) ([]byte, error) {
	rest := make(map[string]json.RawMessage, len(top))
	for k, v := range top {
		if k != "unsigned" && k != "signatures" && k != "hashes" {
			rest[k] = v
		}
	}
	canonical, err := marshalCanonical(rest)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canonical)
	return sum[:], nil
}

// ReferenceHash computes an event's reference hash (server-server spec "Calculating the
// reference hash"): sha256 of the canonical JSON of the redacted event without
// "signatures", "unsigned" and "age_ts".
func ReferenceHash(eventJSON []byte, version matrix.RoomVersionID) ([]byte, error) {
	v, err := matrix.GetRoomVersion(version)
	if err != nil {
		return nil, err
	}
	top, err := topLevel(eventJSON)
	if err != nil {
		return nil, err
	}
	return referenceHash(top, v)
}

func referenceHash(top map[string]json.RawMessage, v *matrix.RoomVersion) ([]byte, error) {
	redacted, err := redactTop(top, v)
	if err != nil {
		return nil, err
	}
	delete(redacted, "signatures")
	delete(redacted, "unsigned")
	delete(redacted, "age_ts")
	canonical, err := marshalCanonical(redacted)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canonical)
	return sum[:], nil
}

// computeEventID forms a v3+ event ID from the reference hash.
func computeEventID(top map[string]json.RawMessage, v *matrix.RoomVersion) (string, error) {
	hash, err := referenceHash(top, v)
	if err != nil {
		return "", err
	}
	return eventIDFromHash(hash, v), nil
}

func eventIDFromHash(hash []byte, v *matrix.RoomVersion) string {
	if v.EventIDFormat == matrix.EventIDFormatBase64 {
		return "$" + base64.RawStdEncoding.EncodeToString(hash)
	}
	return "$" + base64.RawURLEncoding.EncodeToString(hash)
}

// ReferenceHash returns the event's reference hash as unpadded standard base64, the form
// room versions 1–2 put next to IDs in prev_events and auth_events.
func (e *Event) ReferenceHash() (string, error) {
	hash, err := ReferenceHash(e.raw, e.version.ID)
	if err != nil {
		return "", err
	}
	return signing.EncodeBase64(hash), nil
}

// CheckContentHash reports whether the event's hashes.sha256 matches its content.
func (e *Event) CheckContentHash() (bool, error) {
	top, err := topLevel(e.raw)
	if err != nil {
		return false, err
	}
	return checkContentHash(top)
}

func checkContentHash(top map[string]json.RawMessage) (bool, error) {
	var hashes struct {
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal(top["hashes"], &hashes); err != nil || hashes.SHA256 == "" {
		return false, badf(`"hashes" has no sha256`)
	}
	want, err := signing.DecodeBase64(hashes.SHA256)
	if err != nil {
		return false, nil
	}
	got, err := contentHash(top)
	if err != nil {
		return false, err
	}
	return string(got) == string(want), nil
}
