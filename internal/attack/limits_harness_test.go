package attack_test

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/sesame-go/sesame/auth"
)

// fromHeader names the header the throttling cases' ClientIP reads, as a
// trusted proxy's header would be read: the attacker picks his address.
const fromHeader = "X-Attack-From"

func fromHeaderIP(r *http.Request) string { return r.Header.Get(fromHeader) }

// throttling configures a throttling case: the attacker picks his address,
// and a slow answer from Redis on a loaded test machine is not taken for an
// outage (which would split the count between Redis and the node's table).
func throttling(c *auth.Config[Profile]) {
	c.ClientIP = fromHeaderIP
	c.Limits.Timeout = 10 * time.Second
}

// heldAuth wraps countingAuth and, while a burst is armed, holds every
// wrong-password check until each request of the burst has reached a check
// or been refused: all the guesses a limiter lets through are then in
// flight at once, the shape of BUG-2.
type heldAuth struct {
	*countingAuth
	mu      sync.Mutex
	total   int
	seen    int
	release chan struct{}
}

func (h *heldAuth) arm(n int) {
	h.mu.Lock()
	h.total, h.seen, h.release = n, 0, make(chan struct{})
	h.mu.Unlock()
}

// done counts one request of the burst as settled (checked or refused).
func (h *heldAuth) done() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.total == 0 {
		return
	}
	if h.seen++; h.seen == h.total {
		close(h.release)
		h.total = 0
	}
}

func (h *heldAuth) Authenticate(ctx context.Context, u, p string) (string, Profile, error) {
	uid, prof, err := h.countingAuth.Authenticate(ctx, u, p)
	h.mu.Lock()
	rel, armed := h.release, h.total > 0
	h.mu.Unlock()
	if err != nil && armed {
		h.done()
		select {
		case <-rel:
		case <-ctx.Done():
		case <-time.After(20 * time.Second): // a deadline: a broken gate fails instead of hanging
		}
	}
	return uid, prof, err
}

var _ auth.Authenticator[Profile] = (*heldAuth)(nil)
