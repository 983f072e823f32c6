package storage

import "context"

// TxnEventID returns the event a (room, sender, device, txn) already produced, or "".
func (s *Store) TxnEventID(ctx context.Context, roomID, sender, deviceID, txnID string) (string, error) {
	var id string
	err := s.q.QueryRowContext(ctx, `SELECT event_id FROM roomserver_transactions WHERE room_id = $1 AND sender = $2 AND device_id = $3 AND txn_id = $4`,
		roomID, sender, deviceID, txnID).Scan(&id)
	if noRows(err) {
		return "", nil
	}
	return id, err
}

// InsertTxn records the event a (room, sender, device, txn) produced.
func (s *Store) InsertTxn(ctx context.Context, roomID, sender, deviceID, txnID, eventID string) error {
	_, err := s.q.ExecContext(ctx, `INSERT INTO roomserver_transactions (room_id, sender, device_id, txn_id, event_id) VALUES ($1, $2, $3, $4, $5)`,
		roomID, sender, deviceID, txnID, eventID)
	return err
}
