package weaviatetest

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The ports Weaviate lets us bind (REST, gossip, Raft and its RPC) listen on
// 127.0.0.1 alone. v1.35.2 binds its public gRPC port and the cluster data
// port on every interface whatever it is told (adapters/handlers/grpc and
// clusterapi listen on ":port"); the test logs where they listen, so a
// release that changes it shows here.
func TestNodeListensOnLoopback(t *testing.T) {
	bin := Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Start(ctx, Config{Binary: bin, Nodes: 3, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	listening := listeners(t)
	for _, n := range c.Nodes {
		for what, port := range map[string]int{"REST": n.HTTP, "gossip": n.Gossip, "Raft": n.Raft, "Raft RPC": n.Raft + 1} {
			addrs := listening[port]
			if len(addrs) == 0 {
				t.Errorf("%s %s port %d: not listening", n.Name, what, port)
			}
			for _, a := range addrs {
				if a != "127.0.0.1" {
					t.Errorf("%s %s port %d listens on %s", n.Name, what, port, a)
				}
			}
		}
		t.Logf("%s: gRPC port %d listens on %v, data port %d on %v", n.Name, n.GRPC, listening[n.GRPC], n.Data, listening[n.Data])
	}
}

// listeners maps each listening TCP port to its local addresses, from
// /proc/net/tcp and tcp6 ("0.0.0.0" and "::" for every interface).
func listeners(t *testing.T) map[int][]string {
	out := map[int][]string{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Skipf("no %s: %v", f, err)
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			host, portHex, _ := strings.Cut(fields[1], ":")
			port, _ := strconv.ParseUint(portHex, 16, 16)
			var addr string
			switch host {
			case "0100007F":
				addr = "127.0.0.1"
			case "00000000":
				addr = "0.0.0.0"
			case "00000000000000000000000000000000":
				addr = "::"
			case "00000000000000000000000001000000":
				addr = "::1"
			default:
				addr = host
			}
			out[int(port)] = append(out[int(port)], addr)
		}
	}
	return out
}
