package storage

import (
	"context"

	"github.com/axon-matrix/axon/internal/sqlutil"
)

// ProfileRow is one row of userapi_profiles; "" means unset.
type ProfileRow struct {
	Localpart   string
	DisplayName string
	AvatarURL   string
}

// InsertProfile creates a user's profile.
func InsertProfile(ctx context.Context, q sqlutil.Querier, p *ProfileRow) error {
	_, err := q.ExecContext(ctx, `INSERT INTO userapi_profiles (localpart, display_name, avatar_url) VALUES ($1, $2, $3)`,
		p.Localpart, p.DisplayName, p.AvatarURL)
	return err
}

// SelectProfile returns a user's profile, or ErrNotFound.
func SelectProfile(ctx context.Context, q sqlutil.Querier, localpart string) (*ProfileRow, error) {
	p := ProfileRow{Localpart: localpart}
	err := q.QueryRowContext(ctx, `SELECT display_name, avatar_url FROM userapi_profiles WHERE localpart = $1`, localpart).
		Scan(&p.DisplayName, &p.AvatarURL)
	if err != nil {
		return nil, notFound(err)
	}
	return &p, nil
}

// UpdateDisplayName sets a user's display name; ErrNotFound if the user has no profile.
func UpdateDisplayName(ctx context.Context, q sqlutil.Querier, localpart, displayName string) error {
	res, err := q.ExecContext(ctx, `UPDATE userapi_profiles SET display_name = $2 WHERE localpart = $1`, localpart, displayName)
	return affectedOne(res, err)
}

// UpdateAvatarURL sets a user's avatar URL; ErrNotFound if the user has no profile.
func UpdateAvatarURL(ctx context.Context, q sqlutil.Querier, localpart, avatarURL string) error {
	res, err := q.ExecContext(ctx, `UPDATE userapi_profiles SET avatar_url = $2 WHERE localpart = $1`, localpart, avatarURL)
	return affectedOne(res, err)
}
