package api

import "context"

type clientIPKey struct{}

// WithClientIP returns a context that carries the IP address of the client whose request is
// being served. Tier 1 components wrap the context they pass to QueryAccessToken with it, so
// the userapi can record a device's last-seen IP without a change to the UserAPI interface.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP returns the client IP that WithClientIP stored in ctx, or "".
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}
