package feth

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Compile-time checks: each pair of array types below has a negative
// length, and fails the build (and `GOOS=darwin go vet`), unless the two
// sides are equal. The request numbers must be golang.org/x/sys/unix's,
// generated from the macOS SDK, and the structures must have the sizes
// those numbers encode.
var (
	_ [siocSIFFLAGS - unix.SIOCSIFFLAGS]struct{}
	_ [unix.SIOCSIFFLAGS - siocSIFFLAGS]struct{}
	_ [siocGIFFLAGS - unix.SIOCGIFFLAGS]struct{}
	_ [unix.SIOCGIFFLAGS - siocGIFFLAGS]struct{}
	_ [siocSIFMTU - unix.SIOCSIFMTU]struct{}
	_ [unix.SIOCSIFMTU - siocSIFMTU]struct{}
	_ [siocGIFMTU - unix.SIOCGIFMTU]struct{}
	_ [unix.SIOCGIFMTU - siocGIFMTU]struct{}
	_ [siocIFCREATE2 - unix.SIOCIFCREATE2]struct{}
	_ [unix.SIOCIFCREATE2 - siocIFCREATE2]struct{}
	_ [siocIFDESTROY - unix.SIOCIFDESTROY]struct{}
	_ [unix.SIOCIFDESTROY - siocIFDESTROY]struct{}
	_ [siocSDRVSPEC - unix.SIOCSDRVSPEC]struct{}
	_ [unix.SIOCSDRVSPEC - siocSDRVSPEC]struct{}
	_ [siocGDRVSPEC - unix.SIOCGDRVSPEC]struct{}
	_ [unix.SIOCGDRVSPEC - siocGDRVSPEC]struct{}

	_ [ifNameSize - unix.IFNAMSIZ]struct{}
	_ [unix.IFNAMSIZ - ifNameSize]struct{}
	_ [iffUp - unix.IFF_UP]struct{}
	_ [unix.IFF_UP - iffUp]struct{}

	_ [unsafe.Sizeof(ifReq{}) - sizeofIfreq]struct{}
	_ [sizeofIfreq - unsafe.Sizeof(ifReq{})]struct{}
	_ [unsafe.Sizeof(ifDrv{}) - sizeofIfdrv]struct{}
	_ [sizeofIfdrv - unsafe.Sizeof(ifDrv{})]struct{}
	_ [unsafe.Offsetof(ifDrv{}.Cmd) - 16]struct{}
	_ [16 - unsafe.Offsetof(ifDrv{}.Cmd)]struct{}
	_ [unsafe.Offsetof(ifDrv{}.Len) - 24]struct{}
	_ [24 - unsafe.Offsetof(ifDrv{}.Len)]struct{}
	_ [unsafe.Offsetof(ifDrv{}.Data) - 32]struct{}
	_ [32 - unsafe.Offsetof(ifDrv{}.Data)]struct{}
	_ [unsafe.Sizeof(ifFakeRequest{}) - sizeofIfFakeRequest]struct{}
	_ [sizeofIfFakeRequest - unsafe.Sizeof(ifFakeRequest{})]struct{}
	_ [unsafe.Offsetof(ifFakeRequest{}.PeerName) - 32]struct{}
	_ [32 - unsafe.Offsetof(ifFakeRequest{}.PeerName)]struct{}
	_ [unsafe.Sizeof(ifbReq{}) - sizeofIfbreq]struct{}
	_ [sizeofIfbreq - unsafe.Sizeof(ifbReq{})]struct{}
	_ [unsafe.Offsetof(ifbReq{}.AddrCnt) - 36]struct{}
	_ [36 - unsafe.Offsetof(ifbReq{}.AddrCnt)]struct{}
)
