//go:build linux

package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// goBench is one line of `go test -bench` output.
type goBench struct {
	name    string // without the Benchmark prefix and -GOMAXPROCS suffix
	iters   int
	metrics map[string]float64 // by unit: ns/op, B/op, allocs/op, MB/s, custom
	units   []string           // in output order
}

// runGoBench runs `go test -run '^$' -bench PATTERN -benchmem PKG` in the
// module root and parses its benchmark lines.
func runGoBench(goBin, root, pattern, pkg string) ([]goBench, string, error) {
	args := []string{"test", "-run", "^$", "-bench", pattern, "-benchmem", pkg}
	cmdline := "go " + strings.Join(quoteArgs(args), " ")
	cmd := exec.Command(goBin, args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, cmdline, fmt.Errorf("%s: %v\n%s", cmdline, err, out)
	}
	bs := parseGoBench(string(out))
	if len(bs) == 0 {
		return nil, cmdline, fmt.Errorf("%s printed no benchmark:\n%s", cmdline, out)
	}
	return bs, cmdline, nil
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, "^$ *") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}

// parseGoBench parses "BenchmarkName-N  ITERS  V UNIT  V UNIT ..." lines.
func parseGoBench(out string) []goBench {
	var bs []goBench
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		iters, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		b := goBench{name: name, iters: iters, metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			b.metrics[f[i+1]] = v
			b.units = append(b.units, f[i+1])
		}
		bs = append(bs, b)
	}
	return bs
}

func findBench(bs []goBench, name string) (goBench, bool) {
	for _, b := range bs {
		if b.name == name {
			return b, true
		}
	}
	return goBench{}, false
}
