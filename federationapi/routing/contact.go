package routing

import (
	"context"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	fsapi "github.com/axon-matrix/axon/federationsender/api"
)

// contactInterval is how often at most one origin's contact is reported (arrow 8).
const contactInterval = time.Minute

// maxContactOrigins bounds the memory of reported origins; older entries are pruned.
const maxContactOrigins = 10000

// contactNotifier is arrow 8 (federationapi → federationsender): a server whose request
// passed the X-Matrix check is up, so the federationsender stops backing off from it. It
// tells the federationsender at most once per contactInterval per origin, in the
// background (the request never waits for it).
type contactNotifier struct {
	fs  fsapi.ContactAPI
	now func() time.Time
	mu  sync.Mutex
	// last is when each origin was last reported.
	last map[string]time.Time
	// wg tracks the reports in flight (tests wait for them).
	wg sync.WaitGroup
}

func newContactNotifier(fs fsapi.ContactAPI) *contactNotifier {
	if fs == nil {
		return nil
	}
	return &contactNotifier{fs: fs, now: time.Now, last: map[string]time.Time{}}
}

// due records a contact of origin and says whether it is to be reported now.
func (c *contactNotifier) due(origin string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if t, ok := c.last[origin]; ok && now.Sub(t) < contactInterval {
		return false
	}
	if len(c.last) >= maxContactOrigins {
		for o, t := range c.last {
			if now.Sub(t) >= contactInterval {
				delete(c.last, o)
			}
		}
		if len(c.last) >= maxContactOrigins {
			return false // a flood of origins within a minute: report none of the new ones
		}
	}
	c.last[origin] = now
	return true
}

// contacted reports origin to the federationsender when due.
func (c *contactNotifier) contacted(origin string) {
	if c == nil || !c.due(origin) {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.fs.ServerContacted(ctx, &fsapi.ServerContactedRequest{Server: origin}); err != nil {
			logrus.WithError(err).WithField("origin", origin).Debug("federationapi: could not report a contact (arrow 8)")
		}
	}()
}
