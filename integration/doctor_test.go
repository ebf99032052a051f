//go:build linux

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// doctorResult is one element of `l2fabric doctor --json`.
type doctorResult struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

// doctorIn runs `l2fabric doctor ARGS...` in namespace ns.
func doctorIn(t *testing.T, ns *netns, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.name, bin, "doctor"}, args...)...)
	cmd.Env = binEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cmdResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("doctor %v: still running after %v\n%s", args, startTimeout, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("doctor %v: %v", args, err)
	}
	return r
}

// doctorJSON decodes doctor --json output, by check name.
func doctorJSON(t *testing.T, r cmdResult) map[string]doctorResult {
	t.Helper()
	var rs []doctorResult
	if err := json.Unmarshal([]byte(r.stdout), &rs); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, r)
	}
	out := map[string]doctorResult{}
	for _, x := range rs {
		if x.Name == "" || x.Detail == "" || (x.Status != "PASS" && x.Status != "FAIL" && x.Status != "SKIP") {
			t.Errorf("doctor --json: malformed result %+v", x)
		}
		out[x.Name] = x
	}
	return out
}

// TestDoctorPassesAndLeavesNothing: as root, in a namespace with a bridge
// and a veth, doctor passes every check for host, tap, feth and dgram
// ports, exits 0, and the namespace has the same interfaces afterwards
// (its throwaway TAP is gone).
func TestDoctorPassesAndLeavesNothing(t *testing.T) {
	t.Parallel()
	requireNetAdmin(t)
	ns := newNetns(t, "doc")
	ns.ip("link", "add", "br0", "type", "bridge")
	ns.ip("link", "set", "br0", "up")
	ns.ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
	before := ns.ip("-o", "link")

	dir := shortTempDir(t)
	r := doctorIn(t, ns, "--json", "host:v0", "tap:t0", "feth:br0", "dgram:"+filepath.Join(dir, "x.sock"))
	if r.code != 0 {
		t.Errorf("doctor exited %d, want 0:\n%s", r.code, r)
	}
	got := doctorJSON(t, r)
	for _, name := range []string{"cap-net-raw", "cap-net-admin", "packet-socket:v0", "tun", "bridge:br0", "unix-max-dgram-qlen"} {
		if got[name].Status != "PASS" {
			t.Errorf("%s: %+v, want PASS", name, got[name])
		}
	}
	if len(got) != 6 {
		t.Errorf("%d checks, want 6 (each once): %v", len(got), got)
	}
	if after := ns.ip("-o", "link"); after != before {
		t.Errorf("interfaces changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// With no spec, every kind: host on lo, the bridge skipped.
	r = doctorIn(t, ns)
	if r.code != 0 || !strings.Contains(r.stdout, "PASS  tun") || !strings.Contains(r.stdout, "SKIP  bridge") {
		t.Errorf("doctor with no spec:\n%s", r)
	}
	if after := ns.ip("-o", "link"); after != before {
		t.Errorf("interfaces changed by doctor with no spec:\n%s", after)
	}
}

// TestDoctorFailsForMissingInterfaceOrBridge: a check a spec needs that
// fails makes doctor exit 1, and says what failed and the fix.
func TestDoctorFailsForMissingInterfaceOrBridge(t *testing.T) {
	t.Parallel()
	requireNetAdmin(t)
	ns := newNetns(t, "docf")
	ns.ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
	for _, tc := range []struct {
		spec, check, detail, fix string
	}{
		{"host:nosuch0", "packet-socket:nosuch0", "no interface nosuch0", "ip -br link"},
		{"feth:nobr0", "bridge:nobr0", "no interface nobr0", "ip link add nobr0 type bridge"},
		{"feth:v0", "bridge:v0", "not a bridge", "ip -br link show type bridge"},
	} {
		r := doctorIn(t, ns, "--json", tc.spec)
		if r.code != 1 {
			t.Errorf("doctor %s exited %d, want 1:\n%s", tc.spec, r.code, r)
		}
		got := doctorJSON(t, r)[tc.check]
		if got.Status != "FAIL" || !strings.Contains(got.Detail, tc.detail) || !strings.Contains(got.Fix, tc.fix) {
			t.Errorf("doctor %s: %s = %+v, want FAIL with %q, fix %q", tc.spec, tc.check, got, tc.detail, tc.fix)
		}
	}
	// The text form: the failure, its fix, and the count.
	r := doctorIn(t, ns, "host:nosuch0")
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL  packet-socket:nosuch0") || !strings.Contains(r.stdout, "fix: give an existing interface") ||
		!strings.Contains(r.stdout, "1 failed") {
		t.Errorf("doctor host:nosuch0:\n%s", r)
	}
	// A malformed spec is a usage error.
	if r := doctorIn(t, ns, "host:"); r.code != 2 {
		t.Errorf("doctor host: exited %d, want 2:\n%s", r.code, r)
	}
}
