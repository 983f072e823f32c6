package proxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"
)

// DNS discovery (Options.ResolveInterval): with Docker Compose, `--scale sync-api=3`
// starts three containers that all answer to the service name "sync-api"; Docker's DNS
// gives one address per running replica. An upstream URL such as http://sync-api:8072 then
// stands for every address its name resolves to: each address is an upstream of its own
// (named by its URL with the address, e.g. http://172.18.0.7:8072), health-checked like
// any other, and the name is looked up again every ResolveInterval, so replicas that come
// are added (unhealthy until their first health check passes) and replicas that go are
// dropped, without a restart. A failed lookup keeps the addresses found before: a DNS
// hiccup must not empty a pool. https:// URLs and IP literals are used as configured (a
// certificate names the host, not its addresses).

// source is one configured upstream URL.
type source struct {
	raw     string
	url     *url.URL // scheme and host only
	host    string   // the host without the port
	port    uint16
	dynamic bool // a name resolved to all its addresses
}

// parseSource checks raw (scheme://host[:port]) and says whether it is resolved: only when
// resolve is on, the scheme is http and the host is not an IP address.
func parseSource(raw string, resolve bool) (source, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return source{}, fmt.Errorf("%q is not an http(s) URL", raw)
	}
	s := source{raw: raw, url: &url.URL{Scheme: u.Scheme, Host: u.Host}, host: u.Hostname()}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return source{}, fmt.Errorf("%q: bad port", raw)
	}
	s.port = uint16(n)
	_, isIP := netip.ParseAddr(s.host)
	s.dynamic = resolve && u.Scheme == "http" && isIP != nil
	return s, nil
}

// Resolve looks up every upstream name (when DNS discovery is on) and replaces each pool's
// list with the upstreams of the addresses found, keeping the upstreams (and their health)
// that are still there. New upstreams start unhealthy: run CheckNow next. It reports
// whether any pool changed.
func (p *Proxy) Resolve(ctx context.Context) (changed bool) {
	if p.opts.ResolveInterval <= 0 {
		return false
	}
	for _, k := range Kinds {
		if p.resolvePool(ctx, p.pools[k]) {
			changed = true
		}
	}
	return changed
}

func (p *Proxy) resolvePool(ctx context.Context, pl *pool) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	old := pl.list()
	byName := make(map[string]*upstream, len(old))
	for _, u := range old {
		byName[u.name] = u
	}
	var next []*upstream
	keep := map[string]bool{}
	add := func(u *upstream) {
		if !keep[u.name] {
			keep[u.name] = true
			next = append(next, u)
		}
	}
	for _, src := range pl.srcs {
		if !src.dynamic {
			add(byName[src.raw])
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, p.opts.HealthCheckTimeout)
		addrs, err := p.opts.Resolver(lctx, src.host)
		cancel()
		if err != nil || len(addrs) == 0 {
			if ctx.Err() == nil {
				p.log.WithError(err).WithFields(logrus.Fields{"kind": pl.kind, "upstream": src.raw}).
					Warn("upstream name did not resolve: keeping its addresses")
			}
			for _, u := range old {
				if u.source == src.raw {
					add(u)
				}
			}
			continue
		}
		addrs = slices.Clone(addrs)
		slices.SortFunc(addrs, netip.Addr.Compare)
		for _, a := range addrs {
			host := netip.AddrPortFrom(a.Unmap(), src.port).String()
			name := src.url.Scheme + "://" + host
			u := byName[name]
			if u == nil {
				u = p.newUpstream(pl.kind, &url.URL{Scheme: src.url.Scheme, Host: host}, name)
				u.source = src.raw
				p.log.WithFields(logrus.Fields{"kind": pl.kind, "upstream": name, "name": src.raw}).Info("upstream found")
			}
			add(u)
		}
	}
	changed := len(next) != len(old)
	for _, u := range old {
		if !keep[u.name] {
			changed = true
			u.remove()
			p.log.WithFields(logrus.Fields{"kind": u.kind, "upstream": u.name}).Info("upstream gone from DNS: dropped")
		}
	}
	if changed {
		pl.ups.Store(&next)
	}
	return changed
}

// runResolve looks the names up every ResolveInterval until ctx ends, running a round of
// health checks right after a change so new replicas get traffic within a check's time.
func (p *Proxy) runResolve(ctx context.Context) {
	t := time.NewTicker(p.opts.ResolveInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if p.Resolve(ctx) {
				p.CheckNow(ctx)
			}
		}
	}
}

// lookupIP is the default Options.Resolver.
func lookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}
