package indexer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ledongthuc/pdf"
)

// parsePDF extracts the text of every page (pages separated by a blank
// line). github.com/ledongthuc/pdf, which is pure Go, reads the file's
// objects and decompresses its streams; the page tree, the content streams
// and the ToUnicode maps we read ourselves, because the library's walks of
// them have no bounds (a page tree that lists itself loops forever, /Count
// is trusted, a page's /Parent chain is followed without end, and content
// and CMaps are held whole in memory). The title comes from the document
// information dictionary, else the first line, else the file name.
//
// The work is bounded by lim: at most MaxPages pages, a page tree at most
// MaxDepth deep, streams that inflate to at most MaxInflatedBytes in all
// and text of at most MaxTextBytes; going over fails with ErrLimit naming
// the limit. A page tree that loops back on itself is an error. When ctx
// ends, parsePDF stops within one buffer of stream data and returns ctx's
// cause. A scanned PDF without a text layer fails with ErrNoText, one the
// library cannot read with a "malformed PDF" error.
func parsePDF(ctx context.Context, name string, data []byte, lim Limits) (docs []Doc, rows []error, err error) {
	docs, err = newPDFParse(ctx, lim).parse(name, data)
	return docs, nil, err
}

func newPDFParse(ctx context.Context, lim Limits) *pdfParse {
	return &pdfParse{ctx: ctx, lim: lim, seen: make(map[pdfObjKey]bool), fonts: make(map[pdfObjKey]textDecoder)}
}

// parse is parsePDF of data, named name.
func (p *pdfParse) parse(name string, data []byte) (docs []Doc, err error) {
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		return nil, fmt.Errorf("no %%PDF- header: %w", ErrBinary)
	}
	// The library panics on malformed files, and when a read of ours
	// fails because ctx ended; for us that is just a file we cannot read.
	defer func() {
		if r := recover(); r != nil {
			docs, err = nil, fmt.Errorf("malformed PDF: %v", r)
			if p.ctx.Err() != nil {
				err = p.stopped()
			}
		}
	}()
	if err := checkPDFXref(data, maxPDFObjects(len(data))); err != nil {
		return nil, err
	}
	if err := checkPDFColumns(data); err != nil {
		return nil, err
	}
	r, err := pdf.NewReader(ctxReaderAt{p.ctx, bytes.NewReader(data)}, int64(len(data)))
	if err != nil {
		if p.ctx.Err() != nil {
			return nil, p.stopped()
		}
		return nil, fmt.Errorf("read PDF: %w", err)
	}
	if err := p.walk(r.Trailer().Key("Root").Key("Pages"), 1, pdf.Value{}, nil); err != nil {
		return nil, err
	}
	text := tidy(collapseBlankLines(strings.ToValidUTF8(string(p.text), "\uFFFD")))
	if text == "" {
		if p.streamErr != nil {
			return nil, fmt.Errorf("no text read: %w", p.streamErr)
		}
		return nil, fmt.Errorf("no text layer (a scanned PDF?): %w", ErrNoText)
	}
	title := strings.TrimSpace(r.Trailer().Key("Info").Key("Title").Text())
	if title == "" {
		title = firstLineTitle(text)
	}
	if title == "" {
		title = fileTitle(name)
	}
	return []Doc{{Title: title, Text: text, Source: name}}, nil
}

// pdfParse is the state of one parsePDF: what has been spent of its limits
// and what has been read.
type pdfParse struct {
	ctx       context.Context
	lim       Limits
	nodes     int   // page-tree nodes visited, pages included
	pages     int   // pages read
	inflated  int64 // stream bytes decompressed, all streams together
	text      []byte
	streamErr error                     // the first stream whose data could not be read
	seen      map[pdfObjKey]bool        // inner page-tree nodes visited
	fonts     map[pdfObjKey]textDecoder // decoders of the fonts met so far
}

// stopped is the error of a parse whose context ended.
func (p *pdfParse) stopped() error {
	return fmt.Errorf("stopped reading the PDF: %w", context.Cause(p.ctx))
}

// maxNodes bounds the page-tree nodes visited: a real tree with MaxPages
// pages has fewer inner nodes than pages, so twice MaxPages (plus a chain
// of MaxDepth) leaves room for any real tree while a tree of empty or
// shared nodes is stopped.
func (p *pdfParse) maxNodes() int { return 2*p.lim.MaxPages + p.lim.MaxDepth }

// walk reads the pages under the page-tree node at depth; res is the
// /Resources inherited from the node's ancestors and path their identities.
// It ignores /Count, which a file may set to anything.
func (p *pdfParse) walk(node pdf.Value, depth int, res pdf.Value, path []pdfObjKey) error {
	if p.ctx.Err() != nil {
		return p.stopped()
	}
	if depth > p.lim.MaxDepth {
		return overLimit("PDF page tree is deeper than %d levels (MaxDepth, --max-depth; raise it to read such files)", p.lim.MaxDepth)
	}
	if p.nodes++; p.nodes > p.maxNodes() {
		return overLimit("PDF page tree has more than %d nodes for at most %d pages (MaxPages, --max-pages; raise it to read longer files)",
			p.maxNodes(), p.lim.MaxPages)
	}
	if node.Kind() != pdf.Dict {
		return nil // a broken reference: no page
	}
	if r := node.Key("Resources"); r.Kind() == pdf.Dict {
		res = r
	}
	kids := node.Key("Kids")
	if node.Key("Type").Name() == "Page" || kids.Kind() != pdf.Array {
		if p.pages++; p.pages > p.lim.MaxPages {
			return overLimit("PDF has more than %d pages (MaxPages, --max-pages; raise it to read longer files)", p.lim.MaxPages)
		}
		if err := p.page(node, res); err != nil {
			return fmt.Errorf("page %d: %w", p.pages, err)
		}
		return nil
	}
	if key, ok := pdfKeyOf(node); ok {
		if slices.Contains(path, key) {
			return fmt.Errorf("PDF page tree loops back on itself (a node is its own descendant)")
		}
		if p.seen[key] {
			return fmt.Errorf("PDF page tree reaches the same node twice")
		}
		p.seen[key] = true
		path = append(path, key)
	}
	for i := 0; i < kids.Len(); i++ {
		if err := p.walk(kids.Index(i), depth+1, res, path); err != nil {
			return err
		}
	}
	return nil
}

// pdfObjKey identifies a PDF object across reads: the library parses an
// object afresh every time a reference to it is followed, so two reads of
// one object are equal in content but never the same Go value.
//
// The library keeps the object number of an indirect object in its Value
// without exporting it, but a Value it returns for a key the dictionary
// lacks is a null that still carries that number, and such a Value is
// comparable. That null (ref) tells objects apart; a dictionary written
// directly inside another carries its container's number, so the key adds
// a digest of the object's own text, which tells a container from the
// direct dictionaries inside it. TestPDFObjKey pins both premises.
type pdfObjKey struct {
	ref pdf.Value
	sum [sha256.Size]byte
}

// pdfIdentityProbe is a key no real dictionary has.
const pdfIdentityProbe = "edgesearch.identity-probe"

// pdfKeyOf returns v's identity; false when v is not a dictionary or
// happens to have the probe key, and so cannot be told apart.
func pdfKeyOf(v pdf.Value) (pdfObjKey, bool) {
	if v.Kind() != pdf.Dict {
		return pdfObjKey{}, false
	}
	ref := v.Key(pdfIdentityProbe)
	if !ref.IsNull() {
		return pdfObjKey{}, false
	}
	return pdfObjKey{ref: ref, sum: sha256.Sum256([]byte(v.String()))}, true
}

// page appends the text of the page dictionary pg, whose resources are
// res, and a blank line. The page's fonts come from res, not from the
// library's Page.Resources, which follows /Parent links without a bound.
func (p *pdfParse) page(pg, res pdf.Value) error {
	c := &pdfContent{p: p, fontRes: res.Key("Font"), fonts: make(map[string]textDecoder)}
	var err error
	switch contents := pg.Key("Contents"); contents.Kind() {
	case pdf.Stream:
		err = c.run(p.stream(contents))
	case pdf.Array:
		// One content split over several streams, which may divide it
		// only between tokens.
		err = c.run(&streamsReader{p: p, streams: contents})
	}
	p.text = append(p.text, "\n\n"...)
	return err
}

// streamsReader reads the streams of an array one after another, each
// followed by a newline, opening each only when it is reached.
type streamsReader struct {
	p       *pdfParse
	streams pdf.Value
	next    int
	cur     io.Reader
}

func (s *streamsReader) Read(b []byte) (int, error) {
	for {
		if s.cur != nil {
			n, err := s.cur.Read(b)
			if err == io.EOF {
				s.cur, err = nil, nil
				if n == 0 && len(b) > 0 {
					b[0] = '\n'
					n = 1
				}
			}
			if n > 0 || err != nil {
				return n, err
			}
			continue
		}
		if s.next >= s.streams.Len() {
			return 0, io.EOF
		}
		if s.p.ctx.Err() != nil {
			return 0, s.p.stopped()
		}
		if v := s.streams.Index(s.next); v.Kind() == pdf.Stream {
			s.cur = s.p.stream(v)
		}
		s.next++
	}
}

// stream returns the decompressed data of the stream v through the file's
// inflate budget.
func (p *pdfParse) stream(v pdf.Value) io.Reader {
	// checkPDFColumns saw the direct values; an indirect one is only
	// known now, and must be checked before Reader makes its rows.
	if !predictorColumnsOK(v) {
		return &inflateReader{p: p, r: errReader{fmt.Errorf("rows past %d bytes (/Columns)", maxPredictorColumns)}}
	}
	return &inflateReader{p: p, r: v.Reader()}
}

// inflateReader counts the bytes a stream decompresses to against
// MaxInflatedBytes, at most inflateChunk at a time, and checks the context
// before each read. Errors of the data itself come back as *pdfDataError.
type inflateReader struct {
	p *pdfParse
	r io.Reader
}

// inflateChunk bounds the work between two checks of the budget and the
// context: 32 KiB of output is a few microseconds of inflating.
const inflateChunk = 32 << 10

func (r *inflateReader) Read(b []byte) (int, error) {
	if r.p.ctx.Err() != nil {
		return 0, r.p.stopped()
	}
	n, err := r.r.Read(b[:min(len(b), inflateChunk)])
	r.p.inflated += int64(n)
	if r.p.inflated > r.p.lim.MaxInflatedBytes {
		return n, overLimit("PDF streams inflate past %d bytes (MaxInflatedBytes, --max-inflated; raise it to read such files)",
			r.p.lim.MaxInflatedBytes)
	}
	if err != nil && err != io.EOF {
		err = &pdfDataError{err}
	}
	return n, err
}

// pdfDataError is a stream whose data cannot be read: corrupt or cut short.
type pdfDataError struct{ err error }

func (e *pdfDataError) Error() string { return "reading a PDF stream: " + e.err.Error() }
func (e *pdfDataError) Unwrap() error { return e.err }

// ctxReaderAt fails every read once ctx has ended, so that the library,
// which reads the file for every object it parses, stops soon: its parser
// turns the failed read into a panic that parsePDF recovers.
type ctxReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReaderAt) ReadAt(b []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.ReadAt(b, off)
}

// textDecoder turns the bytes of a string shown in a font into UTF-8,
// appending to dst.
type textDecoder interface {
	decode(dst, raw []byte) []byte
}

// libDecoder is the library's decoding of a font with a named or
// /Differences encoding: a table lookup per byte.
type libDecoder struct{ enc pdf.TextEncoding }

func (d libDecoder) decode(dst, raw []byte) []byte { return append(dst, d.enc.Decode(string(raw))...) }

// maxDifferences bounds a font's /Differences array, which the library
// scans once for every byte shown: a real one has at most 256 names and
// their starting codes.
const maxDifferences = 1024

// decoder returns the decoder of the font dictionary font, reading each
// font once per file. A font whose /Encoding is absent or Identity-H and
// that has a ToUnicode stream is decoded by its CMap, read by parseCMap;
// others by the library, as before.
func (p *pdfParse) decoder(font pdf.Value) (textDecoder, error) {
	key, ok := pdfKeyOf(font)
	if d, found := p.fonts[key]; ok && found {
		return d, nil
	}
	var d textDecoder
	enc := font.Key("Encoding")
	tu := font.Key("ToUnicode")
	switch {
	case (enc.Kind() == pdf.Null || enc.Name() == "Identity-H") && tu.Kind() == pdf.Stream:
		m, err := parseCMap(newPDFLexer(p.stream(tu)))
		if err != nil {
			if !isDataError(err) {
				return nil, fmt.Errorf("font %s: %w", font.Key("BaseFont").Name(), err)
			}
			p.noteDataError(err)
			m = &pdfCMap{text: map[uint64]string{}}
		}
		d = m
	case enc.Kind() == pdf.Dict && enc.Key("Differences").Len() > maxDifferences:
		return nil, fmt.Errorf("font %s: /Differences has %d entries, more than %d",
			font.Key("BaseFont").Name(), enc.Key("Differences").Len(), maxDifferences)
	default:
		f := &pdf.Font{V: font}
		d = libDecoder{f.Encoder()}
	}
	if ok {
		p.fonts[key] = d
	}
	return d, nil
}

func isDataError(err error) bool {
	var de *pdfDataError
	return errors.As(err, &de)
}

// noteDataError keeps the first unreadable stream, reported only if the
// file yields no text at all; a damaged stream otherwise costs its own
// text, not the file's.
func (p *pdfParse) noteDataError(err error) {
	if p.streamErr == nil {
		p.streamErr = err
	}
}
