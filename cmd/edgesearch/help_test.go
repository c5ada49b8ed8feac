package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// A command's help lists the flags it reads and none it ignores: serve's
// network flags stay on serve, and the shared flags show only where they
// matter (--data where a store is opened, --log-level where there is a log).
func TestHelpListsOnlyTheFlagsACommandUses(t *testing.T) {
	tests := []struct {
		args      []string
		want, not []string
	}{
		{[]string{"serve", "--help"}, []string{"--qdrant-addr", "--cors-origins", "--addr", "--data", "--model", "--threads", "--log-level", "--log-format", "--max-file-size"}, nil},
		{[]string{"embed", "--help"}, []string{"--model", "--threads", "--max-tokens", "--max-batch", "--profile"}, []string{"--qdrant-addr", "--cors-origins", "--addr", "--data", "--log-level", "--log-format"}},
		{[]string{"search", "--help"}, []string{"--data", "--model"}, []string{"--qdrant-addr", "--log-level"}},
		{[]string{"import", "--help"}, []string{"--data", "--model", "--max-file-size", "--server"}, []string{"--cors-origins", "--log-format"}},
		{[]string{"reindex", "--help"}, []string{"--data", "--model", "--all"}, []string{"--log-level"}},
		{[]string{"backup", "--help"}, []string{"--data", "--server", "--force"}, []string{"--model", "--threads", "--max-tokens", "--log-level"}},
		{[]string{"model", "pull", "--help"}, []string{"--model", "--profile", "--force"}, []string{"--data", "--threads"}},
		{[]string{"model", "info", "--help"}, []string{"--model", "--json"}, []string{"--data", "--threads"}},
		{[]string{"model", "convert", "--help"}, []string{"--type"}, []string{"--model", "--data", "Global Flags"}},
		{[]string{"version", "--help"}, nil, []string{"--model", "--data", "Global Flags"}},
		{[]string{"--help"}, []string{"--model", "--data", "--threads", "--log-level", "--version"}, nil},
	}
	for _, tt := range tests {
		r := runBinary(t, "", nil, tt.args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", tt.args, r.code, r.stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(r.stdout, w+" ") {
				t.Errorf("%v does not list %s:\n%s", tt.args, w, r.stdout)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(r.stdout, n) {
				t.Errorf("%v lists %s, which it does not use:\n%s", tt.args, n, r.stdout)
			}
		}
	}
}

// Hiding a shared flag in help must not stop it parsing: a flag accepted
// before (even by a command that ignores it) is accepted still.
func TestHiddenSharedFlagsStillParse(t *testing.T) {
	r := runBinary(t, "", nil, "version", "--data", t.TempDir(), "--log-level", "debug")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "edgesearch ") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// Every command says which shared flags it reads, so a new command cannot
// silently show or hide them.
func TestEveryCommandDeclaresItsSharedFlags(t *testing.T) {
	root := newRootCmd(func(string) string { return "" })
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if _, ok := sharedFlagsOf[c.CommandPath()]; !ok && c != root && c.Name() != "help" && c.Name() != "completion" {
			t.Errorf("%q is missing from sharedFlagsOf", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for path, names := range sharedFlagsOf {
		for _, n := range names {
			if root.PersistentFlags().Lookup(n) == nil {
				t.Errorf("sharedFlagsOf[%q] names --%s, which is not a shared flag", path, n)
			}
		}
	}
}
