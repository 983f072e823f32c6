package event

import (
	"bytes"
	"errors"

	"github.com/axon-matrix/axon/matrix"
)

// The signed bytes of an event (the redacted event without "signatures" and "unsigned",
// as canonical JSON) are, for an event whose JSON is canonical already, that JSON with
// some top-level members and some content members left out: canonical JSON is compact
// and orders object keys, so dropping members keeps it canonical. signedBytesCanonical
// writes them in one pass over the JSON, which saves the signature check (arrow 11) the
// four JSON decodes and re-encodes of redact + signing.SignedBytes. They are also the
// bytes the v3+ reference hash covers (redaction drops "age_ts" and "unsigned" anyway).

// errNotCanonical says the fast path met JSON it does not expect; callers fall back to
// the general algorithm.
var errNotCanonical = errors.New("event: JSON is not canonical")

// signedBytesCanonical returns the signed bytes of canonical event JSON raw of type
// eventType under room version v's redaction rules.
func signedBytesCanonical(raw []byte, eventType string, v *matrix.RoomVersion) ([]byte, error) {
	keep := keepTopLevelV11
	if v.Redaction < matrix.RedactionV11 {
		keep = keepTopLevelPreV11
	}
	out := make([]byte, 0, len(raw))
	out = append(out, '{')
	first := true
	err := eachMember(raw, func(key, val []byte) error {
		if !keep[string(key)] || string(key) == "signatures" { // string(key): no allocation here
			return nil
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, '"')
		out = append(out, key...)
		out = append(out, '"', ':')
		if string(key) != "content" {
			out = append(out, val...)
			return nil
		}
		var err error
		out, err = appendRedactedContent(out, val, eventType, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return append(out, '}'), nil
}

// appendRedactedContent appends the canonical content object as redaction leaves it.
func appendRedactedContent(out, content []byte, eventType string, v *matrix.RoomVersion) ([]byte, error) {
	if len(content) == 0 || content[0] != '{' {
		return nil, errNotCanonical // redactTop treats a non-object as {}; not worth a fast path
	}
	keys, all := contentKeysToKeep(v.Redaction, eventType)
	if all {
		return append(out, content...), nil
	}
	tpiSigned := eventType == "m.room.member" && v.Redaction >= matrix.RedactionV11
	out = append(out, '{')
	first := true
	err := eachMember(content, func(key, val []byte) error {
		var sub []byte // what to write as the member's value
		switch {
		case containsKey(keys, key):
			sub = val
		case tpiSigned && string(key) == "third_party_invite":
			// From v11 only third_party_invite.signed survives; not an object: dropped.
			if len(val) == 0 || val[0] != '{' {
				return nil
			}
			var signed []byte
			if err := eachMember(val, func(k, v []byte) error {
				if string(k) == "signed" {
					signed = v
				}
				return nil
			}); err != nil {
				return err
			}
			if signed == nil {
				return nil
			}
			sub = append(append([]byte(`{"signed":`), signed...), '}')
		default:
			return nil
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, '"')
		out = append(out, key...)
		out = append(out, '"', ':')
		out = append(out, sub...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append(out, '}'), nil
}

// containsKey reports whether key (a member name as written in canonical JSON) is one of
// keys. Canonical JSON escapes only '"', '\\' and control characters, none of which the
// redaction key lists hold, so comparing the written form is comparing the names.
func containsKey(keys []string, key []byte) bool {
	for _, k := range keys {
		if k == string(key) {
			return true
		}
	}
	return false
}

// eachMember calls f with each member of the compact JSON object obj: the key as written
// between its quotes and the value's bytes. It expects canonical JSON (no whitespace)
// and returns errNotCanonical on anything else.
func eachMember(obj []byte, f func(key, val []byte) error) error {
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return errNotCanonical
	}
	i := 1
	if obj[i] == '}' {
		if i+1 != len(obj) {
			return errNotCanonical
		}
		return nil
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return errNotCanonical
		}
		kEnd := skipString(obj, i)
		if kEnd < 0 || kEnd >= len(obj) || obj[kEnd] != ':' {
			return errNotCanonical
		}
		key := obj[i+1 : kEnd-1]
		vStart := kEnd + 1
		vEnd := skipValue(obj, vStart)
		if vEnd < 0 || vEnd >= len(obj) {
			return errNotCanonical
		}
		if err := f(key, obj[vStart:vEnd]); err != nil {
			return err
		}
		switch obj[vEnd] {
		case ',':
			i = vEnd + 1
		case '}':
			if vEnd+1 != len(obj) {
				return errNotCanonical
			}
			return nil
		default:
			return errNotCanonical
		}
	}
}

// skipString returns the index just past the JSON string starting at in[i] ('"'), or -1.
func skipString(in []byte, i int) int {
	for j := i + 1; j < len(in); j++ {
		switch in[j] {
		case '\\':
			j++ // the escaped byte ("\uXXXX": the hex digits are plain bytes)
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index just past the compact JSON value starting at in[i], or -1.
func skipValue(in []byte, i int) int {
	if i >= len(in) {
		return -1
	}
	switch in[i] {
	case '"':
		return skipString(in, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(in); j++ {
			switch in[j] {
			case '"':
				end := skipString(in, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default: // number, true, false, null: up to the next delimiter
		j := i
		for j < len(in) && in[j] != ',' && in[j] != '}' && in[j] != ']' {
			j++
		}
		if j == i || bytes.ContainsAny(in[i:j], " \t\r\n\"{[") {
			return -1
		}
		return j
	}
}
