package routing

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/axon-matrix/axon/clientapi/auth"
	"github.com/axon-matrix/axon/internal/httputil"
	"github.com/axon-matrix/axon/matrix"
	userapi "github.com/axon-matrix/axon/userapi/api"
)

// nonceLifetime is how long a shared-secret registration nonce stays valid (as Synapse).
const nonceLifetime = 60 * time.Second

func (rt *Routes) sharedSecretEnabled() error {
	if rt.cfg.RegistrationSharedSecret == "" {
		return &httputil.MatrixError{Status: http.StatusBadRequest, ErrCode: "M_UNRECOGNIZED",
			Err: "Shared secret registration is not enabled"}
	}
	return nil
}

// sharedSecretNonce serves GET /_synapse/admin/v1/register: a fresh single-use nonce,
// stored in the clientapi's table so any instance can accept it.
func (rt *Routes) sharedSecretNonce(r *http.Request, _ *userapi.Device) (any, error) {
	if err := rt.sharedSecretEnabled(); err != nil {
		return nil, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	nonce := hex.EncodeToString(b)
	now := rt.now()
	if err := rt.db.AddNonce(r.Context(), nonce, now.UnixMilli(), now.Add(nonceLifetime).UnixMilli()); err != nil {
		return nil, err
	}
	return map[string]string{"nonce": nonce}, nil
}

type sharedSecretRequest struct {
	Nonce       string `json:"nonce"`
	Username    string `json:"username"`
	DisplayName string `json:"displayname"`
	Password    string `json:"password"`
	Admin       bool   `json:"admin"`
	UserType    string `json:"user_type"`
	MAC         string `json:"mac"`
}

// sharedSecretMAC is the request's expected mac (matrix.SharedSecretRegistrationMAC).
func sharedSecretMAC(secret string, req *sharedSecretRequest) string {
	return matrix.SharedSecretRegistrationMAC(secret, req.Nonce, req.Username, req.Password, req.Admin, req.UserType)
}

// sharedSecretRegister serves POST /_synapse/admin/v1/register.
func (rt *Routes) sharedSecretRegister(r *http.Request, _ *userapi.Device) (any, error) {
	if err := rt.sharedSecretEnabled(); err != nil {
		return nil, err
	}
	var req sharedSecretRequest
	if err := readJSON(r, bodyLimit, &req); err != nil {
		return nil, err
	}
	for name, v := range map[string]string{"nonce": req.Nonce, "username": req.Username, "password": req.Password, "mac": req.MAC} {
		if v == "" {
			return nil, httputil.MissingParam("Missing %s", name)
		}
	}
	if len(req.Password) > maxPasswordLength {
		return nil, httputil.InvalidParam("Password is longer than %d bytes", maxPasswordLength)
	}
	ctx := r.Context()
	ok, err := rt.db.ConsumeNonce(ctx, req.Nonce, rt.now().UnixMilli())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, httputil.Unknown("Unrecognised nonce")
	}
	if !hmac.Equal([]byte(sharedSecretMAC(rt.cfg.RegistrationSharedSecret, &req)), []byte(req.MAC)) {
		return nil, httputil.Forbidden("HMAC incorrect")
	}
	// The MAC covers the username as sent; the account gets its lower-cased localpart
	// (as Synapse).
	localpart := auth.LowerLocalpart(req.Username)
	if err := rt.checkUsernameAvailable(ctx, localpart); err != nil {
		return nil, err
	}
	typ := userapi.AccountTypeUser
	if req.Admin {
		typ = userapi.AccountTypeAdmin
	}
	acc, err := rt.userAPI.CreateAccount(ctx, &userapi.CreateAccountRequest{
		Localpart: localpart, Password: req.Password, AccountType: typ, DisplayName: req.DisplayName})
	if err != nil {
		return nil, err
	}
	rt.seedPushRules(ctx, acc.UserID)
	dev, err := rt.userAPI.CreateDevice(ctx, &userapi.CreateDeviceRequest{UserID: acc.UserID, IP: rt.clientIP(r)})
	if err != nil {
		return nil, err
	}
	return map[string]string{"access_token": dev.AccessToken, "user_id": acc.UserID,
		"home_server": rt.cfg.ServerName, "device_id": dev.DeviceID}, nil
}
