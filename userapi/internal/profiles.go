package internal

import (
	"context"
	"errors"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/sqlutil"
	"github.com/axon-matrix/axon/userapi/api"
	"github.com/axon-matrix/axon/userapi/storage"
)

// GetProfile returns a local user's profile, or M_NOT_FOUND. Profiles of remote users are
// the clientapi's to fetch over federation.
func (u *UserAPI) GetProfile(ctx context.Context, userID string) (*api.Profile, error) {
	local, err := u.localpartOf(userID)
	if err != nil {
		return nil, err
	}
	p, err := storage.SelectProfile(ctx, u.db.DB, local)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, httputil.NotFound("Profile of %s was not found", userID)
	}
	if err != nil {
		return nil, err
	}
	return &api.Profile{UserID: userID, DisplayName: p.DisplayName, AvatarURL: p.AvatarURL}, nil
}

// SetDisplayName sets a local user's display name ("" removes it); M_NOT_FOUND for an
// unknown user.
func (u *UserAPI) SetDisplayName(ctx context.Context, userID, displayName string) error {
	return u.setProfileField(ctx, userID, displayName, storage.UpdateDisplayName)
}

// SetAvatarURL sets a local user's avatar URL ("" removes it); M_NOT_FOUND for an unknown user.
func (u *UserAPI) SetAvatarURL(ctx context.Context, userID, avatarURL string) error {
	return u.setProfileField(ctx, userID, avatarURL, storage.UpdateAvatarURL)
}

func (u *UserAPI) setProfileField(ctx context.Context, userID, value string,
	update func(context.Context, sqlutil.Querier, string, string) error) error {
	local, err := u.localpartOf(userID)
	if err != nil {
		return err
	}
	err = update(ctx, u.db.DB, local, value)
	if errors.Is(err, storage.ErrNotFound) {
		return httputil.NotFound("Unknown user %s", userID)
	}
	return err
}
