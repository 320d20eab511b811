// Package moto is the test harness for code that talks to AWS: it runs a
// local moto_server on 127.0.0.1, gives every test its own moto account
// namespace, injects the faults moto cannot produce (throttling, conflicts,
// 5xx, connection resets, delays, asynchronous assignment states), counts
// calls per operation, and seeds Identity Center data.
//
// A test binary starts one server from TestMain:
//
//	func TestMain(m *testing.M) { moto.Main(m) }
//
// and each test builds its own isolated configuration:
//
//	cfg := moto.Shared().Config(t, moto.WithFaults(faults))
package moto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 5 * time.Second
	// startAttempts bounds the retries when the free port we picked was
	// taken by someone else before moto_server bound it.
	startAttempts = 3
)

// ErrNotFound is returned by Start when moto_server is not in PATH.
var ErrNotFound = errors.New(`moto_server not found: pip install "moto[server]"`)

// Server is a moto_server process started by Start and listening on
// 127.0.0.1.
type Server struct {
	url  string
	host string
	cmd  *exec.Cmd
	out  *tailBuffer

	exited  chan struct{} // closed when the process has been reaped
	waitErr error         // set before exited is closed

	base *http.Transport

	stopOnce sync.Once
	stopErr  error
}

// Start finds moto_server in PATH, starts it in its own process group on a
// free 127.0.0.1 port and returns once it answers HTTP (at most 30s).
// The caller must Stop it.
func Start() (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, ErrNotFound
	}
	var errs []error
	for range startAttempts {
		s, err := start(bin)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("start moto_server: %w", errors.Join(errs...))
}

func start(bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	host := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	out := &tailBuffer{max: 16 << 10}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Env = serverEnv()
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	s := &Server{
		url:    "http://" + host,
		host:   host,
		cmd:    cmd,
		out:    out,
		exited: make(chan struct{}),
		base:   newBaseTransport(),
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// serverEnv is the caller's environment without MOTO_ACCOUNT_ID, which
// would override the per-test x-moto-account-id header.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MOTO_ACCOUNT_ID=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitReady() error {
	client := &http.Client{Transport: newBaseTransport(), Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := client.Get(s.url + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("moto_server on %s exited before answering (%v):\n%s", s.host, s.waitErr, s.out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("moto_server on %s did not answer within %s:\n%s", s.host, startTimeout, s.out)
		}
	}
}

// URL is the server's base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.url }

// Stop terminates the process group this Server started (SIGTERM, then
// SIGKILL after 5s) and waits for the process. It is safe to call twice.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.base.CloseIdleConnections()
		pid := s.cmd.Process.Pid
		// The group id equals our child's pid (Setpgid), so this signals
		// only what we started.
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-s.exited
		}
		// A process killed by our signal is a normal stop.
		var exitErr *exec.ExitError
		if s.waitErr != nil && !errors.As(s.waitErr, &exitErr) {
			s.stopErr = fmt.Errorf("stop moto_server: %w", s.waitErr)
		}
	})
	return s.stopErr
}

var shared *Server

// Main is a TestMain: it starts one server for the test binary (see
// Shared), runs the tests, stops the server and exits. If the server cannot
// start, it prints why and exits 1: tests that need moto fail, never skip.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit: it returns the tests' exit code, for a
// TestMain that reports something after the tests.
func Run(m *testing.M) int {
	s, err := Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "moto: %v\n", err)
		return 1
	}
	shared = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "moto: %v\n", err)
	}
	return code
}

// Shared is the server started by Main, or nil outside Main.
func Shared() *Server { return shared }

// tailBuffer keeps the last max bytes written to it, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if extra := b.buf.Len() - b.max; extra > 0 {
		b.buf.Next(extra)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newBaseTransport() *http.Transport {
	return &http.Transport{
		// Never a proxy: everything goes to 127.0.0.1.
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
