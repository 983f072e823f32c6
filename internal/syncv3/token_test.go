package syncv3

import "testing"

func TestTokenRoundTrip(t *testing.T) {
	tok := Token{Session: "0f1e2d3c4b5a69788796a5b4", Pos: Pos{Room: 41, EDU: 7, AccountData: 3}, ToDevice: 5}
	if s := tok.String(); s != "v3_0f1e2d3c4b5a69788796a5b4_41_7_5_3" {
		t.Fatalf("rendered %q", s)
	}
	got, ok := ParseToken(tok.String())
	if !ok || got != tok {
		t.Fatalf("parsed %+v %v", got, ok)
	}
}

func TestParseTokenRefuses(t *testing.T) {
	for _, s := range []string{
		"", "v3_", "s1_2_3", "v3_0f1e2d3c4b5a69788796a5b4_1_2", "v3_0f1e2d3c4b5a69788796a5b4_1_2_3_4_5",
		"v3_0f1e2d3c4b5a69788796a5b4_1_2_3", // the four-part form before the account data position
		"v3_0F1E2D3C4B5A69788796A5B4_1_2_3_4", "v3_0f1e2d3c4b5a69788796a5b_1_2_3_4", "v3_0f1e2d3c4b5a69788796a5b4_-1_2_3_4",
		"v3_0f1e2d3c4b5a69788796a5b4_01_2_3_4", "v3_0f1e2d3c4b5a69788796a5b4_x_2_3_4", "v3_0f1e2d3c4b5a69788796a5b4_1_2_3_99999999999999999999",
		"v3_0f1e2d3c4b5a69788796a5b4_1_2_3_-4",
	} {
		if tok, ok := ParseToken(s); ok {
			t.Errorf("%q parsed as %+v", s, tok)
		}
	}
}
