package bpfndrv

// ioctl requests on a BPF descriptor, as 64-bit darwin numbers them. They
// are pinned by TestIoctlNumbers against xnu's headers and against the _IOC
// encoding of their argument sizes, and on darwin against golang.org/x/sys
// at compile time (assert_darwin.go).
const (
	biocGBLEN     = 0x40044266 // _IOR('B', 102, u_int)
	biocSBLEN     = 0xc0044266 // _IOWR('B', 102, u_int)
	biocSETF      = 0x80104267 // _IOW('B', 103, struct bpf_program)
	biocPROMISC   = 0x20004269 // _IO('B', 105)
	biocGDLT      = 0x4004426a // _IOR('B', 106, u_int); checked against x/sys
	biocSETIF     = 0x8020426c // _IOW('B', 108, struct ifreq)
	biocGSTATS    = 0x4008426f // _IOR('B', 111, struct bpf_stat)
	biocIMMEDIATE = 0x80044270 // _IOW('B', 112, u_int)
	biocSHDRCMPLT = 0x80044275 // _IOW('B', 117, u_int)
	biocSSEESENT  = 0x80044277 // _IOW('B', 119, u_int)
	biocSETFNR    = 0x8010427e // _IOW('B', 126, struct bpf_program)
)

// Other darwin numbers the glue relies on.
const (
	// afNDRV is AF_NDRV (PF_NDRV has the same value).
	afNDRV = 0x1b
	// sysBind and sysConnect are the darwin system call numbers used to
	// bind and connect the NDRV socket to a hand-laid sockaddr_ndrv.
	sysBind    = 104
	sysConnect = 98
	// dltEN10MB is DLT_EN10MB, the data link type of an Ethernet BPF tap.
	dltEN10MB = 1
	// ifNameSize is IFNAMSIZ: interface names are at most 15 bytes and a
	// NUL.
	ifNameSize = 16
)

// ioctl encoding, from darwin's <sys/ioccom.h>.
const (
	iocVoid  = 0x20000000
	iocOut   = 0x40000000
	iocIn    = 0x80000000
	iocInOut = iocIn | iocOut
	iocParm  = 0x1fff
)

// ioc encodes an ioctl request as darwin's _IOC macro does.
func ioc(dir uint32, group byte, num uint8, size uintptr) uint32 {
	return dir | (uint32(size)&iocParm)<<16 | uint32(group)<<8 | uint32(num)
}

// Kernel limits the filter and the buffers must respect.
const (
	// MaxFilterInstructions is BPF_MAXINSNS: the kernel rejects a longer
	// program (xnu: bsd/net/bpf.h, bpf_setf).
	MaxFilterInstructions = 512
	// DefaultBufferSize is the BPF buffer requested when Config.BufferSize
	// is zero. The kernel keeps two of them (store and hold) per
	// descriptor.
	DefaultBufferSize = 4 << 20
	// maxBufferSize is the largest BPF buffer any macOS grants: from
	// macOS 13, half of the 64 MiB copy limit (xnu: BPF_BUFSIZE_CAP).
	// Up to macOS 12 the kernel caps requests at debug.bpf_maxbufsize,
	// 512 KiB by default (so DefaultBufferSize is cut to that there).
	// The kernel lowers a larger request to its limit without an error;
	// Open caps it first so the error messages stay meaningful, and every
	// read uses the size BIOCGBLEN reports, whatever was asked.
	maxBufferSize = 32 << 20
	// minBufferSize is BPF_MINBUFSIZE.
	minBufferSize = 32
	// wordAlign is BPF_ALIGNMENT: each record starts on a multiple of it.
	wordAlign = 4
)

// ndrvSendBuffer is the NDRV socket's send buffer. A send larger than the
// buffer fails with EMSGSIZE, and the default is 8 KiB (xnu: NDRVSNDQ),
// too small for jumbo and TSO frames; the data never waits in it, so a
// large buffer costs nothing.
const ndrvSendBuffer = 256 << 10
