package storage

import (
	"context"
	"testing"
)

// TestPromoteOutlierKeepsFullJSON: promotion keeps the longer of the two copies of an
// event (the stored outlier, the live event): an outlier that came redacted (its content
// hash did not match) takes the whole live copy; a whole outlier is not replaced by a
// redacted live copy. Promoting anything but an outlier fails.
func TestPromoteOutlierKeepsFullJSON(t *testing.T) {
	forEachDB(t, func(t *testing.T, d *Database) {
		ctx := context.Background()
		sk := ""
		redacted, whole := `{"type":"m.room.topic","content":{}}`, `{"type":"m.room.topic","content":{"topic":"hello"}}`
		var nidA, nidB int64
		tx(t, d, func(s *Store) error {
			if err := s.InsertRoom(ctx, "!r:x", "10", "@a:x", 1); err != nil {
				return err
			}
			var err error
			if nidA, err = s.InsertEvent(ctx, &EventRow{EventID: "$a", RoomID: "!r:x", Type: "m.room.topic", StateKey: &sk,
				Sender: "@a:x", Depth: 1, JSON: []byte(redacted), IsOutlier: true}); err != nil {
				return err
			}
			nidB, err = s.InsertEvent(ctx, &EventRow{EventID: "$b", RoomID: "!r:x", Type: "m.room.topic", StateKey: &sk,
				Sender: "@a:x", Depth: 2, JSON: []byte(whole), IsOutlier: true})
			return err
		})
		tx(t, d, func(s *Store) error {
			if err := s.PromoteOutlier(ctx, nidA, &EventRow{EventID: "$a", JSON: []byte(whole)}); err != nil {
				return err
			}
			return s.PromoteOutlier(ctx, nidB, &EventRow{EventID: "$b", JSON: []byte(redacted)})
		})
		tx(t, d, func(s *Store) error {
			rows, err := s.EventsByID(ctx, []string{"$a", "$b"})
			if err != nil {
				return err
			}
			if len(rows) != 2 {
				t.Fatalf("%d rows", len(rows))
			}
			for _, r := range rows {
				if r.IsOutlier || string(r.JSON) != whole {
					t.Errorf("%s: outlier %v, JSON %s; want promoted with %s", r.EventID, r.IsOutlier, r.JSON, whole)
				}
			}
			if err := s.PromoteOutlier(ctx, nidA, &EventRow{EventID: "$a", JSON: []byte(whole)}); err == nil {
				t.Error("promoting an event that is no outlier succeeded")
			}
			return nil
		})
	})
}
