package internal

import (
	"encoding/json"
	"testing"

	"github.com/axon-matrix/axon/appservice/api"
)

// TestMergeProtocol: the first valid answer is the base; every answer's instances are
// kept, each with instance_id "<service>|<network_id>"; failed or non-object answers are
// skipped; no valid answer at all is nil.
func TestMergeProtocol(t *testing.T) {
	regs := []*api.Registration{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	for _, tt := range []struct {
		name    string
		answers [][]byte
		want    string
	}{
		{"two services", [][]byte{
			[]byte(`{"icon":"mxc://a/1","instances":[{"network_id":"n1","desc":"one"}]}`),
			nil,
			[]byte(`{"icon":"mxc://c/2","instances":[{"network_id":"n2","desc":"two"},{"desc":"no network"}]}`)},
			`{"icon":"mxc://a/1","instances":[{"desc":"one","instance_id":"a|n1","network_id":"n1"},{"desc":"two","instance_id":"c|n2","network_id":"n2"},{"desc":"no network"}]}`},
		{"first failed", [][]byte{[]byte(`[1]`), []byte(`{"icon":"mxc://b/1"}`), nil},
			`{"icon":"mxc://b/1","instances":[]}`},
		{"none valid", [][]byte{nil, []byte(`"x"`), []byte(`null`)}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeProtocol(regs, tt.answers)
			if tt.want == "" {
				if got != nil {
					t.Fatalf("got %s, want nil", got)
				}
				return
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("got %s: %v", got, err)
			}
			_ = json.Unmarshal([]byte(tt.want), &w)
			gs, _ := json.Marshal(g)
			ws, _ := json.Marshal(w)
			if string(gs) != string(ws) {
				t.Fatalf("got  %s\nwant %s", gs, ws)
			}
		})
	}
}
