package testrand

import (
	"bytes"
	"testing"
)

func TestCounter(t *testing.T) {
	r := &Counter{N: 254}
	p := make([]byte, 4)
	if n, err := r.Read(p); n != 4 || err != nil {
		t.Fatalf("Read = %d, %v; want 4, nil", n, err)
	}
	if want := []byte{254, 255, 0, 1}; !bytes.Equal(p, want) {
		t.Errorf("Read gave %v, want %v", p, want)
	}
	if r.N != 2 {
		t.Errorf("N = %d after four bytes, want 2", r.N)
	}
}
