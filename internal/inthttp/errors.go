package inthttp

import (
	"bytes"
	"encoding/json"

	"github.com/axon-matrix/axon/internal/httputil"
)

// decodeError rebuilds the *httputil.MatrixError of an error answer: its status, errcode,
// message and every extra top-level field (retry_after_ms, room_version, …). It returns
// nil when raw is not a JSON object with an errcode, i.e. not an answer of an Axon
// component (a proxy's error page, for example).
func decodeError(status int, raw []byte) *httputil.MatrixError {
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil
	}
	var code string
	if err := json.Unmarshal(body["errcode"], &code); err != nil || code == "" {
		return nil
	}
	me := &httputil.MatrixError{Status: status, ErrCode: code}
	if m, ok := body["error"]; ok {
		_ = json.Unmarshal(m, &me.Err)
	}
	for k, v := range body {
		if k == "errcode" || k == "error" {
			continue
		}
		// Numbers stay json.Number, so an int64 survives the trip and re-encodes exactly.
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		var x any
		if err := dec.Decode(&x); err != nil {
			continue
		}
		if me.Extra == nil {
			me.Extra = map[string]any{}
		}
		me.Extra[k] = x
	}
	return me
}
