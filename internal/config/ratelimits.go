package config

import (
	"bytes"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"text/template"
)

// RateLimits is global.rate_limits: token buckets in the spirit of Synapse's rc_* settings.
// Each component limits the requests it serves (the clientapi and the mediaapi their
// routes; the syncapi later, through internal/ratelimit) in its own memory, so every process of the
// polylith counts on its own.
type RateLimits struct {
	// Enabled turns every limit on (the default) or off.
	Enabled bool `yaml:"enabled"`
	// ExemptUserIDs are never limited on the requests they make as a logged-in user (e.g.
	// bots and bridges). Admin and application service accounts are exempt too. Login
	// limits apply to everyone.
	ExemptUserIDs []string `yaml:"exempt_user_ids"`

	// Message limits room sends, state events, redactions, room creation and membership
	// changes other than joins, per user.
	Message Rate `yaml:"message"`
	// Registration limits accounts created (POST /register), per client IP.
	Registration Rate `yaml:"registration"`
	// RegistrationTokenValidity limits registration token checks
	// (GET /register/m.login.registration_token/validity), per client IP.
	RegistrationTokenValidity Rate `yaml:"registration_token_validity"`
	// LoginAddress limits login attempts per client IP.
	LoginAddress Rate `yaml:"login_address"`
	// LoginAccount limits login attempts per account logged into.
	LoginAccount Rate `yaml:"login_account"`
	// LoginFailedAttempts limits failed logins (wrong password) per account.
	LoginFailedAttempts Rate `yaml:"login_failed_attempts"`
	// Joins limits room joins per user.
	Joins Rate `yaml:"joins"`
	// InvitesPerRoom limits invites into one room.
	InvitesPerRoom Rate `yaml:"invites_per_room"`
	// InvitesPerUser limits invites one user receives.
	InvitesPerUser Rate `yaml:"invites_per_user"`
	// InvitesPerIssuer limits invites one user sends.
	InvitesPerIssuer Rate `yaml:"invites_per_issuer"`
	// ThreePIDValidation limits 3PID validation requests (requestToken) per client IP and
	// per address. No 3PID endpoint exists yet: the limit is ready for them.
	ThreePIDValidation Rate `yaml:"threepid_validation"`
	// MediaUpload limits new media per user: uploads (POST /_matrix/media/v3/upload) and
	// media IDs created for asynchronous uploads (POST /_matrix/media/v1/create).
	MediaUpload Rate `yaml:"media_upload"`
}

// Rate is one token bucket: it holds BurstCount tokens, a request takes one, and PerSecond
// tokens flow back each second.
type Rate struct {
	PerSecond  float64 `yaml:"per_second"`
	BurstCount int     `yaml:"burst_count"`
}

// defaultRateLimits are Synapse's documented rc_* defaults.
func defaultRateLimits() RateLimits {
	return RateLimits{
		Enabled:                   true,
		Message:                   Rate{PerSecond: 0.2, BurstCount: 10},
		Registration:              Rate{PerSecond: 0.17, BurstCount: 3},
		RegistrationTokenValidity: Rate{PerSecond: 0.1, BurstCount: 5},
		LoginAddress:              Rate{PerSecond: 0.003, BurstCount: 5},
		LoginAccount:              Rate{PerSecond: 0.003, BurstCount: 5},
		LoginFailedAttempts:       Rate{PerSecond: 0.17, BurstCount: 3},
		Joins:                     Rate{PerSecond: 0.1, BurstCount: 10},
		InvitesPerRoom:            Rate{PerSecond: 0.3, BurstCount: 10},
		InvitesPerUser:            Rate{PerSecond: 0.003, BurstCount: 5},
		InvitesPerIssuer:          Rate{PerSecond: 0.3, BurstCount: 10},
		ThreePIDValidation:        Rate{PerSecond: 0.003, BurstCount: 5},
		MediaUpload:               Rate{PerSecond: 10, BurstCount: 50},
	}
}

// Rates returns every limit by its key name (message, registration, …), which is also its
// name in internal/ratelimit and its label on axon_rate_limited_total. A Rate field added
// to RateLimits appears here by itself.
func (r *RateLimits) Rates() map[string]Rate {
	out := map[string]Rate{}
	v := reflect.ValueOf(r).Elem()
	for i := 0; i < v.NumField(); i++ {
		if rate, ok := v.Field(i).Interface().(Rate); ok {
			out[rateKey(v.Type().Field(i))] = rate
		}
	}
	return out
}

// rateNames lists the limits in field order (for the generated file and validation).
func rateNames() []string {
	t := reflect.TypeOf(RateLimits{})
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Type == reflect.TypeOf(Rate{}) {
			out = append(out, rateKey(t.Field(i)))
		}
	}
	return out
}

func rateKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// normalizeRateLimits makes an empty list in the file ("[]") the same as no key.
func (g *Global) normalizeRateLimits() {
	if len(g.TrustedProxies) == 0 {
		g.TrustedProxies = nil
	}
	if len(g.RateLimits.ExemptUserIDs) == 0 {
		g.RateLimits.ExemptUserIDs = nil
	}
}

// TrustedProxyPrefixes returns global.trusted_proxies as prefixes (a bare address is a
// single-address prefix). Validate rejects bad entries; this skips them.
func (g *Global) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range g.TrustedProxies {
		if p, err := parseTrustedProxy(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// parseTrustedProxy accepts an IP address ("10.0.0.5", "::1") or a CIDR ("10.0.0.0/8").
func parseTrustedProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// validateRateLimits reports bad global.rate_limits and global.trusted_proxies keys.
func (g *Global) validateRateLimits(bad func(path, format string, a ...any)) {
	rates := g.RateLimits.Rates()
	for _, name := range rateNames() {
		r, path := rates[name], "global.rate_limits."+name
		if !(r.PerSecond > 0) || r.PerSecond > 1e9 {
			bad(path+".per_second", "must be a positive number of requests per second, got %v", r.PerSecond)
		}
		if r.BurstCount < 1 {
			bad(path+".burst_count", "must be at least 1, got %d", r.BurstCount)
		}
	}
	for i, id := range g.RateLimits.ExemptUserIDs {
		if !strings.HasPrefix(id, "@") || !strings.Contains(id, ":") {
			bad(fmt.Sprintf("global.rate_limits.exempt_user_ids[%d]", i), "must be a user ID (@localpart:server), got %q", id)
		}
	}
	for i, s := range g.TrustedProxies {
		if _, err := parseTrustedProxy(s); err != nil {
			bad(fmt.Sprintf("global.trusted_proxies[%d]", i), "%v", err)
		}
	}
}

// rateComments are the generated file's comment of each limit.
var rateComments = map[string]string{
	"message":                     "Room sends, state events, redactions, room creation, leaves, knocks,\n    # invites, kicks, bans and unbans, per user.",
	"registration":                "Accounts created with POST /register, per client IP.",
	"registration_token_validity": "Registration token checks (GET /register/m.login.registration_token/\n    # validity), per client IP.",
	"login_address":               "Login attempts, per client IP.",
	"login_account":               "Login attempts, per account logged into.",
	"login_failed_attempts":       "Failed logins (wrong password), per account.",
	"joins":                       "Room joins, per user.",
	"invites_per_room":            "Invites into one room.",
	"invites_per_user":            "Invites one user receives.",
	"invites_per_issuer":          "Invites one user sends.",
	"threepid_validation":         "3PID validation requests, per client IP and per address (no 3PID\n    # endpoint exists yet).",
	"media_upload":                "Media uploads (POST /upload) and asynchronous media IDs (POST /create),\n    # per user.",
}

// generateRateLimits is the global.trusted_proxies and global.rate_limits part of the
// generated file, indented for the global section.
func generateRateLimits(c *Config) string {
	type row struct {
		Name, Comment string
		Rate          Rate
	}
	rates := c.Global.RateLimits.Rates()
	var rows []row
	for _, n := range rateNames() {
		rows = append(rows, row{n, rateComments[n], rates[n]})
	}
	var buf bytes.Buffer
	err := rateLimitsTmpl.Execute(&buf, map[string]any{"G": &c.Global, "Rows": rows,
		"Num": func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }})
	if err != nil {
		panic("config: rate limits template: " + err.Error()) // fixed template: a bug, not input
	}
	return buf.String()
}

var rateLimitsTmpl = template.Must(template.New("ratelimits").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(`
  # Addresses (e.g. "10.0.0.5") or CIDR prefixes (e.g. "10.0.0.0/8") of reverse proxies,
  # such as the polylith's client-api-proxy, whose X-Forwarded-For header names the real
  # client. Empty: trust none; the client IP is the connection's remote address.
  trusted_proxies: [{{range $i, $p := .G.TrustedProxies}}{{if $i}}, {{end}}{{q $p}}{{end}}]

  # Rate limits (token buckets like Synapse's rc_* settings): each holds burst_count
  # requests, and per_second more are allowed each second. An exceeded limit is answered
  # 429 M_LIMIT_EXCEEDED with retry_after_ms. Counted per process, in memory.
  rate_limits:
    # false turns every limit off (load tests).
    enabled: {{.G.RateLimits.Enabled}}
    # User IDs never limited when logged in (e.g. bots, bridges). Admin and application
    # service accounts are exempt too; login limits apply to everyone.
    exempt_user_ids: [{{range $i, $u := .G.RateLimits.ExemptUserIDs}}{{if $i}}, {{end}}{{q $u}}{{end}}]
{{- range .Rows}}
    # {{.Comment}}
    {{.Name}}:
      per_second: {{call $.Num .Rate.PerSecond}}
      burst_count: {{.Rate.BurstCount}}
{{- end}}

`))
