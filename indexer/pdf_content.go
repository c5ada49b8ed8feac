package indexer

import (
	"io"

	"github.com/ledongthuc/pdf"
)

// pdfContent reads the text of one page's content stream. It keeps the
// last two operands only (no text operator needs more) and an array operand
// as the joined bytes of its strings, so an operand flood costs nothing; it
// appends shown text to the file's text, failing once that passes
// MaxTextBytes.
type pdfContent struct {
	p       *pdfParse
	fontRes pdf.Value              // the page's /Font resource dictionary
	fonts   map[string]textDecoder // the page's fonts by resource name, as met
	font    textDecoder            // the current font; nil shows bytes as they are
	ops     [2]pdfOperand          // the last two operands, ops[1] the newest
}

// pdfOperand is an operand of a content operator: for a string, name or
// array, its bytes (an array's strings joined).
type pdfOperand struct {
	tok pdfTok
	b   []byte
}

// showChunk bounds the bytes decoded at once, and so the text one step can
// add past MaxTextBytes before it is noticed (a code maps to at most
// maxCMapDst bytes). Even, so that two-byte codes are never split.
const showChunk = 4096

func (c *pdfContent) push(tok pdfTok, b []byte) {
	reuse := c.ops[0].b[:0]
	c.ops[0] = c.ops[1]
	c.ops[1] = pdfOperand{tok, append(reuse, b...)}
}

// run interprets the content stream read from rd. Errors of the budget,
// the text limit and the context end it; a stream whose data is damaged
// ends quietly with the text read so far (see noteDataError).
func (c *pdfContent) run(rd io.Reader) error {
	l := newPDFLexer(rd)
	depth := 0       // nesting of arrays and dictionaries
	var outer pdfTok // the kind of the outermost open one
	var arr []byte   // the strings of an open array
	for {
		tok, err := l.next()
		if err != nil {
			if isDataError(err) {
				c.p.noteDataError(err)
				return nil
			}
			return err
		}
		switch tok {
		case tokEOF:
			return nil
		case tokArrayOpen, tokDictOpen:
			if depth == 0 {
				outer, arr = tok, arr[:0]
			}
			depth++
		case tokArrayClose, tokDictClose:
			if depth == 0 {
				continue
			}
			if depth--; depth == 0 {
				c.push(outer, arr)
			}
		case tokString:
			if depth == 0 {
				c.push(tok, l.tok)
			} else if outer == tokArrayOpen {
				arr = append(arr, l.tok...)
			}
		case tokNumber, tokName:
			if depth == 0 {
				c.push(tok, l.tok)
			}
		case tokWord:
			if depth > 0 {
				continue
			}
			switch op := string(l.tok); op {
			case "true", "false", "null":
				c.push(tokNumber, nil)
				continue
			default:
				if err := c.do(op, l); err != nil {
					return err
				}
				c.ops[0].tok, c.ops[1].tok = tokEOF, tokEOF
			}
		}
	}
}

// do runs the operator op. Like the library's GetPlainText it starts a line
// at BT and T*, and shows Tj, TJ, ' and " text; it also starts a line at '
// and ", which move to the next line.
func (c *pdfContent) do(op string, l *pdfLexer) error {
	last := c.ops[1]
	switch op {
	case "BT", "T*":
		return c.show(nil, "\n")
	case "Tj":
		if last.tok == tokString {
			return c.show(last.b, "")
		}
	case "'", "\"":
		if last.tok == tokString {
			return c.show(last.b, "\n")
		}
	case "TJ":
		if last.tok == tokArrayOpen {
			return c.show(last.b, "")
		}
	case "Tf":
		if c.ops[0].tok == tokName {
			return c.setFont(string(c.ops[0].b))
		}
	case "ID":
		// The binary data of an inline image; not tokens.
		return l.skipInlineImage()
	}
	return nil
}

// setFont makes the page's font resource name current; an unknown name
// shows bytes as they are, as in the library.
func (c *pdfContent) setFont(name string) error {
	if d, ok := c.fonts[name]; ok {
		c.font = d
		return nil
	}
	c.font = nil
	f := c.fontRes.Key(name)
	if f.Kind() != pdf.Dict {
		return nil
	}
	d, err := c.p.decoder(f)
	if err != nil {
		return err
	}
	c.fonts[name], c.font = d, d
	return nil
}

// show appends prefix and then raw decoded in the current font, a chunk at
// a time, failing with ErrLimit once the text passes MaxTextBytes.
func (c *pdfContent) show(raw []byte, prefix string) error {
	p := c.p
	p.text = append(p.text, prefix...)
	for {
		n := min(len(raw), showChunk)
		if c.font == nil {
			p.text = append(p.text, raw[:n]...)
		} else {
			p.text = c.font.decode(p.text, raw[:n])
		}
		raw = raw[n:]
		if len(p.text) > p.lim.MaxTextBytes {
			return overLimit("PDF text passes %d bytes (MaxTextBytes, --max-text; raise it to index longer documents)", p.lim.MaxTextBytes)
		}
		if len(raw) == 0 {
			return nil
		}
	}
}
