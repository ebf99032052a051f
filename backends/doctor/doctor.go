// Package doctor checks, on the machine it runs on, the assumptions the
// port kinds rely on: `l2fabric doctor [--json] [SPEC...]`. For each port
// spec given (or, with none, for every kind of the platform) it runs the
// checks the kind depends on, each reporting PASS, FAIL or SKIP, what was
// tested and, for a failure, the fix.
//
// A check leaves nothing behind: every interface and socket it creates is
// destroyed before it returns, also when it fails or the context ends
// (the feth pair of a macOS check is also recorded, so that even a killed
// doctor has it destroyed by the next start).
//
// The checks themselves are in doctor_linux.go and doctor_darwin.go, thin
// system-call glue; what decides a result from what the system said
// (parsing /proc, judging a sysctl, classifying a kernel image, reading
// entitlements out of a code signature) is in portable files, tested on
// every platform.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/l2fabric/l2fabric/fabric"
)

// Status is a check's outcome.
type Status string

// The outcomes.
const (
	// Pass: what the kind relies on holds.
	Pass Status = "PASS"
	// Fail: it does not; the result's Fix says what to do.
	Fail Status = "FAIL"
	// Skip: the check could not be made here (nothing to test it on, a
	// quiet link, an earlier step failed); it says nothing either way.
	Skip Status = "SKIP"
)

// Result is one check's outcome.
type Result struct {
	// Name identifies the check, e.g. "bpf-attach:en0".
	Name string `json:"name"`
	// Status is PASS, FAIL or SKIP.
	Status Status `json:"status"`
	// Detail says what was tested and what was seen.
	Detail string `json:"detail"`
	// Fix says what to do about a failure.
	Fix string `json:"fix,omitempty"`
}

// pass, fail and skip build results.
func pass(name, detail string) Result { return Result{Name: name, Status: Pass, Detail: detail} }
func fail(name, detail, fix string) Result {
	return Result{Name: name, Status: Fail, Detail: detail, Fix: fix}
}
func skip(name, detail string) Result { return Result{Name: name, Status: Skip, Detail: detail} }

// Check is one thing to test. A check may report several results (one
// probe of an interface tests several steps).
type Check struct {
	// Name identifies the check; two targets needing the same check (two
	// dgram ports, the capability two kinds need) run it once.
	Name string
	// Run makes the check. It must return when ctx ends, having
	// destroyed whatever it created.
	Run func(ctx context.Context) []Result
}

// Target is what a port spec asks doctor to check: its kind and argument
// (the interface of host:en0, the bridge of feth:bridge1).
type Target struct {
	Kind, Arg string
}

// Targets parses specs against kinds (the platform's port kinds, so that
// a spec the daemon would refuse is refused here too). With no spec,
// every kind of the platform is checked, with the defaults of defaults
// (a kind that needs an argument and has none is given "").
func Targets(specs []string, kinds fabric.Kinds, defaults map[string]string) ([]Target, error) {
	if len(specs) == 0 {
		var out []Target
		for _, k := range kinds {
			out = append(out, Target{Kind: k.Name, Arg: defaults[k.Name]})
		}
		return out, nil
	}
	var out []Target
	for _, s := range specs {
		_, spec, _, err := kinds.Parse(s)
		if err != nil {
			return nil, err
		}
		out = append(out, Target{Kind: spec.Kind, Arg: spec.Arg})
	}
	return out, nil
}

// Plan returns the checks the targets need, in the order checksFor gives
// them, each once.
func Plan(targets []Target, checksFor func(Target) []Check) []Check {
	var out []Check
	for _, t := range targets {
		for _, c := range checksFor(t) {
			if !slices.ContainsFunc(out, func(o Check) bool { return o.Name == c.Name }) {
				out = append(out, c)
			}
		}
	}
	return out
}

// Run makes the checks in order. Once ctx has ended the remaining checks
// are reported skipped as interrupted.
func Run(ctx context.Context, checks []Check) []Result {
	var out []Result
	for _, c := range checks {
		if ctx.Err() != nil {
			out = append(out, skip(c.Name, "interrupted before it ran"))
			continue
		}
		rs := c.Run(ctx)
		if len(rs) == 0 {
			rs = []Result{fail(c.Name, "the check reported nothing", "report this as a bug")}
		}
		out = append(out, rs...)
	}
	return out
}

// Failed reports whether a result failed: doctor then exits non-zero.
func Failed(rs []Result) bool {
	return slices.ContainsFunc(rs, func(r Result) bool { return r.Status == Fail })
}

// WriteText writes one line per result, "STATUS  NAME  DETAIL", and under
// a failure its fix; then a summary line.
func WriteText(w io.Writer, rs []Result) error {
	width := 0
	for _, r := range rs {
		width = max(width, len(r.Name))
	}
	var b strings.Builder
	counts := map[Status]int{}
	for _, r := range rs {
		counts[r.Status]++
		fmt.Fprintf(&b, "%-4s  %-*s  %s\n", r.Status, width, r.Name, r.Detail)
		if r.Fix != "" {
			fmt.Fprintf(&b, "%-4s  %-*s  fix: %s\n", "", width, "", r.Fix)
		}
	}
	fmt.Fprintf(&b, "\n%d passed, %d failed, %d skipped\n", counts[Pass], counts[Fail], counts[Skip])
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the results as a JSON array of objects with the keys
// name, status, detail and (for a failure) fix.
func WriteJSON(w io.Writer, rs []Result) error {
	if rs == nil {
		rs = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rs)
}
