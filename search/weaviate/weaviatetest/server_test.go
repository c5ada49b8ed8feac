package weaviatetest

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// Three nodes on loopback form one cluster that every node sees healthy;
// one killed node is reported down by the others and, restarted on the
// same data, rejoins.
func TestThreeNodesFormAClusterAndANodeRejoins(t *testing.T) {
	bin := Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := Start(ctx, Config{Binary: bin, Nodes: 3, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Logf("3 nodes ready and healthy in %.1f s", time.Since(start).Seconds())
	for i := range c.Nodes {
		st, err := c.Status(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 3 {
			t.Fatalf("%s sees %d nodes, want 3: %v", c.Nodes[i].Name, len(st), st)
		}
		for _, s := range st {
			if s.Status != "HEALTHY" {
				t.Fatalf("%s sees %v", c.Nodes[i].Name, st)
			}
		}
	}

	if err := c.Stop(2, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The survivors stop counting it healthy (memberlist notices within
	// seconds); bounded by ctx.
	for {
		st, err := c.Status(ctx, 0)
		healthy := 0
		for _, s := range st {
			if s.Status == "HEALTHY" {
				healthy++
			}
		}
		if err == nil && healthy == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("node0 still sees %v after node2 was killed", st)
		}
		time.Sleep(300 * time.Millisecond)
	}
	start = time.Now()
	if err := c.Restart(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx, 0, 3); err != nil {
		t.Fatal(err)
	}
	t.Logf("node2 back and healthy in %.1f s", time.Since(start).Seconds())
}

// A single node needs no peers and is ready on its own.
func TestOneNodeStartsAndStops(t *testing.T) {
	bin := Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Start(ctx, Config{Binary: bin, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(0, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}
