package syncv3proxy

import "sync"

// notifier wakes the long-polls (syncv3.Source.Listen) when an ingested /sync answer
// touched their user or one of their rooms.
type notifier struct {
	mu sync.Mutex
	ls map[*listener]struct{}
}

type listener struct {
	n     *notifier
	user  string
	rooms map[string]bool
	c     chan struct{}
}

func newNotifier() *notifier { return &notifier{ls: map[*listener]struct{}{}} }

func (n *notifier) listen(userID string, rooms []string) *listener {
	l := &listener{n: n, user: userID, rooms: make(map[string]bool, len(rooms)), c: make(chan struct{}, 1)}
	for _, r := range rooms {
		l.rooms[r] = true
	}
	n.mu.Lock()
	n.ls[l] = struct{}{}
	n.mu.Unlock()
	return l
}

func (l *listener) C() <-chan struct{} { return l.c }

func (l *listener) Close() {
	l.n.mu.Lock()
	delete(l.n.ls, l)
	l.n.mu.Unlock()
}

// wake signals the listeners of the user (ch.user) or of any of ch's rooms.
func (n *notifier) wake(userID string, ch changes) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for l := range n.ls {
		hit := ch.user && l.user == userID
		for r := range ch.rooms {
			if hit {
				break
			}
			hit = l.rooms[r]
		}
		if hit {
			select {
			case l.c <- struct{}{}:
			default:
			}
		}
	}
}
