package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/almanac-fs/almanac/bench/internal/redisproc"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// proc is a server process of the benchmark and a gRPC connection to it.
type proc struct {
	name     string
	cmd      *exec.Cmd
	exited   chan struct{}
	grpcAddr string
	httpAddr string // "" when it has none
	conn     *grpc.ClientConn
}

// startAlmanac runs "almanac serve" on the repository with extra
// environment variables env (such as ALMANAC_ONLINE_STORE_TYPE=local) and
// waits until /readyz answers.
func startAlmanac(ctx context.Context, name, bin, repo string, env ...string) (*proc, error) {
	gport, err := redisproc.FreePort()
	if err != nil {
		return nil, err
	}
	hport, err := redisproc.FreePort()
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, grpcAddr: "127.0.0.1:" + strconv.Itoa(gport), httpAddr: "127.0.0.1:" + strconv.Itoa(hport)}
	p.cmd = exec.Command(bin, "--repo", repo, "serve", "--grpc-addr", p.grpcAddr, "--http-addr", p.httpAddr)
	p.cmd.Env = append(os.Environ(), env...)
	var logs bytes.Buffer
	p.cmd.Stdout, p.cmd.Stderr = &logs, &logs
	if err := p.start(); err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx); err != nil {
		p.stop()
		return nil, fmt.Errorf("%w; its log:\n%s", err, logs.String())
	}
	return p, p.dial()
}

// startChild re-runs this binary in a child mode that prints its
// addresses on its first line of output ("GRPC_ADDR [HTTP_ADDR]").
func startChild(name string, args ...string) (*proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program to re-run it: %w", err)
	}
	p := &proc{name: name, cmd: exec.Command(exe, args...)}
	p.cmd.Stderr = os.Stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := p.start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("read the address of %s: %w", name, err)
	}
	addrs := strings.Fields(line)
	if len(addrs) == 0 {
		p.stop()
		return nil, fmt.Errorf("%s printed no address", name)
	}
	p.grpcAddr = addrs[0]
	if len(addrs) > 1 {
		p.httpAddr = addrs[1]
	}
	return p, p.dial()
}

func (p *proc) start() error {
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.exited = make(chan struct{})
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	return nil
}

func (p *proc) waitReady(ctx context.Context) error {
	url := "http://" + p.httpAddr + "/readyz"
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready", p.name)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for %s to be ready: %w", p.name, err)
		}
	}
}

func (p *proc) dial() error {
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		p.stop()
		return fmt.Errorf("dial %s at %s: %w", p.name, p.grpcAddr, err)
	}
	p.conn = conn
	return nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop closes the connection, sends SIGTERM and waits up to 15 s for the
// process to end before killing it.
func (p *proc) stop() {
	if p.conn != nil {
		p.conn.Close()
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.cmd.Process.Kill()
	}
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// procMemory is a process's resident memory, in bytes, from
// /proc/PID/status: now (RSS, of which anonymous and file-backed, such as
// the pages of a memory-mapped database) and at its peak (HWM).
type procMemory struct {
	RSS, Anon, File, HWM int64
}

func memory(pid int) (procMemory, error) {
	var m procMemory
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	fields := map[string]*int64{"VmRSS": &m.RSS, "RssAnon": &m.Anon, "RssFile": &m.File, "VmHWM": &m.HWM}
	for line := range strings.Lines(string(data)) {
		name, rest, ok := strings.Cut(line, ":")
		dst := fields[name]
		if !ok || dst == nil {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return m, fmt.Errorf("parse %s of process %d: %w", name, pid, err)
		}
		*dst = kb << 10
	}
	return m, nil
}
