package redistest

import (
	"io"
	"sync"
)

// clients are the go-redis clients a topology handed out; its cleanup closes
// them before it stops the servers.
type clients struct {
	mu   sync.Mutex
	list []io.Closer
}

func (c *clients) add(x io.Closer) {
	c.mu.Lock()
	c.list = append(c.list, x)
	c.mu.Unlock()
}

func (c *clients) closeAll() {
	c.mu.Lock()
	list := c.list
	c.list = nil
	c.mu.Unlock()
	for _, x := range list {
		_ = x.Close()
	}
}
