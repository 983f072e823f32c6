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

// computeEventID forms a v3+ event ID from the reference hash. e's type, version and
// canonical flag must be set; top is e.raw's members.
func (e *Event) computeEventID(top map[string]json.RawMessage) (string, error) {
	hash, err := e.referenceHash(top)
	if err != nil {
		return "", err
	}
	return eventIDFromHash(hash, e.version), nil
}

// referenceHash is the event's reference hash. For canonical JSON it is the sha256 of the
// signed bytes: redaction drops "unsigned" and "age_ts" already, so the redacted event
// without "signatures" is what both cover. top (e.raw's members) may be nil.
func (e *Event) referenceHash(top map[string]json.RawMessage) ([]byte, error) {
	if e.canonical {
		if signed, err := signedBytesCanonical(e.raw, e.typ, e.version); err == nil {
			sum := sha256.Sum256(signed)
			return sum[:], nil
		}
	}
	if top == nil {
		var err error
		if top, err = topLevel(e.raw); err != nil {
			return nil, err
		}
	}
	return referenceHash(top, e.version)
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
	hash, err := e.referenceHash(nil)
	if err != nil {
		return "", err
	}
	return signing.EncodeBase64(hash), nil
}

// contentHashCanonical is contentHash for canonical JSON: the members other than
// "unsigned", "signatures" and "hashes", as they are written, in one pass.
func contentHashCanonical(raw []byte) ([]byte, error) {
	buf := make([]byte, 0, len(raw))
	buf = append(buf, '{')
	err := eachMember(raw, func(key, val []byte) error {
		switch string(key) {
		case "unsigned", "signatures", "hashes":
			return nil
		}
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		buf = append(buf, key...)
		buf = append(buf, '"', ':')
		buf = append(buf, val...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append(buf, '}'))
	return sum[:], nil
}

// CheckContentHash reports whether the event's hashes.sha256 matches its content.
func (e *Event) CheckContentHash() (bool, error) {
	top, err := topLevel(e.raw)
	if err != nil {
		return false, err
	}
	return e.checkContentHash(top)
}

// checkContentHash compares hashes.sha256 (top is e.raw's members) with the content hash.
func (e *Event) checkContentHash(top map[string]json.RawMessage) (bool, error) {
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
	var got []byte
	if e.canonical {
		got, err = contentHashCanonical(e.raw)
	}
	if !e.canonical || err != nil {
		if got, err = contentHash(top); err != nil {
			return false, err
		}
	}
	return string(got) == string(want), nil
}
