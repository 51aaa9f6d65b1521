// Command report reads `go test -bench` output of the bench module (several
// rounds in one file) and prints, per way, the median time and allocations,
// the credential size, the ratio to sesame's cache hit, and the design
// targets that these benchmarks decide, each MET or MISSED.
//
//	go run ./cmd/report results.txt
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/sesame-go/sesame/bench"
)

type samples map[string][]float64 // unit → values

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: report results.txt")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	byName := map[string]samples{}
	procs := regexp.MustCompile(`-\d+$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := procs.ReplaceAllString(fields[0], "")
		s := byName[name]
		if s == nil {
			s = samples{}
			byName[name] = s
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			s[fields[i+1]] = append(s[fields[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	get := func(way, unit string) (float64, bool) {
		s := byName["BenchmarkAuth/"+way]
		if s == nil || len(s[unit]) == 0 {
			return 0, false
		}
		return median(s[unit]), true
	}
	hit, ok := get("sesame-hit", "ns/op")
	if !ok {
		fmt.Fprintln(os.Stderr, "no BenchmarkAuth/sesame-hit results")
		os.Exit(1)
	}
	chiNs, _ := get("chi-alone", "ns/op")
	chiAllocs, _ := get("chi-alone", "allocs/op")
	rounds := len(byName["BenchmarkAuth/sesame-hit"]["ns/op"])

	fmt.Printf("Medians of %d interleaved rounds. × hit = this way's time ÷ sesame-hit's; \"over chi\" subtracts chi-alone.\n\n", rounds)
	fmt.Println("| way | µs/op | min–max µs | allocs/op | B/op | over chi: µs | over chi: allocs | credential bytes | × hit |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, way := range bench.Names {
		ns, ok := get(way, "ns/op")
		if !ok {
			continue
		}
		all := byName["BenchmarkAuth/"+way]["ns/op"]
		allocs, _ := get(way, "allocs/op")
		bytes, _ := get(way, "B/op")
		cred, _ := get(way, "cred-bytes")
		credS := strconv.Itoa(int(cred))
		if way == "chi-alone" {
			credS = "—"
		}
		fmt.Printf("| %s | %.2f | %.2f–%.2f | %.0f | %.0f | %.2f | %.0f | %s | %.2f |\n", way, ns/1e3,
			slices.Min(all)/1e3, slices.Max(all)/1e3, allocs, bytes, (ns-chiNs)/1e3, allocs-chiAllocs, credS, ns/hit)
	}
	for _, extra := range []string{"BenchmarkEd25519Verify", "BenchmarkLogin/argon2id-t1-m64MiB-p2", "BenchmarkLogin/sesame-login"} {
		s := byName[extra]
		if s == nil || len(s["ns/op"]) == 0 {
			continue
		}
		ns := median(s["ns/op"])
		unit, div := "µs", 1e3
		if ns > 1e6 {
			unit, div = "ms", 1e6
		}
		fmt.Printf("\n%s: %.2f %s/op (median of %d), %.0f allocs/op, %.0f B/op", strings.TrimPrefix(extra, "Benchmark"),
			ns/div, unit, len(s["ns/op"]), median(s["allocs/op"]), median(s["B/op"]))
	}
	fmt.Print("\n\nTargets decided by these benchmarks:\n\n")
	target := func(desc string, measured string, ok bool) {
		fmt.Printf("- %s: %s → %s\n", desc, measured, met(ok))
	}
	hitAllocs, _ := get("sesame-hit", "allocs/op")
	target("cache hit through chi ≤ 2 µs", fmt.Sprintf("%.2f µs (%.2f µs over chi-alone)", hit/1e3, (hit-chiNs)/1e3), hit <= 2000)
	target("cache hit ≤ 3 allocs (counted over chi-alone, whose router+recorder allocations are not sesame's)",
		fmt.Sprintf("%.0f over chi (%.0f in all)", hitAllocs-chiAllocs, hitAllocs), hitAllocs-chiAllocs <= 3)
	for _, peer := range []struct {
		way  string
		want float64
	}{{"scs+redisstore", 30}, {"gorilla-cookiestore", 10}, {"jwtauth-HS256", 10}} {
		if ns, ok := get(peer.way, "ns/op"); ok {
			target(fmt.Sprintf("cache hit ≥ %.0f× faster than %s", peer.want, peer.way), fmt.Sprintf("%.1f×", ns/hit), ns/hit >= peer.want)
		}
	}
	if miss, ok := get("sesame-miss", "ns/op"); ok {
		if floor, ok := get("floor", "ns/op"); ok {
			target("cache miss ≤ 1.15× the floor (golang-jwt EdDSA parse + AEAD open + payload decode, in chi)",
				fmt.Sprintf("%.3f×", miss/floor), miss/floor <= 1.15)
		}
	}
	if cred, ok := get("sesame-hit", "cred-bytes"); ok {
		target("token for the reference session ≤ 620 bytes", fmt.Sprintf("%.0f bytes", cred), cred <= 620)
	}
	if cred, ok := get("sesame-hit-compact", "cred-bytes"); ok {
		target("the same with a hand-written binary DataEncoding (ref.Codec)", fmt.Sprintf("%.0f bytes", cred), cred <= 620)
	}
}

func met(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
