package storage

import "context"

// InsertRedaction records that a redaction event redacts an event, and whether the redaction
// has been applied (the redacted event's JSON replaced). Federation will store redactions of
// events not yet known with applied = false, and apply them when the event arrives.
func (s *Store) InsertRedaction(ctx context.Context, redactionID, redactsID string, applied bool) error {
	_, err := s.q.ExecContext(ctx, `INSERT INTO roomserver_redactions (redaction_event_id, redacts_event_id, applied) VALUES ($1, $2, $3)
		ON CONFLICT (redaction_event_id) DO UPDATE SET applied = excluded.applied`, redactionID, redactsID, applied)
	return err
}

// PendingRedactions returns the unapplied redactions of an event.
func (s *Store) PendingRedactions(ctx context.Context, redactsID string) ([]string, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT redaction_event_id FROM roomserver_redactions WHERE redacts_event_id = $1 AND applied = FALSE ORDER BY redaction_event_id`, redactsID)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}
