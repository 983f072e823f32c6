package internal

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"math/big"
	"net/http"
	"regexp"
	"time"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/userapi/api"
	"github.com/axon-matrix/axon/userapi/storage"
)

// Registration tokens (spec 1.2, m.login.registration_token), with Synapse's rules: a
// token is 1-64 characters of A-Za-z0-9._~- ; a generated one has 16 unless asked
// otherwise; uses_allowed is a non-negative count and expiry_time a time not yet past.
const (
	tokenChars         = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-"
	tokenDefaultLength = 16
	tokenMaxLength     = 64
	// reservationLifetime is how long a registration that passed the token stage keeps its
	// pending use. It is the clientapi's UIA session lifetime: a session that old has
	// expired, so its registration can no longer finish.
	reservationLifetime = 30 * time.Minute
)

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,64}$`)

func toRegistrationToken(r *storage.RegistrationTokenRow) *api.RegistrationToken {
	return &api.RegistrationToken{Token: r.Token, UsesAllowed: r.UsesAllowed, Pending: r.Pending,
		Completed: r.Completed, ExpiryTime: r.ExpiryTime}
}

func (u *UserAPI) checkTokenLimits(usesAllowed, expiryTime *int64) error {
	if usesAllowed != nil && *usesAllowed < 0 {
		return httputil.InvalidParam("uses_allowed must be a non-negative integer or null")
	}
	if expiryTime != nil && *expiryTime < u.nowMS() {
		return httputil.InvalidParam("expiry_time must not be in the past")
	}
	return nil
}

// releaseStale gives the pending uses of abandoned registrations back (see
// reservationLifetime), so counts and validity are current before a token is read.
func (u *UserAPI) releaseStale(ctx context.Context, tx *sql.Tx) error {
	return storage.ReleaseReservationsBefore(ctx, tx, u.nowMS()-reservationLifetime.Milliseconds())
}

// CreateRegistrationToken implements api.UserAPI.
func (u *UserAPI) CreateRegistrationToken(ctx context.Context, req *api.NewRegistrationTokenRequest) (*api.RegistrationToken, error) {
	if err := u.checkTokenLimits(req.UsesAllowed, req.ExpiryTime); err != nil {
		return nil, err
	}
	generate := req.Token == ""
	if generate {
		if req.Length == 0 {
			req.Length = tokenDefaultLength
		}
		if req.Length < 1 || req.Length > tokenMaxLength {
			return nil, httputil.InvalidParam("length must be an integer between 1 and %d", tokenMaxLength)
		}
	} else if !tokenRE.MatchString(req.Token) {
		return nil, httputil.InvalidParam("token must be 1-%d characters of A-Z, a-z, 0-9, '.', '_', '~' and '-'", tokenMaxLength)
	}
	for attempt := 0; ; attempt++ {
		row := &storage.RegistrationTokenRow{Token: req.Token, UsesAllowed: req.UsesAllowed, ExpiryTime: req.ExpiryTime}
		if generate {
			t, err := randomToken(req.Length)
			if err != nil {
				return nil, err
			}
			row.Token = t
		}
		ok, err := storage.InsertRegistrationToken(ctx, u.db.DB, row)
		if err != nil {
			return nil, err
		}
		if ok {
			return toRegistrationToken(row), nil
		}
		if !generate {
			return nil, httputil.InvalidParam("Token already exists")
		}
		if attempt == 10 { // short generated tokens can run out
			return nil, httputil.InvalidParam("Could not find a free token of length %d", req.Length)
		}
	}
}

func randomToken(n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(tokenChars)))
	for i := range b {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b[i] = tokenChars[k.Int64()]
	}
	return string(b), nil
}

// ListRegistrationTokens implements api.UserAPI.
func (u *UserAPI) ListRegistrationTokens(ctx context.Context, valid *bool) ([]api.RegistrationToken, error) {
	var rows []storage.RegistrationTokenRow
	err := u.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		if err := u.releaseStale(ctx, tx); err != nil {
			return err
		}
		var err error
		rows, err = storage.SelectRegistrationTokens(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	now := u.nowMS()
	out := []api.RegistrationToken{}
	for i := range rows {
		if valid == nil || rows[i].Valid(now) == *valid {
			out = append(out, *toRegistrationToken(&rows[i]))
		}
	}
	return out, nil
}

// getToken reads one token in tx after releasing stale reservations; M_NOT_FOUND if none.
func (u *UserAPI) getToken(ctx context.Context, tx *sql.Tx, token string, forUpdate bool) (*storage.RegistrationTokenRow, error) {
	if err := u.releaseStale(ctx, tx); err != nil {
		return nil, err
	}
	row, err := storage.SelectRegistrationToken(ctx, tx, u.db.DB.Dialect, token, forUpdate)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, httputil.NotFound("No such registration token: %s", token)
	}
	return row, err
}

// GetRegistrationToken implements api.UserAPI.
func (u *UserAPI) GetRegistrationToken(ctx context.Context, token string) (*api.RegistrationToken, error) {
	var row *storage.RegistrationTokenRow
	err := u.db.WithTransaction(ctx, func(tx *sql.Tx) (err error) {
		row, err = u.getToken(ctx, tx, token, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return toRegistrationToken(row), nil
}

// UpdateRegistrationToken implements api.UserAPI.
func (u *UserAPI) UpdateRegistrationToken(ctx context.Context, req *api.UpdateRegistrationTokenRequest) (*api.RegistrationToken, error) {
	var row *storage.RegistrationTokenRow
	err := u.db.WithTransaction(ctx, func(tx *sql.Tx) (err error) {
		if row, err = u.getToken(ctx, tx, req.Token, true); err != nil {
			return err
		}
		if req.SetUsesAllowed {
			row.UsesAllowed = req.UsesAllowed
		}
		if req.SetExpiryTime {
			row.ExpiryTime = req.ExpiryTime
		}
		var uses, expiry *int64
		if req.SetUsesAllowed {
			uses = row.UsesAllowed
		}
		if req.SetExpiryTime {
			expiry = row.ExpiryTime
		}
		if err := u.checkTokenLimits(uses, expiry); err != nil {
			return err
		}
		return storage.UpdateRegistrationTokenLimits(ctx, tx, req.Token, row.UsesAllowed, row.ExpiryTime)
	})
	if err != nil {
		return nil, err
	}
	return toRegistrationToken(row), nil
}

// DeleteRegistrationToken implements api.UserAPI. Registrations that passed the token stage
// with it can no longer finish.
func (u *UserAPI) DeleteRegistrationToken(ctx context.Context, token string) error {
	return u.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		err := storage.DeleteRegistrationToken(ctx, tx, token)
		if errors.Is(err, storage.ErrNotFound) {
			return httputil.NotFound("No such registration token: %s", token)
		}
		return err
	})
}

// RegistrationTokenValid implements api.UserAPI.
func (u *UserAPI) RegistrationTokenValid(ctx context.Context, token string) (bool, error) {
	if !tokenRE.MatchString(token) {
		return false, nil
	}
	var valid bool
	err := u.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		row, err := u.getToken(ctx, tx, token, false)
		if isNotFound(err) {
			return nil // unknown: not valid
		}
		if err != nil {
			return err
		}
		valid = row.Valid(u.nowMS())
		return nil
	})
	return valid, err
}

func isNotFound(err error) bool {
	var me *httputil.MatrixError
	return errors.As(err, &me) && me.ErrCode == "M_NOT_FOUND"
}

// errTokenInvalid is the UIA stage error for a token that is unknown, expired or used up.
func errTokenInvalid() *httputil.MatrixError {
	return &httputil.MatrixError{Status: http.StatusUnauthorized, ErrCode: "M_UNAUTHORIZED", Err: "Invalid registration token"}
}

// ReserveRegistrationToken implements api.UserAPI.
func (u *UserAPI) ReserveRegistrationToken(ctx context.Context, token, session string) error {
	if session == "" {
		return httputil.MissingParam("Missing UIA session")
	}
	if !tokenRE.MatchString(token) {
		return errTokenInvalid()
	}
	return u.db.WithTransaction(ctx, func(tx *sql.Tx) error {
		row, err := u.getToken(ctx, tx, token, true)
		if isNotFound(err) {
			return errTokenInvalid()
		}
		if err != nil {
			return err
		}
		prev, err := storage.SelectReservation(ctx, tx, session)
		switch {
		case err == nil && prev == token:
			return nil // this session already holds a use of it
		case err == nil: // the session switches tokens: give the other one back
			if _, err := storage.DeleteReservation(ctx, tx, session); err != nil {
				return err
			}
			if err := storage.AddPending(ctx, tx, prev, -1); err != nil {
				return err
			}
		case !errors.Is(err, storage.ErrNotFound):
			return err
		}
		if !row.Valid(u.nowMS()) {
			return errTokenInvalid()
		}
		if err := storage.AddPending(ctx, tx, token, 1); err != nil {
			return err
		}
		return storage.InsertReservation(ctx, tx, session, token, u.nowMS())
	})
}

// completeRegistrationToken, in CreateAccount's transaction, turns session's reservation
// into a completed use; 401 M_UNAUTHORIZED when the reservation is gone (expired, or the
// token was deleted).
func completeRegistrationToken(ctx context.Context, tx *sql.Tx, session string) error {
	token, err := storage.DeleteReservation(ctx, tx, session)
	if errors.Is(err, storage.ErrNotFound) {
		return errTokenInvalid()
	}
	if err != nil {
		return err
	}
	err = storage.CompletePending(ctx, tx, token)
	if errors.Is(err, storage.ErrNotFound) {
		return errTokenInvalid()
	}
	return err
}
