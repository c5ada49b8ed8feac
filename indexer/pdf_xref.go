package indexer

import (
	"bytes"
	"fmt"
	"strconv"
)

// maxPDFObjects is the highest object number a file of size bytes may use:
// one per 4 bytes of file, and 65,536 for any file. The library makes a
// table entry of 32 bytes for every number up to the highest one its
// cross-reference sections name, so a 400-byte file naming object
// 400,000,000 took 12.5 GB; with this bound the table costs at most 8 times
// the file (2 MB for a small one). A real file spends far more than 4
// bytes on an object.
func maxPDFObjects(size int) int64 { return int64(size)/4 + 1<<16 }

// maxXrefFieldWidth is the widest field (/W) of a cross-reference stream
// entry we let the library read: 8 bytes hold any offset, and real files
// use 1 to 4.
const maxXrefFieldWidth = 8

// checkPDFXref reads the cross-reference sections of data the way the
// library will, from the last startxref along the /Prev chain, and refuses
// one that names an object number over maxObj, a cross-reference stream
// with a field wider than maxXrefFieldWidth, or a chain that comes back to
// a section already read (on which the library loops without end). What
// it cannot make sense of it leaves for the library to reject.
func checkPDFXref(data []byte, maxObj int64) error {
	off, ok := startXref(data)
	seen := make(map[int64]bool)
	for ok {
		if off < 0 || off >= int64(len(data)) {
			return nil
		}
		if seen[off] {
			return fmt.Errorf("PDF cross-reference sections form a loop (at offset %d)", off)
		}
		seen[off] = true
		var err error
		off, ok, err = checkXrefSection(data[off:], maxObj)
		if err != nil {
			return err
		}
	}
	return nil
}

// startXref finds the offset of the last cross-reference section as the
// library does: after the last "startxref" on a line of its own in the
// file's final 100 bytes.
func startXref(data []byte) (int64, bool) {
	tail := data[max(0, len(data)-100):]
	for end := len(tail); ; {
		i := bytes.LastIndex(tail[:end], []byte("startxref"))
		j := i + len("startxref")
		if i <= 0 || j >= len(tail) {
			return 0, false
		}
		if (tail[i-1] == '\n' || tail[i-1] == '\r') && (tail[j] == '\n' || tail[j] == '\r') {
			l := newPDFLexer(bytes.NewReader(tail[j:]))
			if tok, _ := l.next(); tok != tokNumber {
				return 0, false
			}
			off, err := strconv.ParseInt(string(l.tok), 10, 64)
			return off, err == nil
		}
		end = i
	}
}

// checkXrefSection checks the cross-reference table or stream at the start
// of b and returns its /Prev offset, if it has one.
func checkXrefSection(b []byte, maxObj int64) (prev int64, hasPrev bool, err error) {
	l := newPDFLexer(bytes.NewReader(b))
	tok, _ := l.next()
	over := func(start, n int64) error {
		if start < 0 || n < 0 || start > maxObj || n > maxObj-start {
			return fmt.Errorf("PDF cross-reference section names objects %d to %d, past the %d a file of this size may have",
				start, start+n, maxObj)
		}
		return nil
	}
	if tok == tokWord && string(l.tok) == "xref" {
		// Subsections "start count" and their entries, then the trailer.
		for {
			tok, _ := l.next()
			if tok == tokWord && string(l.tok) == "trailer" {
				break
			}
			if tok != tokNumber {
				return 0, false, nil
			}
			start, err1 := strconv.ParseInt(string(l.tok), 10, 64)
			if tok, _ = l.next(); tok != tokNumber {
				return 0, false, nil
			}
			n, err2 := strconv.ParseInt(string(l.tok), 10, 64)
			if err1 != nil || err2 != nil {
				return 0, false, nil
			}
			if err := over(start, n); err != nil {
				return 0, false, err
			}
			for i := int64(0); i < 3*n; i++ {
				if tok, _ := l.next(); tok == tokEOF {
					return 0, false, nil
				}
			}
		}
	} else {
		// "N G obj << … >> stream": an xref stream's dictionary.
		if tok != tokNumber {
			return 0, false, nil
		}
		if tok, _ = l.next(); tok != tokNumber {
			return 0, false, nil
		}
		if tok, _ = l.next(); tok != tokWord || string(l.tok) != "obj" {
			return 0, false, nil
		}
	}
	// The dictionary that follows: the trailer, or the stream's.
	if tok, _ := l.next(); tok != tokDictOpen {
		return 0, false, nil
	}
	depth := 1
	var key string
	var index []int64
	inIndex, inW := false, false
	for depth > 0 {
		tok, _ := l.next()
		switch tok {
		case tokEOF:
			return prev, hasPrev, nil
		case tokDictOpen, tokArrayOpen:
			depth++
			inIndex = depth == 2 && tok == tokArrayOpen && key == "Index"
			inW = depth == 2 && tok == tokArrayOpen && key == "W"
			continue
		case tokDictClose, tokArrayClose:
			depth--
			inIndex, inW = false, false
			continue
		case tokName:
			if depth == 1 {
				key = string(l.tok)
				continue
			}
		case tokNumber:
			x, err := strconv.ParseInt(string(l.tok), 10, 64)
			switch {
			case err != nil:
			case inIndex:
				index = append(index, x)
			case inW && (x < 0 || x > maxXrefFieldWidth):
				// The library makes a buffer of the widths' sum before
				// reading a byte: a 150-byte file asking for 2^40 ended
				// the process (out of memory), on a 32-bit build 2^31.
				return 0, false, fmt.Errorf("PDF cross-reference stream has a field %d bytes wide, past the %d an offset needs",
					x, maxXrefFieldWidth)
			case depth == 1 && key == "Size":
				if err := over(0, x); err != nil {
					return 0, false, err
				}
			case depth == 1 && key == "Prev":
				prev, hasPrev = x, true
			}
		}
		if depth == 1 {
			key = ""
		}
	}
	for i := 0; i+1 < len(index); i += 2 {
		if err := over(index[i], index[i+1]); err != nil {
			return 0, false, err
		}
	}
	return prev, hasPrev, nil
}
