package routing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/axon-matrix/axon/clientapi/auth"
	"github.com/axon-matrix/axon/internal/httputil"
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

// sharedSecretMAC is Synapse's scheme: hex HMAC-SHA1, keyed with the shared secret, over
// nonce NUL username NUL password NUL "admin"|"notadmin" [NUL user_type].
func sharedSecretMAC(secret string, req *sharedSecretRequest) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(req.Nonce + "\x00" + req.Username + "\x00" + req.Password + "\x00"))
	if req.Admin {
		m.Write([]byte("admin"))
	} else {
		m.Write([]byte("notadmin"))
	}
	if req.UserType != "" {
		m.Write([]byte("\x00" + req.UserType))
	}
	return hex.EncodeToString(m.Sum(nil))
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
