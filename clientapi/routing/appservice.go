package routing

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"

	"github.com/gorilla/mux"

	asapi "github.com/axon-matrix/axon/appservice/api"
	"github.com/axon-matrix/axon/clientapi/auth"
	"github.com/axon-matrix/axon/internal/httputil"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// loginTypeAppService is the registration (and login) type of application services.
const loginTypeAppService = "m.login.application_service"

// WithAppServices gives the handlers the application services' registrations (loaded
// from app_service.config_files) and the appservice component (arrow 10, for the ping).
// Without it as_tokens are unknown tokens and no namespace is exclusive.
func WithAppServices(regs *asapi.Registrations, as asapi.AppServiceAPI) Option {
	return func(rt *Routes) { rt.appServices, rt.asAPI = regs, as }
}

// appServiceUsers remembers application-service users known to exist, so masquerading
// costs a userapi call only the first time per user and process.
type appServiceUsers struct {
	mu    sync.Mutex
	known map[string]bool
}

// maxKnownAppServiceUsers bounds the memory of appServiceUsers (it starts over beyond).
const maxKnownAppServiceUsers = 100000

func (k *appServiceUsers) has(userID string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.known[userID]
}

func (k *appServiceUsers) add(userID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.known == nil || len(k.known) >= maxKnownAppServiceUsers {
		k.known = map[string]bool{}
	}
	k.known[userID] = true
}

// authenticate turns an access token into the device the request acts as. An
// application service's as_token is recognised by a map lookup before the userapi is
// asked (so normal users pay nothing for it): the service acts as its sender, or with
// ?user_id= as any registered user in its user namespaces (identity assertion).
func (rt *Routes) authenticate(r *http.Request, token string) (*userapi.Device, error) {
	if reg := rt.appServices.ByASToken(token); reg != nil {
		return rt.appServiceDevice(r, reg)
	}
	return rt.userAPI.QueryAccessToken(r.Context(), token)
}

// appServiceDevice is the device of a request made with reg's as_token. It has no device
// ID. The sender and, for a service with rate_limited: false, its masqueraded users are
// of account type AppService, which the rate limits exempt.
func (rt *Routes) appServiceDevice(r *http.Request, reg *asapi.Registration) (*userapi.Device, error) {
	ctx := r.Context()
	userID := r.URL.Query().Get("user_id")
	if userID == "" || userID == reg.SenderUserID() {
		if err := rt.ensureAppServiceSender(ctx, reg); err != nil {
			return nil, err
		}
		return &userapi.Device{UserID: reg.SenderUserID(), AccountType: userapi.AccountTypeAppService}, nil
	}
	if !reg.OwnsUser(userID) {
		return nil, httputil.Forbidden("Application service cannot masquerade as this user (%s)", userID)
	}
	if !rt.asUsers.has(userID) {
		acc, err := rt.userAPI.GetAccount(ctx, userID)
		if err != nil {
			if me := httputil.AsMatrixError(err); me != nil && me.Status == http.StatusNotFound {
				return nil, httputil.Forbidden("Application service has not registered this user (%s)", userID)
			}
			return nil, err
		}
		if acc.Deactivated {
			return nil, httputil.Forbidden("User %s is deactivated", userID)
		}
		rt.asUsers.add(userID)
	}
	t := userapi.AccountTypeUser
	if !reg.IsRateLimited() {
		t = userapi.AccountTypeAppService
	}
	return &userapi.Device{UserID: userID, AccountType: t}, nil
}

// ensureAppServiceSender creates the service's sender account on its first request, as
// events and profiles need an account.
func (rt *Routes) ensureAppServiceSender(ctx context.Context, reg *asapi.Registration) error {
	sender := reg.SenderUserID()
	if rt.asUsers.has(sender) {
		return nil
	}
	_, err := rt.userAPI.GetAccount(ctx, sender)
	if me := httputil.AsMatrixError(err); me != nil && me.Status == http.StatusNotFound {
		_, err = rt.userAPI.CreateAccount(ctx, &userapi.CreateAccountRequest{Localpart: reg.SenderLocalpart, AccountType: userapi.AccountTypeAppService})
		if me := httputil.AsMatrixError(err); me != nil && me.ErrCode == "M_USER_IN_USE" {
			err = nil // created by a concurrent request
		}
	}
	if err != nil {
		return err
	}
	rt.asUsers.add(sender)
	return nil
}

// exclusiveOwner returns the application service that claims the local user localpart
// exclusively, or nil.
func (rt *Routes) exclusiveOwner(localpart string) *asapi.Registration {
	return rt.appServices.ExclusiveUserOwner("@" + localpart + ":" + rt.cfg.ServerName)
}

// registerAppServiceUser serves POST /register with type m.login.application_service: the
// service's as_token registers a user in its user namespaces, without user-interactive
// auth and without a password.
func (rt *Routes) registerAppServiceUser(r *http.Request, req *registerRequest) (any, error) {
	token, me := httputil.AccessToken(r)
	if me != nil {
		return nil, me
	}
	reg := rt.appServices.ByASToken(token)
	if reg == nil {
		return nil, httputil.UnknownToken("Unknown application service token")
	}
	localpart := auth.LowerLocalpart(req.Username)
	if localpart == "" {
		return nil, httputil.MissingParam("Missing username")
	}
	userID := "@" + localpart + ":" + rt.cfg.ServerName
	if !reg.OwnsUser(userID) {
		return nil, httputil.Exclusive("User ID %s is not in the namespaces of application service %s", userID, reg.ID)
	}
	if o := rt.appServices.ExclusiveUserOwner(userID); o != nil && o != reg {
		return nil, httputil.Exclusive("User ID %s is reserved by another application service", userID)
	}
	// The userapi checks the localpart (leading "_" allowed for services) and answers
	// M_USER_IN_USE for a taken one.
	acc, err := rt.userAPI.CreateAccount(r.Context(), &userapi.CreateAccountRequest{Localpart: localpart, AccountType: userapi.AccountTypeAppService})
	if err != nil {
		return nil, err
	}
	rt.asUsers.add(acc.UserID)
	rt.seedPushRules(r.Context(), acc.UserID)
	return rt.registered(r, acc, req)
}

// appServiceRegistrationUnlimited wraps the registration handler: a request with the
// as_token of a service whose rate_limited is false skips limited (the rate-limited
// handler) and goes to h directly.
func (rt *Routes) appServiceRegistrationUnlimited(limited, h handlerFunc) handlerFunc {
	if rt.appServices == nil {
		return limited
	}
	return func(r *http.Request, dev *userapi.Device) (any, error) {
		if token, me := httputil.AccessToken(r); me == nil {
			if reg := rt.appServices.ByASToken(token); reg != nil && !reg.IsRateLimited() {
				return h(r, dev)
			}
		}
		return limited(r, dev)
	}
}

// pingAppService serves POST /_matrix/client/v1/appservice/{appserviceId}/ping: only the
// service's own as_token may ask (403 M_FORBIDDEN otherwise); the appservice component
// calls the service's /_matrix/app/v1/ping (arrow 10).
func (rt *Routes) pingAppService(r *http.Request, _ *userapi.Device) (any, error) {
	token, me := httputil.AccessToken(r)
	if me != nil {
		return nil, me
	}
	reg := rt.appServices.ByASToken(token)
	id := mux.Vars(r)["appserviceId"]
	if reg == nil || reg.ID != id {
		return nil, httputil.Forbidden("Provided access token is not the appservice's as_token")
	}
	var body struct {
		TransactionID string `json:"transaction_id"`
	}
	if err := readOptionalJSON(r, bodyLimit, &body); err != nil {
		return nil, err
	}
	if rt.asAPI == nil {
		return nil, errors.New("clientapi: no appservice API to ping through")
	}
	return rt.asAPI.Ping(r.Context(), &asapi.PingRequest{AppServiceID: id, TransactionID: body.TransactionID})
}

// isNotFound says whether err is a 404 Matrix error.
func isNotFound(err error) bool {
	me := httputil.AsMatrixError(err)
	return me != nil && me.Status == http.StatusNotFound
}

// queryAppServiceUser asks the services whose user namespaces hold the unknown local
// userID whether it exists (arrow 10 → GET /_matrix/app/v1/users/{userId}); true when one
// created it. Without such a service it costs nothing.
func (rt *Routes) queryAppServiceUser(ctx context.Context, userID string) bool {
	if rt.asAPI == nil || !slices.ContainsFunc(rt.appServices.All(), func(r *asapi.Registration) bool {
		return r.HasURL() && r.OwnsUser(userID)
	}) {
		return false
	}
	resp, err := rt.asAPI.QueryUser(ctx, &asapi.QueryUserRequest{UserID: userID})
	return err == nil && resp.Exists
}

// queryAppServiceAlias is queryUser for an unknown local room alias (GET
// /_matrix/app/v1/rooms/{roomAlias}): true when a service created it.
func (rt *Routes) queryAppServiceAlias(ctx context.Context, alias string) bool {
	if rt.asAPI == nil || !slices.ContainsFunc(rt.appServices.All(), func(r *asapi.Registration) bool {
		return r.HasURL() && r.InterestedInAlias(alias)
	}) {
		return false
	}
	resp, err := rt.asAPI.QueryAlias(ctx, &asapi.QueryAliasRequest{Alias: alias})
	return err == nil && resp.Exists
}

// ensureAppServiceAlias lets a service create an unknown local alias in its namespaces
// before a join by that alias.
func (rt *Routes) ensureAppServiceAlias(ctx context.Context, alias string) {
	if rt.appServices == nil {
		return
	}
	if _, _, err := rt.rsAPI.ResolveRoomAlias(ctx, alias); isNotFound(err) {
		rt.queryAppServiceAlias(ctx, alias)
	}
}
