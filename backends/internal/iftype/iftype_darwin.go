package iftype

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The request this package pins must be the one x/sys/unix knows: a
// compile-time check (an index out of range if they differ).
var _ = [1]struct{}{}[SIOCGIFFUNCTIONALTYPE-unix.SIOCGIFFUNCTIONALTYPE]

// Query asks the kernel for ifname's functional type
// (SIOCGIFFUNCTIONALTYPE).
func Query(ifname string) (Functional, error) {
	if ifname == "" || len(ifname) >= unix.IFNAMSIZ {
		return Unknown, fmt.Errorf("bad interface name %q", ifname)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return Unknown, err
	}
	defer unix.Close(fd)
	var ifr [sizeofIfreq]byte
	copy(ifr[:unix.IFNAMSIZ], ifname)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), SIOCGIFFUNCTIONALTYPE, uintptr(unsafe.Pointer(&ifr[0]))); errno != 0 {
		return Unknown, errno
	}
	return Functional(binary.NativeEndian.Uint32(ifr[ifreqUnionOffset:])), nil
}
