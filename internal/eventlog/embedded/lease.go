package embedded

import (
	"context"
	"time"
)

// A lease makes one Consume call at a time the owner of a (group, topic), so two processes
// consuming the same group on a shared Postgres database do not both handle every message.
// The owner renews it; a killed owner's lease expires after Config.LeaseTTL.

// acquireLease takes or renews the lease for owner; false means another owner holds it.
func (l *Log) acquireLease(ctx context.Context, group, topic, owner string) (bool, error) {
	now := time.Now()
	res, err := l.db.ExecContext(ctx, `INSERT INTO eventlog_leases (grp, topic, owner, expires_ms) VALUES ($1, $2, $3, $4)
		ON CONFLICT (grp, topic) DO UPDATE SET owner = excluded.owner, expires_ms = excluded.expires_ms
		WHERE eventlog_leases.owner = excluded.owner OR eventlog_leases.expires_ms < $5`,
		group, topic, owner, now.Add(l.cfg.LeaseTTL).UnixMilli(), now.UnixMilli())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// releaseLease gives the lease up so the next Consume call need not wait for it to expire.
func (l *Log) releaseLease(ctx context.Context, group, topic, owner string) error {
	_, err := l.db.ExecContext(ctx, `DELETE FROM eventlog_leases WHERE grp = $1 AND topic = $2 AND owner = $3`,
		group, topic, owner)
	return err
}
