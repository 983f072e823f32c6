package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// PublicRegistrationListeners lists, as "key value", every address through which
// POST /register can be reached from another machine: monolith.http_bind (and
// https_bind when set), client_api.public_listen and client_api_proxy.listen when they are not on loopback, and
// client_api.public_base_url when it names a host that is not loopback (a reverse proxy in
// front of a loopback listener still makes registration public). Empty means every way in
// is loopback.
func (c *Config) PublicRegistrationListeners() []string {
	var out []string
	for _, l := range []struct{ key, addr string }{
		{"monolith.http_bind", c.Monolith.HTTPBind},
		{"monolith.https_bind", c.Monolith.HTTPSBind}, // serves the client API too
		{"client_api.public_listen", c.ClientAPI.PublicListen},
		{"client_api_proxy.listen", c.ClientAPIProxy.Listen},
	} {
		if l.key == "monolith.https_bind" && l.addr == "" {
			continue // no TLS listener
		}
		if !IsLoopbackListen(l.addr) {
			out = append(out, fmt.Sprintf("%s %q", l.key, l.addr))
		}
	}
	if u := c.ClientAPI.PublicBaseURL; u != "" {
		if pu, err := url.Parse(u); err == nil && !isLoopbackHost(pu.Hostname()) {
			out = append(out, fmt.Sprintf("client_api.public_base_url %q", u))
		}
	}
	return out
}

// IsLoopbackListen reports whether a listen address (host:port) accepts connections from
// this machine only: its host is "localhost" or a loopback IP. ":8008" (every interface)
// is not.
func IsLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && isLoopbackHost(host)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateRegistration checks client_api.registration_mode and refuses open registration
// that other machines could reach unless allow_open_registration_on_public_listener says so.
func (c *Config) validateRegistration(bad func(path, format string, a ...any)) {
	switch c.ClientAPI.RegistrationMode {
	case RegistrationOpen:
		if c.ClientAPI.AllowOpenRegistrationOnPublicListener {
			return
		}
		if pub := c.PublicRegistrationListeners(); len(pub) > 0 {
			bad("client_api.registration_mode", `"open" lets anyone on the network create accounts, but %s is not loopback; `+
				`set registration_mode to "token" (accounts only with a registration token an admin creates) or "closed", `+
				`or set client_api.allow_open_registration_on_public_listener: true if open registration is really meant`,
				strings.Join(pub, " and "))
		}
	case RegistrationToken, RegistrationClosed:
	default:
		bad("client_api.registration_mode", `must be "open", "token" or "closed", got %q`, c.ClientAPI.RegistrationMode)
	}
}
