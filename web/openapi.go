package web

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// The OpenAPI 3.1 descriptions of the two ports, written by hand beside the
// handlers they describe and served at GET /openapi.json on each. Two
// documents, not one: both ports serve GET /collections, with different
// answers, and an OpenAPI document holds one operation per method and path.
// TestOpenAPIDescribesEveryRoute holds each to its engine's route table;
// TestOpenAPISchemathesis holds the answers of a live server to them.
var (
	//go:embed openapi.json
	openAPIMain []byte
	//go:embed openapi_qdrant.json
	openAPIQdrant []byte
)

// handleOpenAPI serves GET /openapi.json on the main port.
func (s *Server) handleOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", openAPIMain)
}

// handleQdrantOpenAPI serves GET /openapi.json on the Qdrant port.
func (s *Server) handleQdrantOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", openAPIQdrant)
}
