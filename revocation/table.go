package revocation

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

// table is the replica's in-memory set: open addressing with linear probing
// over 64-bit keys (maphash of the id under a per-process random seed, so no
// outsider can aim for collisions; a collision can only revoke a token by
// mistake, with odds of about n/2^64 per check). A slot is 16 bytes: the key
// and the expiry. The user table also keeps revoked-before in aux.
//
// One goroutine writes; any number read without locks. A slot's key is
// stored after its value and never changes or clears, so a reader that sees a
// key sees its value; updates only raise values (max), so a racing reader sees
// either the old or the new one, both valid. Removing expired entries and
// growing both build a new table that the writer publishes through an
// atomic.Pointer.
type table struct {
	mask  uint64
	slots []slot
	aux   []atomic.Int64 // unix ms; nil unless the table has aux
	count atomic.Int64   // occupied slots, for readers: 0 skips the lookup
	used  int            // writer only: occupied slots, expired included
	limit int            // writer only: grow past this many
}

// slot keeps a key and its expiry in one cache line.
type slot struct {
	key atomic.Uint64
	exp atomic.Int64 // unix ms
}

const minTableSize = 64

func newTable(size int, withAux bool) *table {
	n := max(minTableSize, 1<<bits.Len(uint(size-1)))
	t := &table{
		mask:  uint64(n - 1),
		slots: make([]slot, n),
		limit: n / 4 * 3,
	}
	if withAux {
		t.aux = make([]atomic.Int64, n)
	}
	return t
}

func hashID(seed maphash.Seed, id string) uint64 {
	h := maphash.String(seed, id)
	if h == 0 {
		h = 1 // 0 marks an empty slot
	}
	return h
}

// get returns the entry's expiry and aux value; ok is false if absent.
func (t *table) get(key uint64) (exp, aux int64, ok bool) {
	if t.count.Load() == 0 {
		return 0, 0, false
	}
	for i := key & t.mask; ; i = (i + 1) & t.mask {
		switch t.slots[i].key.Load() {
		case key:
			if t.aux != nil {
				aux = t.aux[i].Load()
			}
			return t.slots[i].exp.Load(), aux, true
		case 0:
			return 0, 0, false
		}
	}
}

// put inserts or raises an entry. It reports false, changing nothing, when
// the table is full and must be rebuilt first.
func (t *table) put(key uint64, exp, aux int64) bool {
	for i := key & t.mask; ; i = (i + 1) & t.mask {
		switch t.slots[i].key.Load() {
		case key:
			if exp > t.slots[i].exp.Load() {
				t.slots[i].exp.Store(exp)
			}
			if t.aux != nil && aux > t.aux[i].Load() {
				t.aux[i].Store(aux)
			}
			return true
		case 0:
			if t.used >= t.limit {
				return false
			}
			t.slots[i].exp.Store(exp)
			if t.aux != nil {
				t.aux[i].Store(aux)
			}
			t.slots[i].key.Store(key) // publish last
			t.used++
			t.count.Store(int64(t.used))
			return true
		}
	}
}

// rebuilt returns a new table holding the live entries of t (expiry after
// nowMs), with room for at least extra more.
func (t *table) rebuilt(nowMs int64, extra int) *table {
	live := 0
	for i := range t.slots {
		if t.slots[i].key.Load() != 0 && t.slots[i].exp.Load() > nowMs {
			live++
		}
	}
	nt := newTable((live+extra)*2, t.aux != nil)
	for i := range t.slots {
		if k := t.slots[i].key.Load(); k != 0 && t.slots[i].exp.Load() > nowMs {
			var aux int64
			if t.aux != nil {
				aux = t.aux[i].Load()
			}
			nt.put(k, t.slots[i].exp.Load(), aux)
		}
	}
	return nt
}
