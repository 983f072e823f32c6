package httputil

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"unicode/utf8"
)

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errcode":"M_UNKNOWN","error":"Internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteError writes err as the spec's error JSON (see AsMatrixError).
func WriteError(w http.ResponseWriter, err error) {
	me := AsMatrixError(err)
	setRetryAfter(w, me)
	WriteJSON(w, me.Status, me.Body())
}

// ReadJSONObject reads a request body of at most maxBytes that must be a JSON object and
// decodes it into v. A body over the limit is M_TOO_LARGE (413); one that is not JSON (also:
// not UTF-8, a key twice in one object, not an object) is M_NOT_JSON; JSON of the wrong
// shape is M_BAD_JSON.
func ReadJSONObject(r *http.Request, maxBytes int64, v any) *MatrixError {
	raw, me := ReadBody(r, maxBytes)
	if me != nil {
		return me
	}
	return DecodeJSONObject(raw, v)
}

// ReadBody reads at most maxBytes of a request body. A Content-Length over the limit is
// refused before anything is read.
func ReadBody(r *http.Request, maxBytes int64) ([]byte, *MatrixError) {
	if r.Body == nil {
		return nil, NotJSON("Request body is empty")
	}
	if r.ContentLength > maxBytes {
		return nil, TooLarge("Request body is over %d bytes", maxBytes)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	if err != nil {
		return nil, Unknown("Could not read request body")
	}
	if int64(len(b)) > maxBytes {
		return nil, TooLarge("Request body is over %d bytes", maxBytes)
	}
	return b, nil
}

// DecodeJSONObject checks raw with CheckJSONObject and decodes it into v.
func DecodeJSONObject(raw []byte, v any) *MatrixError {
	if me := CheckJSONObject(raw); me != nil {
		return me
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return BadJSON("Field %q has the wrong type", te.Field)
		}
		return BadJSON("Request body has the wrong shape: %v", err)
	}
	return nil
}

// CheckJSONObject applies the spec's rules for a request body that must be a JSON object,
// before anything reads a field of it: UTF-8, valid JSON, no key twice in one object (at
// any depth), and an object at the top. Each failure is 400 M_NOT_JSON. (encoding/json
// alone would accept the first and third, replacing bad bytes with U+FFFD and keeping the
// last of two keys, so a handler would act on a body the client never meant.)
func CheckJSONObject(raw []byte) *MatrixError {
	if !utf8.Valid(raw) {
		return NotJSON("Request body is not valid UTF-8")
	}
	if !json.Valid(raw) {
		return NotJSON("Request body is not valid JSON")
	}
	if !isJSONObject(raw) {
		return NotJSON("Content must be a JSON object")
	}
	if key, ok := duplicateKey(raw); ok {
		return NotJSON("Request body has the key %q twice in one object", key)
	}
	return nil
}

// isJSONObject reports whether valid JSON raw is an object.
func isJSONObject(raw []byte) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
}
