// Command pi checks and measures the Raspberry Pi builds of edgesearch
// (linux/arm64, where wazero compiles the guest, and linux/arm GOARM=7, where
// it interprets it) under qemu-user, beside the native binary:
//
//	pi cosine [-min 0.9999] WANT.jsonl GOT.jsonl   two `edgesearch embed` outputs agree line by line
//	pi sameids WANT.json GOT.json...              `edgesearch search --json` answers list the same ids
//	pi ratio -arm64 BIN -armv7 BIN [-amd64 BIN]   embedding speed of each, as a markdown table
//
// .ci/qemu.sh runs the first two on every `make test`; the third is a
// benchmark, run by hand (bench/RESULTS.md shows its table).
package main

import (
	"fmt"
	"os"
)

const usage = `usage:
  pi cosine [-min 0.9999] WANT.jsonl GOT.jsonl
  pi sameids WANT.json GOT.json...
  pi ratio -arm64 BIN -armv7 BIN [-amd64 BIN] [-model GGUF] [-n 50] [flags]`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "cosine":
		err = runCosine(args)
	case "sameids":
		err = runSameIDs(args)
	case "ratio":
		err = runRatio(args)
	default:
		fmt.Fprintf(os.Stderr, "pi: unknown command %q\n%s\n", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pi:", err)
		os.Exit(1)
	}
}
