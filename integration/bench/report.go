//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

type results struct {
	machine    machineInfo
	started    time.Time
	elapsed    time.Duration
	dur, warm  time.Duration
	sizes      []int
	vdeSkipped string // why vde_switch was not measured, or ""
	unicast    map[kind][]rate
	latency    map[kind]latencyResult
	idle       map[kind]rate // median of idleRounds with idle stations
	idleBase   map[kind]rate // median of idleRounds with two ports alone, alternating with idle
	bcast      map[kind]rate
	fdb, fwd   []goBench
	fdbCmd     string
	fwdCmd     string
	pngPath    string
	pngLink    string
	plotHow    string
}

type machineInfo struct {
	cpu, kernel, goVersion, l2fabric, vde, commit string
	cores                                         int
	qlen                                          string
}

func machine(root, bin, vdeBin string) machineInfo {
	m := machineInfo{cpu: "unknown CPU", cores: runtime.NumCPU(), goVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.kernel = "Linux " + unix.ByteSliceToString(u.Release[:])
	}
	if out, err := exec.Command(bin, "version").Output(); err == nil {
		m.l2fabric = strings.TrimSpace(string(out))
	}
	if vdeBin != "" {
		// vde_switch -v prints its banner and exits.
		out, _ := exec.Command(vdeBin, "-v").CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "VDE") {
				m.vde = strings.TrimSpace(l)
				break
			}
		}
		if pkg, err := exec.Command("dpkg-query", "-W", "-f", "${Package} ${Version}", "vde-switch").Output(); err == nil {
			m.vde += " (Debian " + string(pkg) + ")"
		}
	}
	// The commit measured, read-only: git is not needed otherwise.
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			m.commit += " with local changes"
		}
	}
	if b, err := os.ReadFile("/proc/sys/net/unix/max_dgram_qlen"); err == nil {
		m.qlen = strings.TrimSpace(string(b))
	}
	return m
}

// commas formats n with thousands separators.
func commas(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/1e3) }

// swNote describes a measurement's switch-side counters: l2fabric's
// non-zero drop counters, vde_switch's port totals.
func swNote(r rate) string {
	if !r.sw.ok {
		return ""
	}
	if r.sw.hasDrops {
		var parts []string
		for _, kv := range strings.Fields(r.sw.dropsNote) {
			k, v, _ := strings.Cut(kv, "=")
			if n, _ := strconv.ParseFloat(v, 64); n > 0 {
				parts = append(parts, k+" "+commas(n))
			}
		}
		if len(parts) == 0 {
			return "no drops"
		}
		return "dropped: " + strings.Join(parts, ", ")
	}
	return fmt.Sprintf("ports in %s, out %s", commas(float64(r.sw.rx)), commas(float64(r.sw.tx)))
}

func report(res *results) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := res.machine
	w("## Forwarding benchmark\n\n")
	w("`go run ./integration/bench -duration %v`: one run, %v per measurement after a %v warm-up, %v in all (%s).\n\n",
		res.dur, res.dur, res.warm, res.elapsed.Round(time.Second), res.started.UTC().Format("2006-01-02 15:04 UTC"))
	w("| machine | |\n|---|---|\n")
	w("| CPU | %s, %d cores |\n", m.cpu, m.cores)
	w("| kernel | %s (net.unix.max_dgram_qlen = %s) |\n", m.kernel, m.qlen)
	w("| Go | %s |\n", m.goVersion)
	w("| l2fabric | %s, commit %s |\n", orDash(m.l2fabric), orDash(m.commit))
	if res.vdeSkipped != "" {
		w("| vde_switch | **not measured: %s** |\n", res.vdeSkipped)
	} else {
		w("| vde_switch | %s |\n", orDash(m.vde))
	}
	w("\n")
	w("Endpoints attach as VMs do, each a unixgram socket of its own bound to a path, and move frames with blocking sendmmsg/recvmmsg batches of 64 (1 MiB send, 4 MiB receive buffers), in goroutines of the benchmark process. ")
	w("The sender sends as fast as the switch takes frames (it waits while the switch's socket is full); the receivers count what arrives. ")
	w("**l2fabric (peer)**: `--port dgram:S,peer=E` per VM, the endpoint unconnected and sending to S (qemu `-netdev dgram`). ")
	w("**l2fabric (listener)**: one `--port dgram:vms.sock`, each endpoint connected to it after a `VFKT` hello (vfkit). ")
	w("**l2fabric (socketpair)**: `--port dgram:fd=N` per VM, each endpoint holding the other end of a SOCK_DGRAM socketpair (how l2fabric attaches the VMs it boots with Virtualization.framework, and vmnet-helper's `--fd`). ")
	w("**vde_switch**: each endpoint plugged in with the VDE plug protocol (request_v3 on `ctl`, then connected to its port's datagram socket, as libvdeplug does). ")
	w("**relay (qemu-style)**: a separate process moving datagrams between two sockets with recvmmsg/sendmmsg and no switching decision, blocking while a receiver is full instead of dropping, its sockets connected to the endpoints as l2fabric's peer-mode sockets are and the endpoints sending to it unconnected as qemu does; **relay (connected pairs)**: the same with the endpoints connected back, as libvdeplug does with vde_switch and as the ends of a socketpair are. ")
	w("The two relays bound what a process can do with each style of socket on this machine: a unix datagram socket that is not connected back to its sender accepts at most net.unix.max_dgram_qlen + 1 queued datagrams from it, a connected pair is bounded only by the send buffer. ")
	w("**relay (vfkit-style)**: one socket both endpoints connect to, each datagram sent on to the other endpoint's address from it, as l2fabric's listener does. ")
	w("**l2fabric (stream)**: one `--port stream:vms.sock`, each endpoint a unix stream connection to it, frames behind a 4-byte length, written with writev batches of 64 (lima's VMs through socket_vmnet's protocol); **relay (stream)**: a process that accepts the two connections and moves whole frames between them, reassembling each read and writing batches of 64 with writev straight from its read buffer. ")
	w("So l2fabric (socketpair) is compared like for like with vde_switch and with the relay over connected pairs, l2fabric (peer) with the qemu-style relay, l2fabric (listener) with the vfkit-style relay, l2fabric (stream) with the stream relay. ")
	w("Gbit/s counts frame bytes × 8. Sent frames/s is what the sender got into the switch's socket; loss is the share of those that no receiver got (every receiver should get every frame); switch CPU is its process's user+system time in %% of one core. ")
	w("The switch counters show where frames were lost: l2fabric's drop counters (`tx_queue_full`: an egress port's queue was full or its VM was not taking frames; `rx_backend`: a listening socket's per-VM receive queue overflowed), and vde_switch's port totals (it counts a frame as out even when the send to the VM fails).\n\n")

	kinds := allKinds
	has := func(k kind) bool { _, ok := res.unicast[k]; return ok }
	writeTargets(w, res)

	w("### 1. Known-unicast forwarding rate (1 sender → 1 receiver, receiver's MAC learned first)\n\n")
	w("Every switch runs side by side and, size by size, each is measured in turn, %d times; the tables give the medians, so that the machine's drift over the run does not pass for a difference between switches.\n\n", unicastRounds)
	w("| switch | frame | frames/s | Gbit/s | sent frames/s | loss | switch CPU | switch counters (in the window) |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, k := range kinds {
		if !has(k) {
			if k == vde && res.vdeSkipped != "" {
				w("| %v | | %s | | | | | |\n", k, res.vdeSkipped)
			}
			continue
		}
		for _, r := range res.unicast[k] {
			w("| %v | %d B | %s | %.2f | %s | %s | %.0f%% | %s |\n", k, r.size, commas(r.fps()), r.gbps(), commas(r.sentFPS()), pct(r.loss()), r.cpuPct(), swNote(r))
		}
	}
	w("\n| frame | socketpair / vde_switch | socketpair / relay (connected pairs) | peer / vde_switch | peer / relay (qemu-style) | listener / vde_switch | listener / relay (vfkit-style) |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, size := range res.sizes {
		r := func(a, b kind) string { return ratio(unicastFPS(res, a, i), unicastFPS(res, b, i)) }
		w("| %d B | %s | %s | %s | %s | %s | %s |\n", size, r(l2fPair, vde), r(l2fPair, relayConn),
			r(l2fPeer, vde), r(l2fPeer, relay), r(l2fListener, vde), r(l2fListener, relayListen))
	}
	w("\n![frames/s by frame size](%s)\n\n", res.pngLink)

	w("### 2. Known unicast with %d idle VMs attached (64 B; each idle VM sent one frame and is learned)\n\n", idleStations)
	w("Two instances of each switch run side by side, one with 2 ports and one with %d, and are measured in turn, %d times each; the table gives the medians.\n\n", idleStations+2, idleRounds)
	w("| switch | 2 ports: frames/s | %d ports: frames/s | Gbit/s | %d ports / 2 ports | loss | switch CPU | switch counters |\n|---|---:|---:|---:|---:|---:|---:|---|\n", idleStations+2, idleStations+2)
	for _, k := range kinds {
		r, ok := res.idle[k]
		if !ok {
			if k == vde && res.vdeSkipped != "" {
				w("| %v | %s | | | | | | |\n", k, res.vdeSkipped)
			}
			continue
		}
		two := res.idleBase[k].fps()
		w("| %v | %s | %s | %.2f | %s | %s | %.0f%% | %s |\n", k, commas(two), commas(r.fps()), r.gbps(), ratio(r.fps(), two), pct(r.loss()), r.cpuPct(), swNote(r))
	}

	w("\n### 3. Broadcast to %d ports (1 sender → %d receivers, 64 B)\n\n", bcastPorts, bcastPorts-1)
	w("| switch | sent frames/s | per receiver frames/s (mean) | per receiver (min–max) | aggregate frames/s | aggregate Gbit/s | loss | switch CPU | switch counters |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, k := range kinds {
		r, ok := res.bcast[k]
		if !ok {
			if k == vde && res.vdeSkipped != "" {
				w("| %v | %s | | | | | | | |\n", k, res.vdeSkipped)
			}
			continue
		}
		lo, mean, hi := r.perRecv()
		w("| %v | %s | %s | %s–%s | %s | %.2f | %s | %.0f%% | %s |\n", k, commas(r.sentFPS()), commas(mean), commas(lo), commas(hi), commas(r.fps()), r.gbps(), pct(r.loss()), r.cpuPct(), swNote(r))
	}

	w("\n### 4. One-way latency at light load (%d frames/s of 64 B, timestamped, sender and receiver in one process)\n\n", latencyRate)
	w("| path | p50 | p99 | max | frames | lost |\n|---|---:|---:|---:|---:|---:|\n")
	for _, k := range kinds {
		l, ok := res.latency[k]
		if !ok {
			if k == vde && res.vdeSkipped != "" {
				w("| %v | %s | | | | |\n", k, res.vdeSkipped)
			}
			continue
		}
		w("| %v | %s | %s | %s | %d | %d |\n", k, us(l.p50), us(l.p99), us(l.pmax), l.samples, l.lost)
	}

	w("\n### 5. Learning table (`%s`)\n\n", res.fdbCmd)
	w("| benchmark | ns/op | B/op | allocs/op | other |\n|---|---:|---:|---:|---|\n")
	for _, bm := range res.fdb {
		w("| %s | %s | %s | %s | %s |\n", bm.name, metric(bm, "ns/op"), metric(bm, "B/op"), metric(bm, "allocs/op"), others(bm, "ns/op", "B/op", "allocs/op"))
	}
	w("\n")
	if l, ok := findBench(res.fdb, "Lookup"); ok {
		w("Lookup: %s ns (hit), ", metric(l, "ns/op"))
	}
	if l, ok := findBench(res.fdb, "LearnAtRefresh"); ok {
		w("learn (refresh of a known MAC, clock read once per batch as the fabric does): %s ns, ", metric(l, "ns/op"))
	}
	if l, ok := findBench(res.fdb, "LearnNew"); ok {
		w("learn a new MAC into a full table (evicting one): %s ns; ", metric(l, "ns/op"))
	}
	w("these run on a table of 8192 entries (the default --fdb-max). ")
	if l, ok := findBench(res.fdb, "BytesPerEntry"); ok {
		w("Memory: **%s bytes per entry** in a table of 1M (2^20) entries.", metric(l, "bytes/entry"))
	}
	w("\n\n### 6. Allocations on the forwarding path (`%s`)\n\n", res.fwdCmd)
	w("| benchmark | ns per batch of 64 | frames/s | B/op | allocs/op |\n|---|---:|---:|---:|---:|\n")
	for _, bm := range res.fwd {
		fps := "—"
		if v, ok := bm.metrics["frames/s"]; ok {
			fps = commas(v)
		}
		w("| %s | %s | %s | %s | %s |\n", bm.name, metric(bm, "ns/op"), fps, metric(bm, "B/op"), metric(bm, "allocs/op"))
	}
	w("\n(In-process: the forwarding decision and the copy into the egress queue, no system calls. ")
	w("B/op is the transmit queues' slot buffers, allocated on their first use and amortized over the run; TestForwardDoesNotAllocate checks a warmed-up fabric allocates nothing.)\n")
	if res.plotHow != "" {
		w("\nPlot: %s, drawn with %s.\n", res.pngLink, res.plotHow)
	}
	return b.String()
}

// unicastFPS is kind k's known-unicast rate at res.sizes[i], 0 when not
// measured.
func unicastFPS(res *results, k kind, i int) float64 {
	rs, ok := res.unicast[k]
	if !ok || i >= len(rs) {
		return 0
	}
	return rs[i].fps()
}

// sizeIndex is the index of size in res.sizes, or -1.
func sizeIndex(res *results, size int) int {
	for i, s := range res.sizes {
		if s == size {
			return i
		}
	}
	return -1
}

// writeTargets writes the project's targets against this run,
// for each of l2fabric's attach styles, each held to the relay that
// attaches as it does.
func writeTargets(w func(string, ...any), res *results) {
	i64, i1500 := sizeIndex(res, 64), sizeIndex(res, 1500)
	check := func(v, min float64) string {
		if v == 0 {
			return "n/a"
		}
		mark := "met"
		if v < min {
			mark = "**missed**"
		}
		return fmt.Sprintf("%.2f (%s)", v, mark)
	}
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	w("### Targets\n\n")
	w("| l2fabric attach style | limit it is held to | 64 B: / vde_switch (≥ 1.3) | 64 B: / limit (≥ 0.9) | 1500 B: / limit (≥ 0.9) | %d idle VMs: / 2 ports (≥ 0.95) |\n|---|---|---:|---:|---:|---:|\n", idleStations)
	// vde_switch speaks datagrams: the stream style has no like-for-like
	// vde_switch figure, only its relay.
	for _, st := range []struct {
		k, limit kind
		vde      bool
	}{{l2fPair, relayConn, true}, {l2fPeer, relay, true}, {l2fListener, relayListen, true}, {l2fStream, relayStream, false}} {
		if _, ok := res.unicast[st.k]; !ok {
			continue
		}
		idle := 0.0
		if r, ok := res.idle[st.k]; ok {
			idle = div(r.fps(), res.idleBase[st.k].fps())
		}
		vdeRatio := 0.0
		if st.vde {
			vdeRatio = div(unicastFPS(res, st.k, i64), unicastFPS(res, vde, i64))
		}
		w("| %v | %v | %s | %s | %s | %s |\n", st.k, st.limit,
			check(vdeRatio, 1.3),
			check(div(unicastFPS(res, st.k, i64), unicastFPS(res, st.limit, i64)), 0.9),
			check(div(unicastFPS(res, st.k, i1500), unicastFPS(res, st.limit, i1500)), 0.9),
			check(idle, 0.95))
	}
	allocs, seen := 0.0, false
	for _, bm := range res.fwd {
		if v, ok := bm.metrics["allocs/op"]; ok {
			allocs, seen = max(allocs, v), true
		}
	}
	if seen {
		w("\nAllocations on the forwarding path: at most %.0f allocs/op over the forwarding benchmarks (target 0; see section 6).\n", allocs)
	}
	w("\nEach style is held to the relay whose sockets attach as its own do. The socketpair style is how the VMs l2fabric boots on macOS attach, and the one whose sockets behave as vde_switch's own do (connected both ways), so its ratio to vde_switch is like for like; the qemu-style and vfkit-style sockets are bounded by the kernel's per-receiver queue limit described below, which no switch can lift for its peers.\n\n")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func metric(b goBench, unit string) string {
	v, ok := b.metrics[unit]
	if !ok {
		return "—"
	}
	if v == float64(int64(v)) && v < 1e15 {
		return commas(v)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func others(b goBench, skip ...string) string {
	var out []string
outer:
	for _, u := range b.units {
		for _, s := range skip {
			if u == s {
				continue outer
			}
		}
		out = append(out, metric(b, u)+" "+u)
	}
	return strings.Join(out, ", ")
}
