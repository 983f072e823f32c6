package httputil

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
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
	WriteJSON(w, me.Status, me.Body())
}

// ReadJSONObject reads a request body of at most maxBytes that must be a JSON object and
// decodes it into v. A body over the limit is M_TOO_LARGE (413); one that is not JSON is
// M_NOT_JSON; JSON of the wrong shape is M_BAD_JSON.
func ReadJSONObject(r *http.Request, maxBytes int64, v any) *MatrixError {
	raw, me := ReadBody(r, maxBytes)
	if me != nil {
		return me
	}
	return DecodeJSONObject(raw, v)
}

// ReadBody reads at most maxBytes of a request body.
func ReadBody(r *http.Request, maxBytes int64) ([]byte, *MatrixError) {
	if r.Body == nil {
		return nil, NotJSON("Request body is empty")
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

// DecodeJSONObject decodes raw, which must be a JSON object, into v.
func DecodeJSONObject(raw []byte, v any) *MatrixError {
	if !json.Valid(raw) {
		return NotJSON("Request body is not valid JSON")
	}
	var probe any
	_ = json.Unmarshal(raw, &probe)
	if _, ok := probe.(map[string]any); !ok {
		return BadJSON("Request body must be a JSON object")
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
