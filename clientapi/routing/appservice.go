package routing

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

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
	return func(rt *Routes) {
		rt.appServices, rt.asAPI = regs, as
		rt.asTokens = asapi.NewTokenAuth(regs, rt.userAPI)
	}
}

// authenticate turns an access token into the device the request acts as. An
// application service's as_token is recognised by a map lookup before the userapi is
// asked (so normal users pay nothing for it): the service acts as its sender, or with
// ?user_id= (and ?device_id=) as a user of its namespaces (appservice/api.TokenAuth, the
// same rule as the syncapi's and the mediaapi's).
func (rt *Routes) authenticate(r *http.Request, token string) (*userapi.Device, error) {
	if reg := rt.appServices.ByASToken(token); reg != nil {
		return rt.asTokens.Device(r.Context(), reg, asapi.AssertionFrom(r))
	}
	return rt.userAPI.QueryAccessToken(r.Context(), token)
}

// isAppServiceRequest says whether r carries an application service's as_token (for
// the features only services have, such as ?ts=).
func (rt *Routes) isAppServiceRequest(r *http.Request) bool {
	token, me := httputil.AccessToken(r)
	return me == nil && rt.appServices.ByASToken(token) != nil
}

// massagedTS is an application service's ?ts= (milliseconds since the epoch) for the
// event's origin_server_ts, or 0 (now): ignored for other requests, as Synapse does; a ts
// that is not a positive integer is 400 M_INVALID_PARAM.
func (rt *Routes) massagedTS(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("ts")
	if v == "" || !rt.isAppServiceRequest(r) {
		return 0, nil
	}
	ts, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ts <= 0 {
		return 0, httputil.InvalidParam("ts must be a positive integer (milliseconds)")
	}
	return ts, nil
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
	rt.asTokens.Remember(acc.UserID)
	rt.seedPushRules(r.Context(), acc.UserID)
	return rt.registered(r, acc, req)
}

// appServiceUnlimited wraps the registration and login handlers: a request with the
// as_token of a service whose rate_limited is false skips limited (the rate-limited
// handler) and goes to h directly.
func (rt *Routes) appServiceUnlimited(limited, h handlerFunc) handlerFunc {
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

// checkAliasNamespace refuses (400 M_EXCLUSIVE, as Synapse) a new local alias in an
// application service's exclusive alias namespace unless the request is that service's
// (its as_token, its sender or one of its users).
func (rt *Routes) checkAliasNamespace(r *http.Request, alias, userID string) error {
	owner := rt.appServices.ExclusiveAliasOwner(alias)
	if owner == nil {
		return nil
	}
	if token, me := httputil.AccessToken(r); me == nil && rt.appServices.ByASToken(token) == owner {
		return nil
	}
	if owner.OwnsUser(userID) {
		return nil
	}
	return httputil.Exclusive("This alias is reserved by an application service")
}

// ensureAppServiceUser lets a service create an unknown local user of its namespaces
// before an invite to it (GET /_matrix/app/v1/users/{userId}, arrow 10). Users no
// service could own cost nothing.
func (rt *Routes) ensureAppServiceUser(ctx context.Context, userID string) {
	if rt.appServices == nil || !slices.ContainsFunc(rt.appServices.All(), func(r *asapi.Registration) bool {
		return r.HasURL() && r.OwnsUser(userID)
	}) {
		return
	}
	if _, err := rt.userAPI.GetAccount(ctx, userID); isNotFound(err) {
		rt.queryAppServiceUser(ctx, userID)
	}
}
