package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writerEnv names the store file when the test binary runs as the writer
// child of TestKillDuringPutKeepsAcknowledgedDocuments.
const writerEnv = "EDGESEARCH_STORE_KILL_WRITER"

func TestMain(m *testing.M) {
	if path := os.Getenv(writerEnv); path != "" {
		os.Exit(runWriter(path))
	}
	os.Exit(m.Run())
}

// runWriter puts documents one at a time and prints each id only after Put
// has returned, i.e. after the commit was acknowledged. It runs until the
// parent kills it.
func runWriter(path string) int {
	s, err := Open(path, Options{Model: testModel, Dims: testDims})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for i := range 1_000_000 {
		d := testDoc(killDocID(i), 4, testDims, uint64(i))
		if err := s.Put(context.Background(), []Document{d}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		// os.Stdout is unbuffered: the line leaves the process right here.
		fmt.Println(d.ID)
	}
	return 0
}

func killDocID(i int) string { return fmt.Sprintf("doc-%07d", i) }

// TestKillDuringPutKeepsAcknowledgedDocuments kills a writer process with
// SIGKILL at several points of a stream of single-document Puts, then
// checks that the store opens cleanly and holds every document whose Put
// had returned, intact. A process kill leaves the page cache alone, so
// this pins bbolt's commit protocol and our one-transaction-per-Put
// promise; it cannot tell a missing fsync apart from a present one.
func TestKillDuringPutKeepsAcknowledgedDocuments(t *testing.T) {
	for _, killAfter := range []int{1, 9, 33, 70, 150} {
		t.Run(fmt.Sprintf("after %d acks", killAfter), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kill.db")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), writerEnv+"="+path)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var acked []string
			lines := bufio.NewScanner(out)
			for lines.Scan() {
				acked = append(acked, lines.Text())
				if len(acked) == killAfter {
					if err := cmd.Process.Kill(); err != nil {
						t.Fatal(err)
					}
				}
				// Lines still in the pipe after the kill were acknowledged
				// too; keep reading them until EOF.
			}
			err = cmd.Wait()
			if len(acked) < killAfter {
				t.Fatalf("writer stopped after %d acks: %v\n%s", len(acked), err, stderr.String())
			}
			if st := cmd.ProcessState; st.Exited() {
				t.Fatalf("writer exited with %d instead of being killed:\n%s", st.ExitCode(), stderr.String())
			}

			s := openTest(t, path, Options{Model: testModel, Dims: testDims})
			checkConsistent(t, s)
			for i, id := range acked {
				if id != killDocID(i) {
					t.Fatalf("ack %d is %q, want %q", i, id, killDocID(i))
				}
				got, err := s.Get(id)
				if err != nil {
					t.Fatalf("acknowledged document lost: %v", err)
				}
				sameDocument(t, got, testDoc(id, 4, testDims, uint64(i)), 0)
			}
			docs, chunks, _ := s.Count()
			// At most one Put can have committed without its ack being read.
			if docs != len(acked) && docs != len(acked)+1 || chunks != 4*docs {
				t.Errorf("store holds %d documents, %d chunks after %d acks", docs, chunks, len(acked))
			}
			t.Logf("killed after %d acks (%d read in all); store holds %d documents", killAfter, len(acked), docs)
		})
	}
}
