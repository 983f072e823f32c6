package matrix

import (
	"strings"
	"testing"
)

func TestServerACLAllowed(t *testing.T) {
	tests := []struct {
		name    string
		content string
		server  string
		want    bool
	}{
		{"allow all", `{"allow":["*"]}`, "example.org", true},
		{"empty allow denies", `{"deny":[]}`, "example.org", false},
		{"no allow key denies", `{}`, "example.org", false},
		{"not an object denies", `[1,2]`, "example.org", false},
		{"deny wins over allow", `{"allow":["*"],"deny":["evil.com"]}`, "evil.com", false},
		{"deny glob star", `{"allow":["*"],"deny":["*.evil.com"]}`, "a.b.evil.com", false},
		{"deny glob star no match", `{"allow":["*"],"deny":["*.evil.com"]}`, "evil.com", true},
		{"question mark one char", `{"allow":["ser?er.org"]}`, "server.org", true},
		{"question mark not zero chars", `{"allow":["ser?er.org"]}`, "serer.org", false},
		{"port ignored", `{"allow":["example.org"]}`, "example.org:8448", true},
		{"port ignored in deny", `{"allow":["*"],"deny":["127.0.0.1"]}`, "127.0.0.1:8448", false},
		{"case insensitive", `{"allow":["Example.ORG"]}`, "EXAMPLE.org", true},
		{"ip literal allowed by default", `{"allow":["*"]}`, "1.2.3.4:80", true},
		{"ip literal refused", `{"allow":["*"],"allow_ip_literals":false}`, "1.2.3.4:80", false},
		{"ipv6 literal refused", `{"allow":["*"],"allow_ip_literals":false}`, "[::1]:8448", false},
		{"ipv6 literal allowed", `{"allow":["[::1]"]}`, "[::1]:8448", true},
		{"name not an ip literal", `{"allow":["*"],"allow_ip_literals":false}`, "1.2.3.4.example", true},
		{"bad allow_ip_literals kept default", `{"allow":["*"],"allow_ip_literals":"no"}`, "1.2.3.4", true},
		{"non-string entries ignored", `{"allow":[1,null,"ok.org"],"deny":[{"x":1}]}`, "ok.org", true},
		{"allow not a list", `{"allow":"*"}`, "ok.org", false},
		{"star matches empty", `{"allow":["ok.org*"]}`, "ok.org", true},
		{"star in middle", `{"allow":["a*z.org"]}`, "abcz.org", true},
		{"star in middle no match", `{"allow":["a*z.org"]}`, "abcy.org", false},
		{"pathological pattern", `{"allow":["*a*a*a*a*a*a*b"]}`, strings.Repeat("a", 200), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseServerACL([]byte(tt.content)).Allowed(tt.server); got != tt.want {
				t.Fatalf("Allowed(%q) with %s = %v, want %v", tt.server, tt.content, got, tt.want)
			}
		})
	}
}
