// Package testrand is the reproducible randomness of sesame's tests: a
// reader that yields counting bytes, so generated keys, nonces and ids are
// the same on every run.
package testrand

// Counter yields N, N+1, N+2, ... (wrapping at 255) as its random bytes.
type Counter struct{ N byte }

// Read fills p with the next bytes of the count; it never fails.
func (r *Counter) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.N
		r.N++
	}
	return len(p), nil
}
