package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/l2fabric/l2fabric/fabric"
)

// ServerConfig configures a Server. Zero values are defaults.
type ServerConfig struct {
	// Path is the socket path. Required.
	Path string
	// Group, when not empty, is the group (name or numeric ID) given
	// access to the socket: its mode becomes 0660 instead of 0600.
	Group string
	// Version is reported by the version command.
	Version string
	// Logger receives the server's logs; nil discards them.
	Logger hclog.Logger
	// Reload, when not nil, serves the reload command: it re-reads the
	// daemon's configuration file and applies what changed.
	Reload func() (ReloadResult, error)
}

// Server serves the control protocol for a fabric.
type Server struct {
	cfg ServerConfig
	f   *fabric.Fabric
	ln  *net.UnixListener
	log hclog.Logger
	wg  sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Listen creates the control socket. A stale socket from a dead daemon is
// replaced; one a live daemon answers on is an error.
func Listen(cfg ServerConfig, f *fabric.Fabric) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if fi, err := os.Lstat(cfg.Path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("control socket %s exists and is not a socket: refusing to replace it", cfg.Path)
		}
		if c, err := net.Dial("unix", cfg.Path); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s is in use: another l2fabric is running (use --control to pick another path)", cfg.Path)
		}
		if err := os.Remove(cfg.Path); err != nil {
			return nil, fmt.Errorf("removing stale control socket: %w", err)
		}
	}
	gid := -1
	if cfg.Group != "" {
		var err error
		if gid, err = lookupGroup(cfg.Group); err != nil {
			return nil, err
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: cfg.Path, Net: "unix"})
	if err != nil {
		dir := filepath.Dir(cfg.Path)
		if _, serr := os.Stat(dir); errors.Is(serr, os.ErrNotExist) {
			return nil, fmt.Errorf("control socket %s: the directory %s does not exist (create it, or pick another path with --control)", cfg.Path, dir)
		}
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	mode := os.FileMode(0o600)
	if gid >= 0 {
		mode = 0o660
		if err := os.Chown(cfg.Path, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("giving control socket to group %s: %w", cfg.Group, err)
		}
	}
	if err := os.Chmod(cfg.Path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket mode: %w", err)
	}
	return &Server{cfg: cfg, f: f, ln: ln, log: log, conns: map[net.Conn]struct{}{}}, nil
}

// Serve answers clients until ctx is done, then closes the socket (removing
// its file) and every open connection.
func (s *Server) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	}()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.wg.Wait()
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			s.log.Warn("control accept", "error", err)
			continue
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 4096)
	enc := json.NewEncoder(c)
	for {
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, errTooLong) {
				enc.Encode(Response{Error: fmt.Sprintf("request longer than %d bytes", MaxRequest)})
			}
			return
		}
		if strings.TrimSpace(string(line)) == "" {
			continue
		}
		if s.serveStream(c, r, line) { // capture and monitor: stream.go
			return
		}
		if err := enc.Encode(s.Handle(line)); err != nil {
			return
		}
	}
}

var errTooLong = errors.New("line too long")

func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		line = append(line, chunk...)
		if len(line) > MaxRequest {
			return nil, errTooLong
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// Handle answers one request line. It never panics on input.
func (s *Server) Handle(line []byte) Response {
	var req Request
	dec := json.NewDecoder(strings.NewReader(string(line)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Response{Error: "malformed request: " + err.Error() + ` (want {"command":"...","args":{...}})`}
	}
	result, err := s.dispatch(req)
	if err != nil {
		return Response{Error: err.Error()}
	}
	b, err := json.Marshal(result)
	if err != nil {
		return Response{Error: "encoding result: " + err.Error()}
	}
	return Response{OK: true, Result: b}
}

func (s *Server) dispatch(req Request) (any, error) {
	c, ok := lookupCommand(req.Command)
	if !ok {
		return nil, fmt.Errorf("unknown command %q; commands: %s", req.Command, strings.Join(commandNames(), ", "))
	}
	args, err := c.decodeArgs(req.Args)
	if err != nil {
		return nil, err
	}
	return c.run(s, args)
}

// sameFile reports whether paths a and b name the same file.
func sameFile(a, b string) bool {
	fa, err := os.Lstat(a)
	if err != nil {
		return false
	}
	fb, err := os.Lstat(b)
	return err == nil && os.SameFile(fa, fb)
}
