//go:build linux || darwin

package feth

// The structures the macOS feth port hands to the kernel, laid out as xnu
// (64-bit) expects them, and the ioctl requests that carry them. They are
// plain Go structs whose layout matches the C one on every 64-bit
// platform, so that ifstructs_test.go pins sizes, offsets and bytes on
// Linux, and ifstructs_darwin.go checks the sizes and the request numbers
// against golang.org/x/sys/unix at compile time.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"
)

// ifNameSize is IFNAMSIZ: an interface name and its terminating NUL.
const ifNameSize = 16

// Ioctl requests of xnu's sys/sockio.h: _IOW/_IOWR('i', N, struct).
const (
	siocSIFFLAGS  = 0x80206910 // _IOW('i', 16, struct ifreq)
	siocGIFFLAGS  = 0xc0206911 // _IOWR('i', 17, struct ifreq)
	siocGIFMTU    = 0xc0206933 // _IOWR('i', 51, struct ifreq)
	siocSIFMTU    = 0x80206934 // _IOW('i', 52, struct ifreq)
	siocIFDESTROY = 0x80206979 // _IOW('i', 121, struct ifreq)
	siocIFCREATE2 = 0xc020697a // _IOWR('i', 122, struct ifreq)
	siocSDRVSPEC  = 0x8028697b // _IOW('i', 123, struct ifdrv)
	siocGDRVSPEC  = 0xc028697b // _IOWR('i', 123, struct ifdrv)
)

// ioctl direction bits and parameter-length mask (sys/ioccom.h).
const (
	iocOut      = 0x40000000
	iocIn       = 0x80000000
	iocInOut    = iocIn | iocOut
	iocParmMask = 0x1fff
)

// ioc is _IOC: the request number for group g, number n, and an argument
// of size bytes.
func ioc(dir uint32, g byte, n uint8, size uintptr) uint32 {
	return dir | (uint32(size)&iocParmMask)<<16 | uint32(g)<<8 | uint32(n)
}

// Sizes of the C structures (64-bit xnu).
const (
	sizeofIfreq         = 32
	sizeofIfdrv         = 40
	sizeofIfFakeRequest = 160
	sizeofIfbreq        = 80
)

// Driver-specific commands carried by ifdrv.ifd_cmd.
const (
	// if_fake_var.h: SIOCSDRVSPEC and SIOCGDRVSPEC on a feth.
	ifFakeSetPeer = 1 // IF_FAKE_S_CMD_SET_PEER
	ifFakeGetPeer = 1 // IF_FAKE_G_CMD_GET_PEER
	// if_bridgevar.h: SIOCSDRVSPEC and SIOCGDRVSPEC on a bridge.
	brdgAdd      = 0 // BRDGADD, struct ifbreq
	brdgDel      = 1 // BRDGDEL, struct ifbreq
	brdgGIFFlags = 2 // BRDGGIFFLGS, struct ifbreq
)

// iffUp is IFF_UP.
const iffUp = 0x1

// ifReq is struct ifreq: a name and a 16-byte union, of which the feth
// port uses ifr_flags (a short) and ifr_mtu (an int), both at its start.
// For SIOCIFCREATE2 the union is ifr_data, the clone parameters, left nil.
type ifReq struct {
	Name  [ifNameSize]byte
	Union [16]byte
}

// ifDrv is struct ifdrv (net/if.h), which SIOCSDRVSPEC and SIOCGDRVSPEC
// take: the interface, a driver command, and the command's argument.
type ifDrv struct {
	Name [ifNameSize]byte
	Cmd  uint64         // ifd_cmd, unsigned long
	Len  uint64         // ifd_len, size_t
	Data unsafe.Pointer // ifd_data
}

// ifFakeRequest is struct if_fake_request (net/if_fake_var.h): four
// reserved words the kernel requires to be zero, then a 128-byte union
// whose peer-name member is the one used here.
type ifFakeRequest struct {
	Reserved [4]uint64
	PeerName [ifNameSize]byte
	_        [128 - ifNameSize]byte
}

// ifbReq is struct ifbreq (net/if_bridgevar.h, #pragma pack(4)). No field
// is wider than 4 bytes, so Go's natural layout is the packed one.
type ifbReq struct {
	IfsName      [ifNameSize]byte
	IfsFlags     uint32
	STPFlags     uint32
	PathCost     uint32
	PortNo       uint8
	Priority     uint8
	Proto        uint8
	Role         uint8
	State        uint8
	AddrCnt      uint32
	AddrMax      uint32
	AddrExceeded uint32
	_            [32]byte
}

// putName copies name into an IFNAMSIZ field, NUL-terminated.
func putName(dst *[ifNameSize]byte, name string) error {
	if name == "" || len(name) >= ifNameSize || bytes.IndexByte([]byte(name), 0) >= 0 {
		return fmt.Errorf("invalid interface name %q", name)
	}
	*dst = [ifNameSize]byte{}
	copy(dst[:], name)
	return nil
}

// cName returns the NUL-terminated name in an IFNAMSIZ field.
func cName(b *[ifNameSize]byte) string {
	if i := bytes.IndexByte(b[:], 0); i >= 0 {
		return string(b[:i])
	}
	return string(b[:])
}

func newIfReq(name string) (*ifReq, error) {
	r := new(ifReq)
	return r, putName(&r.Name, name)
}

// flags returns ifr_flags (a short in C, taken here as its 16 bits).
func (r *ifReq) flags() uint16 { return binary.NativeEndian.Uint16(r.Union[0:2]) }

func (r *ifReq) setFlags(f uint16) { binary.NativeEndian.PutUint16(r.Union[0:2], f) }

// mtu returns ifr_mtu.
func (r *ifReq) mtu() int { return int(int32(binary.NativeEndian.Uint32(r.Union[0:4]))) }

func (r *ifReq) setMTU(mtu int) { binary.NativeEndian.PutUint32(r.Union[0:4], uint32(int32(mtu))) }

// newFakeRequest returns the request of IF_FAKE_S_CMD_SET_PEER: peer
// named, the reserved words zero.
func newFakeRequest(peer string) (*ifFakeRequest, error) {
	r := new(ifFakeRequest)
	return r, putName(&r.PeerName, peer)
}

// newIfbReq returns an ifbreq naming member, the rest zero.
func newIfbReq(member string) (*ifbReq, error) {
	r := new(ifbReq)
	return r, putName(&r.IfsName, member)
}

// newIfDrv returns the ifdrv of command cmd to interface name, whose
// argument is the size bytes at data. data must stay reachable (it is, as
// the ifDrv points at it) until the ioctl returns.
func newIfDrv(name string, cmd uint64, data unsafe.Pointer, size uintptr) (*ifDrv, error) {
	d := &ifDrv{Cmd: cmd, Len: uint64(size), Data: data}
	return d, putName(&d.Name, name)
}
