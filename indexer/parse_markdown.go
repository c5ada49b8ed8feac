package indexer

import (
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
// the markup and raw HTML left out. The title is the first heading.
func parseMarkdown(path string, data []byte) ([]Doc, []error, error) {
	src, err := checkText(data)
	if err != nil {
		return nil, nil, err
	}
	source := []byte(src)
	root := markdown.Parser().Parse(text.NewReader(source))
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
	return []Doc{{ID: FileID(path), Title: title, Text: out, Source: path}}, nil, nil
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
