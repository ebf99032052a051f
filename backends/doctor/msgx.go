package doctor

import (
	"bytes"
	"fmt"
)

// msgxPair is a connected pair of datagram sockets: datagrams go in with
// sendmsg_x on one end and come out with recvmsg_x on the other.
type msgxPair interface {
	// sendX sends bufs, one datagram each, in one sendmsg_x call, and
	// returns how many the kernel took.
	sendX(bufs [][]byte) (int, error)
	// recvX receives up to len(bufs) datagrams in one recvmsg_x call,
	// their sizes in sizes, and returns how many came.
	recvX(bufs [][]byte, sizes []int) (int, error)
}

// msgxFrames is how many frames the round trip moves.
const msgxFrames = 8

// msgxRoundTrip sends msgxFrames distinct frames of different sizes
// through p and checks that they come back whole and in order, in as few
// calls as the kernel allows.
func msgxRoundTrip(p msgxPair) Result {
	const name = "msgx-roundtrip"
	const fix = "report this, with `sw_vers` and the output of doctor: dgram ports fall back to one datagram per call, slower"
	frames := make([][]byte, msgxFrames)
	for i := range frames {
		frames[i] = bytes.Repeat([]byte{byte(i + 1)}, 60+100*i)
	}
	sent, sends := 0, 0
	for sent < len(frames) {
		n, err := p.sendX(frames[sent:])
		sends++
		if err != nil {
			return fail(name, fmt.Sprintf("sendmsg_x of %d datagrams on a socketpair: %v", len(frames)-sent, err), fix)
		}
		if n <= 0 || sends > len(frames) {
			return fail(name, fmt.Sprintf("sendmsg_x took %d of %d datagrams", n, len(frames)-sent), fix)
		}
		sent += n
	}
	bufs := make([][]byte, msgxFrames)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	sizes := make([]int, msgxFrames)
	got, recvs := 0, 0
	for got < len(frames) {
		n, err := p.recvX(bufs[got:], sizes[got:])
		recvs++
		if err != nil {
			return fail(name, fmt.Sprintf("recvmsg_x after %d of %d datagrams: %v", got, len(frames), err), fix)
		}
		if n <= 0 || recvs > len(frames) {
			return fail(name, fmt.Sprintf("recvmsg_x returned %d after %d of %d datagrams", n, got, len(frames)), fix)
		}
		got += n
	}
	for i, f := range frames {
		if !bytes.Equal(bufs[i][:sizes[i]], f) {
			return fail(name, fmt.Sprintf("datagram %d came back as %d bytes, sent %d: the batch headers are misread", i, sizes[i], len(f)), fix)
		}
	}
	return pass(name, fmt.Sprintf("%d datagrams through a socketpair with %d sendmsg_x and %d recvmsg_x calls, whole and in order", len(frames), sends, recvs))
}
