package web

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// withDocuments shows the documents as one more collection,
// search.DocumentsCollection, beside the collections of points: its points
// are the documents' chunks (see search/engine_points.go), read and searched
// through the Qdrant routes and the UI like any collection, and written only
// through the document routes, which chunk and embed. Until the engine is
// loaded the collection is absent.
type withDocuments struct {
	vectorStore
	engine func() *search.Engine
}

// errDocumentsReadOnly answers a write to the documents collection.
var errDocumentsReadOnly = fmt.Errorf("collection %q holds edgesearch's documents, chunked and embedded by edgesearch: "+
	"add or delete documents through POST /documents and DELETE /documents/{id} on the main port: %w",
	search.DocumentsCollection, store.ErrInvalid)

// errDocumentsLoading answers a read of the documents collection while the
// engine loads (HTTP 503).
var errDocumentsLoading = &requestError{ErrStarting, "the documents are still loading; retry shortly"}

// docs returns the engine, or an error while it loads, when name is the
// documents collection; ok is false for every other name.
func (w withDocuments) docs(name string) (e *search.Engine, ok bool, err error) {
	if name != search.DocumentsCollection {
		return nil, false, nil
	}
	if e = w.engine(); e == nil {
		return nil, true, errDocumentsLoading
	}
	return e, true, nil
}

func (w withDocuments) Create(ctx context.Context, name string, vectors map[string]store.VectorParams) (store.CollectionInfo, error) {
	if name == search.DocumentsCollection {
		return store.CollectionInfo{}, fmt.Errorf("create collection %q: it exists and holds edgesearch's documents: %w", name, store.ErrExists)
	}
	return w.vectorStore.Create(ctx, name, vectors)
}

func (w withDocuments) CreatePayloadIndex(ctx context.Context, name, field, schema string) error {
	if name == search.DocumentsCollection {
		return errDocumentsReadOnly
	}
	return w.vectorStore.CreatePayloadIndex(ctx, name, field, schema)
}

func (w withDocuments) DeletePayloadIndex(ctx context.Context, name, field string) error {
	if name == search.DocumentsCollection {
		return errDocumentsReadOnly
	}
	return w.vectorStore.DeletePayloadIndex(ctx, name, field)
}

func (w withDocuments) PayloadIndexCounts(name string) (map[string]search.IndexedField, error) {
	if name == search.DocumentsCollection {
		return nil, nil
	}
	return w.vectorStore.PayloadIndexCounts(name)
}

func (w withDocuments) Drop(ctx context.Context, name string) (bool, error) {
	if name == search.DocumentsCollection {
		return false, errDocumentsReadOnly
	}
	return w.vectorStore.Drop(ctx, name)
}

func (w withDocuments) Upsert(ctx context.Context, name string, pts []store.Point) error {
	if name == search.DocumentsCollection {
		return errDocumentsReadOnly
	}
	return w.vectorStore.Upsert(ctx, name, pts)
}

func (w withDocuments) Delete(ctx context.Context, name string, ids []store.PointID) (int, error) {
	if name == search.DocumentsCollection {
		return 0, errDocumentsReadOnly
	}
	return w.vectorStore.Delete(ctx, name, ids)
}

func (w withDocuments) DeleteWhere(ctx context.Context, name string, f *search.Filter) (int, error) {
	if name == search.DocumentsCollection {
		return 0, errDocumentsReadOnly
	}
	return w.vectorStore.DeleteWhere(ctx, name, f)
}

func (w withDocuments) UpdatePayload(ctx context.Context, name string, ids []store.PointID, f *search.Filter, op store.PayloadOp) (int, error) {
	if name == search.DocumentsCollection {
		return 0, errDocumentsReadOnly
	}
	return w.vectorStore.UpdatePayload(ctx, name, ids, f, op)
}

func (w withDocuments) Query(ctx context.Context, name string, q search.PointQuery) ([]search.ScoredPoint, error) {
	if e, ok, err := w.docs(name); ok {
		if err != nil {
			return nil, err
		}
		return e.QueryPoints(ctx, q)
	}
	return w.vectorStore.Query(ctx, name, q)
}

func (w withDocuments) Scroll(ctx context.Context, name string, f *search.Filter, from *store.PointID, limit int, withPayload, withVectors bool) ([]store.Point, *store.PointID, error) {
	if e, ok, err := w.docs(name); ok {
		if err != nil {
			return nil, nil, err
		}
		return e.ScrollPoints(ctx, f, from, limit, withPayload, withVectors)
	}
	return w.vectorStore.Scroll(ctx, name, f, from, limit, withPayload, withVectors)
}

func (w withDocuments) Count(ctx context.Context, name string, f *search.Filter) (int, error) {
	if e, ok, err := w.docs(name); ok {
		if err != nil {
			return 0, err
		}
		return e.CountPoints(ctx, f)
	}
	return w.vectorStore.Count(ctx, name, f)
}

func (w withDocuments) List() ([]store.CollectionInfo, error) {
	infos, err := w.vectorStore.List()
	if err != nil {
		return nil, err
	}
	if e := w.engine(); e != nil {
		info, err := e.PointsInfo()
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
		slices.SortFunc(infos, func(a, b store.CollectionInfo) int { return strings.Compare(a.Name, b.Name) })
	}
	return infos, nil
}

func (w withDocuments) Info(name string) (store.CollectionInfo, error) {
	if e, ok, err := w.docs(name); ok {
		if err != nil {
			return store.CollectionInfo{}, err
		}
		return e.PointsInfo()
	}
	return w.vectorStore.Info(name)
}
