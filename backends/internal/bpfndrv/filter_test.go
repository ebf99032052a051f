package bpfndrv

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/l2fabric/l2fabric/frames"
)

// vm runs a raw program as the kernel would.
func vm(t testing.TB, prog []bpf.RawInstruction) *bpf.VM {
	t.Helper()
	insts, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatal("program does not disassemble")
	}
	v, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatalf("x/net/bpf refuses the program: %v", err)
	}
	return v
}

// ether returns an n-byte frame to dst.
func ether(dst frames.MAC, n int) []byte {
	f := make([]byte, n)
	copy(f, dst[:])
	copy(f[6:], []byte{0x02, 0xee, 0xee, 0xee, 0xee, 0xee})
	f[12], f[13] = 0x08, 0x00
	return f
}

// admits reports whether v passes a minimum-size frame to dst whole. The
// VM returns the filter's snapshot length; the kernel captures that much
// of the frame at most.
func admits(t testing.TB, v *bpf.VM, dst frames.MAC) bool {
	t.Helper()
	f := ether(dst, 60)
	n, err := v.Run(f)
	if err != nil {
		t.Fatalf("running the filter on %v: %v", dst, err)
	}
	if n != 0 && n < len(f) {
		t.Fatalf("filter passes %d of %d bytes to %v", n, len(f), dst)
	}
	return n != 0
}

// groupAddrs are broadcast and multicast destinations the filter must
// always pass.
var groupAddrs = []frames.MAC{
	{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // broadcast (ARP)
	{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, // IPv6 all nodes
	{0x33, 0x33, 0xff, 0x12, 0x34, 0x56}, // IPv6 solicited node (neighbour discovery)
	{0x33, 0x33, 0x00, 0x00, 0x00, 0xfb}, // mDNS over IPv6
	{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}, // mDNS over IPv4
	{0x01, 0x80, 0xc2, 0x00, 0x00, 0x00}, // STP
	{0x03, 0x00, 0x00, 0x00, 0x00, 0x01}, // any group bit
}

// randomMACs returns n distinct unicast MACs; with prefix set, all share
// it.
func randomMACs(r *rand.Rand, n int, prefix *[2]byte) []frames.MAC {
	seen := map[frames.MAC]bool{}
	var out []frames.MAC
	for len(out) < n {
		var m frames.MAC
		for i := range m {
			m[i] = byte(r.UintN(256))
		}
		m[0] = m[0]&^1 | 2 // unicast, locally administered
		if prefix != nil {
			m[0], m[1] = prefix[0], prefix[1]
		}
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// neighbours returns unicast MACs close to m that must not pass: one
// byte differs (in each position), or the halves are swapped around.
func neighbours(m frames.MAC) []frames.MAC {
	var out []frames.MAC
	for i := range m {
		n := m
		n[i] ^= 0x04
		out = append(out, n)
	}
	return out
}

func checkFilter(t *testing.T, macs []frames.MAC) {
	t.Helper()
	prog, exact := FilterProgram(macs)
	if !exact {
		t.Fatalf("%d MACs: the program is not exact", len(macs))
	}
	if err := validateProgram(prog); err != nil {
		t.Fatalf("%d MACs: the kernel would refuse the program: %v", len(macs), err)
	}
	v := vm(t, prog)
	set := map[frames.MAC]bool{}
	for _, m := range macs {
		set[m] = true
	}
	for _, m := range macs {
		if !admits(t, v, m) {
			t.Errorf("configured MAC %v rejected", m)
		}
	}
	for _, g := range groupAddrs {
		if !admits(t, v, g) {
			t.Errorf("group address %v rejected", g)
		}
	}
	r := rand.New(rand.NewPCG(uint64(len(macs)), 7))
	others := randomMACs(r, 200, nil)
	for _, m := range macs[:min(len(macs), 50)] {
		others = append(others, neighbours(m)...)
	}
	others = append(others, frames.MAC{}) // all zero: not a valid destination
	for _, o := range others {
		if o.IsUnicast() && set[o] || !o.IsUnicast() && !o.IsZero() {
			continue
		}
		if admits(t, v, o) {
			t.Errorf("unicast %v not in the set admitted", o)
		}
	}
}

func TestFilterAdmitsExactlyTheSet(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	prefix := [2]byte{0x52, 0x54}
	for _, tc := range []struct {
		name string
		macs []frames.MAC
	}{
		{"one", randomMACs(r, 1, nil)},
		{"tens of unrelated MACs", randomMACs(r, 40, nil)},
		{"150 unrelated MACs", randomMACs(r, 150, nil)},
		{"450 MACs of one prefix", randomMACs(r, 450, &prefix)},
		{"mixed", append(randomMACs(r, 60, nil), randomMACs(r, 250, &prefix)...)},
		{"low halves shared across prefixes", []frames.MAC{
			{0x02, 0x00, 0x00, 0x00, 0x00, 0x01},
			{0x02, 0x01, 0x00, 0x00, 0x00, 0x01},
			{0x04, 0x00, 0x00, 0x00, 0x00, 0x01},
			{0x02, 0x00, 0x00, 0x00, 0x00, 0x02},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkFilter(t, tc.macs) })
	}
}

// TestFilterSizes grows sets up to and past the instruction limit:
// every program is valid for the kernel, exact while it fits and
// admitting everything once it does not, and every jump reaches.
func TestFilterSizes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	prefix := [2]byte{0x02, 0x42}
	for _, kind := range []struct {
		name     string
		gen      func(n int) []frames.MAC
		atLeast  int // must stay exact up to here
		sweepMax int
	}{
		{"unrelated", func(n int) []frames.MAC { return randomMACs(r, n, nil) }, 160, 200},
		{"one prefix", func(n int) []frames.MAC { return randomMACs(r, n, &prefix) }, 480, 520},
		{"two prefixes", func(n int) []frames.MAC {
			p2 := [2]byte{0x02, 0x43}
			return append(randomMACs(r, n/2, &prefix), randomMACs(r, n-n/2, &p2)...)
		}, 470, 520},
	} {
		t.Run(kind.name, func(t *testing.T) {
			wasExact := true
			all := kind.gen(kind.sweepMax)
			for n := 0; n <= kind.sweepMax; n++ {
				macs := all[:n]
				prog, exact := FilterProgram(macs)
				if err := validateProgram(prog); err != nil {
					t.Fatalf("%d MACs: %v", n, err)
				}
				if exact && !wasExact {
					t.Fatalf("%d MACs fit after a smaller set did not", n)
				}
				wasExact = exact
				if !exact {
					if n <= kind.atLeast {
						t.Fatalf("only %d MACs fit, want at least %d", n-1, kind.atLeast)
					}
					if v := vm(t, prog); !admits(t, v, randomMACs(r, 1, nil)[0]) {
						t.Fatal("the fallback program does not admit everything")
					}
					continue
				}
				if n%37 == 0 || n > kind.atLeast-5 {
					checkFilter(t, macs)
				}
			}
			if wasExact {
				t.Fatalf("%d MACs still fit: the sweep does not reach the limit", kind.sweepMax)
			}
		})
	}
}

func TestFilterEmptySet(t *testing.T) {
	prog, exact := FilterProgram(nil)
	if !exact {
		t.Fatal("empty set not exact")
	}
	if len(prog) > 4 {
		t.Errorf("empty-set program has %d instructions", len(prog))
	}
	v := vm(t, prog)
	for _, g := range groupAddrs {
		if !admits(t, v, g) {
			t.Errorf("group address %v rejected", g)
		}
	}
	for _, m := range randomMACs(rand.New(rand.NewPCG(5, 6)), 50, nil) {
		if admits(t, v, m) {
			t.Errorf("unicast %v admitted by the empty set", m)
		}
	}
	// Non-unicast entries are ignored: they pass anyway.
	other, _ := FilterProgram([]frames.MAC{{0x33, 0x33, 0, 0, 0, 1}, {}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}})
	if !slices.Equal(prog, other) {
		t.Error("multicast, broadcast or zero entries changed the program")
	}
}

func TestFilterAcceptsWholeJumboFrames(t *testing.T) {
	m := frames.MAC{0x02, 0, 0, 0, 0, 9}
	prog, _ := FilterProgram([]frames.MAC{m})
	v := vm(t, prog)
	for _, n := range []int{60, 1514, 9018, 65535 + 14 + 8} {
		for _, dst := range []frames.MAC{m, groupAddrs[0], groupAddrs[1]} {
			got, err := v.Run(ether(dst, n))
			if err != nil || got < n {
				t.Errorf("%d-byte frame to %v: filter passes %d bytes (%v)", n, dst, got, err)
			}
		}
	}
	if AcceptLen < 65535+14+8 {
		t.Errorf("AcceptLen %d cuts TSO frames", AcceptLen)
	}
}

func TestFilterShortFrames(t *testing.T) {
	m := frames.MAC{0x02, 0, 0, 0, 0, 9}
	prog, _ := FilterProgram([]frames.MAC{m})
	v := vm(t, prog)
	for n := 0; n < 6; n++ {
		f := ether(m, 60)[:n]
		got, err := v.Run(f)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && got != 0 {
			t.Errorf("empty frame admitted")
		}
		if n > 0 && n < 6 && got != 0 {
			t.Errorf("%d-byte unicast frame admitted", n)
		}
	}
}

func TestFilterRegeneration(t *testing.T) {
	a := frames.MAC{0x02, 0, 0, 0, 0, 1}
	b := frames.MAC{0x02, 0, 0, 0, 0, 2}
	c := frames.MAC{0x06, 0x11, 0, 0, 0, 2}
	p1, _ := FilterProgram([]frames.MAC{a, b})
	p2, _ := FilterProgram([]frames.MAC{b, a, a}) // order and duplicates do not matter
	if !slices.Equal(p1, p2) {
		t.Error("the same set gave different programs")
	}
	p3, _ := FilterProgram([]frames.MAC{a, b, c})
	if slices.Equal(p1, p3) {
		t.Error("adding a MAC did not change the program")
	}
	p4, _ := FilterProgram([]frames.MAC{a})
	if slices.Equal(p1, p4) {
		t.Error("removing a MAC did not change the program")
	}
	if v := vm(t, p4); admits(t, v, b) || !admits(t, v, a) {
		t.Error("the regenerated program admits the old set")
	}
	in := []frames.MAC{b, a}
	FilterProgram(in)
	if in[0] != b {
		t.Error("FilterProgram sorted its argument")
	}
}

func TestValidateProgram(t *testing.T) {
	ret := bpf.RawInstruction{Op: opRetK, K: 1}
	for _, tc := range []struct {
		name string
		prog []bpf.RawInstruction
		ok   bool
	}{
		{"return", []bpf.RawInstruction{ret}, true},
		{"empty", nil, false},
		{"too long", slices.Repeat([]bpf.RawInstruction{ret}, MaxFilterInstructions+1), false},
		{"longest", slices.Repeat([]bpf.RawInstruction{ret}, MaxFilterInstructions), true},
		{"does not end in a return", []bpf.RawInstruction{ret, {Op: 0x20, K: 2}}, false},
		{"conditional jump past the end", []bpf.RawInstruction{{Op: 0x15, Jt: 1}, ret}, false},
		{"ja past the end", []bpf.RawInstruction{{Op: 0x05, K: 1}, ret}, false},
		{"ja to the end", []bpf.RawInstruction{{Op: 0x05, K: 1}, ret, ret}, true},
		{"division by zero", []bpf.RawInstruction{{Op: 0x34, K: 0}, ret}, false},
		{"scratch out of range", []bpf.RawInstruction{{Op: 0x02, K: 16}, ret}, false},
		{"load beyond the buffer", []bpf.RawInstruction{{Op: 0x20, K: 0x80000}, ret}, false},
		{"mod (not in xnu)", []bpf.RawInstruction{{Op: 0x94, K: 3}, ret}, false},
	} {
		err := validateProgram(tc.prog)
		if (err == nil) != tc.ok {
			t.Errorf("%s: validateProgram = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func BenchmarkFilterProgram(b *testing.B) {
	macs := randomMACs(rand.New(rand.NewPCG(1, 1)), 150, nil)
	for b.Loop() {
		FilterProgram(macs)
	}
}

func ExampleFilterProgram() {
	prog, exact := FilterProgram([]frames.MAC{{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}})
	insts, _ := bpf.Disassemble(prog)
	for _, in := range insts {
		fmt.Println(in)
	}
	fmt.Println("exact:", exact)
	// Output:
	// ldb [0]
	// jset #1,0,1
	// ret #262144
	// ldh [0]
	// jneq #578,2
	// ld [2]
	// jeq #2886795266,1
	// ret #0
	// ret #262144
	// exact: true
}
