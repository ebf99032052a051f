//go:build linux

package integration

import (
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// BenchmarkVXLANTCPVsKernel measures, in one run, iperf3 TCP throughput
// between a VM (a namespace on a veth) and a host on a Linux bridge with
// a kernel vxlan device on another machine, both directions, first with
// the VM behind l2fabric (host: port, vxlan port), then with the VM on a
// kernel bridge and vxlan device in l2fabric's place: kernel-to-kernel
// VXLAN on the same topology. It reports each and the ratio
// l2fabric/kernel. Run it with:
//
//	go test -run '^$' -bench VXLANTCP -benchtime 1x ./integration/
//
// It is a benchmark, not a test: it asserts nothing about speed.
func BenchmarkVXLANTCPVsKernel(b *testing.B) {
	requireNetAdmin(b)
	const secs = 5
	fab, kb := newNetns(b, "fab"), newNetns(b, "kb")
	underlay(b, fab, "ua", "10.99.9.1/24", kb, "ub", "10.99.9.2/24")
	kernelVTEP(b, kb, 100, "10.99.9.2", []string{"10.99.9.1"}, "192.168.59.2/24", 1450)
	vm := vmBehind(b, fab, "vm", "vm0", "192.168.59.1/24", 1450)
	reachable := func() bool {
		_, err := vm.exec("busybox", "ping", "-c", "1", "-W", "1", "192.168.59.2")
		return err == nil
	}
	measure := func() (fwd, rev float64) {
		fwd = iperf(b, vm, kb, "192.168.59.2", secs, false).End.SumReceived.Bits
		rev = iperf(b, vm, kb, "192.168.59.2", secs, true).End.SumReceived.Bits
		return fwd, rev
	}
	var fabricFwd, fabricRev, kernelFwd, kernelRev float64
	for i := 0; i < b.N; i++ {
		// Through l2fabric.
		dir := shortTempDir(b)
		cmd := exec.Command("ip", "netns", "exec", fab.name, bin, "--control", filepath.Join(dir, "ctl.sock"),
			"--port", "host:vm0", "--port", "vxlan:10.99.9.2,vni=100", "--log-level", "warn")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		waitUntil(b, reachable)
		fabricFwd, fabricRev = measure()
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()

		// Through the kernel's bridge and vxlan device, same veths.
		fab.ip("link", "add", "br0", "type", "bridge")
		fab.ip("link", "add", "vx0", "type", "vxlan", "id", "100", "dstport", "4789", "local", "10.99.9.1")
		fab.ip("link", "set", "vx0", "master", "br0")
		fab.ip("link", "set", "vm0", "master", "br0")
		fab.ip("link", "set", "vx0", "up")
		fab.ip("link", "set", "br0", "up")
		mustRun(b, "ip", "netns", "exec", fab.name, "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vx0", "dst", "10.99.9.2")
		waitUntil(b, reachable)
		kernelFwd, kernelRev = measure()
		fab.ip("link", "del", "br0")
		fab.ip("link", "del", "vx0")
	}
	b.ReportMetric(fabricFwd/1e9, "l2fabric-vm2kernel-Gbit/s")
	b.ReportMetric(fabricRev/1e9, "l2fabric-kernel2vm-Gbit/s")
	b.ReportMetric(kernelFwd/1e9, "kernel-vm2kernel-Gbit/s")
	b.ReportMetric(kernelRev/1e9, "kernel-kernel2vm-Gbit/s")
	b.ReportMetric((fabricFwd+fabricRev)/(kernelFwd+kernelRev), "l2fabric/kernel")
}
