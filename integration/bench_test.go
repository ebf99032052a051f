//go:build linux

package integration

import (
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkTCPThroughFabricVsKernelBridge measures, in one run, iperf3 TCP
// throughput between two namespaced hosts through l2fabric (host: ports
// on their veths) and through a Linux kernel bridge on the same topology,
// both directions, and reports each and the ratio fabric/bridge. Run it
// with:
//
//	go test -run '^$' -bench TCPThroughFabric -benchtime 1x ./integration/
//
// It is a benchmark, not a test: it asserts nothing about speed.
func BenchmarkTCPThroughFabricVsKernelBridge(b *testing.B) {
	requireNetAdmin(b)
	const secs = 5
	sw := newNetns(b, "sw")
	ha := host(b, sw, "a", "va", "198.18.9.1/24")
	hb := host(b, sw, "b", "vb", "198.18.9.2/24")
	measure := func() (fwd, rev float64) {
		fwd = iperf(b, ha, hb, "198.18.9.2", secs, false).End.SumReceived.Bits
		rev = iperf(b, ha, hb, "198.18.9.2", secs, true).End.SumReceived.Bits
		return fwd, rev
	}
	var fabricFwd, fabricRev, bridgeFwd, bridgeRev float64
	for i := 0; i < b.N; i++ {
		// Through l2fabric.
		dir := shortTempDir(b)
		cmd := exec.Command("ip", "netns", "exec", sw.name, bin, "--control", filepath.Join(dir, "ctl.sock"),
			"--port", "host:va", "--port", "host:vb", "--log-level", "warn")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		waitUntil(b, func() bool {
			_, err := ha.exec("busybox", "ping", "-c", "1", "-W", "1", "198.18.9.2")
			return err == nil
		})
		fabricFwd, fabricRev = measure()
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()

		// Through the kernel's bridge, same veths.
		sw.ip("link", "add", "br0", "type", "bridge")
		sw.ip("link", "set", "va", "master", "br0")
		sw.ip("link", "set", "vb", "master", "br0")
		sw.ip("link", "set", "br0", "up")
		waitUntil(b, func() bool {
			_, err := ha.exec("busybox", "ping", "-c", "1", "-W", "1", "198.18.9.2")
			return err == nil
		})
		bridgeFwd, bridgeRev = measure()
		sw.ip("link", "del", "br0")
	}
	b.ReportMetric(fabricFwd/1e9, "fabric-a2b-Gbit/s")
	b.ReportMetric(fabricRev/1e9, "fabric-b2a-Gbit/s")
	b.ReportMetric(bridgeFwd/1e9, "bridge-a2b-Gbit/s")
	b.ReportMetric(bridgeRev/1e9, "bridge-b2a-Gbit/s")
	b.ReportMetric((fabricFwd+fabricRev)/(bridgeFwd+bridgeRev), "fabric/bridge")
}

// waitUntil polls cond for up to ten seconds.
func waitUntil(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
