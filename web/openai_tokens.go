package web

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer/codec"
)

// OpenAI's API also takes input as token ids of OpenAI's own tokenizer,
// cl100k_base for its embedding models, and LangChain's OpenAIEmbeddings
// sends nothing else by default (it counts and splits texts with tiktoken
// first). Those ids mean nothing to a WordPiece model, so they are decoded
// back to the text they stand for, and that text is embedded. Clients that
// can send text should (LangChain: check_embedding_ctx_length=False): the
// round trip through cl100k_base costs them a tokenizer and us a decode.

// MaxTokenIDs caps the token ids in one embedding request, all inputs
// together: OpenAI's own limit per request, which LangChain batches under.
// Our model reads at most its first 256 tokens of each text anyway.
const MaxTokenIDs = 300_000

// cl100kTextTokens is how many ids cl100k_base has for text: 0 to 100255,
// every one a byte sequence. Its special tokens (<|endoftext|> and the fill-
// in-the-middle markers, 100257 and up) stand for no text and are refused.
const cl100kTextTokens = 100_256

// cl100k is the decoder, built on first use: its vocabulary costs about
// 5 MiB of heap, which a server that never sees token ids does not pay.
var cl100k = sync.OnceValue(func() *codec.Codec {
	c := codec.NewCl100kBase()
	// Clients split long token lists wherever the length falls, so a piece
	// may start or end inside a character; its bytes become U+FFFD, as
	// tiktoken's own decode does, rather than failing the request (the
	// embedder refuses invalid UTF-8).
	c.SetErrorMode(codec.ErrorModeReplace)
	return c
})

// tokenIDBudget counts the token ids of one request against MaxTokenIDs.
type tokenIDBudget struct{ left int }

func newTokenIDBudget() *tokenIDBudget { return &tokenIDBudget{left: MaxTokenIDs} }

// parseTokenIDs decodes raw, a JSON array of cl100k_base token ids, to the
// text it stands for. field names raw in errors ("input" or "input[3]").
// It refuses with ErrBadRequest an array that is not of integers, ids that
// are not text tokens of cl100k_base (naming the first one's position), ids
// past the request's budget, and a text that decodes to nothing but spaces.
func parseTokenIDs(field string, raw json.RawMessage, budget *tokenIDBudget) (string, error) {
	var ids []int64
	if err := json.Unmarshal(raw, &ids); err != nil {
		return "", badRequest("%q must be an array of token ids (integers)", field)
	}
	if len(ids) > budget.left {
		return "", badRequest("too many token ids in \"input\": more than %d in one request; send fewer inputs per request", MaxTokenIDs)
	}
	budget.left -= len(ids)
	pieces := make([]uint, len(ids))
	for j, id := range ids {
		if id < 0 || id >= cl100kTextTokens {
			return "", badRequest("%q is token id %d, which is not a text token of cl100k_base (0 to %d); send token ids of tiktoken's cl100k_base, as for OpenAI's embedding models, or the text itself",
				fmt.Sprintf("%s[%d]", field, j), id, cl100kTextTokens-1)
		}
		pieces[j] = uint(id)
	}
	text, err := cl100k().Decode(pieces)
	if err != nil {
		// The range check above should have caught every id it refuses.
		return "", badRequest("%q: %v", field, fmt.Errorf("decoding cl100k_base token ids: %w", err))
	}
	if strings.TrimSpace(text) == "" {
		return "", badRequest("%q is empty: its token ids decode to no text", field)
	}
	return text, nil
}
