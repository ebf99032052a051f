package doctor

// The judgments of the Linux checks, apart from their system calls.

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// Linux capability numbers (linux/capability.h).
const (
	capNetAdmin = 12
	capNetRaw   = 13
)

// effectiveCaps returns the CapEff bit set of a /proc/PID/status text.
func effectiveCaps(status string) (uint64, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("CapEff %q: %w", strings.TrimSpace(v), err)
		}
		return caps, nil
	}
	return 0, fmt.Errorf("no CapEff line")
}

// capResult judges whether the effective set caps holds capability bit,
// called name, which what needs.
func capResult(caps uint64, bit int, name, what string) Result {
	check := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	if caps&(1<<bit) != 0 {
		return pass(check, name+" is in the effective set: "+what+" will open")
	}
	return fail(check, name+" is not in the effective set: "+what+" will fail with EPERM",
		"run l2fabric as root (sudo), or grant it: sudo setcap cap_net_raw,cap_net_admin+ep $(command -v l2fabric), or AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN in its systemd unit")
}

// qlenAdvised is the net.unix.max_dgram_qlen from which it no longer
// bounds the rate of qemu-style sockets in practice (README, Forwarding).
const qlenAdvised = 512

// dgramQlenResult judges net.unix.max_dgram_qlen. It never fails: a small
// queue costs throughput, not function.
func dgramQlenResult(v int) Result {
	const name = "unix-max-dgram-qlen"
	detail := fmt.Sprintf("net.unix.max_dgram_qlen = %d: a unix datagram socket not connected back to its sender (qemu's -netdev dgram, the dgram listener) queues at most %d datagrams from it", v, v+1)
	if v < qlenAdvised {
		detail += fmt.Sprintf("; bursts wait or drop at that depth. For qemu-style VMs at high rates raise it: sudo sysctl -w net.unix.max_dgram_qlen=%d (persist it in /etc/sysctl.d/)", qlenAdvised)
	}
	return pass(name, detail)
}
