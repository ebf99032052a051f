//go:build darwin

package bpfndrv

import (
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Compile-time checks that the numbers and layouts pinned in this package
// (and by its Linux tests against the values in xnu's headers) are golang.org/x/sys's for
// darwin. Each pair converts a difference to an unsigned type: a negative
// constant does not convert, so the package fails to compile for darwin
// (and CI's darwin vet fails) unless both sides are equal.
const (
	_ = uint64(unix.BIOCGBLEN - biocGBLEN)
	_ = uint64(biocGBLEN - unix.BIOCGBLEN)
	_ = uint64(unix.BIOCSBLEN - biocSBLEN)
	_ = uint64(biocSBLEN - unix.BIOCSBLEN)
	_ = uint64(unix.BIOCSETF - biocSETF)
	_ = uint64(biocSETF - unix.BIOCSETF)
	_ = uint64(unix.BIOCPROMISC - biocPROMISC)
	_ = uint64(biocPROMISC - unix.BIOCPROMISC)
	_ = uint64(unix.BIOCGDLT - biocGDLT)
	_ = uint64(biocGDLT - unix.BIOCGDLT)
	_ = uint64(unix.BIOCSETIF - biocSETIF)
	_ = uint64(biocSETIF - unix.BIOCSETIF)
	_ = uint64(unix.BIOCGSTATS - biocGSTATS)
	_ = uint64(biocGSTATS - unix.BIOCGSTATS)
	_ = uint64(unix.BIOCIMMEDIATE - biocIMMEDIATE)
	_ = uint64(biocIMMEDIATE - unix.BIOCIMMEDIATE)
	_ = uint64(unix.BIOCSHDRCMPLT - biocSHDRCMPLT)
	_ = uint64(biocSHDRCMPLT - unix.BIOCSHDRCMPLT)
	_ = uint64(unix.BIOCSSEESENT - biocSSEESENT)
	_ = uint64(biocSSEESENT - unix.BIOCSSEESENT)
	_ = uint64(unix.BIOCSETFNR - biocSETFNR)
	_ = uint64(biocSETFNR - unix.BIOCSETFNR)

	_ = uint64(unix.AF_NDRV - afNDRV)
	_ = uint64(afNDRV - unix.AF_NDRV)
	_ = uint64(unix.SYS_BIND - sysBind)
	_ = uint64(sysBind - unix.SYS_BIND)
	_ = uint64(unix.SYS_CONNECT - sysConnect)
	_ = uint64(sysConnect - unix.SYS_CONNECT)
	_ = uint64(unix.DLT_EN10MB - dltEN10MB)
	_ = uint64(dltEN10MB - unix.DLT_EN10MB)
	_ = uint64(unix.IFNAMSIZ - ifNameSize)
	_ = uint64(ifNameSize - unix.IFNAMSIZ)
	_ = uint64(unix.BPF_ALIGNMENT - wordAlign)
	_ = uint64(wordAlign - unix.BPF_ALIGNMENT)

	_ = uint64(unix.SizeofBpfHdr - SizeofBpfHdr)
	_ = uint64(SizeofBpfHdr - unix.SizeofBpfHdr)
	_ = uint64(unix.SizeofBpfProgram - unsafe.Sizeof(bpfProgram{}))
	_ = uint64(unsafe.Sizeof(bpfProgram{}) - unix.SizeofBpfProgram)
	_ = uint64(unix.SizeofBpfInsn - unsafe.Sizeof(bpf.RawInstruction{}))
	_ = uint64(unsafe.Sizeof(bpf.RawInstruction{}) - unix.SizeofBpfInsn)
	_ = uint64(unix.SizeofBpfStat - unsafe.Sizeof(bpfStat{}))
	_ = uint64(unsafe.Sizeof(bpfStat{}) - unix.SizeofBpfStat)
	_ = uint64(unsafe.Sizeof(ifreq{}) - 32)
	_ = uint64(32 - unsafe.Sizeof(ifreq{}))
	_ = uint64(unsafe.Sizeof(sockaddrNDRV{}) - sizeofSockaddrNDRV)
	_ = uint64(sizeofSockaddrNDRV - unsafe.Sizeof(sockaddrNDRV{}))
	_ = uint64(unsafe.Offsetof(bpfProgram{}.Insns) - 8)
	_ = uint64(8 - unsafe.Offsetof(bpfProgram{}.Insns))
)

// The structures the kernel reads are laid out like x/sys's.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(unix.BpfProgram{}.Insns)-unsafe.Offsetof(bpfProgram{}.Insns)]
	_ = [1]struct{}{}[unsafe.Offsetof(unix.BpfStat{}.Drop)-unsafe.Offsetof(bpfStat{}.Drop)]
)
