package bpfndrv

import (
	"fmt"
	"strings"

	"golang.org/x/net/bpf"
)

// ifreq is struct ifreq as BIOCSETIF takes it: the interface name and a
// 16-byte union BIOCSETIF does not read. 32 bytes on 64-bit darwin (the
// union holds pointers, so the struct is 8-byte aligned; a [2]uint64
// keeps that alignment).
type ifreq struct {
	Name [ifNameSize]byte
	_    [2]uint64
}

// checkIfName reports whether name can be given to the kernel: 1 to 15
// bytes, no NUL.
func checkIfName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty interface name")
	case len(name) >= ifNameSize:
		return fmt.Errorf("interface name %q is longer than %d bytes", name, ifNameSize-1)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("interface name %q contains a NUL byte", name)
	}
	return nil
}

// newIfreq returns the ifreq naming ifname.
func newIfreq(ifname string) (ifreq, error) {
	var r ifreq
	if err := checkIfName(ifname); err != nil {
		return r, err
	}
	copy(r.Name[:], ifname)
	return r, nil
}

// sockaddrNDRV is struct sockaddr_ndrv: snd_len, snd_family (AF_NDRV)
// and snd_name, the interface the socket binds to. 18 bytes; the kernel
// rejects a shorter sa_len.
type sockaddrNDRV struct {
	Len    uint8
	Family uint8
	Name   [ifNameSize]byte
}

// sizeofSockaddrNDRV is sizeof(struct sockaddr_ndrv).
const sizeofSockaddrNDRV = 18

// newSockaddrNDRV returns the sockaddr_ndrv naming ifname.
func newSockaddrNDRV(ifname string) (sockaddrNDRV, error) {
	sa := sockaddrNDRV{Len: sizeofSockaddrNDRV, Family: afNDRV}
	if err := checkIfName(ifname); err != nil {
		return sa, err
	}
	copy(sa.Name[:], ifname)
	return sa, nil
}

// bpfProgram is struct bpf_program as BIOCSETF and BIOCSETFNR take it on
// 64-bit darwin: bf_len (u_int), 4 bytes of padding, and bf_insns, a
// pointer to the instructions. bpf.RawInstruction has the layout of
// struct bpf_insn (code u16, jt u8, jf u8, k u32: 8 bytes), which
// TestEncodings pins.
type bpfProgram struct {
	Len   uint32
	_     [4]byte
	Insns *bpf.RawInstruction
}

// newBPFProgram returns the bpf_program for prog, which must not be empty
// and must stay alive (and unmodified) while the kernel reads it.
func newBPFProgram(prog []bpf.RawInstruction) bpfProgram {
	if len(prog) == 0 {
		return bpfProgram{}
	}
	return bpfProgram{Len: uint32(len(prog)), Insns: &prog[0]}
}

// bpfStat is struct bpf_stat, what BIOCGSTATS fills in: frames that
// reached the descriptor, counted before the filter ran (bs_recv, so it
// includes what the filter rejected), and frames the filter admitted but
// that were dropped because the buffers were full (bs_drop), both counted
// since the descriptor was attached and 32 bits wide.
type bpfStat struct {
	Recv uint32
	Drop uint32
}
