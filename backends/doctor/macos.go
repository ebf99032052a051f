package doctor

// The judgments of the macOS checks, apart from their system calls.

import (
	"context"
	"errors"
	"fmt"

	"github.com/l2fabric/l2fabric/backends/internal/bpfndrv"
	"github.com/l2fabric/l2fabric/backends/internal/iftype"
)

// bpfResults turns a probe of interface ifname into the results of the
// steps it made: the device, the buffer, attaching with the filter, a
// capture, NDRV.
func bpfResults(ifname string, r bpfndrv.ProbeReport) []Result {
	const rootFix = "run doctor (and l2fabric) as root: sudo"
	attach, capture, ndrv := "bpf-attach:"+ifname, "bpf-capture:"+ifname, "ndrv:"+ifname
	var out []Result
	if r.OpenErr != nil {
		fix := "check that /dev/bpf0... exist (ls /dev/bpf*) and that no other program holds them all"
		if errors.Is(r.OpenErr, bpfndrv.ErrNeedRoot) {
			fix = rootFix
		}
		out = append(out, fail("bpf-device", "opening a BPF device: "+r.OpenErr.Error(), fix))
		out = append(out, skip("bpf-buffer", "no BPF device"), skip(attach, "no BPF device"), skip(capture, "no BPF device"))
	} else {
		out = append(out, pass("bpf-device", "opened "+r.Device))
		switch {
		case r.BufferStepFailed():
			out = append(out, fail("bpf-buffer", fmt.Sprintf("asking for a %s buffer: %v", size(r.Asked), r.ConfigErr), "report this, with `sysctl debug.bpf_maxbufsize` and `sw_vers`"))
		case r.Granted == 0:
			out = append(out, skip("bpf-buffer", "the granted size could not be read"))
		default:
			detail := fmt.Sprintf("BIOCSBLEN granted %s (asked %s)", size(r.Granted), size(r.Asked))
			if r.Granted < r.Asked {
				detail += ": the kernel's debug.bpf_maxbufsize is lower; at high rates raise it (sudo sysctl -w debug.bpf_maxbufsize=4194304) for fewer drops"
			}
			out = append(out, pass("bpf-buffer", detail))
		}
		switch {
		case r.BufferStepFailed():
			out = append(out, skip(attach, "the buffer size failed first"))
		case r.ConfigErr != nil:
			out = append(out, fail(attach, fmt.Sprintf("configuring BPF on %s (the filter, BIOCSETIF, Ethernet link type): %v", ifname, r.ConfigErr),
				"give an existing Ethernet interface: `networksetup -listallhardwareports` names them (en0, en6...)"))
		default:
			out = append(out, pass(attach, fmt.Sprintf("BIOCSETFNR took the %d-instruction filter, then BIOCSETIF attached %s (Ethernet)", r.FilterLen, ifname)))
		}
		switch {
		case r.ConfigErr != nil:
			out = append(out, skip(capture, "BPF is not attached"))
		case errors.Is(r.ReadErr, context.Canceled):
			out = append(out, skip(capture, "interrupted while waiting for a frame"))
		case r.ReadErr != nil:
			out = append(out, fail(capture, "reading captured frames: "+r.ReadErr.Error(), "report this, with the output of doctor"))
		case r.Frames == 0:
			out = append(out, skip(capture, fmt.Sprintf("no broadcast or multicast frame on %s within %v (a quiet or unplugged link): nothing to read", ifname, r.Waited.Round(100*1e6))))
		default:
			out = append(out, pass(capture, fmt.Sprintf("read %d frame(s), %d bytes, within %v", r.Frames, r.Bytes, r.Waited.Round(1e6))))
		}
	}
	if r.NDRVErr != nil {
		fix := "give an existing interface"
		if errors.Is(r.NDRVErr, bpfndrv.ErrNeedRoot) {
			fix = rootFix
		}
		out = append(out, fail(ndrv, "a PF_NDRV socket bound and connected to "+ifname+": "+r.NDRVErr.Error(), fix))
	} else {
		out = append(out, pass(ndrv, "a PF_NDRV socket bound and connected to "+ifname))
	}
	return out
}

// size formats a byte count: "4 MiB", "512 KiB".
func size(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// bpfMaxBufResult judges debug.bpf_maxbufsize against the buffer a host
// port asks for.
func bpfMaxBufResult(v int) Result {
	const name = "sysctl-bpf-maxbufsize"
	detail := fmt.Sprintf("debug.bpf_maxbufsize = %s", size(v))
	if v < bpfndrv.DefaultBufferSize {
		return pass(name, detail+fmt.Sprintf(": host ports get %s buffers instead of %s (macOS 12 and earlier default to 512 KiB); at high rates raise it: sudo sysctl -w debug.bpf_maxbufsize=%d",
			size(v), size(bpfndrv.DefaultBufferSize), bpfndrv.DefaultBufferSize))
	}
	return pass(name, detail+fmt.Sprintf(": host ports get the %s they ask for", size(bpfndrv.DefaultBufferSize)))
}

// msgxBatch is the number of datagrams a dgram port moves per call.
const msgxBatch = 64

// msgxSysctlResult judges kern.ipc.maxsendmsgx and maxrecvmsgx, which
// cap how many datagrams one sendmsg_x or recvmsg_x moves.
func msgxSysctlResult(send, recv int) Result {
	const name = "sysctl-msgx"
	detail := fmt.Sprintf("kern.ipc.maxsendmsgx = %d, kern.ipc.maxrecvmsgx = %d", send, recv)
	if send < 1 || recv < 1 {
		return fail(name, detail+": batched socket calls are disabled", "sudo sysctl -w kern.ipc.maxsendmsgx=256 kern.ipc.maxrecvmsgx=256 (the defaults)")
	}
	if send < msgxBatch || recv < msgxBatch {
		return pass(name, detail+fmt.Sprintf(": dgram ports move fewer than their %d datagrams per call (the default is 256)", msgxBatch))
	}
	return pass(name, detail+fmt.Sprintf(": dgram ports move up to %d datagrams per call", msgxBatch))
}

// wifiResult judges an interface's functional type: on a Wi-Fi station a
// host port applies MAC-NAT, so the VMs reach the LAN but share the
// interface's MAC; AWDL, loopback and cellular are no Ethernet LAN.
func wifiResult(ifname string, ft iftype.Functional) Result {
	name := "wifi:" + ifname
	switch ft {
	case iftype.WiFiInfra:
		return pass(name, ifname+" is Wi-Fi: a host port on it applies MAC-NAT (macnat=auto), since access points drop frames whose source MAC is not the station's; the VMs reach the LAN with "+ifname+"'s MAC, and only IPv4, IPv6 and ARP are carried back to them (a wired interface gives them MACs of their own)")
	case iftype.WiFiAWDL:
		return fail(name, ifname+" is AWDL, Apple's peer-to-peer Wi-Fi: not a LAN", "give the Wi-Fi interface (usually en0) or an Ethernet interface")
	case iftype.Wired:
		return pass(name, ifname+" is wired: VMs can have their own MACs on it")
	case iftype.Loopback:
		return fail(name, ifname+" is the loopback interface", "give an Ethernet interface")
	case iftype.Cellular:
		return fail(name, ifname+" is cellular: not an Ethernet LAN", "give an Ethernet interface")
	}
	return pass(name, fmt.Sprintf("%s is neither Wi-Fi nor cellular (%s)", ifname, ft))
}
