package storage

import (
	"context"
	"fmt"
	"testing"
)

// TestStreamPositionsForAGroup assigns a group's positions in one statement and records
// them on its events in another, and counts the transaction's writes.
func TestStreamPositionsForAGroup(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *Database) {
		ctx := context.Background()
		tests := []struct {
			name      string
			events    int
			wantFirst int64
		}{
			{"one", 1, 1},
			{"three", 3, 2},
			{"none", 0, 5},
			{"two", 2, 5},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				room := fmt.Sprintf("!sp%d:x", i)
				want := map[string]int64{}
				tx(t, d, func(s *Store) error {
					if err := s.InsertRoom(ctx, room, "10", "@a:x", 1); err != nil {
						return err
					}
					positions := map[int64]int64{}
					first, err := s.NextStreamPositions(ctx, tt.events)
					if err != nil {
						return err
					}
					if first != tt.wantFirst {
						t.Fatalf("first position %d, want %d", first, tt.wantFirst)
					}
					for j := 0; j < tt.events; j++ {
						id := fmt.Sprintf("$%s_%d", tt.name, j)
						nid, err := s.InsertEvent(ctx, &EventRow{EventID: id, RoomID: room, Type: "m.room.message", Sender: "@a:x",
							Depth: int64(j + 1), JSON: []byte(`{}`)})
						if err != nil {
							return err
						}
						positions[nid] = first + int64(j)
						want[id] = first + int64(j)
					}
					writes := s.Writes()
					if _, err := s.EventByID(ctx, "$none"); err != nil {
						return err
					}
					if s.Writes() != writes {
						t.Fatalf("a SELECT counted as a write")
					}
					if err := s.SetEventStreamPositions(ctx, positions); err != nil {
						return err
					}
					if len(positions) > 0 && s.Writes() != writes+1 {
						t.Fatalf("writes %d after an UPDATE, want %d", s.Writes(), writes+1)
					}
					return nil
				})
				for id, pos := range want {
					row, err := d.Reader().EventByID(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					if row.StreamPos != pos {
						t.Fatalf("%s at position %d, want %d", id, row.StreamPos, pos)
					}
				}
			})
		}
	})
}

// TestAssignStreamPositions assigns a transaction's positions and records them on its
// events (offsets from the first; an output without an event row takes a position too),
// in one statement on Postgres, and counts it as a write.
func TestAssignStreamPositions(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *Database) {
		ctx := context.Background()
		tests := []struct {
			name    string
			records int
			rows    []int64 // offsets of the records that have an event row
		}{
			{"one", 1, []int64{0}},
			{"three", 3, []int64{0, 1, 2}},
			{"gap", 3, []int64{0, 2}},
			{"no rows", 2, nil},
		}
		var next int64 = 1
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				room := fmt.Sprintf("!asp%d:x", i)
				want := map[string]int64{}
				tx(t, d, func(s *Store) error {
					if err := s.InsertRoom(ctx, room, "10", "@a:x", 1); err != nil {
						return err
					}
					offsets := map[int64]int64{}
					ids := map[int64]string{}
					for _, off := range tt.rows {
						id := fmt.Sprintf("$asp_%s_%d", tt.name, off)
						nid, err := s.InsertEvent(ctx, &EventRow{EventID: id, RoomID: room, Type: "m.room.message", Sender: "@a:x",
							Depth: off + 1, JSON: []byte(`{}`)})
						if err != nil {
							return err
						}
						offsets[nid], ids[nid] = off, id
					}
					writes := s.Writes()
					first, err := s.AssignStreamPositions(ctx, tt.records, offsets)
					if err != nil {
						return err
					}
					if first != next {
						t.Fatalf("first position %d, want %d", first, next)
					}
					if s.Writes() <= writes {
						t.Fatalf("writes %d after assigning positions, want more than %d", s.Writes(), writes)
					}
					for nid, off := range offsets {
						want[ids[nid]] = first + off
					}
					return nil
				})
				next += int64(tt.records)
				for id, pos := range want {
					row, err := d.Reader().EventByID(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					if row.StreamPos != pos {
						t.Fatalf("%s at position %d, want %d", id, row.StreamPos, pos)
					}
				}
				if pos, err := d.Reader().StreamPos(ctx); err != nil || pos != next-1 {
					t.Fatalf("counter at %d (%v), want %d", pos, err, next-1)
				}
			})
		}
	})
}
