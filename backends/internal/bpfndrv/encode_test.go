package bpfndrv

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/net/bpf"
)

// is64 reports whether the test runs where pointers are 8 bytes, like
// every Mac l2fabric supports.
const is64 = unsafe.Sizeof(uintptr(0)) == 8

// TestIoctlNumbers pins the ioctl requests to the values xnu's headers
// give, and checks each against the _IOC encoding of its direction,
// group, number and argument size (with the argument structures' sizes
// as laid out here).
func TestIoctlNumbers(t *testing.T) {
	if !is64 {
		t.Skip("the struct-sized requests are those of 64-bit darwin")
	}
	for _, tc := range []struct {
		name    string
		got     uint32
		darwin  uint32 // xnu's headers; 0: checked against x/sys only
		encoded uint32
	}{
		{"BIOCSBLEN", biocSBLEN, 0xc0044266, ioc(iocInOut, 'B', 102, 4)},
		{"BIOCGBLEN", biocGBLEN, 0x40044266, ioc(iocOut, 'B', 102, 4)},
		{"BIOCIMMEDIATE", biocIMMEDIATE, 0x80044270, ioc(iocIn, 'B', 112, 4)},
		{"BIOCSSEESENT", biocSSEESENT, 0x80044277, ioc(iocIn, 'B', 119, 4)},
		{"BIOCSETIF", biocSETIF, 0x8020426c, ioc(iocIn, 'B', 108, unsafe.Sizeof(ifreq{}))},
		{"BIOCSHDRCMPLT", biocSHDRCMPLT, 0x80044275, ioc(iocIn, 'B', 117, 4)},
		{"BIOCPROMISC", biocPROMISC, 0x20004269, ioc(iocVoid, 'B', 105, 0)},
		{"BIOCSETF", biocSETF, 0x80104267, ioc(iocIn, 'B', 103, unsafe.Sizeof(bpfProgram{}))},
		{"BIOCSETFNR", biocSETFNR, 0x8010427e, ioc(iocIn, 'B', 126, unsafe.Sizeof(bpfProgram{}))},
		{"BIOCGSTATS", biocGSTATS, 0x4008426f, ioc(iocOut, 'B', 111, unsafe.Sizeof(bpfStat{}))},
		{"BIOCGDLT", biocGDLT, 0, ioc(iocOut, 'B', 106, 4)},
	} {
		if tc.darwin != 0 && tc.got != tc.darwin {
			t.Errorf("%s = %#x, xnu says %#x", tc.name, tc.got, tc.darwin)
		}
		if tc.got != tc.encoded {
			t.Errorf("%s = %#x, its _IOC encoding is %#x", tc.name, tc.got, tc.encoded)
		}
	}
	// The interface ioctls of xnu's sys/sockio.h check the encoding itself.
	if got := ioc(iocInOut, 'i', 122, 32); got != 0xc020697a {
		t.Errorf("SIOCIFCREATE2 encodes as %#x, xnu says 0xc020697a", got)
	}
	if got := ioc(iocIn, 'i', 123, 40); got != 0x8028697b {
		t.Errorf("SIOCSDRVSPEC encodes as %#x, xnu says 0x8028697b", got)
	}
}

func TestOtherNumbers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want int
	}{
		{"AF_NDRV", afNDRV, 0x1b},
		{"SYS_BIND", sysBind, 104},
		{"SYS_CONNECT", sysConnect, 98},
		{"IFNAMSIZ", ifNameSize, 16},
		{"BPF_ALIGNMENT", wordAlign, 4},
		{"DLT_EN10MB", dltEN10MB, 1},
		{"BPF_MAXINSNS", MaxFilterInstructions, 512},
		{"sizeof(sockaddr_ndrv)", sizeofSockaddrNDRV, 18},
		{"sizeof(bpf_hdr)", SizeofBpfHdr, 20},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
	if ndrvSendBuffer < 65535+14+8 {
		t.Errorf("NDRV send buffer %d cannot hold the largest frame", ndrvSendBuffer)
	}
}

// TestStructLayouts pins the size and field offsets of each structure the
// glue hands the kernel, as 64-bit darwin lays them out.
func TestStructLayouts(t *testing.T) {
	if !is64 {
		t.Skip("64-bit layouts")
	}
	var sa sockaddrNDRV
	var ifr ifreq
	var bp bpfProgram
	var st bpfStat
	var in bpf.RawInstruction
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof(sockaddr_ndrv)", unsafe.Sizeof(sa), 18},
		{"snd_len", unsafe.Offsetof(sa.Len), 0},
		{"snd_family", unsafe.Offsetof(sa.Family), 1},
		{"snd_name", unsafe.Offsetof(sa.Name), 2},
		{"sizeof(ifreq)", unsafe.Sizeof(ifr), 32},
		{"ifr_name", unsafe.Offsetof(ifr.Name), 0},
		{"alignof(ifreq)", unsafe.Alignof(ifr), 8},
		{"sizeof(bpf_program)", unsafe.Sizeof(bp), 16},
		{"bf_len", unsafe.Offsetof(bp.Len), 0},
		{"bf_insns", unsafe.Offsetof(bp.Insns), 8},
		{"sizeof(bpf_insn)", unsafe.Sizeof(in), 8},
		{"code", unsafe.Offsetof(in.Op), 0},
		{"jt", unsafe.Offsetof(in.Jt), 2},
		{"jf", unsafe.Offsetof(in.Jf), 3},
		{"k", unsafe.Offsetof(in.K), 4},
		{"sizeof(bpf_stat)", unsafe.Sizeof(st), 8},
		{"bs_recv", unsafe.Offsetof(st.Recv), 0},
		{"bs_drop", unsafe.Offsetof(st.Drop), 4},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

func bytesOf[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

func TestSockaddrNDRVBytes(t *testing.T) {
	sa, err := newSockaddrNDRV("feth1")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{18, 0x1b, 'f', 'e', 't', 'h', '1', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if got := bytesOf(&sa); string(got) != string(want) {
		t.Errorf("sockaddr_ndrv = % x, want % x", got, want)
	}
	long, err := newSockaddrNDRV("abcdefghijklmno") // 15 bytes: the longest
	if err != nil || long.Name[15] != 0 {
		t.Errorf("15-byte name: %v, NUL %d", err, long.Name[15])
	}
}

func TestIfreqBytes(t *testing.T) {
	ifr, err := newIfreq("en0")
	if err != nil {
		t.Fatal(err)
	}
	got := bytesOf(&ifr)
	want := make([]byte, 32)
	copy(want, "en0")
	if string(got) != string(want) {
		t.Errorf("ifreq = % x, want % x", got, want)
	}
}

func TestBPFProgramBytes(t *testing.T) {
	if !is64 {
		t.Skip("64-bit layout")
	}
	prog := []bpf.RawInstruction{{Op: 0x28, K: 12}, {Op: opRetK, K: AcceptLen}}
	bp := newBPFProgram(prog)
	b := bytesOf(&bp)
	if n := binary.LittleEndian.Uint32(b[0:]); n != 2 {
		t.Errorf("bf_len = %d, want 2", n)
	}
	if p := binary.LittleEndian.Uint64(b[8:]); uintptr(p) != uintptr(unsafe.Pointer(&prog[0])) {
		t.Errorf("bf_insns = %#x, want the program's address", p)
	}
	insn := bytesOf(&prog[1])
	if want := []byte{0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00}; string(insn) != string(want) {
		t.Errorf("ret #%d = % x, want % x", AcceptLen, insn, want)
	}
	if empty := newBPFProgram(nil); empty.Len != 0 || empty.Insns != nil {
		t.Error("empty program not zero")
	}
}

func TestInterfaceNames(t *testing.T) {
	for _, name := range []string{"", "abcdefghijklmnop", "en\x000"} {
		if _, err := newIfreq(name); err == nil {
			t.Errorf("newIfreq(%q) accepted", name)
		}
		if _, err := newSockaddrNDRV(name); err == nil {
			t.Errorf("newSockaddrNDRV(%q) accepted", name)
		}
	}
}
