package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests of `l2fabric capture`, `monitor` and `--metrics`: what they
// show, read by the tools people use (tcpdump, tshark, promtool).

// needTools skips the test when a Debian package setup.sh installs is
// missing.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (integration/setup.sh installs it)", tool)
		}
	}
}

// background starts a client command of the binary against d, with its
// stdout on a pipe, and kills it when the test ends.
func (d *daemon) background(args ...string) (*exec.Cmd, io.Reader, *bytes.Buffer) {
	d.t.Helper()
	cmd := exec.Command(bin, append(args, "--control", d.ctl)...)
	cmd.Env = binEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		d.t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, stdout, &stderr
}

// sendUntil has v send test frames to dst, one a millisecond, until done
// is closed: traffic that is running when a capture starts, whenever that
// is.
func sendUntil(v *vm, dst mac, done <-chan struct{}) {
	for id := uint64(1); ; id++ {
		select {
		case <-done:
			return
		case <-time.After(time.Millisecond):
		}
		v.conn.Write(testFrame(dst, v.mac, id, 46))
	}
}

func TestCapturePcapngReadByTcpdumpAndTshark(t *testing.T) {
	needTools(t, "tcpdump", "tshark")
	t.Parallel()
	d, l, vms := startSwitch(t, 2)
	a, b := vms[0], vms[1]
	l.learn(a, b)
	file := filepath.Join(l.dir, "cap.pcapng")
	const n = 20
	cmd, _, stderr := d.background("capture", "--port", a.port, "--port", b.port, "-w", file, "-c", strconv.Itoa(n))
	done := make(chan struct{})
	go sendUntil(a, b.mac, done)
	err := cmd.Wait()
	close(done)
	if err != nil {
		t.Fatalf("capture: %v\n%s", err, stderr)
	}
	if want := fmt.Sprintf("%d frames captured, 0 dropped by the capture", n); !strings.Contains(stderr.String(), want) {
		t.Errorf("capture's report %q lacks %q", stderr, want)
	}

	out, err := exec.Command("tcpdump", "-n", "-e", "-r", file).Output()
	if err != nil {
		t.Fatalf("tcpdump -r: %v", err)
	}
	lines := frameLines(out)
	if len(lines) != n {
		t.Fatalf("tcpdump read %d frames, want %d:\n%s", len(lines), n, out)
	}
	for _, line := range lines {
		if !strings.Contains(line, a.mac.String()+" > "+b.mac.String()) {
			t.Errorf("tcpdump line %q is not a frame from %s to %s", line, a.mac, b.mac)
		}
	}

	out, err = exec.Command("tshark", "-r", file, "-T", "fields", "-E", "separator=,",
		"-e", "frame.interface_name", "-e", "frame.packet_flags_direction", "-e", "eth.src", "-e", "eth.dst").Output()
	if err != nil {
		t.Fatalf("tshark -r: %v", err)
	}
	lines = strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != n {
		t.Fatalf("tshark read %d frames, want %d:\n%s", len(lines), n, out)
	}
	seen := map[string]int{}
	for _, line := range lines {
		f := strings.Split(line, ",")
		if len(f) != 4 {
			t.Fatalf("tshark line %q: want 4 fields", line)
		}
		// a's frames enter by a's port and leave by b's.
		dir := map[string]string{a.port: "0x1", b.port: "0x2"}[f[0]]
		if dir == "" || !strings.HasSuffix(f[1], strings.TrimPrefix(dir, "0x")) || f[2] != a.mac.String() || f[3] != b.mac.String() {
			t.Errorf("tshark: %q, want interface %s inbound (1) or %s outbound (2), from %s to %s", line, a.port, b.port, a.mac, b.mac)
		}
		seen[f[0]]++
	}
	if seen[a.port] == 0 || seen[b.port] == 0 || seen[a.port]-seen[b.port] > 1 || seen[b.port]-seen[a.port] > 1 {
		t.Errorf("frames per interface %v: want each frame in on %s and out on %s", seen, a.port, b.port)
	}
}

// frameLines returns tcpdump's output without the hex dumps it adds to
// frames of unknown EtherTypes.
func frameLines(out []byte) []string {
	var lines []string
	for _, line := range strings.Split(string(out), "\n") {
		if line != "" && !strings.HasPrefix(line, "\t") {
			lines = append(lines, line)
		}
	}
	return lines
}

func TestCaptureLiveToTcpdump(t *testing.T) {
	needTools(t, "tcpdump")
	t.Parallel()
	d, l, vms := startSwitch(t, 2)
	a, b := vms[0], vms[1]
	l.learn(a, b)
	capture, pcap, stderr := d.background("capture", "--port", a.port, "-w", "-")
	tcpdump := exec.Command("tcpdump", "-l", "-n", "-e", "-r", "-")
	tcpdump.Stdin = pcap
	out, err := tcpdump.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tcpdump.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tcpdump.Process.Kill(); tcpdump.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if line := sc.Text(); !strings.HasPrefix(line, "\t") { // not a hex dump
				lines <- line
			}
		}
		close(lines)
	}()
	done := make(chan struct{})
	go sendUntil(a, b.mac, done)
	// tcpdump prints frames while the capture runs: the stream is live.
	for i := 0; i < 3; i++ {
		select {
		case line := <-lines:
			if !strings.Contains(line, a.mac.String()+" > "+b.mac.String()) {
				t.Errorf("tcpdump printed %q, want a frame from %s to %s", line, a.mac, b.mac)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("tcpdump printed %d lines within %v of the traffic starting", i, waitTimeout)
		}
	}
	close(done)
	// Ctrl-C ends the capture, which reports its counts.
	capture.Process.Signal(syscall.SIGINT)
	if err := capture.Wait(); err != nil {
		t.Fatalf("capture after SIGINT: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "frames captured") {
		t.Errorf("capture's report: %q", stderr)
	}
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestMetricsMatchPortsAndPassPromtool(t *testing.T) {
	needTools(t, "promtool")
	t.Parallel()
	addr := freeAddr(t)
	d, l, vms := startSwitch(t, 3, "--metrics", addr)
	l.learn(vms...)
	for i := range 10 {
		vms[0].sendTest(vms[1].mac, uint64(i))
	}
	l.fence(vms[0], vms...) // the traffic has stopped

	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %v %v", resp.Status, err)
	}
	ports := d.ports()

	check := exec.Command("promtool", "check", "metrics")
	check.Stdin = bytes.NewReader(body)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	samples := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	for _, p := range ports {
		labels := fmt.Sprintf(`{kind="%s",port="%s"}`, p.Kind, p.Name)
		for name, want := range map[string]uint64{
			"l2fabric_port_rx_frames_total": p.Counters.RxFrames,
			"l2fabric_port_rx_bytes_total":  p.Counters.RxBytes,
			"l2fabric_port_tx_frames_total": p.Counters.TxFrames,
			"l2fabric_port_tx_bytes_total":  p.Counters.TxBytes,
			"l2fabric_port_fdb_entries":     uint64(p.FDB),
		} {
			got, ok := samples[name+labels]
			if !ok || got != float64(want) {
				t.Errorf("%s%s = %v (present: %v), ports --json says %d", name, labels, got, ok, want)
			}
		}
	}
	if got := samples[fmt.Sprintf(`l2fabric_port_rx_frames_total{kind="dgram",port="%s"}`, vms[0].port)]; got < 10 {
		t.Errorf("%s received %v frames, want at least the 10 sent", vms[0].port, got)
	}
	s := d.stats()
	if got := samples["l2fabric_fdb_entries"]; got != float64(s.FDB.Current) {
		t.Errorf("l2fabric_fdb_entries = %v, stats says %d", got, s.FDB.Current)
	}
	if got := samples["l2fabric_forwarded_frames_total"]; got != float64(s.Fabric.Forwarded) {
		t.Errorf("l2fabric_forwarded_frames_total = %v, stats says %d", got, s.Fabric.Forwarded)
	}
}

func TestMonitorShowsLearnedAndMoved(t *testing.T) {
	t.Parallel()
	d, l, vms := startSwitch(t, 3)
	a, b, c := vms[0], vms[1], vms[2]
	l.learn(vms...)
	_, out, _ := d.background("monitor", "--json")
	events := make(chan map[string]any, 1000)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				events <- ev
			}
		}
		close(events)
	}()
	// The monitor is listening once it shows a flush asked after it
	// started.
	subscribed := false
	for !subscribed {
		d.mustCLI("fdb", "flush", "--port", c.port)
		select {
		case ev := <-events:
			subscribed = ev["type"] == "fdb_flushed"
		case <-time.After(100 * time.Millisecond):
		}
	}
	m := vmMAC(0x77)
	next := func(want string) map[string]any {
		t.Helper()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("monitor ended before %s", want)
				}
				if ev["type"] == want && ev["mac"] == m.String() {
					return ev
				}
			case <-time.After(waitTimeout):
				t.Fatalf("no %s event for %s within %v", want, m, waitTimeout)
			}
		}
	}
	a.send(ethernet(broadcast, m, etherTest, make([]byte, 46)))
	if ev := next("fdb_learned"); ev["port"] != a.port || ev["vlan"] != float64(1) {
		t.Errorf("learned event %v, want port %s vlan 1", ev, a.port)
	}
	b.send(ethernet(broadcast, m, etherTest, make([]byte, 46)))
	if ev := next("fdb_moved"); ev["from"] != a.port || ev["port"] != b.port {
		t.Errorf("moved event %v, want from %s to %s", ev, a.port, b.port)
	}
	if _, err := os.Stat(d.ctl); err != nil {
		t.Fatal(err)
	}
}

func TestCaptureDurationEndsWithAValidFile(t *testing.T) {
	needTools(t, "tcpdump")
	t.Parallel()
	d, l, _ := startSwitch(t, 1)
	file := filepath.Join(l.dir, "quiet.pcapng")
	r := d.cli("capture", "--duration", "100ms", "--vlan", "7", "-w", file)
	if r.code != 0 || !strings.Contains(r.stderr, "0 frames captured, 0 dropped by the capture") {
		t.Fatalf("capture --duration: %s", r)
	}
	out, err := exec.Command("tcpdump", "-n", "-r", file).CombinedOutput()
	if err != nil || len(frameLines(out)) != 1 { // tcpdump's "reading from file" line
		t.Errorf("tcpdump -r of an empty capture: %v\n%s", err, out)
	}
	if r := d.cli("capture", "--vlan", "5000"); r.code != 2 || !strings.Contains(r.stderr, "--vlan 5000") {
		t.Errorf("capture --vlan 5000: %s", r)
	}
}
