package internal

import (
	"context"
	"testing"
	"time"

	"github.com/axon-matrix/axon/userapi/api"
)

func i64(v int64) *int64 { return &v }

func TestRegistrationTokenValidity(t *testing.T) {
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		now := e.clock.Now().UnixMilli()
		for _, req := range []*api.NewRegistrationTokenRequest{
			{Token: "unlimited"},
			{Token: "two", UsesAllowed: i64(2)},
			{Token: "zero", UsesAllowed: i64(0)},
			{Token: "expiring", ExpiryTime: i64(now + 60_000)},
		} {
			if _, err := e.api.CreateRegistrationToken(ctx, req); err != nil {
				t.Fatalf("create %s: %v", req.Token, err)
			}
		}
		check := func(when string, want map[string]bool) {
			t.Helper()
			for token, w := range want {
				got, err := e.api.RegistrationTokenValid(ctx, token)
				if err != nil || got != w {
					t.Errorf("%s: valid(%q) = %v, %v; want %v", when, token, got, err, w)
				}
			}
		}
		check("fresh", map[string]bool{"unlimited": true, "two": true, "zero": false, "expiring": true,
			"unknown": false, "bad token!": false})

		// Two sessions pass the stage: "two" is full while both are pending.
		wantErrCode(t, e.api.ReserveRegistrationToken(ctx, "two", "s1"), "")
		wantErrCode(t, e.api.ReserveRegistrationToken(ctx, "two", "s1"), "") // same session: no second use
		wantErrCode(t, e.api.ReserveRegistrationToken(ctx, "two", "s2"), "")
		wantErrCode(t, e.api.ReserveRegistrationToken(ctx, "two", "s3"), "M_UNAUTHORIZED")
		wantErrCode(t, e.api.ReserveRegistrationToken(ctx, "zero", "s3"), "M_UNAUTHORIZED")
		wantErrCode(t, e.api.ReserveRegistrationToken(ctx, "unknown", "s3"), "M_UNAUTHORIZED")
		tok, err := e.api.GetRegistrationToken(ctx, "two")
		if err != nil || tok.Pending != 2 || tok.Completed != 0 {
			t.Fatalf("two = %+v, %v", tok, err)
		}
		check("two pending", map[string]bool{"two": false})

		// s1 finishes: pending → completed, in CreateAccount's transaction.
		if _, err := e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "alice", Password: "pw", RegistrationTokenSession: "s1"}); err != nil {
			t.Fatal(err)
		}
		// A failed account creation (localpart taken) keeps s2's reservation.
		_, err = e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "alice", Password: "pw", RegistrationTokenSession: "s2"})
		wantErrCode(t, err, "M_USER_IN_USE")
		// A session that reserved nothing cannot create an account with a token.
		_, err = e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "mallory", Password: "pw", RegistrationTokenSession: "s9"})
		wantErrCode(t, err, "M_UNAUTHORIZED")
		if _, err := e.api.GetAccount(ctx, "@mallory:"+testServer); err == nil {
			t.Fatal("an account was created without a reserved token")
		}
		tok, _ = e.api.GetRegistrationToken(ctx, "two")
		if tok.Pending != 1 || tok.Completed != 1 {
			t.Fatalf("after one registration: %+v", tok)
		}

		// Expiry, and abandoned reservations are given back after reservationLifetime.
		e.clock.Add(time.Minute)
		check("a minute later", map[string]bool{"expiring": false, "two": false})
		wantErrCode(t, e.api.ReserveRegistrationToken(ctx, "expiring", "s4"), "M_UNAUTHORIZED")
		e.clock.Add(reservationLifetime)
		tok, _ = e.api.GetRegistrationToken(ctx, "two")
		if tok.Pending != 0 || tok.Completed != 1 {
			t.Fatalf("after the reservation expired: %+v", tok)
		}
		check("reservation released", map[string]bool{"two": true})
		_, err = e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "bob", Password: "pw", RegistrationTokenSession: "s2"})
		wantErrCode(t, err, "M_UNAUTHORIZED")

		// A session that switches tokens gives the first one back.
		wantErrCode(t, e.api.ReserveRegistrationToken(ctx, "two", "s5"), "")
		wantErrCode(t, e.api.ReserveRegistrationToken(ctx, "unlimited", "s5"), "")
		tok, _ = e.api.GetRegistrationToken(ctx, "two")
		if tok.Pending != 0 {
			t.Fatalf("switching tokens kept the old use: %+v", tok)
		}
		u, _ := e.api.GetRegistrationToken(ctx, "unlimited")
		if u.Pending != 1 {
			t.Fatalf("unlimited = %+v", u)
		}
	})
}

func TestRegistrationTokenAdmin(t *testing.T) {
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		now := e.clock.Now().UnixMilli()
		gen, err := e.api.CreateRegistrationToken(ctx, &api.NewRegistrationTokenRequest{})
		if err != nil || len(gen.Token) != tokenDefaultLength || !tokenRE.MatchString(gen.Token) {
			t.Fatalf("generated %+v, %v", gen, err)
		}
		short, err := e.api.CreateRegistrationToken(ctx, &api.NewRegistrationTokenRequest{Length: 3, UsesAllowed: i64(5)})
		if err != nil || len(short.Token) != 3 || *short.UsesAllowed != 5 {
			t.Fatalf("short %+v, %v", short, err)
		}
		for _, c := range []struct {
			name string
			req  api.NewRegistrationTokenRequest
		}{
			{"bad characters", api.NewRegistrationTokenRequest{Token: "a b"}},
			{"too long", api.NewRegistrationTokenRequest{Token: string(make([]byte, 65))}},
			{"length too big", api.NewRegistrationTokenRequest{Length: 65}},
			{"negative length", api.NewRegistrationTokenRequest{Length: -1}},
			{"negative uses", api.NewRegistrationTokenRequest{UsesAllowed: i64(-1)}},
			{"expired", api.NewRegistrationTokenRequest{ExpiryTime: i64(now - 1)}},
			{"duplicate", api.NewRegistrationTokenRequest{Token: gen.Token}},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := e.api.CreateRegistrationToken(ctx, &c.req)
				wantErrCode(t, err, "M_INVALID_PARAM")
			})
		}

		// Update: only the fields marked Set change.
		up, err := e.api.UpdateRegistrationToken(ctx, &api.UpdateRegistrationTokenRequest{Token: short.Token,
			SetExpiryTime: true, ExpiryTime: i64(now + 1000)})
		if err != nil || *up.UsesAllowed != 5 || *up.ExpiryTime != now+1000 {
			t.Fatalf("update expiry: %+v, %v", up, err)
		}
		up, err = e.api.UpdateRegistrationToken(ctx, &api.UpdateRegistrationTokenRequest{Token: short.Token, SetUsesAllowed: true})
		if err != nil || up.UsesAllowed != nil || up.ExpiryTime == nil {
			t.Fatalf("lift uses limit: %+v, %v", up, err)
		}
		_, err = e.api.UpdateRegistrationToken(ctx, &api.UpdateRegistrationTokenRequest{Token: short.Token, SetExpiryTime: true, ExpiryTime: i64(now - 5)})
		wantErrCode(t, err, "M_INVALID_PARAM")
		_, err = e.api.UpdateRegistrationToken(ctx, &api.UpdateRegistrationTokenRequest{Token: "nope", SetUsesAllowed: true})
		wantErrCode(t, err, "M_NOT_FOUND")

		// List, with the valid filter.
		e.clock.Add(2 * time.Second) // short's expiry passes
		all, err := e.api.ListRegistrationTokens(ctx, nil)
		if err != nil || len(all) != 2 {
			t.Fatalf("list: %+v, %v", all, err)
		}
		yes, no := true, false
		valid, _ := e.api.ListRegistrationTokens(ctx, &yes)
		invalid, _ := e.api.ListRegistrationTokens(ctx, &no)
		if len(valid) != 1 || valid[0].Token != gen.Token || len(invalid) != 1 || invalid[0].Token != short.Token {
			t.Fatalf("valid %+v, invalid %+v", valid, invalid)
		}

		// Delete ends pending registrations with it too.
		wantErrCode(t, e.api.ReserveRegistrationToken(ctx, gen.Token, "s1"), "")
		wantErrCode(t, e.api.DeleteRegistrationToken(ctx, gen.Token), "")
		wantErrCode(t, e.api.DeleteRegistrationToken(ctx, gen.Token), "M_NOT_FOUND")
		_, err = e.api.GetRegistrationToken(ctx, gen.Token)
		wantErrCode(t, err, "M_NOT_FOUND")
		_, err = e.api.CreateAccount(ctx, &api.CreateAccountRequest{Localpart: "late", Password: "pw", RegistrationTokenSession: "s1"})
		wantErrCode(t, err, "M_UNAUTHORIZED")
	})
}
