// Package api is the appservice component's contract: the application-service
// registrations (loaded from the files in app_service.config_files, shared by every
// component that must know whether a user, alias or room belongs to a service — arrows 9
// and 10) and AppServiceAPI, the internal API the clientapi calls (arrow 10).
package api

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Namespace is one entry of a registration's users, aliases or rooms list.
type Namespace struct {
	Exclusive bool   `yaml:"exclusive" json:"exclusive"`
	Regex     string `yaml:"regex" json:"regex"`
	// re is Regex anchored at the start, as Synapse matches namespaces (a regex that
	// matches a prefix of an ID claims the ID).
	re *regexp.Regexp
}

// Matches says whether s is in the namespace.
func (n *Namespace) Matches(s string) bool { return n.re != nil && n.re.MatchString(s) }

// Namespaces are a registration's three namespace lists.
type Namespaces struct {
	Users   []Namespace `yaml:"users" json:"users"`
	Aliases []Namespace `yaml:"aliases" json:"aliases"`
	Rooms   []Namespace `yaml:"rooms" json:"rooms"`
}

// Registration is one application service's registration file (the spec's
// Registration schema, plus Synapse's extensions bridges use).
type Registration struct {
	ID string `yaml:"id"`
	// URL is where the service is reached; nil (YAML null) when it wants no traffic.
	URL             *string    `yaml:"url"`
	ASToken         string     `yaml:"as_token"`
	HSToken         string     `yaml:"hs_token"`
	SenderLocalpart string     `yaml:"sender_localpart"`
	Namespaces      Namespaces `yaml:"namespaces"`
	// RateLimited: whether requests of masqueraded users are rate-limited (default true;
	// the sender is never limited).
	RateLimited *bool    `yaml:"rate_limited"`
	Protocols   []string `yaml:"protocols"`
	// ReceiveEphemeral (de.sorunome.msc2409.push_ephemeral is its old name): typing,
	// receipts and presence go in the transactions' ephemeral field (MSC2409).
	ReceiveEphemeral    bool `yaml:"receive_ephemeral"`
	ReceiveEphemeralOld bool `yaml:"de.sorunome.msc2409.push_ephemeral"`
	// MSC3202 (org.matrix.msc3202, as Synapse names the switch): the service may act as
	// one of its users' devices with ?device_id= (or org.matrix.msc3202.device_id).
	MSC3202 bool `yaml:"org.matrix.msc3202"`
	// PushToDevice: to-device messages for the service's users' devices go in the
	// transactions' de.sorunome.msc2409.to_device field (org.matrix.msc3202 turns it on too).
	PushToDevice bool `yaml:"push_to_device"`

	// File is the file the registration came from (for errors and logs).
	File string `yaml:"-"`
	// senderUserID is @sender_localpart:server_name.
	senderUserID string
}

// SenderUserID is the service's own user, @sender_localpart:server_name.
func (r *Registration) SenderUserID() string { return r.senderUserID }

// HasURL says whether the service wants traffic (its url is neither null nor empty).
func (r *Registration) HasURL() bool { return r.URL != nil && *r.URL != "" }

// WantsToDevice says whether the service gets its users' to-device messages.
func (r *Registration) WantsToDevice() bool { return r.PushToDevice || r.MSC3202 }

// IsRateLimited says whether masqueraded users of the service are rate-limited.
func (r *Registration) IsRateLimited() bool { return r.RateLimited == nil || *r.RateLimited }

// OwnsUser says whether userID is the service's sender or in its user namespaces.
func (r *Registration) OwnsUser(userID string) bool {
	return userID == r.senderUserID || matchAny(r.Namespaces.Users, userID, false)
}

// OwnsUserExclusively says whether userID is in one of the service's exclusive user
// namespaces (or is its sender).
func (r *Registration) OwnsUserExclusively(userID string) bool {
	return userID == r.senderUserID || matchAny(r.Namespaces.Users, userID, true)
}

// InterestedInRoom says whether roomID is in the service's room namespaces.
func (r *Registration) InterestedInRoom(roomID string) bool {
	return matchAny(r.Namespaces.Rooms, roomID, false)
}

// InterestedInAlias says whether alias is in the service's alias namespaces.
func (r *Registration) InterestedInAlias(alias string) bool {
	return matchAny(r.Namespaces.Aliases, alias, false)
}

// OwnsAliasExclusively says whether alias is in one of the service's exclusive alias
// namespaces.
func (r *Registration) OwnsAliasExclusively(alias string) bool {
	return matchAny(r.Namespaces.Aliases, alias, true)
}

func matchAny(ns []Namespace, s string, exclusiveOnly bool) bool {
	for i := range ns {
		if (!exclusiveOnly || ns[i].Exclusive) && ns[i].Matches(s) {
			return true
		}
	}
	return false
}

// ParseRegistration parses and validates one registration file's content; file names it
// in errors. serverName is this homeserver's name (the sender's domain).
func ParseRegistration(file string, data []byte, serverName string) (*Registration, error) {
	var r Registration
	if err := yaml.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("appservice registration %s: not YAML: %w", file, err)
	}
	r.File = file
	bad := func(field, why string) error {
		return fmt.Errorf("appservice registration %s: field %s: %s", file, field, why)
	}
	if strings.TrimSpace(r.ID) == "" {
		return nil, bad("id", "missing")
	}
	if r.ASToken == "" {
		return nil, bad("as_token", "missing")
	}
	if r.HSToken == "" {
		return nil, bad("hs_token", "missing")
	}
	if r.ASToken == r.HSToken {
		return nil, bad("hs_token", "must differ from as_token")
	}
	if r.SenderLocalpart == "" {
		return nil, bad("sender_localpart", "missing")
	}
	r.senderUserID = "@" + r.SenderLocalpart + ":" + serverName
	if err := validUserLocalpart(r.SenderLocalpart); err != nil {
		return nil, bad("sender_localpart", err.Error())
	}
	if r.URL != nil && *r.URL != "" {
		u, err := url.Parse(*r.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, bad("url", fmt.Sprintf("%q is not an http(s) URL (use null for a service that wants no traffic)", *r.URL))
		}
	}
	for _, list := range []struct {
		name string
		ns   []Namespace
	}{{"namespaces.users", r.Namespaces.Users}, {"namespaces.aliases", r.Namespaces.Aliases}, {"namespaces.rooms", r.Namespaces.Rooms}} {
		for i := range list.ns {
			field := fmt.Sprintf("%s[%d].regex", list.name, i)
			if list.ns[i].Regex == "" {
				return nil, bad(field, "missing")
			}
			re, err := regexp.Compile("^(?:" + list.ns[i].Regex + ")")
			if err != nil {
				return nil, bad(field, fmt.Sprintf("does not compile: %v", err))
			}
			list.ns[i].re = re
		}
	}
	if r.ReceiveEphemeralOld {
		r.ReceiveEphemeral = true
	}
	return &r, nil
}

// validUserLocalpart checks the spec's user ID localpart grammar (a-z 0-9 . _ = - /).
func validUserLocalpart(s string) error {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("._=-/+", c)) {
			return fmt.Errorf("%q is not a valid user localpart (a-z, 0-9, ._=-/+)", s)
		}
	}
	return nil
}

// LoadRegistrations reads, parses and validates the registration files (config
// app_service.config_files) as a set: IDs, as_tokens and hs_tokens unique, exclusive
// namespaces of different services disjoint.
func LoadRegistrations(files []string, serverName string) (*Registrations, error) {
	var regs []*Registration
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("appservice registration %s: %w", f, err)
		}
		r, err := ParseRegistration(f, data, serverName)
		if err != nil {
			return nil, err
		}
		regs = append(regs, r)
	}
	return NewRegistrations(regs)
}

// NewRegistrations checks parsed registrations as a set and indexes them.
func NewRegistrations(regs []*Registration) (*Registrations, error) {
	s := &Registrations{list: regs, byASToken: map[string]*Registration{}, byID: map[string]*Registration{}}
	hsTokens := map[string]*Registration{}
	senders := map[string]*Registration{}
	for _, r := range regs {
		if o := s.byID[r.ID]; o != nil {
			return nil, fmt.Errorf("appservice registration %s: field id: %q is also the id in %s", r.File, r.ID, o.File)
		}
		if o := s.byASToken[r.ASToken]; o != nil {
			return nil, fmt.Errorf("appservice registration %s: field as_token: the same as in %s", r.File, o.File)
		}
		if o := hsTokens[r.HSToken]; o != nil {
			return nil, fmt.Errorf("appservice registration %s: field hs_token: the same as in %s", r.File, o.File)
		}
		if o := senders[r.senderUserID]; o != nil {
			return nil, fmt.Errorf("appservice registration %s: field sender_localpart: %q is also the sender of %s", r.File, r.SenderLocalpart, o.File)
		}
		s.byID[r.ID], s.byASToken[r.ASToken], hsTokens[r.HSToken], senders[r.senderUserID] = r, r, r, r
	}
	for i, a := range regs {
		for _, b := range regs[i+1:] {
			if err := exclusiveOverlap(a, b); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// exclusiveOverlap reports two services whose exclusive namespaces (or one's exclusive
// namespace and the other's sender) can claim the same ID.
func exclusiveOverlap(a, b *Registration) error {
	kinds := []struct {
		name string
		a, b []Namespace
	}{{"users", a.Namespaces.Users, b.Namespaces.Users}, {"aliases", a.Namespaces.Aliases, b.Namespaces.Aliases}, {"rooms", a.Namespaces.Rooms, b.Namespaces.Rooms}}
	for _, k := range kinds {
		for i := range k.b {
			for j := range k.a {
				if !k.a[j].Exclusive || !k.b[i].Exclusive {
					continue
				}
				if RegexesOverlap(k.a[j].Regex, k.b[i].Regex) {
					return fmt.Errorf("appservice registration %s: field namespaces.%s[%d].regex: exclusive namespace %q overlaps the exclusive namespace %q of %s",
						b.File, k.name, i, k.b[i].Regex, k.a[j].Regex, a.File)
				}
			}
		}
	}
	if b.OwnsUserExclusively(a.senderUserID) {
		return fmt.Errorf("appservice registration %s: field namespaces.users: an exclusive namespace claims %s, the sender of %s", b.File, a.senderUserID, a.File)
	}
	if a.OwnsUserExclusively(b.senderUserID) {
		return fmt.Errorf("appservice registration %s: field sender_localpart: %s is in an exclusive namespace of %s", b.File, b.senderUserID, a.File)
	}
	return nil
}

// Registrations is the validated set of registrations.
type Registrations struct {
	list      []*Registration
	byASToken map[string]*Registration
	byID      map[string]*Registration
}

// All lists the registrations in file order.
func (s *Registrations) All() []*Registration {
	if s == nil {
		return nil
	}
	return s.list
}

// ByASToken returns the service whose as_token is token, or nil: a map lookup, cheap
// enough to run before every access-token check.
func (s *Registrations) ByASToken(token string) *Registration {
	if s == nil {
		return nil
	}
	return s.byASToken[token]
}

// ByID returns the service with id, or nil.
func (s *Registrations) ByID(id string) *Registration {
	if s == nil {
		return nil
	}
	return s.byID[id]
}

// ExclusiveUserOwner returns the service that claims userID exclusively, or nil.
func (s *Registrations) ExclusiveUserOwner(userID string) *Registration {
	for _, r := range s.All() {
		if r.OwnsUserExclusively(userID) {
			return r
		}
	}
	return nil
}

// ExclusiveAliasOwner returns the service that claims alias exclusively, or nil.
func (s *Registrations) ExclusiveAliasOwner(alias string) *Registration {
	for _, r := range s.All() {
		if r.OwnsAliasExclusively(alias) {
			return r
		}
	}
	return nil
}

// ErrNoRegistrations is returned where a service is required but none is configured.
var ErrNoRegistrations = errors.New("no application services are configured")
