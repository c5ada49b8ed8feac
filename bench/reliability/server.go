package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/edgesearch/edgesearch/bench/internal/serverenv"
)

// readyTimeout bounds how long a started server may take to answer
// /health with a loaded model and an open store.
const readyTimeout = 60 * time.Second

// server is one `edgesearch serve` process on a loopback port of its own.
type server struct {
	cmd      *exec.Cmd
	base     string // http://127.0.0.1:PORT
	hostPort string // 127.0.0.1:PORT, the Host a well-behaved client sends
	logPath  string
	exited   chan struct{} // closed when the process has been waited for
}

// startServer starts bin serve on a free loopback port with data as its data
// directory and one embedding thread, and waits until /health says the
// model is loaded and the index ready. Its log goes to a file in logDir.
func startServer(ctx context.Context, cfg config, data, logDir string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	hostPort := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logf, err := os.CreateTemp(logDir, "serve-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(cfg.bin, "serve", "--addr", hostPort, "--data", data, "--model", cfg.model, "--threads", "1")
	cmd.Env = serverenv.Clean()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s serve: %w", cfg.bin, err)
	}
	logf.Close() // the child holds its own descriptor
	s := &server{cmd: cmd, base: "http://" + hostPort, hostPort: hostPort, logPath: logf.Name(), exited: make(chan struct{})}
	go func() { cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(ctx, readyTimeout); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

// freePort asks the kernel for a loopback port nobody listens on. Another
// process could take it before the server binds it; on this machine that
// race has not been seen, and startServer then fails with the server's log.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// health is the part of GET /health the benchmark reads.
type health struct {
	Status    string `json:"status"`
	Index     string `json:"index"`
	Documents int    `json:"documents"`
}

// waitReady polls /health until it answers 200 with the index ready (or
// with no index field, as older servers did), the process exits, or
// timeout passes.
func (s *server) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		h, code, err := s.health(client)
		if err == nil && code == http.StatusOK && (h.Index == "" || h.Index == "ready") {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("server exited before it was ready (%s); log tail:\n%s", s.cmd.ProcessState, s.logTail(1500))
		case <-ctx.Done():
			return fmt.Errorf("waiting for the server: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready after %s; log tail:\n%s", timeout, s.logTail(1500))
		}
	}
}

// health asks GET /health once.
func (s *server) health(client *http.Client) (health, int, error) {
	var h health
	resp, err := client.Get(s.base + "/health")
	if err != nil {
		return h, 0, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&h)
	return h, resp.StatusCode, err
}

// answers reports whether the server answers /health within timeout.
func (s *server) answers(timeout time.Duration) bool {
	_, code, err := s.health(&http.Client{Timeout: timeout})
	return err == nil && code == http.StatusOK
}

// alive reports whether the process is still running.
func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// stop asks the server to finish (SIGTERM) and kills it after 15 s.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.kill()
	}
}

// logTail returns the last n bytes of the server's log.
func (s *server) logTail(n int64) string {
	return fileTail(s.logPath, n)
}

func fileTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		f.Seek(st.Size()-n, 0)
	}
	b := make([]byte, n)
	m, _ := f.Read(b)
	return string(b[:m])
}

// memoryKB reads the resident set (VmRSS) and its high-water mark (VmHWM)
// of a process from /proc, in KiB.
func memoryKB(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		switch name {
		case "VmRSS":
			rss = kb
		case "VmHWM":
			peak = kb
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS in /proc status")
	}
	return rss, peak, nil
}

// resetPeak sets a process's VmHWM back to its current RSS by writing 5 to
// /proc/PID/clear_refs (Linux 4.0 and later), and checks that it did.
func resetPeak(pid int) error {
	if err := os.WriteFile(filepath.Join("/proc", strconv.Itoa(pid), "clear_refs"), []byte("5"), 0); err != nil {
		return fmt.Errorf("reset peak RSS: %w", err)
	}
	rss, peak, err := memoryKB(pid)
	if err != nil {
		return err
	}
	// The process may grow between the two reads; a reset leaves the peak
	// near the RSS, a failed one leaves it at the start-up peak.
	if peak > rss+4096 {
		return fmt.Errorf("reset peak RSS: VmHWM %d kB stays above VmRSS %d kB", peak, rss)
	}
	return nil
}

// watchPeak samples a process's VmHWM every 100 ms until the returned
// function is called, which returns the highest value seen: the last one
// read before the process died, if it did.
func watchPeak(pid int) (stop func() int64) {
	done := make(chan struct{})
	result := make(chan int64, 1)
	go func() {
		var high int64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, peak, err := memoryKB(pid); err == nil {
				high = max(high, peak)
			}
			select {
			case <-done:
				result <- high
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		return <-result
	}
}

// mib formats KiB as MiB.
func mib(kb int64) string {
	if kb <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(kb)/1024)
}
