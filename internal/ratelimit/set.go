package ratelimit

import (
	"github.com/axon-matrix/axon/internal/config"
)

// Set is every limit of global.rate_limits, made once per process (or per component in
// the monolith) by the component that serves the limited requests.
type Set struct {
	limiters map[string]*Limiter
	exempt   map[string]bool
}

// NewSet makes a Limiter for each limit of c; with c.Enabled false, none (every Get is nil
// and never limits).
func NewSet(c config.RateLimits, opts ...Option) *Set {
	s := &Set{limiters: map[string]*Limiter{}, exempt: map[string]bool{}}
	if !c.Enabled {
		return s
	}
	for name, r := range c.Rates() {
		s.limiters[name] = New(name, r, opts...)
	}
	for _, id := range c.ExemptUserIDs {
		s.exempt[id] = true
	}
	return s
}

// Get returns the named limit, or nil (never limits) when limits are off or s is nil.
// Callers on a hot path keep the result instead of calling Get per request.
func (s *Set) Get(name string) *Limiter {
	if s == nil {
		return nil
	}
	return s.limiters[name]
}

// Exempt says whether the logged-in user userID is never limited: privileged (an admin
// or application service account, which the caller knows from the device), or listed in
// global.rate_limits.exempt_user_ids. Login limits do not ask: they apply to everyone.
func (s *Set) Exempt(userID string, privileged bool) bool {
	if privileged {
		return true
	}
	return s != nil && s.exempt[userID]
}
