package indexer

import (
	"fmt"
	"unicode/utf16"
)

// pdfCMap is a font's ToUnicode CMap: which codes of 1 to 4 bytes a string
// shown in the font is made of, and the text each code stands for. We read
// it ourselves instead of through the library, whose reader keeps every
// operand of the CMap on a stack and whose decoder scans all mappings for
// every code: a hostile CMap made either cost memory or time without bound.
// Here a CMap holds at most maxCMapMappings mappings, and decoding a code is
// one map lookup.
type pdfCMap struct {
	space  [4][]codeRange // codespace ranges by code length - 1
	spaces int
	text   map[uint64]string // key: code length << 32 | code
}

type codeRange struct{ lo, hi uint32 }

const (
	// maxCMapMappings bounds the codes one CMap maps, ranges counted code
	// by code. Two-byte codes, the most a real font uses, number 65,536.
	maxCMapMappings = 1 << 17
	// maxCMapRanges bounds the codespace ranges kept; fonts use a few.
	maxCMapRanges = 256
	// maxCMapDst is the longest text one code may stand for, in bytes of
	// UTF-16, the bound PDF 32000-1 §9.10.3 sets. It bounds how much text
	// a shown string can grow into.
	maxCMapDst = 512
)

// cmapKey is the map key of a code of n bytes.
func cmapKey(code uint32, n int) uint64 { return uint64(n)<<32 | uint64(code) }

// codeOf reads b (1 to 4 bytes) as a big-endian code.
func codeOf(b []byte) uint32 {
	var c uint32
	for _, x := range b {
		c = c<<8 | uint32(x)
	}
	return c
}

// parseCMap reads a ToUnicode CMap from l: its codespace ranges, bfchar
// and bfrange mappings; other operators are skipped. It fails when the CMap
// maps more than maxCMapMappings codes or its stream fails.
func parseCMap(l *pdfLexer) (*pdfCMap, error) {
	m := &pdfCMap{text: make(map[uint64]string)}
	const (
		none = iota
		codespace
		bfchar
		bfrange
	)
	mode := none
	var args [][]byte // the strings of the entry being read, at most 2
	var dst [][]byte  // a bfrange's array of destinations
	inArray := false
	for {
		tok, err := l.next()
		if err != nil {
			return nil, err
		}
		switch tok {
		case tokEOF:
			return m, nil
		case tokWord:
			switch string(l.tok) {
			case "begincodespacerange":
				mode = codespace
			case "beginbfchar":
				mode = bfchar
			case "beginbfrange":
				mode = bfrange
			default:
				mode = none
			}
			args, dst, inArray = args[:0], dst[:0], false
		case tokArrayOpen:
			inArray = mode == bfrange && len(args) == 2
			dst = dst[:0]
		case tokArrayClose:
			if inArray {
				if err := m.addRange(args[0], args[1], nil, dst); err != nil {
					return nil, err
				}
				args, dst, inArray = args[:0], dst[:0], false
			}
		case tokString, tokName:
			// No code or destination is longer than maxCMapDst.
			s := append([]byte(nil), l.tok[:min(len(l.tok), maxCMapDst)]...)
			if tok == tokName {
				s = nil // a glyph name: the library maps it to no text, and so do we
			}
			if inArray {
				if len(dst) >= maxCMapMappings {
					return nil, fmt.Errorf("ToUnicode CMap maps more than %d codes", maxCMapMappings)
				}
				dst = append(dst, s)
				continue
			}
			switch mode {
			case codespace:
				if args = append(args, s); len(args) == 2 {
					m.addSpace(args[0], args[1])
					args = args[:0]
				}
			case bfchar:
				if args = append(args, s); len(args) == 2 {
					if err := m.add(args[0], args[1]); err != nil {
						return nil, err
					}
					args = args[:0]
				}
			case bfrange:
				if len(args) < 2 {
					args = append(args, s)
					continue
				}
				if err := m.addRange(args[0], args[1], s, nil); err != nil {
					return nil, err
				}
				args = args[:0]
			}
		}
	}
}

func (m *pdfCMap) addSpace(lo, hi []byte) {
	if len(lo) == 0 || len(lo) > 4 || len(lo) != len(hi) || m.spaces >= maxCMapRanges {
		return
	}
	m.space[len(lo)-1] = append(m.space[len(lo)-1], codeRange{codeOf(lo), codeOf(hi)})
	m.spaces++
}

// add maps the code src to the UTF-16BE text dst; a later mapping of the
// same code wins, as in the library.
func (m *pdfCMap) add(src, dst []byte) error {
	if len(src) == 0 || len(src) > 4 {
		return nil
	}
	if len(m.text) >= maxCMapMappings {
		return fmt.Errorf("ToUnicode CMap maps more than %d codes", maxCMapMappings)
	}
	m.text[cmapKey(codeOf(src), len(src))] = utf16BE(dst)
	return nil
}

// addRange maps the codes lo to hi: to dst with its last byte counting up
// when dst is given, else to the strings of dsts in turn.
func (m *pdfCMap) addRange(lo, hi, dst []byte, dsts [][]byte) error {
	if len(lo) == 0 || len(lo) > 4 || len(lo) != len(hi) {
		return nil
	}
	first, last := codeOf(lo), codeOf(hi)
	if first > last {
		return nil
	}
	if int64(last-first)+1 > int64(maxCMapMappings-len(m.text)) {
		return fmt.Errorf("ToUnicode CMap maps more than %d codes", maxCMapMappings)
	}
	d := append([]byte(nil), dst...)
	for c := first; ; c++ {
		i := int(c - first)
		switch {
		case dsts != nil && i < len(dsts):
			m.text[cmapKey(c, len(lo))] = utf16BE(dsts[i])
		case dsts == nil && len(d) > 0:
			m.text[cmapKey(c, len(lo))] = utf16BE(d)
			d[len(d)-1]++
		}
		if c == last {
			return nil
		}
	}
}

// utf16BE decodes big-endian UTF-16, keeping at most maxCMapDst bytes; an
// odd last byte is dropped.
func utf16BE(b []byte) string {
	b = b[:min(len(b), maxCMapDst)]
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(u))
}

// codeLen is the length of the code that starts raw: the shortest length
// whose codespace holds it, or, in a CMap without codespace ranges, the
// shortest that is mapped; 0 when none.
func (m *pdfCMap) codeLen(raw []byte) int {
	for n := 1; n <= 4 && n <= len(raw); n++ {
		c := codeOf(raw[:n])
		if m.spaces == 0 {
			if _, ok := m.text[cmapKey(c, n)]; ok {
				return n
			}
			continue
		}
		for _, r := range m.space[n-1] {
			if r.lo <= c && c <= r.hi {
				return n
			}
		}
	}
	return 0
}

// decode appends the text of the codes in raw to dst; a code without text,
// or a byte outside every codespace, becomes U+FFFD as in the library.
func (m *pdfCMap) decode(dst, raw []byte) []byte {
	for len(raw) > 0 {
		n := m.codeLen(raw)
		if n == 0 {
			dst = append(dst, "\uFFFD"...)
			raw = raw[1:]
			continue
		}
		if s, ok := m.text[cmapKey(codeOf(raw[:n]), n)]; ok {
			dst = append(dst, s...)
		} else {
			dst = append(dst, "\uFFFD"...)
		}
		raw = raw[n:]
	}
	return dst
}
