package weaviate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// The properties every class has besides the flattened payload paths.
const (
	// propPayload holds the payload's JSON verbatim, unindexed.
	propPayload = "es_payload"
	// propText holds the point's text (search.PointText), word-tokenized
	// for BM25 and hybrid search, not filterable.
	propText = "es_text"
	// classPrefix starts every class this package makes for a collection
	// of points, documentsPrefix every one it makes for a device's
	// documents (DocumentsIndex); descPrefix starts its description,
	// followed by the collection's JSON.
	classPrefix     = "Es_"
	documentsPrefix = "Esdoc_"
	descPrefix      = "edgesearch collection "
)

// ClassName returns the Weaviate class of a collection: "Es_" and the name
// with '_' written "__", '.' "_d", '-' "_h" and an upper-case letter X "_x"
// in lower case. Weaviate compares class names without regard to case and
// allows only letters, digits and '_'; the escape keeps distinct names
// distinct.
func ClassName(collection string) string {
	var b strings.Builder
	b.WriteString(classPrefix)
	escapeName(&b, collection)
	return b.String()
}

// className is the class of collection for this client: ClassName's, or
// with the documents' prefix (DocumentsIndex).
func (c *Client) className(collection string) string {
	if !c.documents {
		return ClassName(collection)
	}
	var b strings.Builder
	b.WriteString(documentsPrefix)
	escapeName(&b, collection)
	return b.String()
}

func (c *Client) classPrefix() string {
	if c.documents {
		return documentsPrefix
	}
	return classPrefix
}

func escapeName(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			b.WriteString("__")
		case c == '.':
			b.WriteString("_d")
		case c == '-':
			b.WriteString("_h")
		case 'A' <= c && c <= 'Z':
			b.WriteByte('_')
			b.WriteByte(c + 'a' - 'A')
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			b.WriteByte(c)
		default:
			fmt.Fprintf(b, "_x%02x", c)
		}
	}
}

// vectorName is the Weaviate named vector of one of ours: "v_" for the
// unnamed vector, "v_" and the escaped name for a named one.
func vectorName(name string) string {
	var b strings.Builder
	b.WriteString("v_")
	escapeName(&b, name)
	return b.String()
}

// distanceName maps our distance to Weaviate's.
func distanceName(d store.Distance) (string, error) {
	switch d {
	case store.Cosine:
		return "cosine", nil
	case store.Dot:
		return "dot", nil
	case store.Euclid:
		return "l2-squared", nil
	}
	return "", fmt.Errorf("distance %d: %w", d, store.ErrInvalid)
}

// Score turns a Weaviate distance into our score: cosine similarity
// (1 − distance), dot product (−distance) or Euclidean distance (the square
// root of l2-squared).
func Score(d store.Distance, distance float64) float32 {
	switch d {
	case store.Dot:
		return float32(-distance)
	case store.Euclid:
		return float32(math.Sqrt(max(distance, 0)))
	}
	return float32(1 - distance)
}

// maxDistance is the Weaviate distance that keeps scores passing our
// threshold t: at least t for cosine and dot, at most t for Euclid.
func maxDistance(d store.Distance, t float32) float64 {
	switch d {
	case store.Dot:
		return -float64(t)
	case store.Euclid:
		if t < 0 {
			return -1
		}
		return float64(t) * float64(t)
	}
	return 1 - float64(t)
}

// Property kinds of one flattened payload path, the suffix of its name.
const (
	kindStrings = "s" // text[], field-tokenized, each value wrapped in '|'
	kindInts    = "i" // int[]
	kindNumbers = "f" // number[] (numbers that are not int64 literals)
	kindBools   = "b" // boolean[]
	kindPresent = "p" // boolean: some value reached is neither null nor []
	kindNull    = "n" // boolean: some value reached is null
	kindMulti   = "m" // boolean: more than one number reached
	kindBig     = "x" // boolean: an integer beyond ±2^53 reached
)

// propName names the property of one kind of a payload path: "p_", up to
// 24 letters and digits of the path for people reading the schema, the
// kind, and 12 hex digits of a hash of the path (distinct paths that
// sanitize alike stay apart).
func propName(path []string, kind string) string {
	h := fnv.New64a()
	var slug strings.Builder
	for _, s := range path {
		h.Write([]byte(s))
		h.Write([]byte{0})
		for _, r := range s {
			if slug.Len() < 24 && (r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')) {
				slug.WriteRune(r)
			}
		}
	}
	return fmt.Sprintf("p_%s_%s_%012x", slug.String(), kind, h.Sum64()>>16)
}

// classInfo is what a client knows of one class.
type classInfo struct {
	collection string
	vectors    map[string]store.VectorParams
	props      map[string]bool
	created    time.Time
	replicas   int // the replication factor
}

// classDesc is the JSON kept in a class's description: what Weaviate's
// schema does not hold (vector sizes, our names).
type classDesc struct {
	Collection string                        `json:"collection"`
	Vectors    map[string]store.VectorParams `json:"vectors"`
	Created    time.Time                     `json:"created"`
}

type wProperty struct {
	Name            string   `json:"name"`
	DataType        []string `json:"dataType"`
	Description     string   `json:"description,omitempty"`
	Tokenization    string   `json:"tokenization,omitempty"`
	IndexFilterable *bool    `json:"indexFilterable,omitempty"`
	IndexSearchable *bool    `json:"indexSearchable,omitempty"`
}

type wClass struct {
	Class             string         `json:"class"`
	Description       string         `json:"description,omitempty"`
	Properties        []wProperty    `json:"properties,omitempty"`
	VectorConfig      map[string]any `json:"vectorConfig,omitempty"`
	ReplicationConfig map[string]any `json:"replicationConfig,omitempty"`
}

func boolp(b bool) *bool { return &b }

// Create makes the class of a collection whose points have these vectors
// (the unnamed vector "" alone, or named ones; sizes 1 to 65536). It fails
// with ErrExists when the class exists, and wraps store.ErrInvalid for bad
// vectors.
func (c *Client) Create(ctx context.Context, collection string, vectors map[string]store.VectorParams) (store.CollectionInfo, error) {
	if err := store.CheckCollectionName(collection); err != nil {
		return store.CollectionInfo{}, err
	}
	if len(vectors) == 0 {
		return store.CollectionInfo{}, fmt.Errorf("collection %q: no vectors: %w", collection, store.ErrInvalid)
	}
	if _, ok := vectors[""]; ok && len(vectors) > 1 {
		return store.CollectionInfo{}, fmt.Errorf("collection %q: the unnamed vector beside named ones: %w", collection, store.ErrInvalid)
	}
	vc := map[string]any{}
	for name, vp := range vectors {
		dist, err := distanceName(vp.Distance)
		if err != nil {
			return store.CollectionInfo{}, fmt.Errorf("collection %q vector %q: %w", collection, name, err)
		}
		if vp.Size < 1 || vp.Size > 65536 {
			return store.CollectionInfo{}, fmt.Errorf("collection %q vector %q: size %d: %w", collection, name, vp.Size, store.ErrInvalid)
		}
		vc[vectorName(name)] = map[string]any{
			"vectorizer":        map[string]any{"none": map[string]any{}},
			"vectorIndexType":   "hnsw",
			"vectorIndexConfig": map[string]any{"distance": dist},
		}
	}
	created := time.Now().UTC().Truncate(time.Millisecond)
	desc, _ := json.Marshal(classDesc{Collection: collection, Vectors: vectors, Created: created})
	cl := wClass{
		Class:        c.className(collection),
		Description:  descPrefix + string(desc),
		VectorConfig: vc,
		Properties: []wProperty{
			{Name: propPayload, DataType: []string{"text"}, Description: "the payload as JSON", IndexFilterable: boolp(false), IndexSearchable: boolp(false)},
			{Name: propText, DataType: []string{"text"}, Description: "the point's text, for BM25", Tokenization: "word", IndexFilterable: boolp(false), IndexSearchable: boolp(true)},
		},
	}
	if c.opts.ReplicationFactor > 0 {
		// Async replication compares the replicas in the background and
		// copies what one lacks, so a node that was down catches up
		// without waiting for reads to repair it.
		cl.ReplicationConfig = map[string]any{"factor": c.opts.ReplicationFactor, "asyncEnabled": c.opts.ReplicationFactor > 1}
	}
	if err := c.do(ctx, "create class "+cl.Class, http.MethodPost, "/v1/schema", nil, cl, nil); err != nil {
		return store.CollectionInfo{}, err
	}
	info := &classInfo{collection: collection, vectors: vectors, created: created, props: map[string]bool{propPayload: true, propText: true}, replicas: max(1, c.opts.ReplicationFactor)}
	c.cache.mu.Lock()
	c.cache.classes[cl.Class] = info
	c.cache.mu.Unlock()
	return store.CollectionInfo{Name: collection, Vectors: vectors, Created: created}, nil
}

// Drop deletes a collection's class and its objects; false when there was
// none.
func (c *Client) Drop(ctx context.Context, collection string) (bool, error) {
	class := c.className(collection)
	if _, err := c.class(ctx, collection, false); errors.Is(err, ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	c.cache.mu.Lock()
	delete(c.cache.classes, class)
	c.cache.mu.Unlock()
	err := c.do(ctx, "delete class "+class, http.MethodDelete, "/v1/schema/"+url.PathEscape(class), nil, nil, nil)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Info describes a collection (name, vectors, creation time; Points is
// Count's) or fails with ErrNotFound.
func (c *Client) Info(ctx context.Context, collection string) (store.CollectionInfo, error) {
	ci, err := c.class(ctx, collection, true)
	if err != nil {
		return store.CollectionInfo{}, err
	}
	n, err := c.Count(ctx, collection, nil)
	if err != nil {
		return store.CollectionInfo{}, err
	}
	return store.CollectionInfo{Name: collection, Vectors: ci.vectors, Points: n, Created: ci.created}, nil
}

// List describes every collection this package made on the server, in
// name order (without point counts).
func (c *Client) List(ctx context.Context) ([]store.CollectionInfo, error) {
	var schema struct {
		Classes []json.RawMessage `json:"classes"`
	}
	if err := c.do(ctx, "list classes", http.MethodGet, "/v1/schema", nil, nil, &schema); err != nil {
		return nil, err
	}
	var out []store.CollectionInfo
	for _, raw := range schema.Classes {
		ci, err := decodeClass(raw, c.classPrefix())
		if err != nil {
			continue // not one of ours
		}
		out = append(out, store.CollectionInfo{Name: ci.collection, Vectors: ci.vectors, Created: ci.created})
	}
	slices.SortFunc(out, func(a, b store.CollectionInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// decodeClass reads a class this package made; any other is an error.
func decodeClass(raw []byte, prefix string) (*classInfo, error) {
	var cl struct {
		Class       string `json:"class"`
		Description string `json:"description"`
		Properties  []struct {
			Name string `json:"name"`
		} `json:"properties"`
		ReplicationConfig struct {
			Factor int `json:"factor"`
		} `json:"replicationConfig"`
	}
	if err := json.Unmarshal(raw, &cl); err != nil {
		return nil, err
	}
	d, ok := strings.CutPrefix(cl.Description, descPrefix)
	if !ok || !strings.HasPrefix(cl.Class, prefix) {
		return nil, fmt.Errorf("class %s was not made by edgesearch", cl.Class)
	}
	var desc classDesc
	if err := json.Unmarshal([]byte(d), &desc); err != nil {
		return nil, fmt.Errorf("class %s: description: %w", cl.Class, err)
	}
	ci := &classInfo{collection: desc.Collection, vectors: desc.Vectors, created: desc.Created, props: map[string]bool{}, replicas: cl.ReplicationConfig.Factor}
	for _, p := range cl.Properties {
		ci.props[p.Name] = true
	}
	return ci, nil
}

// class returns what is known of a collection's class, from the cache
// unless refresh is set or it is not cached; ErrNotFound when the server
// has no such class.
func (c *Client) class(ctx context.Context, collection string, refresh bool) (*classInfo, error) {
	class := c.className(collection)
	c.cache.mu.Lock()
	ci := c.cache.classes[class]
	c.cache.mu.Unlock()
	if ci != nil && !refresh {
		return ci, nil
	}
	var raw json.RawMessage
	if err := c.do(ctx, "get class "+class, http.MethodGet, "/v1/schema/"+url.PathEscape(class), nil, nil, &raw); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("collection %q: %w", collection, ErrNotFound)
		}
		return nil, err
	}
	ci, err := decodeClass(raw, c.classPrefix())
	if err != nil {
		return nil, fmt.Errorf("collection %q: %w", collection, err)
	}
	c.cache.mu.Lock()
	c.cache.classes[class] = ci
	c.cache.mu.Unlock()
	return ci, nil
}

// translate translates a filter over the class's properties. When some
// condition was decided by a property the cache lacks, another client may
// have added it since: the class is read again and the filter translated
// once more.
func (c *Client) translate(ctx context.Context, collection string, ci *classInfo, f *search.Filter) (Translation, error) {
	tr, missed, err := translate(f, c.propSet(ci))
	if !missed {
		return tr, err
	}
	fresh, ferr := c.class(ctx, collection, true)
	if ferr != nil {
		return Translation{}, ferr
	}
	tr, _, err = translate(f, c.propSet(fresh))
	return tr, err
}

// propSet returns a copy of the class's property set.
func (c *Client) propSet(ci *classInfo) map[string]bool {
	c.cache.mu.Lock()
	defer c.cache.mu.Unlock()
	m := make(map[string]bool, len(ci.props))
	for k := range ci.props {
		m[k] = true
	}
	return m
}

// ensureProps adds to the class the properties it lacks. Another client may
// add the same property at the same time; Weaviate then answers that it
// exists, which is success here.
func (c *Client) ensureProps(ctx context.Context, class string, ci *classInfo, need map[string]wProperty) error {
	c.cache.mu.Lock()
	var missing []wProperty
	for name, p := range need {
		if !ci.props[name] {
			missing = append(missing, p)
		}
	}
	c.cache.mu.Unlock()
	slices.SortFunc(missing, func(a, b wProperty) int { return strings.Compare(a.Name, b.Name) })
	for _, p := range missing {
		err := c.do(ctx, "add property "+p.Name+" to "+class, http.MethodPost, "/v1/schema/"+url.PathEscape(class)+"/properties", nil, p, nil)
		if err != nil && !errors.Is(err, ErrExists) && !strings.Contains(err.Error(), "already exists") {
			return err
		}
		c.cache.mu.Lock()
		ci.props[p.Name] = true
		c.cache.mu.Unlock()
	}
	return nil
}
