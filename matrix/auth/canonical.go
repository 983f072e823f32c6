package auth

import (
	"encoding/json"
	"fmt"

	"github.com/axon-matrix/axon/matrix/cjson"
)

// canonicalJSONWithout returns the canonical JSON (matrix/cjson, lenient number rules:
// identity servers sign this block whatever the room version) of the object raw without
// the keys drop — what a signature over a JSON object covers.
func canonicalJSONWithout(raw []byte, drop ...string) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if obj == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	for _, k := range drop {
		delete(obj, k)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return cjson.Canonical(b, false)
}
