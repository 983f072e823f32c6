package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testServer = "hs.test"

// reg is a valid registration with id n, whose fields the cases change.
func reg(n, extra string) string {
	return `id: ` + n + `
url: "http://127.0.0.1:9000"
as_token: as_` + n + `
hs_token: hs_` + n + `
sender_localpart: bot_` + n + `
namespaces:
  users:
    - exclusive: true
      regex: "@_` + n + `_.*:hs\\.test"
  aliases:
    - exclusive: true
      regex: "#_` + n + `_.*:hs\\.test"
  rooms: []
` + extra
}

// TestParseRegistration: every field the spec requires is checked, with an error naming
// the file and the field.
func TestParseRegistration(t *testing.T) {
	cases := []struct {
		name, yaml, wantErr string
	}{
		{"valid", reg("irc", ""), ""},
		{"url null", strings.Replace(reg("irc", ""), `url: "http://127.0.0.1:9000"`, "url: null", 1), ""},
		{"no id", strings.Replace(reg("irc", ""), "id: irc", "", 1), "field id: missing"},
		{"no as_token", strings.Replace(reg("irc", ""), "as_token: as_irc", "", 1), "field as_token: missing"},
		{"no hs_token", strings.Replace(reg("irc", ""), "hs_token: hs_irc", "", 1), "field hs_token: missing"},
		{"same tokens", strings.Replace(reg("irc", ""), "hs_token: hs_irc", "hs_token: as_irc", 1), "field hs_token: must differ"},
		{"no sender", strings.Replace(reg("irc", ""), "sender_localpart: bot_irc", "", 1), "field sender_localpart: missing"},
		{"bad sender", strings.Replace(reg("irc", ""), "sender_localpart: bot_irc", "sender_localpart: Bot!", 1), "field sender_localpart:"},
		{"bad url", strings.Replace(reg("irc", ""), `url: "http://127.0.0.1:9000"`, `url: "ftp://x"`, 1), "field url:"},
		{"bad regex", strings.Replace(reg("irc", ""), `regex: "@_irc_.*:hs\\.test"`, `regex: "@_irc_(:hs"`, 1), "field namespaces.users[0].regex: does not compile"},
		{"empty regex", strings.Replace(reg("irc", ""), `regex: "@_irc_.*:hs\\.test"`, `regex: ""`, 1), "field namespaces.users[0].regex: missing"},
		{"not yaml", "id: [", "not YAML"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := ParseRegistration("irc.yaml", []byte(c.yaml), testServer)
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if r.SenderUserID() != "@bot_irc:hs.test" {
					t.Fatalf("sender %q", r.SenderUserID())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), "irc.yaml") {
				t.Fatalf("error %v, want one naming irc.yaml and %q", err, c.wantErr)
			}
		})
	}
}

// TestLoadRegistrations: the set is checked — unique IDs and tokens, disjoint exclusive
// namespaces — and a good set answers the lookups.
func TestLoadRegistrations(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{"two services", map[string]string{"a.yaml": reg("irc", ""), "b.yaml": reg("slack", "")}, ""},
		{"same id", map[string]string{"a.yaml": reg("irc", ""), "b.yaml": strings.Replace(reg("slack", ""), "id: slack", "id: irc", 1)}, "field id:"},
		{"same as_token", map[string]string{"a.yaml": reg("irc", ""), "b.yaml": strings.Replace(reg("slack", ""), "as_token: as_slack", "as_token: as_irc", 1)}, "field as_token:"},
		{"same hs_token", map[string]string{"a.yaml": reg("irc", ""), "b.yaml": strings.Replace(reg("slack", ""), "hs_token: hs_slack", "hs_token: hs_irc", 1)}, "field hs_token:"},
		{"overlapping users", map[string]string{"a.yaml": reg("irc", ""), "b.yaml": strings.Replace(reg("slack", ""), `"@_slack_.*:hs\\.test"`, `"@_irc_bot.*"`, 1)}, "field namespaces.users[0].regex: exclusive namespace"},
		{"overlapping aliases", map[string]string{"a.yaml": reg("irc", ""), "b.yaml": strings.Replace(reg("slack", ""), `"#_slack_.*:hs\\.test"`, `"#.*"`, 1)}, "field namespaces.aliases[0].regex"},
		{"sender claimed", map[string]string{"a.yaml": reg("irc", ""), "b.yaml": strings.Replace(reg("slack", ""), `"@_slack_.*:hs\\.test"`, `"@bot_irc:.*"`, 1)}, "bot_irc"},
		{"missing file", map[string]string{}, "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var files []string
			for name, content := range c.files {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				files = append(files, p)
			}
			if len(c.files) == 0 {
				files = []string{filepath.Join(dir, "absent.yaml")}
			}
			regs, err := LoadRegistrations(files, testServer)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			irc := regs.ByASToken("as_irc")
			if irc == nil || irc.ID != "irc" || regs.ByID("slack") == nil || regs.ByASToken("hs_irc") != nil {
				t.Fatal("lookups by as_token / id")
			}
			for user, want := range map[string]string{"@_irc_bob:hs.test": "irc", "@bot_slack:hs.test": "slack", "@alice:hs.test": ""} {
				got := ""
				if o := regs.ExclusiveUserOwner(user); o != nil {
					got = o.ID
				}
				if got != want {
					t.Errorf("owner of %s = %q, want %q", user, got, want)
				}
			}
			if !irc.OwnsUser("@_irc_x:hs.test") || irc.OwnsUser("@x_irc_x:hs.test") {
				t.Error("namespaces match from the start of the ID")
			}
		})
	}
}

// TestRegexesOverlap: the product-automaton check against hand-decided pairs.
func TestRegexesOverlap(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{`@_irc_.*`, `@_irc_.*`, true},
		{`@_irc_.*`, `@_slack_.*`, false},
		{`@_irc_.*:hs\.test`, `@_irc_bot:hs\.test`, true},
		{`@_irc_[0-9]+:hs\.test`, `@_irc_bot:hs\.test`, false},
		{`@_irc_[0-9]+:hs\.test$`, `@_irc_1`, true}, // prefix match: @_irc_1… claims @_irc_1:hs.test
		{`@a$`, `@ab`, false},
		{`@(a|b)x`, `@bx`, true},
		{`@[a-c]+`, `@[d-f]+`, false},
		{`(?i)@IRC_.*`, `@irc_x`, true},
		{`.*`, `@anything`, true},
		{`@x.*`, `#x.*`, false},
		{`#_irc_.*`, `#.*`, true},
	}
	for _, c := range cases {
		if got := RegexesOverlap(c.a, c.b); got != c.want {
			t.Errorf("RegexesOverlap(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := RegexesOverlap(c.b, c.a); got != c.want {
			t.Errorf("RegexesOverlap(%q, %q) = %v, want %v", c.b, c.a, got, c.want)
		}
	}
}
