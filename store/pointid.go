package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// PointID identifies a point as Qdrant does: an unsigned 64-bit integer or a
// UUID. The zero value is the integer 0. PointIDs compare with == and serve
// as map keys: a UUID is kept as its 16 bytes, so every spelling of one UUID
// gives the same PointID, and String writes the canonical lower-case
// hyphenated form. The type holds no pointers, so an index of millions of
// ids costs the garbage collector nothing to scan.
type PointID struct {
	hi, lo uint64 // an integer is lo; a UUID is its bytes, big-endian halves
	uuid   bool
}

// NumPointID returns the integer point id n.
func NumPointID(n uint64) PointID { return PointID{lo: n} }

// ParsePointID reads an id as it appears in a URL path: a decimal unsigned
// 64-bit integer, or a UUID written hyphenated, as 32 hex digits, in braces
// or with a "urn:uuid:" prefix, in any case. Anything else is an error
// wrapping ErrBadPointID.
func ParsePointID(s string) (PointID, error) {
	if n, ok := parseDecimal(s); ok {
		return NumPointID(n), nil
	}
	if id, ok := parseUUID(s); ok {
		return id, nil
	}
	return PointID{}, fmt.Errorf("%w: %q is not an unsigned integer or a UUID", ErrBadPointID, s)
}

// Num returns the id's integer and true, or 0 and false for a UUID.
func (id PointID) Num() (uint64, bool) {
	if id.uuid {
		return 0, false
	}
	return id.lo, true
}

// UUID returns the id's canonical UUID and true, or "" and false for an
// integer id.
func (id PointID) UUID() (string, bool) {
	if !id.uuid {
		return "", false
	}
	return string(id.appendUUID(make([]byte, 0, 36))), true
}

// String returns the integer in decimal or the canonical UUID.
func (id PointID) String() string {
	if id.uuid {
		return string(id.appendUUID(make([]byte, 0, 36)))
	}
	return strconv.FormatUint(id.lo, 10)
}

// Compare returns -1, 0 or +1 as id sorts before, with or after other in
// the store's key order: integers ascending, then UUIDs by their bytes.
// ScrollPoints walks points in this order.
func (id PointID) Compare(other PointID) int {
	switch {
	case id.uuid != other.uuid:
		if id.uuid {
			return 1
		}
		return -1
	case id.hi != other.hi:
		if id.hi < other.hi {
			return -1
		}
		return 1
	case id.lo != other.lo:
		if id.lo < other.lo {
			return -1
		}
		return 1
	}
	return 0
}

// MarshalJSON writes an integer id as a JSON number and a UUID as a string,
// as Qdrant does.
func (id PointID) MarshalJSON() ([]byte, error) {
	if id.uuid {
		b := append(make([]byte, 0, 38), '"')
		return append(id.appendUUID(b), '"'), nil
	}
	return strconv.AppendUint(nil, id.lo, 10), nil
}

// UnmarshalJSON reads a JSON number (a non-negative integer that fits 64
// bits) or a string holding a UUID, as Qdrant's ExtendedPointId does; a
// string of digits is not an id. Anything else is an error wrapping
// ErrBadPointID.
func (id *PointID) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadPointID, data, err)
		}
		p, ok := parseUUID(s)
		if !ok {
			return fmt.Errorf("%w: %q is not a UUID", ErrBadPointID, s)
		}
		*id = p
		return nil
	}
	n, ok := parseDecimal(string(data))
	if !ok {
		return fmt.Errorf("%w: %s is not an unsigned 64-bit integer", ErrBadPointID, data)
	}
	*id = NumPointID(n)
	return nil
}

// The binary form of a PointID, also its key in a collection's points
// bucket: a tag byte, then the integer as 8 bytes big-endian or the 16
// bytes of the UUID. bbolt orders keys by bytes, which makes this the
// order of Compare.
const (
	pointTagNum  = 0
	pointTagUUID = 1
	pointNumLen  = 1 + 8
	pointUUIDLen = 1 + 16
)

// AppendBinary appends the id's binary form (see MarshalBinary) to b. It
// never fails; the error is there for encoding.BinaryAppender.
func (id PointID) AppendBinary(b []byte) ([]byte, error) {
	return id.appendKey(b), nil
}

// MarshalBinary returns the id's compact binary form: a tag byte (0 for an
// integer, 1 for a UUID), then 8 bytes big-endian or the 16 UUID bytes.
// Byte order of these forms is the order of Compare. It never fails.
func (id PointID) MarshalBinary() ([]byte, error) {
	return id.appendKey(nil), nil
}

// UnmarshalBinary reads the form MarshalBinary writes, and nothing else: a
// wrong tag or length is an error wrapping ErrCorrupt.
func (id *PointID) UnmarshalBinary(b []byte) error {
	p, err := decodePointKey(b)
	if err != nil {
		return err
	}
	*id = p
	return nil
}

func (id PointID) appendKey(b []byte) []byte {
	if id.uuid {
		b = append(b, pointTagUUID)
		b = binary.BigEndian.AppendUint64(b, id.hi)
		return binary.BigEndian.AppendUint64(b, id.lo)
	}
	b = append(b, pointTagNum)
	return binary.BigEndian.AppendUint64(b, id.lo)
}

func pointKey(id PointID) []byte {
	return id.appendKey(make([]byte, 0, pointUUIDLen))
}

func decodePointKey(k []byte) (PointID, error) {
	switch {
	case len(k) == pointNumLen && k[0] == pointTagNum:
		return NumPointID(binary.BigEndian.Uint64(k[1:])), nil
	case len(k) == pointUUIDLen && k[0] == pointTagUUID:
		return PointID{hi: binary.BigEndian.Uint64(k[1:]), lo: binary.BigEndian.Uint64(k[9:]), uuid: true}, nil
	}
	return PointID{}, fmt.Errorf("point id key %x: %w", k, ErrCorrupt)
}

// parseDecimal reads one or more decimal digits whose value fits 64 bits:
// no sign, no fraction, no exponent.
func parseDecimal(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 || n > (math.MaxUint64-uint64(d))/10 {
			return 0, false
		}
		n = n*10 + uint64(d)
	}
	return n, true
}

// parseUUID reads a UUID in one of the forms Rust's uuid crate reads
// (hyphenated, simple, braced, URN), in any case.
func parseUUID(s string) (PointID, bool) {
	switch {
	case len(s) == 45 && strings.EqualFold(s[:9], "urn:uuid:"):
		s = s[9:]
	case len(s) == 38 && s[0] == '{' && s[37] == '}':
		s = s[1:37]
	}
	hyphens := false
	switch len(s) {
	case 36:
		hyphens = true
	case 32:
	default:
		return PointID{}, false
	}
	var u [16]byte
	n := 0 // hex digits read
	for i := 0; i < len(s); i++ {
		if hyphens && (i == 8 || i == 13 || i == 18 || i == 23) {
			if s[i] != '-' {
				return PointID{}, false
			}
			continue
		}
		v, ok := hexDigit(s[i])
		if !ok {
			return PointID{}, false
		}
		u[n/2] |= v << (4 * (1 - n%2))
		n++
	}
	return PointID{hi: binary.BigEndian.Uint64(u[:8]), lo: binary.BigEndian.Uint64(u[8:]), uuid: true}, true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendUUID appends the canonical form: lower-case hex, hyphens after the
// 8th, 12th, 16th and 20th digit.
func (id PointID) appendUUID(b []byte) []byte {
	const hex = "0123456789abcdef"
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], id.hi)
	binary.BigEndian.PutUint64(u[8:], id.lo)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&15])
	}
	return b
}
