// Package web is edgesearch's HTTP API, served with gin.
//
// A Server answers /health and / as soon as it listens, and the embedding
// routes (/embed, /v1/embeddings, /v1/models) once SetEmbedder hands it a
// loaded embedder.Pool; until then they answer 503 so a client can retry
// while the model loads. The Server never owns the Pool: whoever made it
// closes it.
//
// Invariants: every answer that is not a success is JSON {"error":"…"}; a
// bad request never stops the server; request bodies are capped by
// Config.MaxBodyBytes before they are read; texts are checked for valid UTF-8
// before anything is embedded (encoding/json would otherwise replace bad bytes
// silently and embed something the client did not send).
//
// The package knows HTTP and the embedder API, nothing of model files or
// storage; later routes (/documents, /search) plug into the same Server.
package web
