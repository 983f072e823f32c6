package storage

import (
	"context"
	"fmt"
	"reflect"
	"testing"
)

// TestUpdateForwardExtremities covers each way a new event changes the leaves: replacing
// the one extremity (the single UPDATE), several, some, or none of them.
func TestUpdateForwardExtremities(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *Database) {
		ctx := context.Background()
		tests := []struct {
			name   string
			start  []string
			remove []string
			add    string
			want   []string
		}{
			{"replace the one", []string{"$a"}, []string{"$a"}, "$n", []string{"$n"}},
			{"replace all of several", []string{"$a", "$b", "$c"}, []string{"$a", "$b", "$c"}, "$n", []string{"$n"}},
			{"replace some", []string{"$a", "$b", "$c"}, []string{"$c", "$a"}, "$n", []string{"$b", "$n"}},
			{"one prev that is not a leaf", []string{"$a"}, []string{"$old"}, "$n", []string{"$a", "$n"}},
			{"duplicate prev", []string{"$a"}, []string{"$a", "$a"}, "$n", []string{"$n"}},
			{"no prev", []string{"$a"}, nil, "$n", []string{"$a", "$n"}},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				room := fmt.Sprintf("!fe%d:test", i)
				tx(t, d, func(s *Store) error {
					for _, id := range tt.start {
						if err := s.UpdateForwardExtremities(ctx, room, nil, id); err != nil {
							return err
						}
					}
					return s.UpdateForwardExtremities(ctx, room, tt.remove, tt.add)
				})
				got, err := d.Reader().ForwardExtremities(ctx, room)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("extremities %v, want %v", got, tt.want)
				}
			})
		}
	})
}
