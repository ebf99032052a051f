package bpfndrv

import (
	"fmt"
	"slices"

	"golang.org/x/net/bpf"

	"github.com/l2fabric/l2fabric/frames"
)

// AcceptLen is the snapshot length the filter returns for a frame it
// admits: more than the largest frame (a 64 KiB TSO frame and its
// headers), so that nothing admitted is cut. The kernel further caps a
// capture at its buffer size.
const AcceptLen = 0x40000

// Layout limits of the generated program.
const (
	// maxSkip is the longest conditional jump classic BPF can encode.
	maxSkip = 255
	// maxUnitLows bounds how many low halves one unit compares, so that
	// a unit and the island after it stay within maxSkip.
	maxUnitLows = 240
)

// FilterProgram returns the BPF program that admits a frame when its
// destination MAC is broadcast or multicast (the group bit of its first
// byte is set: ARP, IPv6 neighbour discovery and mDNS all need this), or
// is one of macs, and rejects every other frame. Entries of macs that are
// not unicast are ignored (they are admitted anyway); the order does not
// matter and macs is not modified.
//
// The program compares the first two bytes of the destination against
// each distinct 2-byte prefix in the set, then the last four bytes
// against the addresses under the matching prefix, so a set of MACs that
// share their prefix (one hypervisor's) costs about one instruction per
// MAC, and a set of unrelated MACs three. It fits the kernel's
// MaxFilterInstructions limit for about 490 MACs of one prefix or 165
// unrelated ones; for a larger set it admits every frame (the fabric then
// sees unicast for addresses it does not know and floods it) and exact is
// false.
func FilterProgram(macs []frames.MAC) (prog []bpf.RawInstruction, exact bool) {
	insts := filterInstructions(macs)
	if len(insts) > MaxFilterInstructions {
		return acceptAll(), false
	}
	prog, err := bpf.Assemble(insts)
	if err != nil || validateProgram(prog) != nil {
		// Not reachable: the layout keeps every jump encodable.
		return acceptAll(), false
	}
	return prog, true
}

// acceptAll is the program that admits every frame whole.
func acceptAll() []bpf.RawInstruction {
	return []bpf.RawInstruction{{Op: opRetK, K: AcceptLen}}
}

// Raw opcodes, from <net/bpf.h>.
const (
	opRetK = 0x06 // BPF_RET|BPF_K
)

// prefixGroup is the MACs of a set that share their first two bytes.
type prefixGroup struct {
	hi   uint32   // the first two bytes
	lows []uint32 // the last four bytes of each MAC, sorted
}

// groupMACs returns the distinct unicast MACs of macs grouped by their
// 2-byte prefix, groups and members sorted.
func groupMACs(macs []frames.MAC) []prefixGroup {
	sorted := make([]frames.MAC, 0, len(macs))
	for _, m := range macs {
		if m.IsUnicast() {
			sorted = append(sorted, m)
		}
	}
	slices.SortFunc(sorted, func(a, b frames.MAC) int {
		for i := range a {
			if a[i] != b[i] {
				return int(a[i]) - int(b[i])
			}
		}
		return 0
	})
	sorted = slices.Compact(sorted)
	var groups []prefixGroup
	for _, m := range sorted {
		hi := uint32(m[0])<<8 | uint32(m[1])
		lo := uint32(m[2])<<24 | uint32(m[3])<<16 | uint32(m[4])<<8 | uint32(m[5])
		if n := len(groups); n > 0 && groups[n-1].hi == hi {
			groups[n-1].lows = append(groups[n-1].lows, lo)
			continue
		}
		groups = append(groups, prefixGroup{hi: hi, lows: []uint32{lo}})
	}
	return groups
}

// farJump is a conditional jump whose target is the accept or reject
// instruction of the next island, patched when the island is placed.
type farJump struct {
	at       int  // index of the jump
	accept   bool // target: accept (else reject)
	trueSide bool // which side of the jump goes there
}

// filterInstructions lays the program out:
//
//	ldb [0]; jset #1 → ret AcceptLen  (broadcast, multicast)
//	ldh [0]                            (A: the first two bytes)
//	unit per prefix (per maxUnitLows of its MACs):
//	    jeq #prefix, 0, skip-unit
//	    ld [2]                          (A: the last four bytes)
//	    jeq #low, → accept, 0 ...       (the last one: → accept, → reject)
//	    [ldh [0]: only when more units of the same prefix follow]
//	islands, wherever a far jump would otherwise reach past 255:
//	    ja 2; reject: ret #0; accept: ret AcceptLen
//	end: reject: ret #0; accept: ret AcceptLen
//
// It may return more than MaxFilterInstructions instructions: the caller
// checks.
func filterInstructions(macs []frames.MAC) []bpf.Instruction {
	groups := groupMACs(macs)
	insts := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 0, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 1, SkipTrue: 0, SkipFalse: 1},
		bpf.RetConstant{Val: AcceptLen},
	}
	if len(groups) == 0 {
		return append(insts, bpf.RetConstant{Val: 0})
	}
	insts = append(insts, bpf.LoadAbsolute{Off: 0, Size: 2})

	var pending []farJump
	// island places the reject and accept instructions at the end of insts
	// and points the pending far jumps at them.
	island := func(final bool) {
		if !final {
			insts = append(insts, bpf.Jump{Skip: 2})
		}
		reject := len(insts)
		insts = append(insts, bpf.RetConstant{Val: 0}, bpf.RetConstant{Val: AcceptLen})
		for _, j := range pending {
			target := reject
			if j.accept {
				target++
			}
			skip := uint8(target - j.at - 1)
			ji := insts[j.at].(bpf.JumpIf)
			if j.trueSide {
				ji.SkipTrue = skip
			} else {
				ji.SkipFalse = skip
			}
			insts[j.at] = ji
		}
		pending = pending[:0]
	}
	for _, g := range groups {
		for start := 0; start < len(g.lows); start += maxUnitLows {
			lows := g.lows[start:min(start+maxUnitLows, len(g.lows))]
			more := start+maxUnitLows < len(g.lows)
			size := 2 + len(lows)
			if more {
				size++
			}
			// Would the oldest far jump (or this unit's first) still
			// reach the accept of an island placed after this unit?
			first := len(insts) + 2
			if len(pending) > 0 {
				first = pending[0].at
			}
			if len(insts)+size+2-first-1 > maxSkip {
				island(false)
			}
			insts = append(insts,
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: g.hi, SkipFalse: uint8(size - 1)},
				bpf.LoadAbsolute{Off: 2, Size: 4})
			for i, lo := range lows {
				pending = append(pending, farJump{at: len(insts), accept: true, trueSide: true})
				if i == len(lows)-1 && !more {
					// No other MAC has this prefix: reject.
					pending = append(pending, farJump{at: len(insts), accept: false, trueSide: false})
				}
				insts = append(insts, bpf.JumpIf{Cond: bpf.JumpEqual, Val: lo})
			}
			if more {
				insts = append(insts, bpf.LoadAbsolute{Off: 0, Size: 2})
			}
		}
	}
	island(true)
	return insts
}

// validateProgram applies the checks xnu's bpf_validate makes before it
// accepts a program (bsd/net/bpf_filter.c), so that a program the kernel
// would reject with EINVAL is caught here and in tests.
func validateProgram(prog []bpf.RawInstruction) error {
	const (
		classLD, classLDX, classST, classSTX, classALU, classJMP, classRET, classMISC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
		modeIMM, modeABS, modeIND, modeMEM, modeLEN, modeMSH                          = 0x00, 0x20, 0x40, 0x60, 0x80, 0xa0
		opJA, opJEQ, opJGT, opJGE, opJSET                                             = 0x00, 0x10, 0x20, 0x30, 0x40
		memWords                                                                      = 16      // BPF_MEMWORDS
		maxBufSize                                                                    = 0x80000 // xnu: BPF_MAXBUFSIZE, the default debug.bpf_maxbufsize
	)
	n := len(prog)
	if n < 1 || n > MaxFilterInstructions {
		return fmt.Errorf("program has %d instructions, the kernel takes 1 to %d", n, MaxFilterInstructions)
	}
	for i, p := range prog {
		bad := func(why string) error { return fmt.Errorf("instruction %d (%#04x): %s", i, p.Op, why) }
		switch p.Op & 0x07 {
		case classLD, classLDX:
			switch p.Op & 0xe0 {
			case modeIMM, modeLEN:
			case modeABS, modeIND, modeMSH:
				if p.K >= maxBufSize {
					return bad("load offset beyond the largest buffer")
				}
			case modeMEM:
				if p.K >= memWords {
					return bad("scratch index out of range")
				}
			default:
				return bad("unknown load mode")
			}
		case classST, classSTX:
			if p.K >= memWords {
				return bad("scratch index out of range")
			}
		case classALU:
			switch op := p.Op & 0xf0; op {
			case 0x00, 0x10, 0x20, 0x40, 0x50, 0x60, 0x70, 0x80: // add sub mul or and lsh rsh neg
			case 0x30: // div
				if p.Op&0x08 == 0 && p.K == 0 {
					return bad("division by constant zero")
				}
			default:
				return bad("ALU operation the kernel does not take")
			}
		case classJMP:
			from := uint64(i) + 1
			switch p.Op & 0xf0 {
			case opJA:
				if from+uint64(p.K) >= uint64(n) {
					return bad("jump past the end")
				}
			case opJEQ, opJGT, opJGE, opJSET:
				if from+uint64(p.Jt) >= uint64(n) || from+uint64(p.Jf) >= uint64(n) {
					return bad("jump past the end")
				}
			default:
				return bad("unknown jump")
			}
		case classRET, classMISC:
		}
	}
	if prog[n-1].Op&0x07 != classRET {
		return fmt.Errorf("the last instruction must return")
	}
	return nil
}
