package weaviate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// Bounds on one call.
const (
	// MaxPage is the most points Get, Scroll and a query return, and the
	// most ids one delete request names: Weaviate's default
	// QUERY_MAXIMUM_RESULTS.
	MaxPage = 10000
)

// Upsert writes points into a collection, replacing those with the same
// ids, in batches of Options.BatchSize. Each point must have exactly the
// collection's vectors at their sizes, and an id ObjectID maps (else
// store.ErrInvalid or ErrUnmappableID, before anything is written). The
// payload paths are added to the class as properties first (see
// flatten). When some objects of a batch fail, it returns an error naming
// the first failure; the others of that batch may be written.
func (c *Client) Upsert(ctx context.Context, collection string, pts []store.Point) error {
	ci, err := c.class(ctx, collection, false)
	if err != nil {
		return err
	}
	class := c.className(collection)
	objs := make([]map[string]any, 0, len(pts))
	need := map[string]wProperty{}
	for i, p := range pts {
		id, err := ObjectID(p.ID)
		if err != nil {
			return fmt.Errorf("upsert into %q: point %d: %w", collection, i, err)
		}
		if err := checkVectors(ci.vectors, p.Vectors); err != nil {
			return fmt.Errorf("upsert into %q: point %v: %w", collection, p.ID, err)
		}
		fl, err := flatten(p.Payload)
		if err != nil {
			return fmt.Errorf("upsert into %q: point %v: %w: %w", collection, p.ID, err, store.ErrInvalid)
		}
		for n, pr := range fl.props {
			need[n] = pr
		}
		vecs := make(map[string][]float32, len(p.Vectors))
		for name, v := range p.Vectors {
			vecs[vectorName(name)] = v
		}
		objs = append(objs, map[string]any{"class": class, "id": id, "vectors": vecs, "properties": fl.values})
	}
	if err := c.ensureProps(ctx, class, ci, need); err != nil {
		return fmt.Errorf("upsert into %q: %w", collection, err)
	}
	for start := 0; start < len(objs); start += c.opts.BatchSize {
		batch := objs[start:min(start+c.opts.BatchSize, len(objs))]
		op := fmt.Sprintf("batch upsert of %d objects into %s", len(batch), class)
		// A class or property just made is committed by the schema's Raft
		// leader before every node has applied it; a replica that has not
		// yet refuses the write. Writing again is idempotent, so such a
		// batch is retried a bounded number of times.
		for attempt := 0; ; attempt++ {
			err := c.upsertBatch(ctx, op, batch)
			if err == nil {
				break
			}
			if attempt >= schemaRetries || !schemaLag(err) {
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (waiting for the schema to reach every node: %w)", err, ctx.Err())
			case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
			}
		}
	}
	return nil
}

// schemaRetries bounds the retries of a batch that met a node without the
// class or property yet: about 10 s in all.
const schemaRetries = 12

// schemaLag reports whether an object error says a node has not applied
// the schema yet.
func schemaLag(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return strings.Contains(e.Message, "could not find index") || strings.Contains(e.Message, "no such prop") ||
		strings.Contains(e.Message, "no bucket for prop")
}

// upsertBatch sends one batch and returns the first object's error.
func (c *Client) upsertBatch(ctx context.Context, op string, batch []map[string]any) error {
	var results []struct {
		ID     string `json:"id"`
		Result struct {
			Errors *struct {
				Error []struct {
					Message string `json:"message"`
				} `json:"error"`
			} `json:"errors"`
		} `json:"result"`
	}
	if err := c.do(ctx, op, http.MethodPost, "/v1/batch/objects", c.consistencyQuery(), map[string]any{"objects": batch}, &results); err != nil {
		return err
	}
	for _, r := range results {
		if r.Result.Errors != nil && len(r.Result.Errors.Error) > 0 {
			return &Error{Op: op + ": object " + r.ID, Message: r.Result.Errors.Error[0].Message}
		}
	}
	return nil
}

// checkVectors checks a point has exactly the collection's vectors.
func checkVectors(want map[string]store.VectorParams, got map[string][]float32) error {
	for name, vp := range want {
		v, ok := got[name]
		if !ok {
			return fmt.Errorf("no vector %q: %w", name, store.ErrInvalid)
		}
		if len(v) != vp.Size {
			return fmt.Errorf("vector %q has %d dimensions, want %d: %w", name, len(v), vp.Size, store.ErrInvalid)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			return fmt.Errorf("vector %q is not one of the collection's: %w", name, store.ErrInvalid)
		}
	}
	return nil
}

// Delete removes the points with these ids and returns how many existed.
func (c *Client) Delete(ctx context.Context, collection string, ids []store.PointID) (int, error) {
	total := 0
	for start := 0; start < len(ids); start += MaxPage {
		var uuids []string
		for _, id := range ids[start:min(start+MaxPage, len(ids))] {
			if u, err := ObjectID(id); err == nil {
				uuids = append(uuids, u)
			}
		}
		if len(uuids) == 0 {
			continue
		}
		n, err := c.deleteWhere(ctx, collection, &Where{Operator: "ContainsAny", Path: []string{"id"}, ValueTextArray: uuids})
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// DeleteWhere removes the points the filter matches and returns how many.
// A filter Translate refuses fails with ErrUnsupportedFilter, deleting
// nothing.
func (c *Client) DeleteWhere(ctx context.Context, collection string, f *search.Filter) (int, error) {
	ci, err := c.class(ctx, collection, false)
	if err != nil {
		return 0, err
	}
	tr, err := c.translate(ctx, collection, ci, f)
	switch {
	case err != nil:
		return 0, fmt.Errorf("delete from %q: %w", collection, err)
	case tr.None:
		return 0, nil
	case tr.All:
		// Weaviate's batch delete needs a where; every object has an id.
		tr.Where = &Where{Operator: "Like", Path: []string{"id"}, ValueText: ptr("*")}
	}
	return c.deleteWhere(ctx, collection, tr.Where)
}

// deleteWhere runs batch deletes until one matches fewer objects than the
// server's limit per request.
func (c *Client) deleteWhere(ctx context.Context, collection string, w *Where) (int, error) {
	class := c.className(collection)
	total := 0
	for {
		var resp struct {
			Results struct {
				Matches    int `json:"matches"`
				Limit      int `json:"limit"`
				Successful int `json:"successful"`
				Failed     int `json:"failed"`
				Objects    []struct {
					ID     string `json:"id"`
					Errors *struct {
						Error []struct {
							Message string `json:"message"`
						} `json:"error"`
					} `json:"errors"`
				} `json:"objects"`
			} `json:"results"`
		}
		body := map[string]any{"match": map[string]any{"class": class, "where": w}, "output": "minimal", "dryRun": false}
		op := "batch delete from " + class
		if err := c.do(ctx, op, http.MethodDelete, "/v1/batch/objects", c.consistencyQuery(), body, &resp); err != nil {
			return total, err
		}
		r := resp.Results
		total += r.Successful
		if r.Failed > 0 {
			msg := fmt.Sprintf("%d of %d objects failed", r.Failed, r.Matches)
			for _, o := range r.Objects {
				if o.Errors != nil && len(o.Errors.Error) > 0 {
					msg += ": " + o.Errors.Error[0].Message
					break
				}
			}
			return total, &Error{Op: op, Message: msg}
		}
		if r.Limit == 0 || r.Matches < r.Limit || r.Successful == 0 {
			return total, nil
		}
	}
}

// Get returns the points with these ids that exist, in no particular
// order. A GraphQL search reads one replica of each shard, which may lack
// a point (a node that was down when it was written); so at a consistency
// level, the ids it does not find are read again one by one through
// Weaviate's object API, whose coordinator asks the replicas the level
// requires and repairs the stale ones.
func (c *Client) Get(ctx context.Context, collection string, ids []store.PointID, withPayload, withVectors bool) ([]store.Point, error) {
	ci, err := c.class(ctx, collection, false)
	if err != nil {
		return nil, err
	}
	var out []store.Point
	for start := 0; start < len(ids); start += MaxPage {
		var uuids []string
		for _, id := range ids[start:min(start+MaxPage, len(ids))] {
			if u, err := ObjectID(id); err == nil {
				uuids = append(uuids, u)
			}
		}
		if len(uuids) == 0 {
			continue
		}
		args := getArgs{limit: len(uuids), where: &Where{Operator: "ContainsAny", Path: []string{"id"}, ValueTextArray: uuids}}
		hits, err := c.get(ctx, collection, ci, args, withPayload, withVectors)
		if err != nil {
			return nil, err
		}
		found := make(map[store.PointID]bool, len(hits))
		for _, h := range hits {
			out = append(out, h.point)
			found[h.point.ID] = true
		}
		if c.consis == "" || ci.replicas < 2 {
			continue
		}
		for _, u := range uuids {
			id, _ := PointID(u)
			if found[id] {
				continue
			}
			p, ok, err := c.getObject(ctx, collection, ci, u, withPayload, withVectors)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// getObject reads one object through the REST object API at the client's
// consistency level; false when no replica has it.
func (c *Client) getObject(ctx context.Context, collection string, ci *classInfo, uuid string, withPayload, withVectors bool) (store.Point, bool, error) {
	class := c.className(collection)
	q := c.consistencyQuery()
	if withVectors {
		q.Set("include", "vector")
	}
	var obj struct {
		ID         string `json:"id"`
		Properties struct {
			Payload *string `json:"es_payload"`
		} `json:"properties"`
		Vectors map[string]json.RawMessage `json:"vectors"`
	}
	err := c.do(ctx, "get object "+uuid+" from "+class, http.MethodGet, "/v1/objects/"+url.PathEscape(class)+"/"+uuid, q, nil, &obj)
	if errors.Is(err, ErrNotFound) {
		return store.Point{}, false, nil
	}
	if err != nil {
		return store.Point{}, false, err
	}
	id, err := PointID(obj.ID)
	if err != nil {
		return store.Point{}, false, fmt.Errorf("weaviate get object from %s: %w", class, err)
	}
	p := store.Point{ID: id}
	if withPayload && obj.Properties.Payload != nil && *obj.Properties.Payload != "" {
		p.Payload = []byte(*obj.Properties.Payload)
	}
	if withVectors {
		p.Vectors = make(map[string][]float32, len(ci.vectors))
		for name := range ci.vectors {
			var v []float32
			if raw := obj.Vectors[vectorName(name)]; len(raw) > 0 {
				if err := json.Unmarshal(raw, &v); err != nil {
					return store.Point{}, false, fmt.Errorf("weaviate get object from %s: vector %q: %w", class, name, err)
				}
			}
			p.Vectors[name] = v
		}
	}
	return p, true, nil
}

// Scroll returns up to limit points (1 to MaxPage; 0 takes
// search.DefaultQueryLimit) that pass f, in id order from the id from (nil:
// the first), and the id to continue from (nil at the end). Without a
// filter it follows Weaviate's cursor; with one it sorts the matches by id,
// which costs Weaviate more.
func (c *Client) Scroll(ctx context.Context, collection string, f *search.Filter, from *store.PointID, limit int, withPayload, withVectors bool) ([]store.Point, *store.PointID, error) {
	if limit == 0 {
		limit = search.DefaultQueryLimit
	}
	if limit < 1 || limit > MaxPage-1 {
		return nil, nil, fmt.Errorf("scroll %q: limit %d: want 1 to %d: %w", collection, limit, MaxPage-1, store.ErrInvalid)
	}
	ci, err := c.class(ctx, collection, false)
	if err != nil {
		return nil, nil, err
	}
	tr, err := c.translate(ctx, collection, ci, f)
	if err != nil {
		return nil, nil, fmt.Errorf("scroll %q: %w", collection, err)
	}
	if tr.None {
		return nil, nil, nil
	}
	args := getArgs{limit: limit + 1}
	var start string
	if from != nil {
		if start, err = ObjectID(*from); err != nil {
			return nil, nil, fmt.Errorf("scroll %q: %w", collection, err)
		}
	}
	if tr.Where == nil {
		if start != "" {
			args.after, _ = predecessor(start)
		}
		args.cursor = true
	} else {
		args.where = tr.Where
		if start != "" {
			args.where = &Where{Operator: "And", Operands: []Where{*tr.Where, {Operator: "GreaterThanEqual", Path: []string{"id"}, ValueText: &start}}}
		}
		args.sortByID = true
	}
	hits, err := c.get(ctx, collection, ci, args, withPayload, withVectors)
	if err != nil {
		return nil, nil, err
	}
	pts := make([]store.Point, 0, len(hits))
	for _, h := range hits {
		pts = append(pts, h.point)
	}
	if len(pts) > limit {
		next := pts[limit].ID
		return pts[:limit], &next, nil
	}
	return pts, nil, nil
}

// Count returns how many points pass the filter (Aggregate's meta count).
func (c *Client) Count(ctx context.Context, collection string, f *search.Filter) (int, error) {
	ci, err := c.class(ctx, collection, false)
	if err != nil {
		return 0, err
	}
	tr, err := c.translate(ctx, collection, ci, f)
	if err != nil {
		return 0, fmt.Errorf("count %q: %w", collection, err)
	}
	if tr.None {
		return 0, nil
	}
	class := c.className(collection)
	var q strings.Builder
	q.WriteString("{Aggregate{")
	q.WriteString(class)
	if tr.Where != nil {
		q.WriteString("(where:")
		tr.Where.graphQL(&q)
		q.WriteString(")")
	}
	q.WriteString("{meta{count}}}}")
	var data struct {
		Aggregate map[string][]struct {
			Meta struct {
				Count int `json:"count"`
			} `json:"meta"`
		} `json:"Aggregate"`
	}
	if err := c.graphql(ctx, "count "+class, q.String(), &data); err != nil {
		return 0, err
	}
	rows := data.Aggregate[class]
	if len(rows) == 0 {
		return 0, nil
	}
	return rows[0].Meta.Count, nil
}

// getArgs are the arguments of one GraphQL Get.
type getArgs struct {
	limit, offset int
	where         *Where
	after         string // cursor: objects after this id
	cursor        bool   // paging by cursor (after may be "" for the start)
	sortByID      bool
	nearVector    []float32
	target        string
	distance      *float64
	bm25          *string
	hybrid        *hybridArgs
}

type hybridArgs struct {
	query  string
	vector []float32
}

type hit struct {
	point    store.Point
	distance *float64
	score    *float64
}

// get runs one GraphQL Get on the collection's class.
func (c *Client) get(ctx context.Context, collection string, ci *classInfo, a getArgs, withPayload, withVectors bool) ([]hit, error) {
	class := c.className(collection)
	var q strings.Builder
	q.WriteString("{Get{")
	q.WriteString(class)
	q.WriteString("(")
	fmt.Fprintf(&q, "limit:%d", a.limit)
	if a.offset > 0 {
		fmt.Fprintf(&q, ",offset:%d", a.offset)
	}
	if a.cursor && a.after != "" {
		q.WriteString(",after:")
		writeJSON(&q, a.after)
	}
	if a.where != nil {
		q.WriteString(",where:")
		a.where.graphQL(&q)
	}
	if a.sortByID {
		q.WriteString(`,sort:[{path:["_id"],order:asc}]`)
	}
	if a.nearVector != nil {
		q.WriteString(",nearVector:{vector:")
		writeJSON(&q, a.nearVector)
		q.WriteString(",targetVectors:")
		writeJSON(&q, []string{a.target})
		if a.distance != nil {
			q.WriteString(",distance:")
			writeJSON(&q, *a.distance)
		}
		q.WriteString("}")
	}
	if a.bm25 != nil {
		q.WriteString(",bm25:{query:")
		writeJSON(&q, *a.bm25)
		q.WriteString(`,properties:["` + propText + `"]}`)
	}
	if h := a.hybrid; h != nil {
		q.WriteString(",hybrid:{query:")
		writeJSON(&q, h.query)
		q.WriteString(",vector:")
		writeJSON(&q, h.vector)
		fmt.Fprintf(&q, ",alpha:%g,fusionType:%s", c.opts.HybridAlpha, c.opts.HybridFusion)
		q.WriteString(`,properties:["` + propText + `"],targetVectors:`)
		writeJSON(&q, []string{a.target})
		q.WriteString("}")
	}
	// Weaviate's GraphQL has the argument only for replicated classes.
	if c.consis != "" && !a.cursor && ci.replicas > 1 {
		q.WriteString(",consistencyLevel:")
		q.WriteString(string(c.consis))
	}
	q.WriteString("){")
	if withPayload {
		q.WriteString(propPayload + " ")
	}
	q.WriteString("_additional{id")
	if a.nearVector != nil {
		q.WriteString(" distance")
	}
	if a.bm25 != nil || a.hybrid != nil {
		q.WriteString(" score")
	}
	if withVectors {
		q.WriteString(" vectors{")
		for name := range ci.vectors {
			q.WriteString(vectorName(name) + " ")
		}
		q.WriteString("}")
	}
	q.WriteString("}}}}")

	var data struct {
		Get map[string][]struct {
			Payload    *string `json:"es_payload"`
			Additional struct {
				ID       string                     `json:"id"`
				Distance *float64                   `json:"distance"`
				Score    json.RawMessage            `json:"score"`
				Vectors  map[string]json.RawMessage `json:"vectors"`
			} `json:"_additional"`
		} `json:"Get"`
	}
	if err := c.graphql(ctx, "get from "+class, q.String(), &data); err != nil {
		return nil, err
	}
	rows := data.Get[class]
	out := make([]hit, 0, len(rows))
	for _, r := range rows {
		id, err := PointID(r.Additional.ID)
		if err != nil {
			return nil, fmt.Errorf("weaviate get from %s: object %q: %w", class, r.Additional.ID, err)
		}
		h := hit{point: store.Point{ID: id}, distance: r.Additional.Distance}
		if r.Payload != nil && *r.Payload != "" {
			h.point.Payload = []byte(*r.Payload)
		}
		if s, ok := parseScore(r.Additional.Score); ok {
			h.score = &s
		}
		if withVectors {
			h.point.Vectors = make(map[string][]float32, len(ci.vectors))
			for name := range ci.vectors {
				var v []float32
				if raw := r.Additional.Vectors[vectorName(name)]; len(raw) > 0 {
					if err := json.Unmarshal(raw, &v); err != nil {
						return nil, fmt.Errorf("weaviate get from %s: vector %q: %w", class, name, err)
					}
				}
				h.point.Vectors[name] = v
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// parseScore reads _additional.score, which GraphQL answers as a string.
func parseScore(raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	var x float64
	if err := json.Unmarshal(raw, &x); err != nil {
		return 0, false
	}
	return x, true
}
