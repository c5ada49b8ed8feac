package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// qdrantCreateCollection is PUT /collections/{name}. Only the vectors are
// used. The tuning sections (hnsw_config, optimizers_config, wal_config,
// quantization_config, shard_number, replication_factor,
// write_consistency_factor, on_disk_payload, strict_mode_config) are
// accepted and ignored: they change how Qdrant stores and indexes, not
// what a search returns. What would change answers is refused.
type qdrantCreateCollection struct {
	Vectors        json.RawMessage `json:"vectors"`
	SparseVectors  json.RawMessage `json:"sparse_vectors"`
	ShardingMethod json.RawMessage `json:"sharding_method"`
	Metadata       json.RawMessage `json:"metadata"`
	InitFrom       json.RawMessage `json:"init_from"`
}

// qdrantVectorParams is one vector's configuration.
type qdrantVectorParams struct {
	Size              *int64          `json:"size"`
	Distance          *string         `json:"distance"`
	Datatype          *string         `json:"datatype"`
	MultivectorConfig json.RawMessage `json:"multivector_config"`
	// hnsw_config, quantization_config, on_disk, memory: ignored.
}

func (s *Server) handleQdrantCreateCollection(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	var req qdrantCreateCollection
	if err := s.readJSON(c, &req); err != nil {
		s.qdrantAbort(c, err)
		return
	}
	if err := unsupported("sparse_vectors", req.SparseVectors, "sparse vectors"); err != nil {
		s.qdrantAbort(c, err)
		return
	}
	if present(req.ShardingMethod) && string(req.ShardingMethod) != `"auto"` {
		s.qdrantAbort(c, badRequest("sharding_method %s is not supported: edgesearch keeps a collection in one shard", req.ShardingMethod))
		return
	}
	if err := errors.Join(unsupported("metadata", req.Metadata, "collection metadata"),
		unsupported("init_from", req.InitFrom, "copying another collection")); err != nil {
		s.qdrantAbort(c, err)
		return
	}
	vectors, err := parseVectorsConfig(req.Vectors)
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	// ?backend= (ours, not Qdrant's) places the collection when serve has
	// a --backend: local on this device, weaviate on the cluster (the
	// default there). Without one, every collection is local.
	create := vs.Create
	remote := s.backends()
	switch where := c.Query("backend"); where {
	case "", "weaviate":
		if where != "" && remote == nil {
			s.qdrantAbort(c, badRequest("backend=weaviate: this server keeps every collection on the device (start it with serve --backend weaviate://HOST:PORT)"))
			return
		}
	case "local":
		// The documents collection's name stays refused by vs.Create.
		if remote != nil && c.Param("collection") != search.DocumentsCollection {
			create = remote.CreateLocal
		}
	default:
		s.qdrantAbort(c, badRequest("backend=%q: want local or weaviate", where))
		return
	}
	if _, err := create(c.Request.Context(), c.Param("collection"), vectors); err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
		return
	}
	qdrantOK(c, true)
}

// unsupported refuses a field the client set to something other than null,
// {} or [], naming what it asks for.
func unsupported(field string, raw json.RawMessage, what string) error {
	if !present(raw) {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) == nil {
		switch v := v.(type) {
		case map[string]any:
			if len(v) == 0 {
				return nil
			}
		case []any:
			if len(v) == 0 {
				return nil
			}
		}
	}
	return badRequest("%s is not supported by edgesearch (%s); see docs/qdrant.md", field, what)
}

// parseVectorsConfig reads "vectors": one {size, distance} for the unnamed
// vector, or a map of names to them. The name "" in a map is Qdrant's
// default vector, the unnamed one (langchain-qdrant creates collections
// that way); edgesearch keeps it only alone, not beside named vectors.
func parseVectorsConfig(raw json.RawMessage) (map[string]store.VectorParams, error) {
	if !present(raw) {
		return nil, badRequest(`"vectors" is missing: give {"size": N, "distance": "Cosine"} or a map of vector names to that (edgesearch has no sparse-only collections)`)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, badRequest(`"vectors" must be an object: {"size": N, "distance": "Cosine"} or a map of vector names to that`)
	}
	if size, ok := probe["size"]; ok && firstByte(size) != '{' {
		p, err := parseVectorParams("vectors", raw)
		if err != nil {
			return nil, err
		}
		return map[string]store.VectorParams{"": p}, nil
	}
	if len(probe) == 0 {
		return nil, badRequest(`"vectors" is empty: name at least one vector`)
	}
	if _, unnamed := probe[""]; unnamed && len(probe) > 1 {
		return nil, badRequest(`"vectors": the unnamed vector "" beside named ones is not supported by edgesearch; name every vector or give only ""`)
	}
	out := make(map[string]store.VectorParams, len(probe))
	for name, r := range probe {
		field := "vectors." + name
		if name == "" {
			field = `vectors.""`
		}
		p, err := parseVectorParams(field, r)
		if err != nil {
			return nil, err
		}
		out[name] = p
	}
	return out, nil
}

func parseVectorParams(field string, raw json.RawMessage) (store.VectorParams, error) {
	var p qdrantVectorParams
	if err := json.Unmarshal(raw, &p); err != nil {
		return store.VectorParams{}, badRequest("%s: %s", field, jsonProblem(err))
	}
	if p.Size == nil || p.Distance == nil {
		return store.VectorParams{}, badRequest(`%s: want {"size": N, "distance": "Cosine" | "Dot" | "Euclid"}`, field)
	}
	if *p.Size < 1 || *p.Size > math.MaxInt32 {
		return store.VectorParams{}, badRequest("%s.size %d is out of range", field, *p.Size)
	}
	d, err := store.ParseDistance(*p.Distance)
	if err != nil {
		return store.VectorParams{}, badRequest("%s.distance: %v", field, err)
	}
	if p.Datatype != nil && *p.Datatype != "float32" {
		return store.VectorParams{}, badRequest("%s.datatype %q is not supported: edgesearch stores float32", field, *p.Datatype)
	}
	if err := unsupported(field+".multivector_config", p.MultivectorConfig, "multivectors"); err != nil {
		return store.VectorParams{}, err
	}
	return store.VectorParams{Size: int(*p.Size), Distance: d}, nil
}

// qdrantCollectionError rewords the engine's errors about the collection
// itself the way Qdrant words them, which some integrations match on. A
// not-found error is about the collection only when it is missing: a
// point or vector may be missing from one that exists.
func qdrantCollectionError(vs vectorStore, name string, err error) error {
	switch {
	case errors.Is(err, store.ErrExists):
		return &requestError{store.ErrExists, fmt.Sprintf("Collection `%s` already exists!", name)}
	case errors.Is(err, store.ErrNotFound):
		if _, cerr := vs.Info(name); errors.Is(cerr, store.ErrNotFound) {
			return &requestError{store.ErrNotFound, fmt.Sprintf("Collection `%s` doesn't exist!", name)}
		}
	}
	return err
}

// handleQdrantUpdateCollection serves PATCH /collections/{name}: accepted
// and ignored (every field there tunes storage or indexing), for a
// collection that exists.
func (s *Server) handleQdrantUpdateCollection(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	var req map[string]json.RawMessage
	if err := s.readJSON(c, &req); err != nil {
		s.qdrantAbort(c, err)
		return
	}
	for _, field := range []string{"sparse_vectors", "metadata"} {
		if err := unsupported(field, req[field], field); err != nil {
			s.qdrantAbort(c, err)
			return
		}
	}
	if _, err := vs.Info(c.Param("collection")); err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
		return
	}
	qdrantOK(c, true)
}

func (s *Server) handleQdrantDeleteCollection(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	dropped, err := vs.Drop(c.Request.Context(), c.Param("collection"))
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	qdrantOK(c, dropped)
}

type qdrantCollectionsList struct {
	Collections []qdrantCollectionName `json:"collections"`
}

type qdrantCollectionName struct {
	Name string `json:"name"`
}

func (s *Server) handleQdrantListCollections(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	infos, err := vs.List()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	out := qdrantCollectionsList{Collections: make([]qdrantCollectionName, len(infos))}
	for i, ci := range infos {
		out.Collections[i] = qdrantCollectionName{Name: ci.Name}
	}
	qdrantOK(c, out)
}

func (s *Server) handleQdrantCollectionExists(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	_, err = vs.Info(c.Param("collection"))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.qdrantAbort(c, err)
		return
	}
	qdrantOK(c, gin.H{"exists": err == nil})
}

// qdrantCollectionInfo is GET /collections/{name} in Qdrant's shape, with
// every field its clients require. One segment, always green, every
// vector indexed: the HNSW graph is kept up to date on each write.
type qdrantCollectionInfo struct {
	Status              string                 `json:"status"`
	OptimizerStatus     string                 `json:"optimizer_status"`
	IndexedVectorsCount int                    `json:"indexed_vectors_count"`
	PointsCount         int                    `json:"points_count"`
	SegmentsCount       int                    `json:"segments_count"`
	Config              qdrantCollectionConfig `json:"config"`
	PayloadSchema       map[string]any         `json:"payload_schema"`
}

type qdrantCollectionConfig struct {
	Params          qdrantCollectionParams `json:"params"`
	HNSWConfig      qdrantHNSWConfig       `json:"hnsw_config"`
	OptimizerConfig qdrantOptimizerConfig  `json:"optimizer_config"`
	WALConfig       qdrantWALConfig        `json:"wal_config"`
}

type qdrantCollectionParams struct {
	Vectors                any  `json:"vectors"`
	ShardNumber            int  `json:"shard_number"`
	ReplicationFactor      int  `json:"replication_factor"`
	WriteConsistencyFactor int  `json:"write_consistency_factor"`
	OnDiskPayload          bool `json:"on_disk_payload"`
}

type qdrantVectorParamsOut struct {
	Size     int            `json:"size"`
	Distance store.Distance `json:"distance"`
}

type qdrantHNSWConfig struct {
	M                 int `json:"m"`
	EfConstruct       int `json:"ef_construct"`
	FullScanThreshold int `json:"full_scan_threshold"`
}

type qdrantOptimizerConfig struct {
	DeletedThreshold      float64 `json:"deleted_threshold"`
	VacuumMinVectorNumber int     `json:"vacuum_min_vector_number"`
	DefaultSegmentNumber  int     `json:"default_segment_number"`
	FlushIntervalSec      int     `json:"flush_interval_sec"`
}

type qdrantWALConfig struct {
	WALCapacityMB    int `json:"wal_capacity_mb"`
	WALSegmentsAhead int `json:"wal_segments_ahead"`
}

func (s *Server) handleQdrantGetCollection(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	ci, err := vs.Info(c.Param("collection"))
	if err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
		return
	}
	info := newQdrantCollectionInfo(ci)
	counts, err := vs.PayloadIndexCounts(ci.Name)
	if err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
		return
	}
	for field, f := range counts {
		info.PayloadSchema[field] = qdrantPayloadIndexInfo{DataType: f.Schema, Points: max(f.Points, 0)}
	}
	qdrantOK(c, info)
}

// qdrantPayloadIndexInfo is one entry of payload_schema. Points is how many
// points hold the field; 0 for a schema that is recorded but not indexed
// (float, datetime, text, geo), whose filters scan.
type qdrantPayloadIndexInfo struct {
	DataType string `json:"data_type"`
	Points   int    `json:"points"`
}

func newQdrantCollectionInfo(ci store.CollectionInfo) qdrantCollectionInfo {
	var vectors any
	if p, ok := ci.Vectors[""]; ok && len(ci.Vectors) == 1 {
		vectors = qdrantVectorParamsOut{Size: p.Size, Distance: p.Distance}
	} else {
		named := make(map[string]qdrantVectorParamsOut, len(ci.Vectors))
		for name, p := range ci.Vectors {
			named[name] = qdrantVectorParamsOut{Size: p.Size, Distance: p.Distance}
		}
		vectors = named
	}
	return qdrantCollectionInfo{
		Status:              "green",
		OptimizerStatus:     "ok",
		IndexedVectorsCount: ci.Points * len(ci.Vectors),
		PointsCount:         ci.Points,
		SegmentsCount:       1,
		Config: qdrantCollectionConfig{
			Params: qdrantCollectionParams{Vectors: vectors, ShardNumber: 1, ReplicationFactor: 1,
				WriteConsistencyFactor: 1, OnDiskPayload: true},
			// The search package's defaults; the payload has no index to
			// fall back to a scan for, so no threshold applies.
			HNSWConfig:      qdrantHNSWConfig{M: search.DefaultM, EfConstruct: search.DefaultEfConstruction},
			OptimizerConfig: qdrantOptimizerConfig{DefaultSegmentNumber: 1, FlushIntervalSec: 0},
			WALConfig:       qdrantWALConfig{},
		},
		PayloadSchema: map[string]any{},
	}
}

// qdrantCreateIndex is PUT /collections/{name}/index. Every filter works
// without an index; a keyword, integer, bool or uuid index makes a filter
// that matches values of the field start from the points holding them (see
// search/collections_index.go). field_schema is a schema name or an object
// with its "type", as in Qdrant; the other schemas are recorded only.
type qdrantCreateIndex struct {
	FieldName   *string         `json:"field_name"`
	FieldSchema json.RawMessage `json:"field_schema"`
}

func (s *Server) handleQdrantCreateIndex(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	var req qdrantCreateIndex
	if err := s.readJSON(c, &req); err != nil {
		s.qdrantAbort(c, err)
		return
	}
	if req.FieldName == nil || *req.FieldName == "" {
		s.qdrantAbort(c, badRequest(`"field_name" is missing`))
		return
	}
	schema, err := fieldSchemaName(req.FieldSchema)
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	if err := vs.CreatePayloadIndex(c.Request.Context(), c.Param("collection"), *req.FieldName, schema); err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
		return
	}
	qdrantUpdated(c)
}

// fieldSchemaName reads create_payload_index's field_schema: "keyword" or
// {"type": "keyword", ...}; absent, Qdrant infers it from the data, which
// we take as keyword (the index then holds the field's strings).
func fieldSchemaName(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "keyword", nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err == nil {
		return name, nil
	}
	var obj struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Type == "" {
		return "", badRequest(`"field_schema": want a schema name such as "keyword", or an object with its "type"`)
	}
	return obj.Type, nil
}

// handleQdrantDeleteIndex is DELETE /collections/{name}/index/{field}.
func (s *Server) handleQdrantDeleteIndex(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	if err := vs.DeletePayloadIndex(c.Request.Context(), c.Param("collection"), c.Param("field")); err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
		return
	}
	qdrantUpdated(c)
}

// sortedNames returns a map's keys in order, for deterministic messages.
func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
