package preview

import (
	"bytes"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Bounds of what a page contributes to its preview.
const (
	maxOGKeys        = 64
	maxValueRunes    = 1000
	maxDescriptionRn = 500 // og:description, as Synapse cuts it
)

// ParseHTML reads the OpenGraph properties of an HTML page (every <meta property="og:…">
// or name="og:…", the first of each), with fallbacks when the page has none: og:title from
// <title> (else the first <h1>), og:description from <meta name="description">, og:image
// from the first <img src>. og:image is made absolute against base (the page's URL after
// redirects) and dropped unless it is http or https. The page is read as UTF-8 (invalid
// sequences replaced); values are whitespace-collapsed and cut to 1000 characters (500 for
// og:description).
func ParseHTML(body []byte, base *url.URL) map[string]string {
	doc, err := html.Parse(bytes.NewReader(body))
	og := map[string]string{}
	if err != nil {
		return og
	}
	var title, h1, description, img string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Meta:
				key := attr(n, "property")
				if key == "" {
					key = attr(n, "name")
				}
				key = strings.ToLower(strings.TrimSpace(key))
				content := attr(n, "content")
				switch {
				case strings.HasPrefix(key, "og:") && len(key) < 100:
					if _, seen := og[key]; !seen && len(og) < maxOGKeys {
						og[key] = clean(content, maxValueRunes)
					}
				case key == "description" && description == "":
					description = content
				}
			case atom.Title:
				if title == "" {
					title = text(n)
				}
			case atom.H1:
				if h1 == "" {
					h1 = text(n)
				}
			case atom.Img:
				if img == "" {
					img = attr(n, "src")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if og["og:title"] == "" {
		if title == "" {
			title = h1
		}
		if t := clean(title, maxValueRunes); t != "" {
			og["og:title"] = t
		}
	}
	if d, ok := og["og:description"]; ok {
		og["og:description"] = clean(d, maxDescriptionRn)
	} else if d := clean(description, maxDescriptionRn); d != "" {
		og["og:description"] = d
	}
	if og["og:image"] == "" {
		og["og:image"] = img
	}
	if abs := resolve(base, og["og:image"]); abs != "" {
		og["og:image"] = abs
	} else {
		delete(og, "og:image")
	}
	for k, v := range og {
		if v == "" {
			delete(og, k)
		}
	}
	return og
}

// resolve makes ref absolute against base; "" unless the result is http or https.
func resolve(base *url.URL, ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	r, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	if base != nil {
		r = base.ResolveReference(r)
	}
	if (r.Scheme != "http" && r.Scheme != "https") || r.Host == "" || len(r.String()) > maxURLBytes {
		return ""
	}
	return r.String()
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, key) {
			return a.Val
		}
	}
	return ""
}

// text is the text inside n.
func text(n *html.Node) string {
	var sb strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil && sb.Len() < 4*maxValueRunes; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return sb.String()
}

// clean collapses whitespace, replaces invalid UTF-8 and cuts s to maxRunes characters
// (with "…" when cut).
func clean(s string, maxRunes int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	r := []rune(s)
	return string(r[:maxRunes-1]) + "…"
}
