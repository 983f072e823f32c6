package internal

import (
	"context"
	"encoding/json"

	"github.com/axon-matrix/axon/matrix"
)

// aclTuple is the room's m.room.server_acl (spec "Server Access Control Lists").
var aclTuple = matrix.StateKeyTuple{EventType: "m.room.server_acl"}

// aclFilter drops from dests the servers the room's current server ACL denies: topic 6
// (roomserver → federationsender) never sends a room's events to a denied server. A
// room without an ACL keeps every destination.
func (w *roomWriter) aclFilter(ctx context.Context, dests []string) ([]string, error) {
	if len(dests) == 0 {
		return dests, nil
	}
	refs, err := w.currentStateRefs(ctx, []matrix.StateKeyTuple{aclTuple})
	if err != nil {
		return nil, err
	}
	ref, ok := refs[aclTuple]
	if !ok {
		return dests, nil
	}
	rows, err := w.s.EventsByNID(ctx, []int64{ref.NID})
	if err != nil {
		return nil, err
	}
	row := rows[ref.NID]
	if row == nil {
		return dests, nil
	}
	var e struct {
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal([]byte(row.JSON), &e) != nil {
		return dests, nil
	}
	acl := matrix.ParseServerACL(e.Content)
	kept := dests[:0]
	for _, d := range dests {
		if acl.Allowed(d) {
			kept = append(kept, d)
		}
	}
	return kept, nil
}
