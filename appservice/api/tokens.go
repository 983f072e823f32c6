package api

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// Identity assertion (the spec's "Using /client APIs as an application service"): an
// as_token is an access token for the service's sender, or with ?user_id= for any
// registered user of its user namespaces, and with ?device_id= (MSC3202, when the
// registration sets org.matrix.msc3202) for one of that user's devices. TokenAuth decides
// it for every Tier 1 component: the clientapi calls Device directly, the syncapi and the
// mediaapi get a userapi whose QueryAccessToken knows as_tokens (WithASTokens) and the
// request's ?user_id= / ?device_id= through the context (Middleware).

// deviceIDParams are the query parameters naming the asserted device: the stable name and
// MSC3202's unstable one.
var deviceIDParams = []string{"device_id", "org.matrix.msc3202.device_id"}

// TokenAuth turns as_tokens into devices.
type TokenAuth struct {
	Regs  *Registrations
	Users userapi.UserAPI
	known knownUsers
}

// NewTokenAuth returns the as_token checker of regs, asking users about accounts.
func NewTokenAuth(regs *Registrations, users userapi.UserAPI) *TokenAuth {
	return &TokenAuth{Regs: regs, Users: users}
}

// knownUsers remembers application-service users known to exist, so masquerading costs a
// userapi call only the first time per user and process.
type knownUsers struct {
	mu    sync.Mutex
	known map[string]bool
}

// maxKnownUsers bounds the memory of knownUsers (it starts over beyond).
const maxKnownUsers = 100000

func (k *knownUsers) has(userID string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.known[userID]
}

func (k *knownUsers) add(userID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.known == nil || len(k.known) >= maxKnownUsers {
		k.known = map[string]bool{}
	}
	k.known[userID] = true
}

// Remember records that userID exists (the clientapi, after registering a service user).
func (t *TokenAuth) Remember(userID string) { t.known.add(userID) }

// Assertion is what a request asserts beside its as_token: ?user_id= and ?device_id=.
type Assertion struct {
	UserID, DeviceID string
}

// AssertionFrom reads the assertion of r's query.
func AssertionFrom(r *http.Request) Assertion {
	q := r.URL.Query()
	a := Assertion{UserID: q.Get("user_id")}
	for _, p := range deviceIDParams {
		if v := q.Get(p); v != "" {
			a.DeviceID = v
			break
		}
	}
	return a
}

type assertionKey struct{}

// Middleware puts the request's assertion in its context, for a userapi wrapped by
// WithASTokens (the syncapi's and the mediaapi's routers use it).
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Most requests (every /sync) carry neither parameter: skip parsing their query.
		if q := r.URL.RawQuery; !strings.Contains(q, "user_id") && !strings.Contains(q, "device_id") {
			next.ServeHTTP(w, r)
			return
		}
		if a := AssertionFrom(r); a != (Assertion{}) {
			r = r.WithContext(context.WithValue(r.Context(), assertionKey{}, a))
		}
		next.ServeHTTP(w, r)
	})
}

// Device is the device a request with reg's as_token acts as. Without a user ID (or with
// the sender's) it is the sender, whose account is created on first use; another user
// must be registered, not deactivated and in the service's user namespaces (else 403
// M_FORBIDDEN, as Synapse). A device ID needs the registration's org.matrix.msc3202 (else
// it is ignored, as Synapse without the feature) and must be one of that user's devices
// (else 400 M_EXCLUSIVE, as Synapse). The sender and, for a service with rate_limited:
// false, its users are of account type AppService, which the rate limits exempt.
func (t *TokenAuth) Device(ctx context.Context, reg *Registration, a Assertion) (*userapi.Device, error) {
	userID := a.UserID
	var dev *userapi.Device
	if userID == "" || userID == reg.SenderUserID() {
		if err := t.ensureSender(ctx, reg); err != nil {
			return nil, err
		}
		dev = &userapi.Device{UserID: reg.SenderUserID(), AccountType: userapi.AccountTypeAppService}
	} else {
		if !reg.OwnsUser(userID) {
			return nil, httputil.Forbidden("Application service cannot masquerade as this user (%s)", userID)
		}
		if !t.known.has(userID) {
			acc, err := t.Users.GetAccount(ctx, userID)
			if err != nil {
				if me := httputil.AsMatrixError(err); me != nil && me.Status == http.StatusNotFound {
					return nil, httputil.Forbidden("Application service has not registered this user (%s)", userID)
				}
				return nil, err
			}
			if acc.Deactivated {
				return nil, httputil.Forbidden("User %s is deactivated", userID)
			}
			t.known.add(userID)
		}
		typ := userapi.AccountTypeUser
		if !reg.IsRateLimited() {
			typ = userapi.AccountTypeAppService
		}
		dev = &userapi.Device{UserID: userID, AccountType: typ}
	}
	if a.DeviceID != "" && reg.MSC3202 {
		d, err := t.Users.GetDevice(ctx, dev.UserID, a.DeviceID)
		if err != nil {
			if me := httputil.AsMatrixError(err); me != nil && me.Status == http.StatusNotFound {
				return nil, httputil.Exclusive("Application service trying to use a device that doesn't exist (%s for %s)", a.DeviceID, dev.UserID)
			}
			return nil, err
		}
		dev.DeviceID, dev.DisplayName = d.DeviceID, d.DisplayName
	}
	return dev, nil
}

// ensureSender creates the service's sender account on its first request, as events and
// profiles need an account.
func (t *TokenAuth) ensureSender(ctx context.Context, reg *Registration) error {
	sender := reg.SenderUserID()
	if t.known.has(sender) {
		return nil
	}
	_, err := t.Users.GetAccount(ctx, sender)
	if me := httputil.AsMatrixError(err); me != nil && me.Status == http.StatusNotFound {
		_, err = t.Users.CreateAccount(ctx, &userapi.CreateAccountRequest{Localpart: reg.SenderLocalpart, AccountType: userapi.AccountTypeAppService})
		if me := httputil.AsMatrixError(err); me != nil && me.ErrCode == "M_USER_IN_USE" {
			err = nil // created by a concurrent request
		}
	}
	if err != nil {
		return err
	}
	t.known.add(sender)
	return nil
}

// asTokenUserAPI is a userapi whose QueryAccessToken knows as_tokens too.
type asTokenUserAPI struct {
	userapi.UserAPI
	auth *TokenAuth
}

// WithASTokens wraps users so that QueryAccessToken accepts the services' as_tokens (a
// map lookup before the userapi), acting as the assertion Middleware put in the context.
// Without services it returns users itself.
func WithASTokens(users userapi.UserAPI, regs *Registrations) userapi.UserAPI {
	if regs == nil || len(regs.All()) == 0 {
		return users
	}
	return &asTokenUserAPI{UserAPI: users, auth: NewTokenAuth(regs, users)}
}

// QueryAccessToken implements userapi.UserAPI.
func (u *asTokenUserAPI) QueryAccessToken(ctx context.Context, token string) (*userapi.Device, error) {
	if reg := u.auth.Regs.ByASToken(token); reg != nil {
		a, _ := ctx.Value(assertionKey{}).(Assertion)
		return u.auth.Device(ctx, reg, a)
	}
	return u.UserAPI.QueryAccessToken(ctx, token)
}
