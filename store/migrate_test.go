package store

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// encodeChunk encodes c as schema 2 did, with its id left zero (setChunkID
// sets it): the migration tests' and fuzz seeds' writer.
func encodeChunk(c *Chunk, half bool) []byte {
	size := 4
	enc := byte(encodingFloat32)
	if half {
		size, enc = 2, encodingFloat16
	}
	b := make([]byte, 9, 9+4*binary.MaxVarintLen64+size*len(c.Vector))
	b[0] = enc
	b = binary.AppendUvarint(b, uint64(c.Start))
	b = binary.AppendUvarint(b, uint64(c.End))
	b = binary.AppendUvarint(b, uint64(c.Tokens))
	b = binary.AppendUvarint(b, uint64(len(c.Vector)))
	for _, v := range c.Vector {
		if half {
			b = binary.LittleEndian.AppendUint16(b, Float16Bits(v))
		} else {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return b
}

func setChunkID(rec []byte, id uint64) {
	binary.BigEndian.PutUint64(rec[chunkIDOffset:], id)
}

// TestOpenMigratesSchema2StoreInPlace opens a store written by the schema-2
// code (testdata/schema2.db, made at commit 6c95ed4 by the schema-1
// program in /work/notes/points.md, plus a collection "points" of two
// points; schema2.json is what that code's Get read back), first left
// half-migrated as a crash between two migration transactions would leave
// it, and checks that Open finishes the move: every chunk is a point of
// the documents collection with its id, vector (float16 kept float16) and
// span, the documents read back as before, the generation is unchanged,
// and the user's collection is untouched.
func TestOpenMigratesSchema2StoreInPlace(t *testing.T) {
	golden := readGolden(t, "testdata/schema2.json")
	path := copyFile(t, "testdata/schema2.db")
	if v := fileSchema(t, path); v != 2 {
		t.Fatalf("testdata/schema2.db says schema %d", v)
	}
	// One step of two chunks, then the "crash".
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		done, err := migrateStep(tx, 2)
		if err == nil && done {
			t.Error("a step of 2 finished a store of 7 chunks")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if v := fileSchema(t, path); v != 2 {
		t.Fatalf("half-migrated file says schema %d, want 2", v)
	}

	s := openTest(t, path, Options{Model: golden.Model, Dims: golden.Dims})
	golden.check(t, s)
	chunks := 0
	for _, d := range golden.Documents {
		chunks += len(d.Chunks)
	}
	info, err := s.Collection(DocumentsCollection)
	if err != nil || info.Points != chunks || info.Vectors[""] != (VectorParams{Size: golden.Dims, Distance: Cosine}) {
		t.Errorf("documents collection = %+v, %v; want %d points of %d dims", info, err, chunks, golden.Dims)
	}
	// The chunks read as points too, payload and all.
	pts, _, err := s.ScrollPoints(DocumentsCollection, nil, 100)
	if err != nil || len(pts) != chunks {
		t.Fatalf("ScrollPoints(documents) = %d points, %v", len(pts), err)
	}
	if !strings.Contains(string(pts[0].Payload), `"document_id":`) {
		t.Errorf("chunk point payload %s", pts[0].Payload)
	}
	if got, err := s.GetPoints("points", []PointID{NumPointID(1), NumPointID(7)}); err != nil || len(got) != 2 ||
		string(got[0].Payload) != `{"text":"one"}` || !slices.Equal(got[1].Vectors[""], []float32{0, 0, 1, 0}) {
		t.Errorf("the user's collection after migration: %+v, %v", got, err)
	}
	checkCollections(t, s)
	err = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketChunksV2) != nil || tx.Bucket(bucketChunkIDsV2) != nil {
			t.Error("the schema-2 chunk buckets are still there")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The migrated store takes new documents and keeps them.
	put(t, s, testDoc("new", 2, golden.Dims, 1))
	s.Close()
	if v := fileSchema(t, path); v != SchemaVersion {
		t.Fatalf("after Open the file says schema %d, want %d", v, SchemaVersion)
	}
	s = openTest(t, path, Options{})
	if d, err := s.Get("new"); err != nil || len(d.Chunks) != 2 {
		t.Fatalf("after reopening: %+v, %v", d, err)
	}
	checkConsistent(t, s)
}

// TestDocumentsCollectionIsWrittenOnlyThroughDocuments: the point
// operations refuse the documents' collection, and Write keeps its count.
func TestDocumentsCollectionIsWrittenOnlyThroughDocuments(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"), Options{Model: testModel, Dims: testDims, Float16: true})
	put(t, s, testDoc("a", 3, testDims, 1))
	vec := make([]float32, testDims)
	vec[0] = 1
	for name, err := range map[string]error{
		"upsert": s.UpsertPoints(ctx, DocumentsCollection, []Point{{ID: NumPointID(99), Vectors: map[string][]float32{"": vec}}}),
		"delete": func() error { _, err := s.DeletePoints(ctx, DocumentsCollection, []PointID{NumPointID(1)}); return err }(),
		"payload": func() error {
			_, err := s.UpdatePayload(ctx, DocumentsCollection, []PointID{NumPointID(1)}, PayloadOp{Clear: true})
			return err
		}(),
		"drop": func() error { _, err := s.DeleteCollection(ctx, DocumentsCollection); return err }(),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s on the documents collection: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.CreateCollection(ctx, DocumentsCollection, map[string]VectorParams{"": {Size: 4, Distance: Dot}}); !errors.Is(err, ErrExists) {
		t.Errorf("create documents: %v, want ErrExists", err)
	}
	if info, err := s.Collection(DocumentsCollection); err != nil || info.Points != 3 {
		t.Errorf("documents collection %+v, %v; want 3 points", info, err)
	}
	pts, err := s.GetPoints(DocumentsCollection, []PointID{NumPointID(1)})
	if err != nil || len(pts) != 1 {
		t.Fatalf("GetPoints = %v, %v", pts, err)
	}
	// Float16 storage: the point's vector is the chunk's, rounded as the chunk's.
	d, _ := s.Get("a")
	if !slices.Equal(pts[0].Vectors[""], d.Chunks[0].Vector) {
		t.Errorf("point vector %v, chunk vector %v", pts[0].Vectors[""][:4], d.Chunks[0].Vector[:4])
	}
	if _, err := s.Write(ctx, Change{Delete: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if info, _ := s.Collection(DocumentsCollection); info.Points != 0 {
		t.Errorf("after deleting the document the collection holds %d points", info.Points)
	}
	checkConsistent(t, s)
}
