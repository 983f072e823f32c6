package inthttp

import (
	"context"
	"testing"

	"github.com/axon-matrix/axon/userapi/api"
)

// TestRegistrationTokens runs the registration token methods directly and over HTTP on
// SQLite and Postgres: results, nulls (no limit) and errors must come through alike.
func TestRegistrationTokens(t *testing.T) {
	forEachImpl(t, func(t *testing.T, e env) {
		ctx := context.Background()
		two := int64(1)
		tok, err := e.api.CreateRegistrationToken(ctx, &api.NewRegistrationTokenRequest{Token: "friends", UsesAllowed: &two})
		if err != nil || tok.Token != "friends" || tok.UsesAllowed == nil || *tok.UsesAllowed != 1 || tok.ExpiryTime != nil {
			t.Fatalf("create: %+v %v", tok, err)
		}
		_, err = e.api.CreateRegistrationToken(ctx, &api.NewRegistrationTokenRequest{Token: "friends"})
		wantErr(t, "duplicate", err, 400, "M_INVALID_PARAM")
		_, err = e.api.GetRegistrationToken(ctx, "nope")
		wantErr(t, "unknown", err, 404, "M_NOT_FOUND")

		if ok, err := e.api.RegistrationTokenValid(ctx, "friends"); !ok || err != nil {
			t.Fatalf("valid: %v %v", ok, err)
		}
		wantErr(t, "reserve", e.api.ReserveRegistrationToken(ctx, "friends", "sess-1"), 0, "")
		wantErr(t, "reserve used up", e.api.ReserveRegistrationToken(ctx, "friends", "sess-2"), 401, "M_UNAUTHORIZED")
		acc, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "alice", Password: "pw", RegistrationTokenSession: "sess-1"})
		if err != nil || acc.Localpart != "alice" {
			t.Fatalf("create account: %+v %v", acc, err)
		}
		_, err = e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "bob", Password: "pw", RegistrationTokenSession: "sess-2"})
		wantErr(t, "account without reservation", err, 401, "M_UNAUTHORIZED")

		tok, err = e.api.UpdateRegistrationToken(ctx, &api.UpdateRegistrationTokenRequest{Token: "friends", SetUsesAllowed: true})
		if err != nil || tok.UsesAllowed != nil || tok.Completed != 1 || tok.Pending != 0 {
			t.Fatalf("update: %+v %v", tok, err)
		}
		valid := true
		list, err := e.api.ListRegistrationTokens(ctx, &valid)
		if err != nil || len(list) != 1 || list[0].Token != "friends" {
			t.Fatalf("list: %+v %v", list, err)
		}
		wantErr(t, "delete", e.api.DeleteRegistrationToken(ctx, "friends"), 0, "")
		wantErr(t, "delete again", e.api.DeleteRegistrationToken(ctx, "friends"), 404, "M_NOT_FOUND")
		list, err = e.api.ListRegistrationTokens(ctx, nil)
		if err != nil || list == nil || len(list) != 0 {
			t.Fatalf("empty list: %#v %v", list, err)
		}
	})
}
