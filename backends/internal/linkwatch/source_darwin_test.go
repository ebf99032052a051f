package linkwatch

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// ifinfo lays out one RTM_IFINFO message of a NET_RT_IFLIST listing as
// xnu writes it: an if_msghdr (112 bytes on 64-bit darwin) and the
// interface's sockaddr_dl.
func ifinfo(index int, name string, flags int) []byte {
	const hdr = 112
	mac := []byte{0x02, 0, 0, 0, 0, byte(index)}
	sdl := []byte{0, unix.AF_LINK, 0, 0, 6 /* IFT_ETHER */, byte(len(name)), byte(len(mac)), 0}
	sdl = append(append(sdl, name...), mac...)
	sdl[0] = byte(len(sdl))
	binary.NativeEndian.PutUint16(sdl[2:], uint16(index))
	for len(sdl)%4 != 0 {
		sdl = append(sdl, 0)
	}
	b := make([]byte, hdr, hdr+len(sdl))
	binary.NativeEndian.PutUint16(b[0:], uint16(hdr+len(sdl)))
	b[2] = unix.RTM_VERSION
	b[3] = unix.RTM_IFINFO
	binary.NativeEndian.PutUint32(b[4:], unix.RTA_IFP)
	binary.NativeEndian.PutUint32(b[8:], uint32(flags))
	binary.NativeEndian.PutUint16(b[12:], uint16(index))
	return append(b, sdl...)
}

// TestParseInterfaceList parses listings laid out as xnu writes them and
// follows a feth destroyed and re-created with its index recycled: down
// then up, never "still up".
func TestParseInterfaceList(t *testing.T) {
	rib := append(ifinfo(4, "en0", unix.IFF_UP|unix.IFF_RUNNING), ifinfo(7, "feth0", unix.IFF_UP)...)
	links, err := parseInterfaceList(rib)
	if err != nil {
		t.Fatal(err)
	}
	want := []Link{{Index: 4, Name: "en0", Up: true, Running: true, Flags: unix.IFF_UP | unix.IFF_RUNNING}, {Index: 7, Name: "feth0", Up: true, Flags: unix.IFF_UP}}
	if len(links) != 2 || links[0] != want[0] || links[1] != want[1] {
		t.Fatalf("parsed %v, want %v", links, want)
	}
	if rtmIfInfo != unix.RTM_IFINFO || rtmIfInfo2 != unix.RTM_IFINFO2 {
		t.Error("the routing message types differ from x/sys's")
	}
	if i, f, ok := ifInfoHeader(ifinfo(7, "feth0", unix.IFF_UP)); !ok || i != 7 || f != unix.IFF_UP {
		t.Errorf("ifInfoHeader = %d, %#x, %v", i, f, ok)
	}
	ls := newListing()
	ls.update(links)
	gone, _ := parseInterfaceList(ifinfo(4, "en0", unix.IFF_UP|unix.IFF_RUNNING))
	if us := ls.update(gone); len(us) != 1 || !us[0].Deleted || us[0].Link.Index != 7 {
		t.Errorf("feth0 destroyed: %v", us)
	}
	back, _ := parseInterfaceList(rib)
	if us := ls.update(back); len(us) != 1 || us[0].Deleted || us[0].Link.Name != "feth0" {
		t.Errorf("feth0 back with index 7: %v", us)
	}
}
