package indexer

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/ledongthuc/pdf"
)

// maxPredictorColumns bounds /DecodeParms /Columns, the row length of a
// FlateDecode stream with a PNG predictor. The library makes two rows of
// that many bytes before it inflates a byte: /Columns 1099511627776 in a
// 300-byte file ended a 64-bit process out of memory, and 2^30 asked a
// 32-bit one for 2 GiB. A million bytes is a row wider than any real one.
const maxPredictorColumns = 1 << 20

// checkPDFColumns refuses a file with a direct /Columns value past
// maxPredictorColumns anywhere in its bytes: in the dictionaries of the
// cross-reference and object streams the library inflates by itself, as
// well as of the content streams we read. It looks at bytes, not objects,
// so no structure can hide a value from it; a false match would need those
// bytes inside compressed data, and costs only the refusal of that file.
func checkPDFColumns(data []byte) error {
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '/')
		if j < 0 {
			return nil
		}
		i += j + 1
		name, n := pdfNameAt(data[i:])
		i += n
		if name != "Columns" {
			continue
		}
		k := i
		for k < len(data) && isPDFSpace(data[k]) {
			k++
		}
		end := k
		for end < len(data) && (data[end] == '-' || data[end] == '+' || data[end] >= '0' && data[end] <= '9') {
			end++
		}
		if end == k {
			continue
		}
		if x, err := strconv.ParseInt(string(data[k:end]), 10, 64); err != nil || x < 0 || x > maxPredictorColumns {
			return fmt.Errorf("PDF stream rows of %s bytes (/Columns), past the %d this reader allows", data[k:end], maxPredictorColumns)
		}
	}
}

// pdfNameAt reads the name that starts b (after its slash) as the library
// does, with #xx escapes decoded, and returns it and the bytes it spans.
func pdfNameAt(b []byte) (string, int) {
	var name []byte
	i := 0
	for i < len(b) && !isPDFSpace(b[i]) && !isPDFDelim(b[i]) && len(name) <= len("Columns") {
		c := b[i]
		if c == '#' && i+2 < len(b) {
			if x, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8); err == nil {
				c = byte(x)
				i += 2
			}
		}
		name = append(name, c)
		i++
	}
	return string(name), i
}

// predictorColumnsOK reports whether the /Columns of v's decode parameters,
// indirect ones resolved, are within maxPredictorColumns.
func predictorColumnsOK(v pdf.Value) bool {
	ok := func(parms pdf.Value) bool {
		c := parms.Key("Columns")
		return c.Kind() != pdf.Integer || c.Int64() >= 0 && c.Int64() <= maxPredictorColumns
	}
	parms := v.Key("DecodeParms")
	if parms.Kind() != pdf.Array {
		return ok(parms)
	}
	for i := range parms.Len() {
		if !ok(parms.Index(i)) {
			return false
		}
	}
	return true
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
