//go:build linux || darwin

package privdrop

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDrop drops root in a child process (a test binary that runs
// TestDropChild), which first binds a unix socket, and checks what the
// child reports: its IDs, that root cannot come back, and that the
// socket file is the user's.
func TestDrop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := user.Lookup("nobody"); err != nil {
		t.Skip("no user nobody")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	cmd := exec.Command(os.Args[0], "-test.run=^TestDropChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PRIVDROP_CHILD_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	c, _ := Lookup("nobody")
	want := fmt.Sprintf("uid=%d gid=%d", c.UID, c.GID)
	if !strings.Contains(string(out), want) {
		t.Errorf("child says:\n%s\nwant %q", out, want)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, "s.sock"), &st); err != nil {
		t.Fatal(err)
	}
	if int(st.Uid) != c.UID {
		t.Errorf("the socket file is uid %d's, want %d's", st.Uid, c.UID)
	}
}

// TestDropChild is the child of TestDrop.
func TestDropChild(t *testing.T) {
	dir := os.Getenv("PRIVDROP_CHILD_DIR")
	if dir == "" {
		t.Skip("run by TestDrop")
	}
	c, err := Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "s.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	if err := Drop(c); err != nil {
		t.Fatal(err)
	}
	if err := Drop(c); err == nil || !strings.Contains(err.Error(), "not root") {
		t.Errorf("a second Drop: %v", err)
	}
	fmt.Printf("uid=%d gid=%d\n", os.Getuid(), os.Getgid())
	conn.Close()
}
