package indexer

import (
	"bytes"
	"context"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// markdown parses CommonMark with GitHub's tables and strikethrough, so
// their syntax does not leak into the text.
var markdown = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough))

// parseMarkdown keeps what a reader sees of a Markdown file: the words of
// headings, paragraphs, lists, tables and code, one block a paragraph, with
// the markup and raw HTML left out. The title is the first heading. The
// source is first bounded by boundMarkdown, so that hostile nesting costs
// linear time; no text is lost to it.
func parseMarkdown(ctx context.Context, path string, data []byte, lim Limits) ([]Doc, []error, error) {
	src, err := checkText(data)
	if err != nil {
		return nil, nil, err
	}
	source := boundMarkdown([]byte(src), lim.MaxDepth)
	if err := ctx.Err(); err != nil {
		return nil, nil, context.Cause(ctx)
	}
	root := markdown.Parser().Parse(text.NewReader(source))
	nodes := 0
	var b strings.Builder
	title := ""
	var heading *strings.Builder // collects the first heading's words
	write := func(s string) {
		b.WriteString(s)
		if heading != nil {
			heading.WriteString(s)
		}
	}
	err = ast.Walk(root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if nodes++; nodes%ctxEvery == 0 && ctx.Err() != nil {
			return ast.WalkStop, context.Cause(ctx)
		}
		switch n := n.(type) {
		case *ast.Heading:
			if title == "" && entering && heading == nil {
				heading = &strings.Builder{}
			} else if !entering && heading != nil {
				title = strings.TrimSpace(heading.String())
				heading = nil
			}
		case *ast.Text:
			if entering {
				write(string(n.Value(source)))
				if n.SoftLineBreak() || n.HardLineBreak() {
					write("\n")
				}
			}
		case *ast.String:
			if entering {
				write(string(n.Value))
			}
		case *ast.AutoLink:
			if entering {
				write(string(n.Label(source)))
			}
			return ast.WalkSkipChildren, nil
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			if entering {
				lines := n.Lines()
				for i := range lines.Len() {
					seg := lines.At(i)
					write(string(seg.Value(source)))
				}
			}
		case *ast.HTMLBlock, *ast.RawHTML:
			return ast.WalkSkipChildren, nil
		}
		if !entering && n.Type() == ast.TypeBlock && n.Kind() != ast.KindDocument {
			// Table cells are blocks too; keep a row on one line.
			if n.Kind().String() == "TableCell" {
				b.WriteString(" | ")
			} else {
				b.WriteString("\n\n")
			}
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		return nil, nil, err
	}
	out := tidy(collapseBlankLines(b.String()))
	if out == "" {
		return nil, nil, ErrNoText
	}
	if title == "" {
		title = fileTitle(path)
	}
	return []Doc{{Title: title, Text: out, Source: path}}, nil, nil
}

// collapseBlankLines leaves at most one blank line between paragraphs and
// drops trailing spaces, which nested blocks and markup leave behind.
func collapseBlankLines(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := false
	for _, l := range lines {
		l = strings.TrimRight(l, " \t|")
		if strings.TrimSpace(l) == "" {
			if !blank && len(out) > 0 {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// Bounds of boundMarkdown besides the depth limit: a line may start this
// many link destinations that run further than longDestination bytes
// before a space could end them; later ones are made plain text.
const (
	longDestinations = 32
	longDestination  = 256
)

// boundMarkdown rewrites src, in one linear pass, so that goldmark parses
// it in time linear in its size. goldmark's cost grows with the square of
// some nestings (measured in /work/notes/parse.md): containers opened at a
// line's start, unclosed "[" within a paragraph, and link destinations
// that run on to the end of a long line. The rewrite keeps every word and
// only loses the structure past the bounds, which no real document reaches:
//   - a line's container prefix (spaces, tabs, ">" and list markers) is cut
//     to maxDepth columns, dropping the deeper markers and indentation;
//     every container takes at least one column, so no block nests deeper
//     than maxDepth;
//   - a "[" while maxDepth are already open in the paragraph (counted
//     until a blank line) is escaped, so it is text, not a link label;
//   - after longDestinations link destinations on one line that could run
//     more than longDestination bytes, the "(" of further ones is escaped.
//
// Escapes inside code show as a backslash; only hostile input gets them.
func boundMarkdown(src []byte, maxDepth int) []byte {
	out := make([]byte, 0, len(src)+len(src)/64)
	depth := 0 // open "[" in the paragraph
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i+1], src[i+1:]
		} else {
			src = nil
		}
		// The container prefix, cut to maxDepth columns.
		i, cols := 0, 0
		for i < len(line) {
			n, w := prefixToken(line[i:], cols)
			if n == 0 {
				break
			}
			if cols+w <= maxDepth {
				out = append(out, line[i:i+n]...)
			}
			cols += w
			i += n
		}
		if blankLine(line[i:]) {
			depth = 0
		}
		// The rest: brackets and destinations.
		long, space := 0, i // space: the next space, tab or line end at or after a position
		for ; i < len(line); i++ {
			c := line[i]
			switch c {
			case '\\':
				if i+1 < len(line) {
					out = append(out, c, line[i+1])
					i++
					continue
				}
			case '[':
				if depth >= maxDepth {
					out = append(out, '\\', c)
					continue
				}
				depth++
			case ']':
				depth = max(depth-1, 0)
				if i+1 < len(line) && line[i+1] == '(' {
					if space < i+2 {
						space = i + 2
					}
					for space < len(line) && !isMarkdownSpace(line[space]) {
						space++
					}
					if space-(i+2) > longDestination {
						if long++; long > longDestinations {
							out = append(out, ']', '\\', '(')
							i++
							continue
						}
					}
				}
			}
			out = append(out, c)
		}
	}
	return out
}

// prefixToken measures the container-prefix token at the start of b, on a
// line where cols columns came before it: its length in bytes and width in
// columns, or 0, 0 when b does not start with one. The tokens are a space,
// a tab (to the next multiple of 4), ">", and a list marker ("-", "+", "*",
// or up to 9 digits and "." or ")", followed by white space or the end).
func prefixToken(b []byte, cols int) (n, width int) {
	switch c := b[0]; {
	case c == ' ':
		return 1, 1
	case c == '\t':
		return 1, 4 - cols%4
	case c == '>':
		return 1, 1
	case c == '-' || c == '+' || c == '*':
		if len(b) == 1 || isMarkdownSpace(b[1]) {
			return 1, 1
		}
	case c >= '0' && c <= '9':
		j := 1
		for j < len(b) && j < 9 && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j < len(b) && (b[j] == '.' || b[j] == ')') && (j+1 == len(b) || isMarkdownSpace(b[j+1])) {
			return j + 1, j + 1
		}
	}
	return 0, 0
}

func isMarkdownSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// blankLine reports whether b holds only white space.
func blankLine(b []byte) bool {
	for _, c := range b {
		if !isMarkdownSpace(c) {
			return false
		}
	}
	return true
}
