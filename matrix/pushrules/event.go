package pushrules

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Event is the view of one event that push rule conditions read: every leaf of its JSON
// under its dotted key (the spec's dot-separated keys, with `.` and `\` inside a key
// part escaped as `\.` and `\\`), strings also lower-cased for event_match. It is computed
// once per event (NewEvent) and shared by the evaluations of every user; it is never
// modified afterwards, so it is safe for concurrent use.
type Event struct {
	values map[string]value
	// The fields every default rule reads, kept out of the map.
	typ, typLower, sender, senderLower, body, bodyLower string
	hasBody                                             bool
}

type valueKind uint8

const (
	vString valueKind = iota + 1
	vInt
	vBool
	vNull
	vArray
	vOther // a float or an object: never equal to a condition's value
)

// value is one leaf of the event's JSON (or a condition's value).
type value struct {
	kind  valueKind
	s     string // vString: as in the event
	lower string // vString: lower-cased
	n     int64
	b     bool
	arr   []value // vArray: its simple elements (objects and arrays inside are vOther)
}

func (v *value) equal(w *value) bool {
	if v.kind != w.kind {
		return false
	}
	switch v.kind {
	case vString:
		return v.s == w.s
	case vInt:
		return v.n == w.n
	case vBool:
		return v.b == w.b
	case vNull:
		return true
	}
	return false
}

// NewEvent flattens an event's JSON (client or federation format). Invalid JSON gives an
// event that no condition about its fields matches.
func NewEvent(eventJSON []byte) *Event {
	e := &Event{values: map[string]value{}}
	dec := json.NewDecoder(bytes.NewReader(eventJSON))
	dec.UseNumber()
	var root map[string]any
	if dec.Decode(&root) != nil {
		return e
	}
	e.flatten("", root)
	if v, ok := e.values["type"]; ok && v.kind == vString {
		e.typ, e.typLower = v.s, v.lower
	}
	if v, ok := e.values["sender"]; ok && v.kind == vString {
		e.sender, e.senderLower = v.s, v.lower
	}
	if v, ok := e.values["content.body"]; ok && v.kind == vString {
		e.body, e.bodyLower, e.hasBody = v.s, v.lower, true
	}
	return e
}

// Type is the event's type.
func (e *Event) Type() string { return e.typ }

// Sender is the event's sender.
func (e *Event) Sender() string { return e.sender }

func (e *Event) flatten(prefix string, obj map[string]any) {
	for k, raw := range obj {
		key := escapeKeyPart(k)
		if prefix != "" {
			key = prefix + "." + key
		}
		if m, ok := raw.(map[string]any); ok {
			e.flatten(key, m)
			continue
		}
		if list, ok := raw.([]any); ok {
			v := value{kind: vArray, arr: make([]value, len(list))}
			for i, x := range list {
				v.arr[i] = valueOf(x)
			}
			e.values[key] = v
			continue
		}
		e.values[key] = valueOf(raw)
	}
}

// valueOf converts a decoded JSON leaf (or a condition's value) to a value.
func valueOf(x any) value {
	switch t := x.(type) {
	case string:
		return value{kind: vString, s: t, lower: strings.ToLower(t)}
	case bool:
		return value{kind: vBool, b: t}
	case nil:
		return value{kind: vNull}
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return value{kind: vInt, n: n}
		}
	case float64:
		if t == float64(int64(t)) {
			return value{kind: vInt, n: int64(t)}
		}
	case int:
		return value{kind: vInt, n: int64(t)}
	case int64:
		return value{kind: vInt, n: t}
	}
	return value{kind: vOther}
}

// escapeKeyPart escapes one part of a dotted key.
func escapeKeyPart(k string) string {
	if !strings.ContainsAny(k, `.\`) {
		return k
	}
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		if k[i] == '.' || k[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(k[i])
	}
	return b.String()
}

// canonicalKey rewrites a condition's dotted key into the form Event uses: parts split at
// unescaped dots, `\.` and `\\` unescaped, any other backslash kept as it is (as the spec
// says), then each part escaped again.
func canonicalKey(key string) string {
	if !strings.Contains(key, `\`) {
		return key
	}
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '\\' && i+1 < len(key) && (key[i+1] == '.' || key[i+1] == '\\'):
			cur.WriteByte(key[i+1])
			i++
		case c == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())
	for i := range parts {
		parts[i] = escapeKeyPart(parts[i])
	}
	return strings.Join(parts, ".")
}
