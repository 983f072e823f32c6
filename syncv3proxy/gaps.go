package syncv3proxy

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"

	"github.com/sirupsen/logrus"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// Gaps. An upstream /sync answer whose timeline of a room is limited left events out
// before it (more came since the last poll than the poll's timeline limit, or the history
// before the proxy's first poll). The proxy records the gap below the positions of that
// answer's events of the room and fills it when the room stream's pagination (or a delta)
// reaches it, from the upstream's GET /rooms/{roomId}/messages with the requesting
// client's own token, so walking back through history never skips events.
//
// Room positions are handed out a stride apart (nextRoomPos), so the positions between
// two of them are free: a gap's events are stored at positions in (floor, pos), the newest
// just below pos, in the order /messages returns them, and so sort before the answer's
// state and timeline and after everything stored earlier.
const (
	// posStride is the distance between room positions handed out by ingestion: room
	// for that many events, less one, in the gap below each.
	posStride = 1 << 20
	// fillBatch is the limit of one upstream /messages request.
	fillBatch = 100
	// maxFillsPerPage bounds the /messages requests one page makes; the page then ends at
	// the gap and its next page continues the fill.
	maxFillsPerPage = 8
)

// nextRoomPos hands out the next room position: the next multiple of posStride.
func (in *ingester) nextRoomPos() int64 {
	in.room = (in.room/posStride + 1) * posStride
	return in.room
}

// gap records the gap before a limited timeline of the room; floor is the newest room
// position handed out before this answer's events of the room. Nothing is recorded when
// the timeline's first event is stored already (another account's poller saw it, and what
// came before it).
func (in *ingester) gap(roomID string, floor int64, tl *timeline) error {
	if !tl.Limited || tl.PrevBatch == "" || len(tl.Events) == 0 {
		return nil
	}
	var h eventHead
	if json.Unmarshal(tl.Events[0], &h) != nil || h.EventID == "" {
		return nil
	}
	var n int
	if err := in.tx.QueryRowContext(in.ctx, `SELECT COUNT(*) FROM syncv3proxy_events WHERE room_id = $1 AND event_id = $2`,
		roomID, h.EventID).Scan(&n); err != nil || n > 0 {
		return err
	}
	top := (floor/posStride + 1) * posStride // the first position this answer hands out
	return in.exec(`INSERT INTO syncv3proxy_gaps (id, room_id, pos, floor, prev_batch) VALUES ($1, $2, $3, $4, $5)`,
		top, roomID, top, floor, tl.PrevBatch)
}

// gapRow is one unfilled gap: events missing at positions in (floor, pos).
type gapRow struct {
	id, pos, floor int64
	prevBatch      string
}

// gapIn is the newest gap of the room whose missing positions meet (lower, top], if any.
func (s *Source) gapIn(ctx context.Context, roomID string, lower, top int64) (*gapRow, error) {
	var g gapRow
	err := s.st.db.Reader().QueryRowContext(ctx, `SELECT id, pos, floor, prev_batch FROM syncv3proxy_gaps
		WHERE room_id = $1 AND floor < $2 AND pos - 1 > $3 ORDER BY pos DESC LIMIT 1`, roomID, top, lower).
		Scan(&g.id, &g.pos, &g.floor, &g.prevBatch)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// tokenKeyType keys the requesting client's access token in a request's context.
type tokenKeyType struct{}

func withToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKeyType{}, token)
}

func tokenOf(ctx context.Context) string {
	t, _ := ctx.Value(tokenKeyType{}).(string)
	return t
}

// messagesPage is the part of an upstream /messages answer a fill reads.
type messagesPage struct {
	Chunk []json.RawMessage `json:"chunk"`
	End   string            `json:"end"`
}

// fill reads one batch of the gap's events from the upstream (older than its prev_batch)
// with the token and stores them below the gap's pos. The gap closes when the upstream
// has no older events, when an event is one stored before the gap, or when the positions
// of the gap run out (more than posStride-1 events: the older ones are not served).
func (s *Source) fill(ctx context.Context, token, roomID string, g *gapRow) error {
	var page messagesPage
	q := url.Values{"dir": {"b"}, "from": {g.prevBatch}, "limit": {strconv.Itoa(fillBatch)}}
	if err := s.pollers.get(ctx, token, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/messages", q, &page); err != nil {
		return err
	}
	s.st.writeMu.Lock()
	defer s.st.writeMu.Unlock()
	return sqlutil.WithTransaction(ctx, s.st.db.DB, func(tx *sql.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT prev_batch FROM syncv3proxy_gaps WHERE id = $1`, g.id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && cur != g.prevBatch) {
			return nil // filled meanwhile by another request
		}
		if err != nil {
			return err
		}
		pos, closed, err := fillFrom(ctx, tx, roomID, g, page.Chunk)
		if err != nil {
			return err
		}
		if closed || len(page.Chunk) == 0 || page.End == "" || page.End == g.prevBatch {
			_, err = tx.ExecContext(ctx, `DELETE FROM syncv3proxy_gaps WHERE id = $1`, g.id)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE syncv3proxy_gaps SET pos = $1, prev_batch = $2 WHERE id = $3`, pos, page.End, g.id)
		}
		return err
	})
}

// fillFrom stores a /messages chunk (newest first) of the gap's events below its pos and
// returns the lowest position used (g.pos when none) and whether the gap is closed.
func fillFrom(ctx context.Context, tx *sql.Tx, roomID string, g *gapRow, chunk []json.RawMessage) (int64, bool, error) {
	pos := g.pos
	for _, ev := range chunk {
		var h eventHead
		if json.Unmarshal(ev, &h) != nil || h.EventID == "" || h.Type == "" {
			continue
		}
		var stored int64
		var tl int
		err := tx.QueryRowContext(ctx, `SELECT pos, timeline FROM syncv3proxy_events WHERE room_id = $1 AND event_id = $2`,
			roomID, h.EventID).Scan(&stored, &tl)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if pos-1 <= g.floor {
				return pos, true, nil // out of positions: older events are not served
			}
			pos--
			_, err = tx.ExecContext(ctx, `INSERT INTO syncv3proxy_events (pos, room_id, event_id, type, state_key, timeline, event)
				VALUES ($1, $2, $3, $4, $5, 1, $6)`, pos, roomID, h.EventID, h.Type, h.StateKey, string(withRoomID(ev, roomID)))
		case err != nil:
		case tl == 1 && stored < g.pos:
			return pos, true, nil // the events before the gap are stored: it is filled
		case tl == 1:
			// Stored after the gap already (another account's poller): it stays there.
		case stored > g.floor && pos-1 > g.floor:
			// State of the limited answer (its state block): its place in the timeline is
			// here, before the answer's other events; so is that of the memberships recorded
			// at its position.
			pos--
			if _, err = tx.ExecContext(ctx, `UPDATE syncv3proxy_events SET pos = $1, timeline = 1 WHERE pos = $2`, pos, stored); err == nil {
				_, err = tx.ExecContext(ctx, `UPDATE syncv3proxy_memberships SET pos = $1 WHERE room_id = $2 AND pos = $3`, pos, roomID, stored)
			}
		default:
			// State stored before the gap: a timeline event too, where it is.
			_, err = tx.ExecContext(ctx, `UPDATE syncv3proxy_events SET timeline = 1 WHERE pos = $1`, stored)
		}
		if err != nil {
			return 0, false, err
		}
	}
	return pos, false, nil
}

// fillLog logs a failed fill; the page is served up to the gap.
func fillLog(roomID string, err error) {
	logrus.WithError(err).WithField("room_id", roomID).Warn("syncv3proxy: reading a timeline gap from the upstream's /messages")
}
