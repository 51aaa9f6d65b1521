package sesametest

import (
	"io"
	"net/http"
	"sync"
)

// Hits counts the requests that reached each handler of a test app, so
// that a test can tell a request the middleware refused from one it let
// through. The zero value is ready to use.
type Hits struct {
	mu sync.Mutex
	n  map[string]int
}

// Handler returns an app handler that counts its requests under name and
// answers "hello " + who, or "anonymous" when who reports no session.
func (h *Hits) Handler(name string, who func(*http.Request) (string, bool)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		if h.n == nil {
			h.n = map[string]int{}
		}
		h.n[name]++
		h.mu.Unlock()
		if s, ok := who(r); ok {
			io.WriteString(w, "hello "+s)
			return
		}
		io.WriteString(w, "anonymous")
	}
}

// Count is how many requests the handler called name served.
func (h *Hits) Count(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[name]
}

// Total is how many requests all the handlers served.
func (h *Hits) Total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, v := range h.n {
		n += v
	}
	return n
}
