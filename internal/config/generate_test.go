package config

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestGenerateRoundTrips(t *testing.T) {
	tests := []struct{ serverName, dataDir string }{
		{"example.org", "/var/lib/axon"},
		{"localhost:8448", "./data"},
		{"", "rel dir/with space"},
	}
	for _, tt := range tests {
		t.Run(tt.serverName+"|"+tt.dataDir, func(t *testing.T) {
			raw := Generate(tt.serverName, tt.dataDir)
			c, err := Parse(raw)
			if err != nil {
				t.Fatalf("generated config does not parse: %v\n%s", err, raw)
			}
			want := Defaults(tt.dataDir)
			if tt.serverName != "" {
				want.Global.ServerName = tt.serverName
			}
			if !reflect.DeepEqual(c, want) {
				t.Fatalf("generated config loads as\n%+v\nwant\n%+v", c, want)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// yamlPaths lists every key path of the Config struct, e.g. "global.event_log.kafka.brokers".
func yamlPaths(t reflect.Type, prefix string, out *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue // not a key: derived from other keys
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "inline" {
			yamlPaths(f.Type, prefix, out)
			continue
		}
		path := prefix + name
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			yamlPaths(f.Type, path+".", out)
			continue
		}
		*out = append(*out, path)
	}
}

func nodePaths(n *yaml.Node, prefix string, out map[string]bool) {
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			nodePaths(c, prefix, out)
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		p := prefix + n.Content[i].Value
		if n.Content[i+1].Kind == yaml.MappingNode {
			nodePaths(n.Content[i+1], p+".", out)
		} else {
			out[p] = true
		}
	}
}

func TestGenerateHasEveryKey(t *testing.T) {
	var want []string
	yamlPaths(reflect.TypeOf(Config{}), "", &want)
	var doc yaml.Node
	if err := yaml.Unmarshal(Generate("example.org", "/d"), &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	nodePaths(&doc, "", got)
	for _, p := range want {
		if !got[p] {
			t.Errorf("generated config lacks %s", p)
		}
		delete(got, p)
	}
	var extra []string
	for p := range got {
		extra = append(extra, p)
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("generated config has keys Config does not: %v", extra)
	}
}

// TestDocsHaveEveryKey keeps docs/config.md complete: every key must be documented.
func TestDocsHaveEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatalf("docs/config.md: %v", err)
	}
	var want []string
	yamlPaths(reflect.TypeOf(Config{}), "", &want)
	for _, p := range want {
		if !strings.Contains(string(doc), "`"+p+"`") {
			t.Errorf("docs/config.md does not document `%s`", p)
		}
	}
}
