package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Event is a room event as the syncapi stores it.
type Event struct {
	// StreamPos is the topic 2 position; 0 for a state event never seen on the timeline.
	StreamPos int64
	EventID   string
	RoomID    string
	Type      string
	Sender    string
	// StateKey is nil for a message event.
	StateKey *string
	// Membership is content.membership of an m.room.member event, "" otherwise.
	Membership     string
	OriginServerTS int64
	// JSON is the event in federation format (its redacted form once redacted).
	JSON []byte
	// TxnDeviceID and TxnID are the sender's device and transaction ID, for
	// unsigned.transaction_id in that device's sync.
	TxnDeviceID, TxnID string
	// HistoryVisibility is the room's history visibility in force for the event.
	HistoryVisibility string
	// RedactedBecause is the redaction event (federation format) once redacted, else nil.
	RedactedBecause []byte
	// ReplacesState, PrevContent and PrevSender describe the state event this one replaced
	// in the room's state ("" / nil when none), as it was when this event arrived.
	ReplacesState string
	PrevContent   []byte
	PrevSender    string
	// Derived, when set, holds what the sync engine computes from the fields above (the
	// parsed JSON, the client-format rendering), computed once and shared by every copy of
	// the Event: the /sync requests one topic 2 event woke share one read of it. The
	// storage never sets it; nil means compute every time.
	Derived *Derived
}

// Derived is a value computed once from an Event that must not change afterwards (see
// Event.Derived); safe for concurrent use.
type Derived struct {
	once sync.Once
	v    any
}

// Load returns the value, calling compute the first time.
func (d *Derived) Load(compute func() any) any {
	d.once.Do(func() { d.v = compute() })
	return d.v
}

// NewRoomEvent is one topic 2 new-event record, ready to store.
type NewRoomEvent struct {
	Event Event
	// AddsStateEventIDs and RemovesStateEventIDs are the state change the event causes.
	AddsStateEventIDs    []string
	RemovesStateEventIDs []string
	// StateEvents are added state events other than Event (fetched from the roomserver);
	// stored without a position. An added ID that is neither Event, here nor already
	// stored is an error.
	StateEvents []Event
	// Applied is set by StoreRoomEvent: the state changes it wrote at the record's
	// position (none for a replay), which the notifier's record of what moved keeps.
	Applied []StateDelta
}

const eventCols = `stream_pos, event_id, room_id, event_type, sender, state_key, membership, origin_server_ts, event_json, txn_device_id, txn_id, history_visibility, redacted_because, replaces_state, prev_content, prev_sender`

func scanEvent(sc interface{ Scan(...any) error }) (Event, error) {
	var e Event
	var pos sql.NullInt64
	var sk sql.NullString
	var js, because, prev string
	if err := sc.Scan(&pos, &e.EventID, &e.RoomID, &e.Type, &e.Sender, &sk, &e.Membership, &e.OriginServerTS, &js,
		&e.TxnDeviceID, &e.TxnID, &e.HistoryVisibility, &because, &e.ReplacesState, &prev, &e.PrevSender); err != nil {
		return Event{}, err
	}
	if prev != "" {
		e.PrevContent = []byte(prev)
	}
	e.StreamPos = pos.Int64
	if sk.Valid {
		s := sk.String
		e.StateKey = &s
	}
	e.JSON = []byte(js)
	if because != "" {
		e.RedactedBecause = []byte(because)
	}
	return e, nil
}

func scanEvents(rows *sql.Rows, err error) ([]Event, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func insertEvent(ctx context.Context, tx *sql.Tx, e *Event) error {
	var pos any
	if e.StreamPos > 0 {
		pos = e.StreamPos
	}
	var sk any
	if e.StateKey != nil {
		sk = *e.StateKey
	}
	// An event first stored as a position-less state event gets its position when it
	// arrives on the timeline; an event that already has one keeps it (replays change nothing).
	_, err := tx.ExecContext(ctx, `INSERT INTO syncapi_events (`+eventCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, '', $13, $14, $15)
		ON CONFLICT (event_id) DO UPDATE SET stream_pos = excluded.stream_pos, txn_device_id = excluded.txn_device_id,
			txn_id = excluded.txn_id, history_visibility = excluded.history_visibility,
			replaces_state = excluded.replaces_state, prev_content = excluded.prev_content, prev_sender = excluded.prev_sender
		WHERE syncapi_events.stream_pos IS NULL AND excluded.stream_pos IS NOT NULL`,
		pos, e.EventID, e.RoomID, e.Type, e.Sender, sk, e.Membership, e.OriginServerTS, string(e.JSON),
		e.TxnDeviceID, e.TxnID, e.HistoryVisibility, e.ReplacesState, string(e.PrevContent), e.PrevSender)
	return err
}

// StoreRoomEvent stores a topic 2 new-event record at position pos, the state change it
// causes, and advances the room stream's watermark, all in one transaction. A record whose
// position was stored before changes nothing (Duplicate).
func (d *Database) StoreRoomEvent(ctx context.Context, pos int64, ev *NewRoomEvent) (adv Advance, err error) {
	err = sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		w, err := d.lockStream(ctx, tx, StreamRoom)
		if err != nil {
			return err
		}
		adv, err = storeRoomEvent(ctx, tx, w, pos, ev)
		return err
	})
	return adv, err
}

// storeRoomEvent is StoreRoomEvent inside tx, the room watermark being w (read by
// lockStream in tx, or the To of the previous record stored in tx).
func storeRoomEvent(ctx context.Context, tx *sql.Tx, w, pos int64, ev *NewRoomEvent) (Advance, error) {
	if dup, err := seen(ctx, tx, StreamRoom, w, pos); err != nil || dup {
		return Advance{From: w, To: w, Duplicate: dup}, err
	}
	if err := writeRoomEvent(ctx, tx, pos, ev); err != nil {
		return Advance{}, err
	}
	return receive(ctx, tx, StreamRoom, w, pos)
}

// writeRoomEvent writes a new (not replayed) record at pos in tx: the event, the state
// events it carries and its state change (setting ev.Applied); not its receipt.
func writeRoomEvent(ctx context.Context, tx *sql.Tx, pos int64, ev *NewRoomEvent) error {
	e := ev.Event
	e.StreamPos = pos
	if e.StateKey != nil && contains(ev.AddsStateEventIDs, e.EventID) {
		// A room's records arrive in order, so the state before pos is complete here.
		prev, err := scanEvent(tx.QueryRowContext(ctx, `SELECT `+prefixed("e.", eventCols)+` FROM syncapi_state_history h
			JOIN syncapi_events e ON e.event_id = h.event_id
			WHERE h.room_id = $1 AND h.event_type = $2 AND h.state_key = $3 AND h.stream_pos < $4
			ORDER BY h.stream_pos DESC LIMIT 1`, e.RoomID, e.Type, *e.StateKey, pos))
		switch {
		case err == nil:
			e.ReplacesState, e.PrevContent, e.PrevSender = prev.EventID, contentOf(prev.JSON), prev.Sender
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
	}
	if err := insertEvent(ctx, tx, &e); err != nil {
		return fmt.Errorf("syncapi storage: storing event %s: %w", e.EventID, err)
	}
	known := map[string]*Event{e.EventID: &e}
	for i := range ev.StateEvents {
		se := ev.StateEvents[i]
		se.StreamPos = 0
		if err := insertEvent(ctx, tx, &se); err != nil {
			return fmt.Errorf("syncapi storage: storing state event %s: %w", se.EventID, err)
		}
		known[se.EventID] = &se
	}
	var err error
	ev.Applied, err = applyStateChange(ctx, tx, e.RoomID, pos, known, ev.AddsStateEventIDs, ev.RemovesStateEventIDs)
	return err
}

// SkipPosition marks a position as stored without storing anything, for a record that can
// never be stored (malformed): without it the watermark would stop at it forever.
func (d *Database) SkipPosition(ctx context.Context, s Stream, pos int64) (adv Advance, err error) {
	err = sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		w, err := d.lockStream(ctx, tx, s)
		if err != nil {
			return err
		}
		if dup, err := seen(ctx, tx, s, w, pos); err != nil || dup {
			adv = Advance{From: w, To: w, Duplicate: dup}
			return err
		}
		adv, err = receive(ctx, tx, s, w, pos)
		return err
	})
	return adv, err
}

// applyStateChange writes the history rows of one event's state change.
func applyStateChange(ctx context.Context, tx *sql.Tx, roomID string, pos int64, known map[string]*Event, adds, removes []string) ([]StateDelta, error) {
	type change struct {
		eventID    any
		membership string
	}
	changes := map[[2]string]change{}
	for _, id := range adds {
		e, err := lookupStateEvent(ctx, tx, known, id)
		if err != nil {
			return nil, err
		}
		if e == nil || e.StateKey == nil {
			return nil, fmt.Errorf("syncapi storage: added state event %s is unknown or not a state event", id)
		}
		changes[[2]string{e.Type, *e.StateKey}] = change{eventID: e.EventID, membership: e.Membership}
	}
	for _, id := range removes {
		e, err := lookupStateEvent(ctx, tx, known, id)
		if err != nil {
			return nil, err
		}
		if e == nil || e.StateKey == nil {
			continue // never in our state: nothing to remove
		}
		k := [2]string{e.Type, *e.StateKey}
		if _, replaced := changes[k]; !replaced {
			changes[k] = change{eventID: nil}
		}
	}
	applied := make([]StateDelta, 0, len(changes))
	for k, c := range changes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO syncapi_state_history (room_id, event_type, state_key, stream_pos, event_id, membership)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, roomID, k[0], k[1], pos, c.eventID, c.membership); err != nil {
			return nil, fmt.Errorf("syncapi storage: storing state change: %w", err)
		}
		id, _ := c.eventID.(string)
		applied = append(applied, StateDelta{Pos: pos, EventType: k[0], StateKey: k[1], EventID: id})
	}
	return applied, nil
}

func lookupStateEvent(ctx context.Context, tx *sql.Tx, known map[string]*Event, id string) (*Event, error) {
	if e, ok := known[id]; ok {
		return e, nil
	}
	e, err := scanEvent(tx.QueryRowContext(ctx, `SELECT `+eventCols+` FROM syncapi_events WHERE event_id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// StoreRedaction replaces a stored event by its redacted form and records the redaction
// event, then (for pos > 0) marks the record's position on the room stream. Replaying it
// changes nothing. An event the syncapi never stored is left alone.
func (d *Database) StoreRedaction(ctx context.Context, pos int64, redactedEventID string, redactedJSON, redactionEvent []byte) (adv Advance, err error) {
	err = sqlutil.WithTransaction(ctx, d.db.DB, func(tx *sql.Tx) error {
		w, err := d.lockStream(ctx, tx, StreamRoom)
		if err != nil {
			return err
		}
		adv = Advance{From: w, To: w}
		if len(redactedJSON) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE syncapi_events SET event_json = $2, redacted_because = $3 WHERE event_id = $1`,
				redactedEventID, string(redactedJSON), string(redactionEvent)); err != nil {
				return fmt.Errorf("syncapi storage: redacting %s: %w", redactedEventID, err)
			}
		}
		if pos <= 0 {
			return nil
		}
		if dup, err := seen(ctx, tx, StreamRoom, w, pos); err != nil || dup {
			adv.Duplicate = dup
			return err
		}
		adv, err = receive(ctx, tx, StreamRoom, w, pos)
		return err
	})
	return adv, err
}

// MissingEvents returns those of ids the syncapi has not stored.
func (d *Database) MissingEvents(ctx context.Context, ids []string) ([]string, error) {
	var missing []string
	for _, id := range ids {
		var n int
		if err := d.db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM syncapi_events WHERE event_id = $1`, id).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// EventByID returns a stored event, or nil if unknown.
func (d *Database) EventByID(ctx context.Context, eventID string) (*Event, error) {
	e, err := scanEvent(d.db.Reader().QueryRowContext(ctx, `SELECT `+eventCols+` FROM syncapi_events WHERE event_id = $1`, eventID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// RoomEvents returns up to limit timeline events of a room with after < stream_pos ≤ upTo,
// newest first when backwards, oldest first otherwise.
func (d *Database) RoomEvents(ctx context.Context, roomID string, after, upTo int64, backwards bool, limit int) ([]Event, error) {
	order := "ASC"
	if backwards {
		order = "DESC"
	}
	// LIMIT CAST(…): a bare LIMIT parameter makes SQLite re-prepare the statement on
	// every execution (internal/sqlutil/stmtcache.go).
	return scanEvents(d.db.Reader().QueryContext(ctx, `SELECT `+eventCols+` FROM syncapi_events
		WHERE room_id = $1 AND stream_pos > $2 AND stream_pos <= $3 ORDER BY stream_pos `+order+` LIMIT CAST($4 AS INTEGER)`,
		roomID, after, upTo, limit))
}

// EventsBetween returns every timeline event with after < stream_pos ≤ upTo, oldest first
// (what became visible when the watermark moved from after to upTo).
func (d *Database) EventsBetween(ctx context.Context, after, upTo int64) ([]Event, error) {
	return scanEvents(d.db.Reader().QueryContext(ctx, `SELECT `+eventCols+` FROM syncapi_events
		WHERE stream_pos > $1 AND stream_pos <= $2 ORDER BY stream_pos`, after, upTo))
}

// RoomsWithEvents returns the rooms among roomIDs that have timeline events with
// after < stream_pos ≤ upTo.
func (d *Database) RoomsWithEvents(ctx context.Context, roomIDs []string, after, upTo int64) (map[string]bool, error) {
	out := map[string]bool{}
	if len(roomIDs) == 0 || upTo <= after {
		return out, nil
	}
	args := []any{after, upTo}
	ph := make([]string, len(roomIDs))
	for i, r := range roomIDs {
		args = append(args, r)
		ph[i] = fmt.Sprintf("$%d", i+3)
	}
	rows, err := d.db.Reader().QueryContext(ctx, `SELECT DISTINCT room_id FROM syncapi_events
		WHERE stream_pos > $1 AND stream_pos <= $2 AND room_id IN (`+strings.Join(ph, ",")+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out[r] = true
	}
	return out, rows.Err()
}

// EventsByIDs returns the stored events among ids, in no particular order.
func (d *Database) EventsByIDs(ctx context.Context, ids []string) ([]Event, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	ph := make([]string, len(ids))
	for i, id := range ids {
		args[i] = id
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	return scanEvents(d.db.Reader().QueryContext(ctx, `SELECT `+eventCols+` FROM syncapi_events WHERE event_id IN (`+strings.Join(ph, ",")+`)`, args...))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// contentOf returns an event's raw content, or nil.
func contentOf(eventJSON []byte) []byte {
	var e struct {
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(eventJSON, &e) != nil {
		return nil
	}
	return e.Content
}
