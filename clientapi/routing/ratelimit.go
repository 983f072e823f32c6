package routing

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/internal/ratelimit"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// limits are the clientapi's rate limits (global.rate_limits), kept per limit so the send
// path costs one nil check, or one map lookup under a mutex, and nothing more. They live in
// this process's memory: each clientapi instance of the polylith counts on its own.
type limits struct {
	set *ratelimit.Set
	// trusted are global.trusted_proxies, whose X-Forwarded-For names the client.
	trusted []netip.Prefix

	message, registration, tokenValidity, joins   *ratelimit.Limiter
	loginAddress, loginAccount, loginFailed       *ratelimit.Limiter
	invitesPerRoom, invitesPerUser, invitesIssuer *ratelimit.Limiter
}

func newLimits(cfg Config) limits {
	s := ratelimit.NewSet(cfg.RateLimits)
	return limits{set: s, trusted: cfg.TrustedProxies,
		message: s.Get(ratelimit.Message), registration: s.Get(ratelimit.Registration), joins: s.Get(ratelimit.Joins),
		tokenValidity: s.Get(ratelimit.RegistrationTokenValidity),
		loginAddress:  s.Get(ratelimit.LoginAddress), loginAccount: s.Get(ratelimit.LoginAccount),
		loginFailed:    s.Get(ratelimit.LoginFailedAttempts),
		invitesPerRoom: s.Get(ratelimit.InvitesPerRoom), invitesPerUser: s.Get(ratelimit.InvitesPerUser),
		invitesIssuer: s.Get(ratelimit.InvitesPerIssuer),
	}
}

// exempt says whether dev's user is never limited: an admin or application service
// account (the account type the userapi gives the device), or one of
// global.rate_limits.exempt_user_ids.
func (rt *Routes) exempt(dev *userapi.Device) bool {
	t := dev.AccountType
	return rt.limits.set.Exempt(dev.UserID, t == userapi.AccountTypeAdmin || t == userapi.AccountTypeAppService)
}

// clientIP is the address of the client that sent r (X-Forwarded-For only from trusted
// proxies).
func (rt *Routes) clientIP(r *http.Request) string {
	return ratelimit.ClientIP(r, rt.limits.trusted)
}

// perUser wraps an authenticated handler: each request takes a token of l for the
// logged-in user before h runs, unless the user is exempt. A nil l (limits off) returns h
// itself.
func (rt *Routes) perUser(l *ratelimit.Limiter, h handlerFunc) handlerFunc {
	if l == nil {
		return h
	}
	return func(r *http.Request, dev *userapi.Device) (any, error) {
		if !rt.exempt(dev) {
			if err := l.Limit(dev.UserID); err != nil {
				return nil, err
			}
		}
		return h(r, dev)
	}
}

// perIP wraps a handler: each request takes a token of l for the client's address.
func (rt *Routes) perIP(l *ratelimit.Limiter, h handlerFunc) handlerFunc {
	if l == nil {
		return h
	}
	return func(r *http.Request, dev *userapi.Device) (any, error) {
		if err := l.Limit(ratelimit.AddressKey(rt.clientIP(r))); err != nil {
			return nil, err
		}
		return h(r, dev)
	}
}

// perIPOnSuccess wraps a handler whose successes count and whose other answers do not:
// POST /register, where a user-interactive-auth round (401) or a refused request creates
// no account. The token is taken before h runs, so concurrent requests cannot all pass,
// and given back when h fails.
func (rt *Routes) perIPOnSuccess(l *ratelimit.Limiter, h handlerFunc) handlerFunc {
	if l == nil {
		return h
	}
	return func(r *http.Request, dev *userapi.Device) (any, error) {
		key := ratelimit.AddressKey(rt.clientIP(r))
		if err := l.Limit(key); err != nil {
			return nil, err
		}
		resp, err := h(r, dev)
		if err != nil {
			l.Refund(key)
		}
		return resp, err
	}
}

// limitLogin applies the per-account login limits to an attempt to log in as userID: every
// attempt counts against login_account; login_failed_attempts takes a token now, which
// loginDone gives back unless the password was wrong. Login limits exempt nobody.
// The key is the lower-cased user ID, so spelling a name in other cases does not give
// another bucket.
func (rt *Routes) limitLogin(userID string) error {
	key := strings.ToLower(userID)
	if err := rt.limits.loginFailed.Limit(key); err != nil {
		return err
	}
	if err := rt.limits.loginAccount.Limit(key); err != nil {
		rt.limits.loginFailed.Refund(key)
		return err
	}
	return nil
}

// loginDone settles limitLogin's failed-attempt token with the password check's result.
func (rt *Routes) loginDone(userID string, err error) {
	if err == nil || httputil.AsMatrixError(err).ErrCode != "M_FORBIDDEN" {
		rt.limits.loginFailed.Refund(strings.ToLower(userID))
	}
}

// limitInvites applies the invite limits to dev inviting each of invitees into roomID (an
// empty roomID, for /createRoom, skips the per-room limit): per issuer, per invited user,
// per room. Exempt users are not limited.
func (rt *Routes) limitInvites(dev *userapi.Device, roomID string, invitees ...string) error {
	if len(invitees) == 0 || rt.exempt(dev) {
		return nil
	}
	for _, u := range invitees {
		if err := rt.limits.invitesIssuer.Limit(dev.UserID); err != nil {
			return err
		}
		if err := rt.limits.invitesPerUser.Limit(u); err != nil {
			return err
		}
		if roomID != "" {
			if err := rt.limits.invitesPerRoom.Limit(roomID); err != nil {
				return err
			}
		}
	}
	return nil
}
