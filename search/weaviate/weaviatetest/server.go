// Package weaviatetest starts Weaviate servers for tests: one node or a
// cluster of several on 127.0.0.1, each with its own free ports and data
// directory, from the weaviate-server binary that `make weaviate` builds
// into the cache (install.sh). Nodes can be stopped, killed and restarted.
package weaviatetest

import (
	"bytes"
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
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the Weaviate release the tests run against.
const Version = "v1.35.2"

// MakeTarget is the make target that builds the binary.
const MakeTarget = "make weaviate"

// Binary returns where install.sh puts weaviate-server:
// $XDG_CACHE_HOME/edgesearch/weaviate-<Version>/weaviate-server, or under
// ~/.cache without XDG_CACHE_HOME. EDGESEARCH_WEAVIATE names another.
func Binary() string {
	if p := os.Getenv("EDGESEARCH_WEAVIATE"); p != "" {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "edgesearch", "weaviate-"+Version, "weaviate-server")
}

// Require returns the binary's path. When it is missing the test fails
// under CI=true and is skipped otherwise, naming the make target.
func Require(t testing.TB) string {
	t.Helper()
	bin := Binary()
	if st, err := os.Stat(bin); err == nil && !st.IsDir() {
		return bin
	}
	msg := fmt.Sprintf("weaviate-server %s is not at %s: run `%s` (builds it once, about 4 minutes)", Version, bin, MakeTarget)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Config describes a cluster to start.
type Config struct {
	// Binary is weaviate-server's path; "" takes Binary().
	Binary string
	// Nodes is how many nodes: 1, or 3 and more for a Raft quorum that
	// survives one node down. 0 is 1.
	Nodes int
	// Dir holds each node's data and log (Dir/nodeN). Required.
	Dir string
	// Env adds variables to every node's environment (KEY=value).
	Env []string
}

// Node is one weaviate-server process and its ports, all on 127.0.0.1.
type Node struct {
	Name    string
	DataDir string
	LogPath string
	// HTTP is the REST and GraphQL port; GRPC the public gRPC port;
	// Gossip and Data the cluster's memberlist and internal API ports;
	// Raft the schema's Raft port and Raft+1 its internal RPC port
	// (Weaviate's rule for clusters on one host).
	HTTP, GRPC, Gossip, Data, Raft int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// URL is the node's REST address.
func (n *Node) URL() string { return "http://127.0.0.1:" + strconv.Itoa(n.HTTP) }

// Cluster is a set of nodes started by Start.
type Cluster struct {
	Nodes []*Node
	bin   string
	env   [][]string // per node
}

// StartTimeout bounds how long Start and Restart wait for a node to become
// ready.
const StartTimeout = 90 * time.Second

// Start starts the nodes and waits until every one answers ready (and,
// for several, until each sees all of them healthy), or ctx ends, or
// StartTimeout passes; on failure it stops what it started and the error
// holds the end of the failing node's log.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Nodes == 0 {
		cfg.Nodes = 1
	}
	if cfg.Dir == "" {
		return nil, errors.New("weaviatetest: no Dir")
	}
	if cfg.Nodes == 2 {
		return nil, errors.New("weaviatetest: 2 nodes have no Raft quorum with one down; use 1 or 3")
	}
	bin := cfg.Binary
	if bin == "" {
		bin = Binary()
	}
	c := &Cluster{bin: bin}
	reserved := map[int]bool{}
	for i := range cfg.Nodes {
		n := &Node{Name: fmt.Sprintf("node%d", i)}
		n.DataDir = filepath.Join(cfg.Dir, n.Name, "data")
		n.LogPath = filepath.Join(cfg.Dir, n.Name, "weaviate.log")
		if err := os.MkdirAll(n.DataDir, 0o755); err != nil {
			return nil, err
		}
		var err error
		for _, p := range []*int{&n.HTTP, &n.GRPC, &n.Gossip, &n.Data} {
			if *p, err = freePort(reserved, 1); err != nil {
				return nil, err
			}
		}
		if n.Raft, err = freePort(reserved, 2); err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	var raftJoin []string
	for _, n := range c.Nodes {
		raftJoin = append(raftJoin, fmt.Sprintf("%s:%d", n.Name, n.Raft))
	}
	for _, n := range c.Nodes {
		env := []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + cfg.Dir,
			"PERSISTENCE_DATA_PATH=" + n.DataDir,
			"AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=true",
			"DEFAULT_VECTORIZER_MODULE=none",
			"ENABLE_MODULES=",
			"API_BASED_MODULES_DISABLED=true",
			"DISABLE_TELEMETRY=true",
			"AUTOSCHEMA_ENABLED=false",
			"PROMETHEUS_MONITORING_ENABLED=false",
			"GO_PROFILING_DISABLE=true",
			"LOG_LEVEL=warning",
			"GOMAXPROCS=2",
			"CLUSTER_HOSTNAME=" + n.Name,
			"CLUSTER_IN_LOCALHOST=true",
			"CLUSTER_BIND_ADDR=127.0.0.1",
			"CLUSTER_ADVERTISE_ADDR=127.0.0.1",
			"CLUSTER_GOSSIP_BIND_PORT=" + strconv.Itoa(n.Gossip),
			"CLUSTER_DATA_BIND_PORT=" + strconv.Itoa(n.Data),
			"GRPC_PORT=" + strconv.Itoa(n.GRPC),
			"RAFT_PORT=" + strconv.Itoa(n.Raft),
			"RAFT_INTERNAL_RPC_PORT=" + strconv.Itoa(n.Raft+1),
			"RAFT_JOIN=" + strings.Join(raftJoin, ","),
			"RAFT_BOOTSTRAP_EXPECT=" + strconv.Itoa(len(c.Nodes)),
		}
		c.env = append(c.env, append(env, cfg.Env...))
	}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	// A node exits when none of the gossip addresses it is told to join
	// answers, so the first starts alone and the others once its gossip
	// port is open.
	for i := range c.Nodes {
		if err := c.start(i, i > 0); err != nil {
			c.Close()
			return nil, err
		}
		if i == 0 && len(c.Nodes) > 1 {
			if err := c.waitGossip(ctx, 0); err != nil {
				c.Close()
				return nil, err
			}
		}
	}
	for i := range c.Nodes {
		if err := c.waitReady(ctx, i); err != nil {
			c.Close()
			return nil, err
		}
	}
	if len(c.Nodes) > 1 {
		if err := c.WaitHealthy(ctx, 0, len(c.Nodes)); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// URL is node i's REST address.
func (c *Cluster) URL(i int) string { return c.Nodes[i].URL() }

// start starts node i; with join, it is told to join every other node's
// gossip port (memberlist needs one of them to answer).
func (c *Cluster) start(i int, join bool) error {
	n := c.Nodes[i]
	env := c.env[i]
	if join {
		var addrs []string
		for j, m := range c.Nodes {
			if j != i {
				addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(m.Gossip))
			}
		}
		env = append(env[:len(env):len(env)], "CLUSTER_JOIN="+strings.Join(addrs, ","))
	}
	logf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin, "--host", "127.0.0.1", "--port", strconv.Itoa(n.HTTP), "--scheme", "http")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = filepath.Dir(n.DataDir)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("weaviatetest: start %s: %w", n.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
	return nil
}

// waitReady polls node i's readiness probe until it answers 200.
func (c *Cluster) waitReady(ctx context.Context, i int) error {
	n := c.Nodes[i]
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/v1/.well-known/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("weaviatetest: %s exited before it was ready; its log ends:\n%s", n.Name, tail(n.LogPath))
		case <-ctx.Done():
			return fmt.Errorf("weaviatetest: %s not ready at %s: %w; its log ends:\n%s", n.Name, n.URL(), ctx.Err(), tail(n.LogPath))
		case <-tick.C:
		}
	}
}

// waitGossip waits until node i's gossip port accepts connections.
func (c *Cluster) waitGossip(ctx context.Context, i int) error {
	n := c.Nodes[i]
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	addr := "127.0.0.1:" + strconv.Itoa(n.Gossip)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("weaviatetest: %s exited before its gossip port opened; its log ends:\n%s", n.Name, tail(n.LogPath))
		case <-ctx.Done():
			return fmt.Errorf("weaviatetest: %s gossip port %s not open: %w; its log ends:\n%s", n.Name, addr, ctx.Err(), tail(n.LogPath))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// NodeStatus is one node as the nodes API (/v1/nodes) describes it.
type NodeStatus struct {
	Name   string `json:"name"`
	Status string `json:"status"`
}

// Status asks node i for every node's status.
func (c *Cluster) Status(ctx context.Context, i int) ([]NodeStatus, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(i)+"/v1/nodes", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Nodes []NodeStatus `json:"nodes"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("weaviatetest: %s /v1/nodes: HTTP %d", c.Nodes[i].Name, resp.StatusCode)
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&body); err != nil {
		return nil, err
	}
	return body.Nodes, nil
}

// WaitHealthy waits until node i reports want nodes HEALTHY, or ctx ends
// (the error then says what it last saw).
func (c *Cluster) WaitHealthy(ctx context.Context, i, want int) error {
	var last []NodeStatus
	var lastErr error
	for {
		last, lastErr = c.Status(ctx, i)
		healthy := 0
		for _, s := range last {
			if s.Status == "HEALTHY" {
				healthy++
			}
		}
		if lastErr == nil && healthy >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("weaviatetest: %s does not see %d healthy nodes: %w (last: %v, %v)", c.Nodes[i].Name, want, ctx.Err(), last, lastErr)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// StopTimeout bounds how long Stop waits for a node to exit after SIGTERM
// before it kills it.
const StopTimeout = 30 * time.Second

// Stop stops node i with sig (syscall.SIGTERM for a clean shutdown,
// syscall.SIGKILL for a crash) and waits for it to exit; after
// StopTimeout it kills it. A node that is not running is no error.
func (c *Cluster) Stop(i int, sig syscall.Signal) error {
	n := c.Nodes[i]
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return nil
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
		return nil
	case <-time.After(StopTimeout):
	}
	cmd.Process.Kill()
	<-exited
	return fmt.Errorf("weaviatetest: %s did not exit within %v of %v; killed", n.Name, StopTimeout, sig)
}

// Restart starts a stopped node i again on the same ports and data, joining
// the others (one of them must be up when there are several), and waits
// until it is ready.
func (c *Cluster) Restart(ctx context.Context, i int) error {
	if err := c.start(i, len(c.Nodes) > 1); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	return c.waitReady(ctx, i)
}

// Close stops every node (SIGTERM, then SIGKILL after StopTimeout) and
// returns the first error.
func (c *Cluster) Close() error {
	var first error
	for i := range c.Nodes {
		if err := c.Stop(i, syscall.SIGTERM); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// freePort finds span consecutive ports free on 127.0.0.1 that are not
// reserved yet, and reserves them. Another process may still take one
// before the node binds it; the node then fails to start with a clear log.
func freePort(reserved map[int]bool, span int) (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := p+span-1 <= 65535
		for k := range span {
			if reserved[p+k] {
				ok = false
			}
			if k > 0 && ok {
				l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+k))
				if err != nil {
					ok = false
				} else {
					l2.Close()
				}
			}
		}
		if ok {
			for k := range span {
				reserved[p+k] = true
			}
			return p, nil
		}
	}
	return 0, errors.New("weaviatetest: no free ports on 127.0.0.1")
}

// tail returns the last lines of a log file.
func tail(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return string(data)
}

// StartNode starts a one-node cluster for t in a directory of t's own and
// stops it when t ends. A missing binary is Require's failure (CI) or skip.
func StartNode(t testing.TB) *Cluster {
	t.Helper()
	bin := Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout+30*time.Second)
	defer cancel()
	c, err := Start(ctx, Config{Binary: bin, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Backend is node i's address as serve --backend takes it:
// weaviate://127.0.0.1:PORT.
func (c *Cluster) Backend(i int) string {
	return "weaviate://127.0.0.1:" + strconv.Itoa(c.Nodes[i].HTTP)
}
