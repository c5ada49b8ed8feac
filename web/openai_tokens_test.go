package web

import "testing"

// parseTokenIDs refuses ids by range before decoding; the range must be
// exactly the ids the vocabulary has text for.
func TestOpenAITokenIDRangeIsCl100kBaseText(t *testing.T) {
	c := cl100k()
	for id := range uint(cl100kTextTokens) {
		if s, err := c.Decode([]uint{id}); err != nil || s == "" {
			t.Fatalf("cl100k_base id %d: %q, %v; want a piece of text", id, s, err)
		}
	}
	for _, id := range []uint{cl100kTextTokens, cl100kTextTokens + 1, 100276} {
		if _, err := c.Decode([]uint{id}); err == nil {
			t.Fatalf("cl100k_base id %d decodes; the range check would refuse it", id)
		}
	}
}
