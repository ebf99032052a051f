package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// DefaultTimeout bounds a client's dial and each of its calls unless
// DialTimeout is given another.
const DefaultTimeout = 5 * time.Second

// Client talks to a running daemon.
type Client struct {
	c       net.Conn
	r       *bufio.Reader
	path    string
	timeout time.Duration
}

// Dial connects to the control socket at path with DefaultTimeout.
func Dial(path string) (*Client, error) { return DialTimeout(path, DefaultTimeout) }

// DialTimeout connects to the control socket at path. timeout bounds the
// connection and each Call: a daemon that is stopped (SIGSTOP) or wedged
// is reported as not answering instead of hanging the client.
func DialTimeout(path string, timeout time.Duration) (*Client, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("cannot reach l2fabric at %s: %w (the daemon's socket is not open to you: run this command with sudo, or start the daemon with --control-group GROUP for a group you are in)", path, err)
		}
		return nil, fmt.Errorf("cannot reach l2fabric at %s: %w (is it running? pick its socket with --control or L2FABRIC_CONTROL)", path, err)
	}
	return &Client{c: c, r: bufio.NewReaderSize(c, 64<<10), path: path, timeout: timeout}, nil
}

// Call sends command with args (nil for none) and decodes the result into
// result (nil to discard it). A reply with ok=false is returned as an error
// carrying the daemon's message.
func (c *Client) Call(command string, args, result any) error {
	req := Request{Command: command}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return err
		}
		req.Args = b
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	c.c.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.c.Write(append(b, '\n')); err != nil {
		return c.ioError("sending", command, err)
	}
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return c.ioError("reading the reply to", command, err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return fmt.Errorf("malformed reply to %s: %w", command, err)
	}
	if !resp.OK {
		if resp.Error == "" {
			resp.Error = "failed"
		}
		return errors.New(resp.Error)
	}
	if result != nil && len(resp.Result) > 0 {
		return json.Unmarshal(resp.Result, result)
	}
	return nil
}

// ioError describes a failed exchange, saying so plainly when the daemon
// did not answer in time.
func (c *Client) ioError(what, command string, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("l2fabric at %s did not answer %s within %v: is it stopped (SIGSTOP) or wedged? (wait longer with --timeout)", c.path, command, c.timeout)
	}
	return fmt.Errorf("%s %s: %w", what, command, err)
}

// Close closes the connection.
func (c *Client) Close() error { return c.c.Close() }
