package host

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// wireless reports whether ifname is a Wi-Fi interface (its functional
// type, as xnu's bridge tells), and says so. An interface whose type
// cannot be read is not.
func wireless(ifname string) (bool, string) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return false, ""
	}
	defer unix.Close(fd)
	unix.CloseOnExec(fd)
	var ifr [sizeofIfreq]byte
	copy(ifr[:unix.IFNAMSIZ-1], ifname)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), siocGIFFUNCTIONALTYPE, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		return false, ""
	}
	t := binary.NativeEndian.Uint32(ifr[ifreqFunctionalTypeOffset:])
	return functionalTypeIsWiFi(t), wirelessReasonDarwin
}
