package preview

import (
	"maps"
	"net/url"
	"strings"
	"testing"
)

func TestParseHTML(t *testing.T) {
	base, _ := url.Parse("https://example.org/dir/page.html")
	long := strings.Repeat("é", 600)
	tests := []struct {
		name, html string
		want       map[string]string
	}{
		{"opengraph", `<html><head><meta property="og:title" content="T"><meta property="OG:Description" content=" D  d ">
			<meta property="og:image" content="img/a.png"><meta name="og:type" content="article"><title>Other</title></head></html>`,
			map[string]string{"og:title": "T", "og:description": "D d", "og:image": "https://example.org/dir/img/a.png", "og:type": "article"}},
		{"first of each wins", `<meta property="og:title" content="A"><meta property="og:title" content="B">`,
			map[string]string{"og:title": "A"}},
		{"fallbacks", `<title> Page
			title </title><meta name="description" content="Desc"><body><img src="//cdn.example.net/x.jpg"></body>`,
			map[string]string{"og:title": "Page title", "og:description": "Desc", "og:image": "https://cdn.example.net/x.jpg"}},
		{"h1 when no title", `<body><h1>Head <b>line</b></h1></body>`, map[string]string{"og:title": "Head line"}},
		{"image not http", `<meta property="og:title" content="T"><meta property="og:image" content="javascript:alert(1)">`,
			map[string]string{"og:title": "T"}},
		{"description cut", `<meta property="og:description" content="` + long + `">`,
			map[string]string{"og:description": strings.Repeat("é", 499) + "…"}},
		{"invalid utf-8", "<title>a\xffb</title>", map[string]string{"og:title": "a\uFFFDb"}},
		{"empty", ``, map[string]string{}},
		{"not html", "\x00\x01binary", map[string]string{}},
	}
	for _, tc := range tests {
		if got := ParseHTML([]byte(tc.html), base); !maps.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in, want string // want "": refused
	}{
		{"https://example.org/a?b=c#frag", "https://example.org/a?b=c"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/"},
		{"ftp://example.org/", ""},
		{"file:///etc/passwd", ""},
		{"/relative", ""},
		{"https://", ""},
		{"http://%zz", ""},
		{"https://example.org/" + strings.Repeat("a", 5000), ""},
	}
	for _, tc := range tests {
		u, err := ParseURL(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%q accepted as %v", tc.in, u)
		case tc.want != "" && (err != nil || u.String() != tc.want):
			t.Errorf("%q: %v %v, want %s", tc.in, u, err, tc.want)
		}
	}
}
