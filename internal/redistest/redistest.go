package redistest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// readyTimeout bounds how long a starting server may take to answer PING.
	readyTimeout = 10 * time.Second
	// stopTimeout is how long a server gets to exit after SIGTERM before it
	// is killed.
	stopTimeout = 5 * time.Second
	// startAttempts is how many free ports Start tries: another process may
	// take a port between the moment it is found free and redis-server binding it.
	startAttempts = 3
)

// Option configures a server started by Start.
type Option func(*config)

type config struct {
	password string
	args     []string
}

// WithPassword makes the server require password (redis-server --requirepass).
func WithPassword(password string) Option {
	return func(c *config) { c.password = password }
}

// WithArgs passes more arguments to redis-server, e.g.
// WithArgs("--maxmemory", "10mb"). They come after the defaults, so they can
// override them.
func WithArgs(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

// Server is a redis-server process on a loopback port, with no persistence,
// that lives no longer than the test that started it.
//
// Its methods are safe for concurrent use. Restart, like Start, may call
// tb.Fatalf and so must be called from the goroutine running the test.
type Server struct {
	tb       testing.TB
	addr     string
	dir      string
	password string
	args     []string

	mu   sync.Mutex // guards proc
	proc *process   // the running redis-server; nil when stopped
}

// process is one run of redis-server.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited and been waited for
}

// Start starts a redis-server on a free port of 127.0.0.1, waits until it
// answers PING, and stops it when the test ends. It installs redis-server
// when it is missing and it can (see scripts/ensure-redis.sh), and otherwise
// fails the test saying how to install it.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	var cfg config
	for _, opt := range opts {
		opt(&cfg)
	}
	s, err := start(tb, cfg, false)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	return s
}

// start starts a server as Start does; cluster asks for a cluster node, whose
// cluster bus port (port+10000) must be free too.
func start(tb testing.TB, cfg config, cluster bool) (*Server, error) {
	tb.Helper()
	if err := ensureRedis(tb); err != nil {
		return nil, err
	}
	var err error
	for range startAttempts {
		var port int
		port, err = freePort(cluster)
		if err != nil {
			return nil, err
		}
		dir := tb.TempDir()
		args := []string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--dir", dir,
		}
		if cfg.password != "" {
			args = append(args, "--requirepass", cfg.password)
		}
		if cluster {
			args = append(args,
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
				"--cluster-node-timeout", "5000",
			)
		}
		s := &Server{
			tb:       tb,
			addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			dir:      dir,
			password: cfg.password,
			args:     append(args, cfg.args...),
		}
		if err = s.launch(); err == nil {
			tb.Cleanup(s.Stop)
			return s, nil
		}
	}
	return nil, err
}

// Addr returns the server's address, "127.0.0.1:PORT". It stays the same
// across Restart.
func (s *Server) Addr() string { return s.addr }

// Password returns the password the server requires, or "" when it requires none.
func (s *Server) Password() string { return s.password }

// Stop stops the server now: SIGTERM, then SIGKILL if it has not exited
// within a few seconds. It returns once the process has exited. Stopping a
// stopped server does nothing. The server's data is lost.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.stop()
	s.proc = nil
}

// Freeze stops the server's process (SIGSTOP) without ending it: its port
// still accepts connections, but nothing is answered, as with a hung Redis,
// until Thaw. Stop and Restart thaw a frozen server.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

// signal sends sig to the running server; it fails the test when there is none.
func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.tb.Fatalf("redistest: %v: the server on %s is not running", sig, s.addr)
		return
	}
	if err := s.proc.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("redistest: %v: %v", sig, err)
	}
}

// Restart starts the server again on the same port, with no data, and waits
// until it answers PING; a running server is stopped first. It fails the test
// if the server does not come back.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	if err := s.launch(); err != nil {
		s.tb.Fatalf("redistest: restart: %v", err)
	}
}

// launch starts redis-server and waits until it answers PING. The server's
// output is appended to redis.log in its directory and quoted in the error
// when it does not come up.
func (s *Server) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	logPath := filepath.Join(s.dir, "redis.log")
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start redis-server on %s: %w", s.addr, err)
	}
	cmd := exec.Command("redis-server", s.args...)
	cmd.Dir = s.dir
	cmd.Stdout = log
	cmd.Stderr = log
	setDeathSignal(cmd)
	err = cmd.Start()
	// The child holds its own copy of the file; a close error here cannot lose output.
	_ = log.Close()
	if err != nil {
		return fmt.Errorf("start redis-server on %s: %w", s.addr, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	waitErr := make(chan error, 1)
	go func() {
		waitErr <- cmd.Wait()
		close(p.exited)
	}()
	if err := waitReady(s.addr, s.password, p.exited, waitErr); err != nil {
		p.stop()
		return fmt.Errorf("start redis-server on %s: %w\n%s", s.addr, err, logTail(logPath))
	}
	s.proc = p
	return nil
}

// waitReady waits until the server at addr answers PING, the process exits,
// or readyTimeout passes.
func waitReady(addr, password string, exited <-chan struct{}, waitErr <-chan error) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		reply, err := do(addr, password, "PING")
		if err == nil && reply == "PONG" {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("PING answered %q", reply)
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited: %w", <-waitErr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", readyTimeout, err)
		}
	}
}

// stop ends the process, politely first, and waits for it.
func (p *process) stop() {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err == nil {
		// A frozen server acts on SIGTERM only once resumed.
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		select {
		case <-p.exited:
			return
		case <-time.After(stopTimeout):
		}
	}
	// Kill fails only when the process has already exited, which the wait
	// below then sees at once.
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// logTail returns the end of the server log at path, for error messages.
func logTail(path string) string {
	const limit = 4 << 10
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(read redis-server log: %v)", err)
	}
	if len(b) > limit {
		b = b[len(b)-limit:]
	}
	return "redis-server log:\n" + string(b)
}

// freePort returns a loopback port that was free a moment ago. For a cluster
// node, port+10000 (its cluster bus) was free too.
func freePort(cluster bool) (int, error) {
	const tries = 100
	for range tries {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !cluster {
			return port, l.Close()
		}
		if port+10000 > 65535 {
			if err := l.Close(); err != nil {
				return 0, fmt.Errorf("find a free port: %w", err)
			}
			continue
		}
		bus, busErr := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		if err := l.Close(); err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		if busErr != nil {
			continue
		}
		return port, bus.Close()
	}
	return 0, errors.New("find a free port whose cluster bus port (+10000) is free too: none in 100 tries")
}
