package weaviate

import (
	"encoding/binary"
	"fmt"

	"github.com/edgesearch/edgesearch/store"
)

// ObjectID returns the Weaviate UUID of a point id. An integer n maps to the
// UUID whose first 8 bytes are zero and whose last 8 bytes are n big-endian;
// a UUID maps to itself. Weaviate orders objects (its cursor, sorting by
// _id) by these bytes, which is then the order of store.PointID.Compare:
// integers ascending, then UUIDs. A UUID whose first 8 bytes are zero would
// collide with an integer id (no random UUID has them: its version nibble is
// not 0), and fails with ErrUnmappableID.
func ObjectID(id store.PointID) (string, error) {
	if n, ok := id.Num(); ok {
		var b [16]byte
		binary.BigEndian.PutUint64(b[8:], n)
		return formatUUID(b), nil
	}
	u, _ := id.UUID()
	if u[:8] == "00000000" && u[9:13] == "0000" && u[14:18] == "0000" {
		return "", fmt.Errorf("point id %s: %w (its first 8 bytes are zero, the range integer ids use)", u, ErrUnmappableID)
	}
	return u, nil
}

// PointID returns the point id of a Weaviate UUID made by ObjectID; any
// other string is an error wrapping store.ErrBadPointID.
func PointID(uuid string) (store.PointID, error) {
	id, err := store.ParsePointID(uuid)
	if err != nil {
		return store.PointID{}, err
	}
	if _, ok := id.UUID(); !ok {
		return store.PointID{}, fmt.Errorf("%w: %q is not a UUID", store.ErrBadPointID, uuid)
	}
	var b [16]byte
	raw, _ := id.MarshalBinary() // a tag byte, then the 16 bytes
	copy(b[:], raw[1:])
	if binary.BigEndian.Uint64(b[:8]) == 0 {
		return store.NumPointID(binary.BigEndian.Uint64(b[8:])), nil
	}
	return id, nil
}

// predecessor returns the UUID just before u in byte order, and false for
// the zero UUID, which has none: Weaviate's cursor starts after an id, our
// scroll at one.
func predecessor(u string) (string, bool) {
	id, err := store.ParsePointID(u)
	if err != nil {
		return "", false
	}
	raw, _ := id.MarshalBinary()
	var b [16]byte
	copy(b[:], raw[1:])
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	if hi == 0 && lo == 0 {
		return "", false
	}
	if lo == 0 {
		hi--
	}
	lo--
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return formatUUID(b), true
}

func formatUUID(b [16]byte) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}
