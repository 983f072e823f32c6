package embedded

import (
	"context"
	"time"
)

// Retention: a message is deleted once every consumer group registered on its topic has
// consumed it (a group registers when it first consumes the topic: eventlog_offsets).
// A topic no group has consumed yet keeps everything, so a component started later still
// reads its history. A group that is never consumed again holds messages back; remove it
// with DeleteGroup.

func (l *Log) retentionLoop() {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.RetentionInterval)
		if n, err := l.Retain(ctx); err != nil {
			l.logger().WithError(err).Warn("retention sweep failed")
		} else if n > 0 {
			l.logger().WithField("deleted", n).Debug("retention sweep")
		}
		cancel()
	}
}

// Retain deletes the messages every registered group has consumed and returns how many.
// It runs periodically (Config.RetentionInterval); tests and tools may call it directly.
func (l *Log) Retain(ctx context.Context) (int64, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT topic, part, MIN(next_offset) FROM eventlog_offsets GROUP BY topic, part`)
	if err != nil {
		return 0, err
	}
	type cut struct {
		topic string
		part  int32
		below int64
	}
	var cuts []cut
	for rows.Next() {
		var c cut
		if err := rows.Scan(&c.topic, &c.part, &c.below); err != nil {
			rows.Close()
			return 0, err
		}
		cuts = append(cuts, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var total int64
	for _, c := range cuts {
		res, err := l.db.ExecContext(ctx, `DELETE FROM eventlog_messages WHERE topic = $1 AND part = $2 AND msg_offset < $3`,
			c.topic, c.part, c.below)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// DeleteGroup forgets a consumer group's offsets on every topic, so retention no longer
// keeps messages for it. The group starts again by its reset policy if it ever consumes.
func (l *Log) DeleteGroup(ctx context.Context, group string) error {
	_, err := l.db.ExecContext(ctx, `DELETE FROM eventlog_offsets WHERE grp = $1`, group)
	return err
}
