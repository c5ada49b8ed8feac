package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/edgesearch/edgesearch/bench/internal/serverenv"
)

const (
	// readyTimeout bounds the wait for /health to say the index is ready:
	// the model loads, and after a restart the index may be rebuilt.
	readyTimeout = 5 * time.Minute
	// killAfter is how long a server may take to exit after SIGTERM before
	// it gets SIGKILL.
	killAfter = 15 * time.Second
)

// server is one `edgesearch serve` process listening on a loopback port the
// kernel chose.
type server struct {
	cmd     *exec.Cmd
	pid     int
	base    string // http://127.0.0.1:PORT
	logPath string
	exited  chan struct{} // closed once the process has been waited for
	waitErr error         // the exit status; read only after exited is closed
}

// startServer starts `bin serve` on 127.0.0.1:0 over the data directory
// data, reads the address it bound from its JSON log, refuses to go on if
// that address is not loopback (extra arguments may name another), and
// waits until /health says the index is ready. The log goes to a file in
// logDir.
func startServer(ctx context.Context, cfg config, data, logDir string) (*server, error) {
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--model", cfg.model, "--log-format", "json"}, cfg.extra...)
	cmd := exec.Command(cfg.bin, args...)
	cmd.Env = serverenv.Clean()
	out, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = cmd.Stderr // one stream, one log
	logf, err := os.CreateTemp(logDir, "serve-*.log")
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s serve: %w", cfg.bin, err)
	}
	s := &server{cmd: cmd, pid: cmd.Process.Pid, logPath: logf.Name(), exited: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		defer logf.Close()
		s.copyLog(out, logf, addrc)
		s.waitErr = cmd.Wait() // after the pipe is drained, as exec requires
		close(s.exited)
	}()

	var addr string
	select {
	case addr = <-addrc:
	case <-s.exited:
		return nil, fmt.Errorf("server exited before it listened (%v); log tail:\n%s", s.waitErr, s.logTail(2000))
	case <-time.After(readyTimeout):
		s.kill()
		return nil, fmt.Errorf("server logged no address after %s; log tail:\n%s", readyTimeout, s.logTail(2000))
	}
	if !loopback(addr) {
		s.kill()
		return nil, fmt.Errorf("server listens on %s, not loopback: the load test sends traffic to 127.0.0.1 only (drop --addr from the extra arguments)", addr)
	}
	s.base = "http://" + addr
	if err := s.waitReady(ctx); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

// addrRE finds the bound address in serve's "starting" line of JSON log.
var addrRE = regexp.MustCompile(`"addr":"([^"]+)"`)

// copyLog writes the server's output to w, sending the address of its
// "starting" line on addrc once.
func (s *server) copyLog(r io.Reader, w io.Writer, addrc chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(w, line)
		if !sent && strings.Contains(line, `"msg":"starting"`) {
			if m := addrRE.FindStringSubmatch(line); m != nil {
				addrc <- m[1]
				sent = true
			}
		}
	}
	io.Copy(w, r) // a line over the scanner's limit: keep the pipe drained
}

// loopback reports whether addr (HOST:PORT) is a loopback IP address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// health is the part of GET /health the load test reads.
type health struct {
	Status    string `json:"status"`
	Model     string `json:"model"`
	Index     string `json:"index"`
	Documents int    `json:"documents"`
	Chunks    int    `json:"chunks"`
}

// waitReady polls /health until it answers 200 with the index ready, the
// process exits, ctx ends or readyTimeout passes.
func (s *server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(readyTimeout)
	client := loopbackClient(2*time.Second, 1)
	for {
		h, err := s.health(client)
		if err == nil && h.Index == "ready" {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("server exited before it was ready (%v); log tail:\n%s", s.waitErr, s.logTail(2000))
		case <-ctx.Done():
			return fmt.Errorf("waiting for the server: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready after %s; log tail:\n%s", readyTimeout, s.logTail(2000))
		}
	}
}

// health asks GET /health once; a status other than 200 is an error.
func (s *server) health(client *http.Client) (health, error) {
	var h health
	resp, err := client.Get(s.base + "/health")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return h, fmt.Errorf("GET /health: %s", resp.Status)
	}
	return h, json.NewDecoder(resp.Body).Decode(&h)
}

// version asks GET / for the server's version; "" if it does not say.
func (s *server) version(client *http.Client) string {
	var info struct {
		Version string `json:"version"`
	}
	resp, err := client.Get(s.base + "/")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&info)
	return info.Version
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

// stopResult is how a server stopped.
type stopResult struct {
	took   time.Duration // SIGTERM to exit
	killed bool          // it needed SIGKILL after killAfter
	status string        // the exit status as the OS reports it
}

// stop sends SIGTERM, waits up to killAfter for the process to exit, sends
// SIGKILL if it has not, and waits for it to be gone.
func (s *server) stop() stopResult {
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	var res stopResult
	select {
	case <-s.exited:
	case <-time.After(killAfter):
		res.killed = true
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
	}
	res.took = time.Since(start)
	res.status = "exit 0"
	if s.waitErr != nil {
		res.status = s.waitErr.Error()
	}
	return res
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// logTail returns the last n bytes of the server's log.
func (s *server) logTail(n int64) string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// logSummary is what the server logged: lines by level, and the warnings
// and errors by message, path and the shape of the error text (see
// problemShape; cut to 100 bytes).
type logSummary struct {
	levels   map[string]int
	problems map[string]int
}

// summarizeLog reads the server's JSON log.
func (s *server) summarizeLog() logSummary {
	sum := logSummary{levels: map[string]int{}, problems: map[string]int{}}
	f, err := os.Open(s.logPath)
	if err != nil {
		return sum
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Level, Msg, Path, Err string
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Level == "" {
			continue
		}
		sum.levels[line.Level]++
		if line.Level == "WARN" || line.Level == "ERROR" {
			key := line.Level + " " + line.Msg
			if line.Path != "" {
				key += " " + line.Path
			}
			if line.Err != "" {
				key += ": " + cutWords(problemShape(line.Err), 100)
			}
			sum.problems[key]++
		}
	}
	return sum
}

var (
	quotedRE = regexp.MustCompile(`"[^"]*"`)
	pathRE   = regexp.MustCompile(`/[^\s:]+`)
	numberRE = regexp.MustCompile(`[0-9]+`)
)

// problemShape is an error text with its quoted strings, paths and numbers
// blanked, so errors that differ only in an id or a chunk are counted
// together.
func problemShape(s string) string {
	s = quotedRE.ReplaceAllString(s, `"…"`)
	s = pathRE.ReplaceAllString(s, "PATH")
	return numberRE.ReplaceAllString(s, "N")
}

// memory is a process's resident set, in MiB, from /proc/PID/status.
type memory struct {
	RSS, Peak, Anon float64 // VmRSS, VmHWM, RssAnon
}

// readMemory reads the Vm* and Rss* lines of /proc/PID/status.
func readMemory(pid int) (memory, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return memory{}, fmt.Errorf("server memory needs /proc: %w", err)
	}
	var m memory
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[2] != "kB" {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			m.RSS = kb / 1024
		case "VmHWM:":
			m.Peak = kb / 1024
		case "RssAnon:":
			m.Anon = kb / 1024
		}
	}
	if m.RSS == 0 {
		return m, errors.New("no VmRSS in /proc status")
	}
	return m, nil
}

// resetPeak sets the process's VmHWM back to its current RSS (Linux's
// clear_refs "5"), so each run's peak is its own; it fails on kernels or
// sandboxes that do not allow it, and the caller then uses sampled peaks.
func resetPeak(pid int) error {
	return os.WriteFile(filepath.Join("/proc", strconv.Itoa(pid), "clear_refs"), []byte("5"), 0)
}
