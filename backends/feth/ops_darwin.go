package feth

import (
	"net"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// darwinOps implements ifOps with the kernel's ioctls, each on a datagram
// socket of its own.
type darwinOps struct{}

var _ ifOps = darwinOps{}

// ioctl issues request req with argument arg on a fresh AF_INET socket.
func ioctl(req uint, arg unsafe.Pointer) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	unix.CloseOnExec(fd)
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return e
	}
}

// ifreqIoctl issues req on an ifreq naming name, and returns the ifreq.
func ifreqIoctl(req uint, name string, fill func(*ifReq)) (*ifReq, error) {
	r, err := newIfReq(name)
	if err != nil {
		return nil, err
	}
	if fill != nil {
		fill(r)
	}
	return r, ioctl(req, unsafe.Pointer(r))
}

// drvspec issues SIOCSDRVSPEC (set) or SIOCGDRVSPEC on interface name,
// command cmd, with argument arg of size bytes.
func drvspec(set bool, name string, cmd uint64, arg unsafe.Pointer, size uintptr) error {
	d, err := newIfDrv(name, cmd, arg, size)
	if err != nil {
		return err
	}
	req := uint(siocGDRVSPEC)
	if set {
		req = siocSDRVSPEC
	}
	return ioctl(req, unsafe.Pointer(d))
}

func (darwinOps) create(name string) (string, error) {
	r, err := ifreqIoctl(siocIFCREATE2, name, nil)
	if err != nil {
		return "", err
	}
	return cName(&r.Name), nil
}

func (darwinOps) destroy(name string) error {
	_, err := ifreqIoctl(siocIFDESTROY, name, nil)
	return err
}

func (darwinOps) setPeer(name, peer string) error {
	fr, err := newFakeRequest(peer)
	if err != nil {
		return err
	}
	return drvspec(true, name, ifFakeSetPeer, unsafe.Pointer(fr), unsafe.Sizeof(*fr))
}

func (darwinOps) peer(name string) (string, error) {
	fr := new(ifFakeRequest)
	if err := drvspec(false, name, ifFakeGetPeer, unsafe.Pointer(fr), unsafe.Sizeof(*fr)); err != nil {
		return "", err
	}
	return cName(&fr.PeerName), nil
}

func (darwinOps) isUp(name string) (bool, error) {
	r, err := ifreqIoctl(siocGIFFLAGS, name, nil)
	if err != nil {
		return false, err
	}
	return r.flags()&iffUp != 0, nil
}

func (darwinOps) setUp(name string) error {
	r, err := ifreqIoctl(siocGIFFLAGS, name, nil)
	if err != nil {
		return err
	}
	if r.flags()&iffUp != 0 {
		return nil
	}
	r.setFlags(r.flags() | iffUp)
	return ioctl(siocSIFFLAGS, unsafe.Pointer(r))
}

func (darwinOps) mtu(name string) (int, error) {
	r, err := ifreqIoctl(siocGIFMTU, name, nil)
	if err != nil {
		return 0, err
	}
	return r.mtu(), nil
}

func (darwinOps) setMTU(name string, mtu int) error {
	_, err := ifreqIoctl(siocSIFMTU, name, func(r *ifReq) { r.setMTU(mtu) })
	return err
}

func (darwinOps) memberFlags(bridge, member string) (uint32, error) {
	br, err := newIfbReq(member)
	if err != nil {
		return 0, err
	}
	// The bridge takes an ifd_len of exactly sizeof(struct ifbreq).
	if err := drvspec(false, bridge, brdgGIFFlags, unsafe.Pointer(br), unsafe.Sizeof(*br)); err != nil {
		return 0, err
	}
	return br.IfsFlags, nil
}

func (darwinOps) addMember(bridge, member string) error {
	br, err := newIfbReq(member)
	if err != nil {
		return err
	}
	return drvspec(true, bridge, brdgAdd, unsafe.Pointer(br), unsafe.Sizeof(*br))
}

func (darwinOps) interfaces() ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ifs))
	for i, ifc := range ifs {
		names[i] = ifc.Name
	}
	return names, nil
}

// bootID identifies this boot: kern.bootsessionuuid, or failing that
// kern.boottime.
func bootID() string {
	if s, err := unix.Sysctl("kern.bootsessionuuid"); err == nil && s != "" {
		return s
	}
	if tv, err := unix.SysctlTimeval("kern.boottime"); err == nil {
		return "boottime-" + strconv.FormatInt(int64(tv.Sec), 10) + "." + strconv.FormatInt(int64(tv.Usec), 10)
	}
	return ""
}

// processAlive reports whether process pid exists (EPERM: it does, but is
// not ours to signal).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return err == nil || err == unix.EPERM
}
