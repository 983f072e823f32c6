package inthttp

import (
	"context"
	"strings"

	"github.com/gorilla/mux"

	"github.com/axon-matrix/axon/internal/inthttp"
	"github.com/axon-matrix/axon/userapi/api"
)

// AddRoutes serves the userapi's internal API on r (a router mounted at
// inthttp.PathPrefix, such as setup's InternalAPIMux) from a, the direct implementation.
// Calls without secret (global.internal_api_secret) are refused with 401 M_UNAUTHORIZED
// whatever router the routes are mounted on; an empty secret checks nothing.
func AddRoutes(r *mux.Router, a api.UserAPI, secret string) {
	sr := r.PathPrefix(pathPrefix).Subrouter()
	sr.Use(inthttp.SecretMiddleware(secret))
	// p turns a full path into the subrouter's path below pathPrefix.
	p := func(full string) string { return strings.TrimPrefix(full, pathPrefix) }

	inthttp.Handle(sr, p(pathCreateAccount), func(ctx context.Context, req *api.CreateAccountRequest) (*api.Account, error) {
		return a.CreateAccount(ctx, req)
	})
	inthttp.Handle(sr, p(pathLocalpartAvailable), func(ctx context.Context, req *localpartReq) (*availableResp, error) {
		ok, err := a.LocalpartAvailable(ctx, req.Localpart)
		return &availableResp{ok}, err
	})
	inthttp.Handle(sr, p(pathGetAccount), func(ctx context.Context, req *userReq) (*api.Account, error) {
		return a.GetAccount(ctx, req.UserID)
	})
	inthttp.Handle(sr, p(pathCheckPassword), func(ctx context.Context, req *passwordReq) (*api.Account, error) {
		return a.CheckPassword(ctx, req.UserID, req.Password)
	})
	inthttp.HandleErr(sr, p(pathSetPassword), func(ctx context.Context, req *setPasswordReq) error {
		return a.SetPassword(ctx, req.UserID, req.NewPassword, req.LogoutDevices, req.ExceptDeviceID)
	})
	inthttp.HandleErr(sr, p(pathDeactivateAccount), func(ctx context.Context, req *userReq) error {
		return a.DeactivateAccount(ctx, req.UserID)
	})

	inthttp.Handle(sr, p(pathCreateDevice), func(ctx context.Context, req *api.CreateDeviceRequest) (*api.Device, error) {
		return a.CreateDevice(ctx, req)
	})
	inthttp.Handle(sr, p(pathQueryAccessToken), func(ctx context.Context, req *tokenReq) (*api.Device, error) {
		if req.ClientIP != "" {
			ctx = api.WithClientIP(ctx, req.ClientIP)
		}
		return a.QueryAccessToken(ctx, req.AccessToken)
	})
	inthttp.Handle(sr, p(pathListDevices), func(ctx context.Context, req *userReq) (*devicesResp, error) {
		devs, err := a.ListDevices(ctx, req.UserID)
		if devs == nil {
			devs = []api.Device{}
		}
		return &devicesResp{devs}, err
	})
	inthttp.Handle(sr, p(pathGetDevice), func(ctx context.Context, req *deviceReq) (*api.Device, error) {
		return a.GetDevice(ctx, req.UserID, req.DeviceID)
	})
	inthttp.HandleErr(sr, p(pathUpdateDevice), func(ctx context.Context, req *deviceReq) error {
		return a.UpdateDevice(ctx, req.UserID, req.DeviceID, req.DisplayName)
	})
	inthttp.HandleErr(sr, p(pathDeleteDevices), func(ctx context.Context, req *deleteDevicesReq) error {
		return a.DeleteDevices(ctx, req.UserID, req.DeviceIDs)
	})
	inthttp.HandleErr(sr, p(pathDeleteAllDevices), func(ctx context.Context, req *deleteDevicesReq) error {
		return a.DeleteAllDevices(ctx, req.UserID, req.ExceptDeviceID)
	})

	inthttp.Handle(sr, p(pathGetProfile), func(ctx context.Context, req *userReq) (*api.Profile, error) {
		return a.GetProfile(ctx, req.UserID)
	})
	inthttp.HandleErr(sr, p(pathSetDisplayName), func(ctx context.Context, req *profileFieldReq) error {
		return a.SetDisplayName(ctx, req.UserID, req.Value)
	})
	inthttp.HandleErr(sr, p(pathSetAvatarURL), func(ctx context.Context, req *profileFieldReq) error {
		return a.SetAvatarURL(ctx, req.UserID, req.Value)
	})

	inthttp.HandleErr(sr, p(pathSetAccountData), func(ctx context.Context, req *api.AccountData) error {
		return a.SetAccountData(ctx, req)
	})
	inthttp.Handle(sr, p(pathGetAccountData), func(ctx context.Context, req *accountDataReq) (*rawResp, error) {
		c, err := a.GetAccountData(ctx, req.UserID, req.RoomID, req.Type)
		return &rawResp{c}, err
	})
	inthttp.Handle(sr, p(pathListAccountData), func(ctx context.Context, req *userReq) (*accountDataListResp, error) {
		items, err := a.ListAccountData(ctx, req.UserID)
		if items == nil {
			items = []api.AccountData{}
		}
		return &accountDataListResp{items}, err
	})

	inthttp.Handle(sr, p(pathPutFilter), func(ctx context.Context, req *filterReq) (*filterIDResp, error) {
		id, err := a.PutFilter(ctx, req.UserID, req.Filter)
		return &filterIDResp{id}, err
	})
	inthttp.Handle(sr, p(pathGetFilter), func(ctx context.Context, req *filterReq) (*rawResp, error) {
		f, err := a.GetFilter(ctx, req.UserID, req.FilterID)
		return &rawResp{f}, err
	})
	addRegistrationTokenRoutes(sr, a)
}
