package indexer

import (
	"bytes"
	"context"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// hidden elements hold no text a reader sees (or, for nav, only menus that
// would match every query).
var hidden = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Nav: true, atom.Noscript: true,
	atom.Template: true, atom.Svg: true, atom.Head: true, atom.Iframe: true, atom.Object: true,
}

// blocks end a paragraph of text; everything else flows inline.
var blocks = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Br: true, atom.Li: true, atom.Tr: true, atom.Table: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Section: true, atom.Article: true, atom.Header: true, atom.Footer: true, atom.Aside: true,
	atom.Blockquote: true, atom.Pre: true, atom.Ul: true, atom.Ol: true, atom.Dl: true, atom.Dt: true,
	atom.Dd: true, atom.Figure: true, atom.Figcaption: true, atom.Hr: true, atom.Main: true,
	atom.Form: true, atom.Fieldset: true, atom.Address: true, atom.Caption: true,
}

// parseHTML keeps the visible text of an HTML page, a block element a line,
// with runs of white space collapsed as a browser would. The title comes
// from <title>, else the first <h1>. html.Parse repairs any markup, so
// messy pages parse; only binary data is refused.
//
// Elements nested deeper than lim.MaxDepth give their text without their
// structure (no line breaks of their own). html.Parse itself refuses more
// than 512 open elements; such a page is read token by token instead
// (htmlTokenText), which keeps its text and loses its structure.
func parseHTML(ctx context.Context, path string, data []byte, lim Limits) ([]Doc, []error, error) {
	src, err := checkText(data)
	if err != nil {
		return nil, nil, err
	}
	root, err := html.Parse(strings.NewReader(src))
	if err != nil {
		// The only error html.Parse returns for a string is its stack limit.
		text, title, err := htmlTokenText(ctx, src)
		if err != nil {
			return nil, nil, err
		}
		if text == "" {
			return nil, nil, ErrNoText
		}
		if title == "" {
			title = fileTitle(path)
		}
		return []Doc{{Title: title, Text: text, Source: path}}, nil, nil
	}
	var b bytes.Buffer
	title, h1 := "", ""
	nodes := 0
	var walk func(n *html.Node, pre bool, depth int)
	walk = func(n *html.Node, pre bool, depth int) {
		if nodes++; nodes%ctxEvery == 0 && ctx.Err() != nil {
			return
		}
		if depth > lim.MaxDepth {
			flatText(&b, n, pre)
			return
		}
		switch n.Type {
		case html.TextNode:
			if pre {
				b.WriteString(n.Data)
			} else {
				writeCollapsed(&b, n.Data)
			}
			return
		case html.ElementNode:
			if n.DataAtom == atom.Head {
				for c := n.FirstChild; c != nil && title == ""; c = c.NextSibling {
					if c.DataAtom == atom.Title {
						title = strings.Join(strings.Fields(nodeText(c)), " ")
					}
				}
			}
			if hidden[n.DataAtom] {
				return
			}
			if n.DataAtom == atom.H1 && h1 == "" {
				h1 = strings.Join(strings.Fields(nodeText(n)), " ")
			}
			if n.DataAtom == atom.Img {
				if alt := attr(n, "alt"); alt != "" {
					writeCollapsed(&b, " "+alt+" ")
				}
			}
			pre = pre || n.DataAtom == atom.Pre || n.DataAtom == atom.Textarea
			if n.DataAtom == atom.Td || n.DataAtom == atom.Th {
				b.WriteString(" ")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, pre, depth+1)
		}
		if n.Type == html.ElementNode && blocks[n.DataAtom] {
			b.WriteString("\n\n")
		}
	}
	walk(root, false, 0)
	if ctx.Err() != nil {
		return nil, nil, context.Cause(ctx)
	}
	text := tidy(collapseBlankLines(b.String()))
	if text == "" {
		return nil, nil, ErrNoText
	}
	switch {
	case title != "":
	case h1 != "":
		title = h1
	default:
		title = fileTitle(path)
	}
	return []Doc{{Title: title, Text: text, Source: path}}, nil, nil
}

// writeCollapsed writes s with each run of white space as one space, and
// none at the start of a line.
func writeCollapsed(b *bytes.Buffer, s string) {
	space := b.Len() == 0 || isSpaceByte(b.Bytes()[b.Len()-1])
	for _, r := range s {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\u00a0' {
			if !space {
				b.WriteByte(' ')
				space = true
			}
			continue
		}
		b.WriteRune(r)
		space = false
	}
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\n' || c == '\t' }

// nodeText is all the text under n, hidden or not.
func nodeText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// flatText writes the visible text under n without its structure, walking
// the tree without recursion: n is past the depth that parseHTML follows.
func flatText(b *bytes.Buffer, n *html.Node, pre bool) {
	for c := n; c != nil; {
		switch {
		case c.Type == html.TextNode && pre:
			b.WriteString(c.Data)
		case c.Type == html.TextNode:
			writeCollapsed(b, c.Data)
		case c.Type == html.ElementNode && hidden[c.DataAtom]:
		case c.FirstChild != nil:
			c = c.FirstChild
			continue
		}
		// Next: a sibling, else the sibling of the nearest ancestor that
		// has one, stopping at n.
		for c != n && c.NextSibling == nil {
			c = c.Parent
		}
		if c == n {
			return
		}
		c = c.NextSibling
	}
}

// htmlTokenText is the visible text of an HTML page read token by token,
// with no tree: a block element's tags end a paragraph, hidden elements'
// content is left out, and the title is that of the first <title>. It
// takes time linear in the page, however the page nests.
func htmlTokenText(ctx context.Context, src string) (text, title string, err error) {
	z := html.NewTokenizer(strings.NewReader(src))
	var b bytes.Buffer
	hiddenOpen := 0 // open hidden elements
	inTitle := false
	for n := 1; ; n++ {
		if n%ctxEvery == 0 && ctx.Err() != nil {
			return "", "", context.Cause(ctx)
		}
		switch tt := z.Next(); tt {
		case html.ErrorToken:
			return tidy(collapseBlankLines(b.String())), title, nil
		case html.TextToken:
			switch {
			case inTitle && title == "":
				title = strings.Join(strings.Fields(string(z.Text())), " ")
			case hiddenOpen == 0 && !inTitle:
				writeCollapsed(&b, string(z.Text()))
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			start := tt == html.StartTagToken
			switch {
			case a == atom.Title:
				inTitle = start
			case hidden[a] && a != atom.Head && tt != html.SelfClosingTagToken:
				if start {
					hiddenOpen++
				} else if hiddenOpen > 0 {
					hiddenOpen--
				}
			case blocks[a]:
				b.WriteString("\n\n")
			}
		}
	}
}
