package indexer

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkParseHostileMarkdown times Parse of the shapes whose parse was
// quadratic before boundMarkdown (100 kB each) and of 7 MB of nested block
// quotes; see /work/notes/parse.md for the numbers before and after.
func BenchmarkParseHostileMarkdown(b *testing.B) {
	shapes := map[string]string{"7MB nested quotes": strings.Repeat(">", 7_000_000) + " x\n"}
	for name, src := range hostileMarkdown {
		shapes[name] = src
	}
	for name, src := range shapes {
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if _, _, err := Parse(context.Background(), "h.md", strings.NewReader(src), Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
