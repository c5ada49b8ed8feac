package indexer

import (
	"bufio"
	"errors"
	"io"
)

// pdfLexer splits a PDF content stream or CMap into tokens. It is our own,
// not the library's object parser, because it must stay flat: it never
// recurses, keeps no stack of open arrays and holds one token at a time, so
// nesting, operand floods and unterminated strings cost no memory beyond the
// token being read. Errors of the underlying reader (the inflate budget, a
// cancelled context, corrupt compressed data) end the token stream and are
// returned by next.
type pdfLexer struct {
	r   *bufio.Reader
	tok []byte // bytes of the last string, name or word; valid until the next call
}

// pdfTok is the kind of a token.
type pdfTok int

const (
	tokEOF        pdfTok = iota
	tokNumber            // 12, -3.5
	tokString            // (literal) or <hex>, decoded into tok
	tokName              // /Name, without the slash, #xx decoded
	tokWord              // an operator or keyword: BT, Tj, true, null
	tokArrayOpen         // [
	tokArrayClose        // ]
	tokDictOpen          // <<
	tokDictClose         // >>
	tokOther             // a stray delimiter: ) > { }
)

func newPDFLexer(r io.Reader) *pdfLexer {
	return &pdfLexer{r: bufio.NewReaderSize(r, 16<<10)}
}

func isPDFSpace(c byte) bool {
	switch c {
	case 0, '\t', '\n', '\f', '\r', ' ':
		return true
	}
	return false
}

func isPDFDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// next reads one token; it returns tokEOF with a nil error at the end of the
// input, and the reader's error when reading failed.
func (l *pdfLexer) next() (pdfTok, error) {
	l.tok = l.tok[:0]
	for {
		c, err := l.r.ReadByte()
		if err != nil {
			return tokEOF, eofIsNil(err)
		}
		switch {
		case isPDFSpace(c):
			continue
		case c == '%':
			if err := l.skipLine(); err != nil {
				return tokEOF, eofIsNil(err)
			}
			continue
		case c == '(':
			return tokString, l.literal()
		case c == '<':
			d, err := l.r.ReadByte()
			if err == nil && d == '<' {
				return tokDictOpen, nil
			}
			if err == nil {
				l.r.UnreadByte()
			}
			return tokString, l.hex()
		case c == '>':
			d, err := l.r.ReadByte()
			if err == nil && d == '>' {
				return tokDictClose, nil
			}
			if err == nil {
				l.r.UnreadByte()
			}
			return tokOther, nil
		case c == '[':
			return tokArrayOpen, nil
		case c == ']':
			return tokArrayClose, nil
		case c == '/':
			return tokName, l.regular(true)
		case isPDFDelim(c):
			return tokOther, nil
		default:
			l.tok = append(l.tok, c)
			if err := l.regular(false); err != nil {
				return tokEOF, err
			}
			if isPDFNumber(l.tok) {
				return tokNumber, nil
			}
			return tokWord, nil
		}
	}
}

// eofIsNil turns the end of the input into a clean end of tokens.
func eofIsNil(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func (l *pdfLexer) skipLine() error {
	for {
		c, err := l.r.ReadByte()
		if err != nil {
			return err
		}
		if c == '\n' || c == '\r' {
			return nil
		}
	}
}

// regular appends the regular characters that follow to tok; in a name,
// #xx is the byte xx.
func (l *pdfLexer) regular(name bool) error {
	for {
		c, err := l.r.ReadByte()
		if err != nil {
			return eofIsNil(err)
		}
		if isPDFSpace(c) || isPDFDelim(c) {
			l.r.UnreadByte()
			return nil
		}
		if name && c == '#' {
			if h, ok := l.hexByte(); ok {
				c = h
			}
		}
		l.tok = append(l.tok, c)
	}
}

// hexByte reads the two hex digits of a name's #xx escape; on a bad digit
// it leaves the input where it was and reports false.
func (l *pdfLexer) hexByte() (byte, bool) {
	b, err := l.r.Peek(2)
	if err != nil || unhexDigit(b[0]) < 0 || unhexDigit(b[1]) < 0 {
		return 0, false
	}
	l.r.Discard(2)
	return byte(unhexDigit(b[0])<<4 | unhexDigit(b[1])), true
}

func unhexDigit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// literal reads a (string) after its opening parenthesis. An unterminated
// string ends at the end of the input.
func (l *pdfLexer) literal() error {
	depth := 1
	for {
		c, err := l.r.ReadByte()
		if err != nil {
			return eofIsNil(err)
		}
		switch c {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return nil
			}
		case '\\':
			c, err = l.r.ReadByte()
			if err != nil {
				return eofIsNil(err)
			}
			switch c {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if d, err := l.r.ReadByte(); err == nil && d != '\n' {
					l.r.UnreadByte()
				}
				continue // a line continuation
			case '\n':
				continue
			case '0', '1', '2', '3', '4', '5', '6', '7':
				x := int(c - '0')
				for i := 0; i < 2; i++ {
					d, err := l.r.ReadByte()
					if err != nil {
						break
					}
					if d < '0' || d > '7' {
						l.r.UnreadByte()
						break
					}
					x = x*8 + int(d-'0')
				}
				c = byte(x)
			}
		}
		l.tok = append(l.tok, c)
	}
}

// hex reads a <hex string> after its opening bracket, skipping what is not
// a hex digit; an odd last digit counts as followed by 0.
func (l *pdfLexer) hex() error {
	half := -1
	var err error
	for {
		var c byte
		if c, err = l.r.ReadByte(); err != nil || c == '>' {
			break
		}
		d := unhexDigit(c)
		if d < 0 {
			continue
		}
		if half < 0 {
			half = d
			continue
		}
		l.tok = append(l.tok, byte(half<<4|d))
		half = -1
	}
	if half >= 0 {
		l.tok = append(l.tok, byte(half<<4))
	}
	return eofIsNil(err)
}

// skipInlineImage skips the data of an inline image after its ID operator:
// everything up to an "EI" that stands between white space (or a delimiter,
// or the end of the input).
func (l *pdfLexer) skipInlineImage() error {
	b3, b2, b1 := byte(' '), byte(0), byte(0) // the last three bytes, b1 the newest
	for {
		c, err := l.r.ReadByte()
		if err != nil {
			return eofIsNil(err)
		}
		if isPDFSpace(b3) && b2 == 'E' && b1 == 'I' && (isPDFSpace(c) || isPDFDelim(c)) {
			if isPDFDelim(c) {
				l.r.UnreadByte()
			}
			return nil
		}
		b3, b2, b1 = b2, b1, c
	}
}

// isPDFNumber reports whether a regular token is a number: an optional sign,
// digits and at most one point.
func isPDFNumber(b []byte) bool {
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		b = b[1:]
	}
	digits, points := 0, 0
	for _, c := range b {
		switch {
		case c == '.':
			points++
		case '0' <= c && c <= '9':
			digits++
		default:
			return false
		}
	}
	return digits > 0 && points <= 1
}
