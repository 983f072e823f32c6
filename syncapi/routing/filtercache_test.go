package routing

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/axon-matrix/axon/syncapi/internal"
)

func TestFilterCache(t *testing.T) {
	stored := func(u, id string) filterKey { return filterKey{user: u, id: id} }
	inline := func(s string) filterKey { return filterKey{text: s} }
	type step struct {
		key      filterKey
		fail     bool // load fails
		wantLoad bool // load is called (a miss)
	}
	tests := []struct {
		name    string
		max     int
		steps   []step
		wantLen int
	}{
		{"miss then hit", 4, []step{{stored("@a", "1"), false, true}, {stored("@a", "1"), false, false}}, 1},
		{"same ID of another user is another filter", 4, []step{{stored("@a", "1"), false, true}, {stored("@b", "1"), false, true},
			{stored("@a", "1"), false, false}}, 2},
		{"inline text and stored ID do not mix", 4, []step{{inline("1"), false, true}, {stored("", "1"), false, true}}, 2},
		{"a failure is not kept", 4, []step{{stored("@a", "x"), true, true}, {stored("@a", "x"), true, true},
			{stored("@a", "x"), false, true}, {stored("@a", "x"), false, false}}, 1},
		{"the oldest goes past the bound", 2, []step{{inline("{1}"), false, true}, {inline("{2}"), false, true},
			{inline("{3}"), false, true}, {inline("{2}"), false, false}, {inline("{3}"), false, false},
			{inline("{1}"), false, true}, {inline("{2}"), false, true}}, 2},
		{"an oversized inline filter is not kept", 4, []step{{inline(strings.Repeat(" ", maxInlineFilterKey+1)), false, true},
			{inline(strings.Repeat(" ", maxInlineFilterKey+1)), false, true}}, 0},
	}
	for _, tc := range tests {
		c := &filterCache{max: tc.max}
		for i, s := range tc.steps {
			loaded := false
			want := &internal.Filter{EventFormat: fmt.Sprint(i)}
			got, err := c.get(s.key, func() (*internal.Filter, error) {
				loaded = true
				if s.fail {
					return nil, errors.New("no")
				}
				return want, nil
			})
			if loaded != s.wantLoad {
				t.Fatalf("%s: step %d: loaded %v, want %v", tc.name, i, loaded, s.wantLoad)
			}
			if s.fail != (err != nil) || (!s.fail && s.wantLoad && got != want) || (!s.fail && got == nil) {
				t.Fatalf("%s: step %d: got %v, %v", tc.name, i, got, err)
			}
		}
		if n := c.len(); n != tc.wantLen {
			t.Fatalf("%s: %d filters kept, want %d", tc.name, n, tc.wantLen)
		}
	}
}

// TestFilterCacheBound: however many filters pass, no more than the bound are kept.
func TestFilterCacheBound(t *testing.T) {
	c := &filterCache{}
	for i := range 3 * defaultMaxFilters {
		if _, err := c.get(filterKey{user: "@a", id: fmt.Sprint(i)}, func() (*internal.Filter, error) { return &internal.Filter{}, nil }); err != nil {
			t.Fatal(err)
		}
		if n := c.len(); n > defaultMaxFilters {
			t.Fatalf("%d filters kept after %d", n, i+1)
		}
	}
	if n := c.len(); n != defaultMaxFilters {
		t.Fatalf("%d filters kept, want %d", n, defaultMaxFilters)
	}
}
