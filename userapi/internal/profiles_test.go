package internal

import (
	"context"
	"testing"
)

func TestProfiles(t *testing.T) {
	tests := []struct {
		name, userID, displayName, avatarURL string
		wantCode                             string
	}{
		{"set both", "@alice:" + testServer, "Alice", "mxc://example.org/abc", ""},
		{"clear both", "@alice:" + testServer, "", "", ""},
		{"unicode", "@alice:" + testServer, "Älice 🐇", "mxc://example.org/x", ""},
		{"unknown user", "@nobody:" + testServer, "X", "mxc://example.org/x", "M_NOT_FOUND"},
		{"remote user", "@alice:other.org", "X", "mxc://example.org/x", "M_NOT_FOUND"},
	}
	forEachDB(t, Config{}, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		e.mustAccount(t, "alice", "")
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantErrCode(t, e.api.SetDisplayName(ctx, tc.userID, tc.displayName), tc.wantCode)
				wantErrCode(t, e.api.SetAvatarURL(ctx, tc.userID, tc.avatarURL), tc.wantCode)
				p, err := e.api.GetProfile(ctx, tc.userID)
				wantErrCode(t, err, tc.wantCode)
				if tc.wantCode != "" {
					return
				}
				if p.UserID != tc.userID || p.DisplayName != tc.displayName || p.AvatarURL != tc.avatarURL {
					t.Fatalf("GetProfile = %+v", p)
				}
			})
		}
	})
}
