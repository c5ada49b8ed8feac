package model

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/edgesearch/edgesearch/embedder/gguf"
)

// tinyBERT describes a small BERT folder written by writeTiny; tests mutate
// it to produce the broken variants they need.
type tinyBERT struct {
	hidden, heads, ff, layers, maxPos int
	vocab                             []string
	dtype                             string                    // F32, F16 or BF16
	config                            map[string]any            // overrides merged into config.json
	tensors                           func([]stEntry) []stEntry // edits the tensor list
	tokenizerJSON                     bool                      // write tokenizer.json as well as vocab.txt
}

type stEntry struct {
	name  string
	dtype string
	shape []int
	data  []byte
}

func newTiny() *tinyBERT {
	return &tinyBERT{hidden: 48, heads: 2, ff: 64, layers: 2, maxPos: 16, dtype: "F32",
		vocab: []string{"[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##ing", "walk", "."}}
}

func (m *tinyBERT) entries() []stEntry {
	var es []stEntry
	seed := 0
	add := func(name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		vals := make([]float32, n)
		for i := range vals {
			seed++
			vals[i] = float32(math.Sin(float64(seed))) * 0.3
		}
		es = append(es, stEntry{name, m.dtype, shape, encode(m.dtype, vals)})
	}
	h := m.hidden
	es = append(es, stEntry{"embeddings.position_ids", "I64", []int{1, m.maxPos}, make([]byte, 8*m.maxPos)})
	add("embeddings.LayerNorm.gamma", h)
	add("embeddings.LayerNorm.beta", h)
	add("embeddings.position_embeddings.weight", m.maxPos, h)
	add("embeddings.token_type_embeddings.weight", 2, h)
	add("embeddings.word_embeddings.weight", len(m.vocab), h)
	for l := range m.layers {
		p := fmt.Sprintf("encoder.layer.%d.", l)
		for _, n := range []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"} {
			add(p+n+".weight", h, h)
			add(p+n+".bias", h)
		}
		add(p+"attention.output.LayerNorm.weight", h)
		add(p+"attention.output.LayerNorm.bias", h)
		add(p+"intermediate.dense.weight", m.ff, h)
		add(p+"intermediate.dense.bias", m.ff)
		add(p+"output.dense.weight", h, m.ff)
		add(p+"output.dense.bias", h)
		add(p+"output.LayerNorm.weight", h)
		add(p+"output.LayerNorm.bias", h)
	}
	add("pooler.dense.weight", h, h)
	add("pooler.dense.bias", h)
	if m.tensors != nil {
		es = m.tensors(es)
	}
	return es
}

func encode(dtype string, vals []float32) []byte {
	var b []byte
	for _, v := range vals {
		switch dtype {
		case "F32":
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		case "F16":
			b = binary.LittleEndian.AppendUint16(b, gguf.F32ToF16(v))
		case "BF16":
			b = binary.LittleEndian.AppendUint16(b, uint16(math.Float32bits(v)>>16))
		}
	}
	return b
}

// writeSafetensors writes entries in the given order, as the format allows.
func writeSafetensors(t testing.TB, path string, es []stEntry) {
	t.Helper()
	hdr := []byte(`{"__metadata__":{"format":"pt"}`)
	var data []byte
	for _, e := range es {
		shape, _ := json.Marshal(e.shape)
		hdr = fmt.Appendf(hdr, `,%q:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`,
			e.name, e.dtype, shape, len(data), len(data)+len(e.data))
		data = append(data, e.data...)
	}
	hdr = append(hdr, '}')
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	out = append(append(out, hdr...), data...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJSONFile(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// write puts the folder under dir and returns dir.
func (m *tinyBERT) write(t testing.TB, dir string) string {
	t.Helper()
	cfg := map[string]any{
		"architectures": []string{"BertModel"}, "model_type": "bert", "hidden_act": "gelu",
		"hidden_size": m.hidden, "num_attention_heads": m.heads, "intermediate_size": m.ff,
		"num_hidden_layers": m.layers, "max_position_embeddings": m.maxPos, "type_vocab_size": 2,
		"vocab_size": len(m.vocab), "layer_norm_eps": 1e-12, "pad_token_id": 0,
	}
	for k, v := range m.config {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	writeJSONFile(t, filepath.Join(dir, "config.json"), cfg)
	vt := ""
	for _, v := range m.vocab {
		vt += v + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(vt), 0o644); err != nil {
		t.Fatal(err)
	}
	writeJSONFile(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{"do_lower_case": true,
		"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"})
	if m.tokenizerJSON {
		vocab := map[string]int{}
		for i, v := range m.vocab {
			vocab[v] = i
		}
		var added []map[string]any
		for _, s := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} {
			added = append(added, map[string]any{"id": vocab[s], "content": s, "special": true})
		}
		sort.Slice(added, func(i, j int) bool { return added[i]["id"].(int) < added[j]["id"].(int) })
		writeJSONFile(t, filepath.Join(dir, "tokenizer.json"), map[string]any{
			"added_tokens": added,
			"normalizer":   map[string]any{"type": "BertNormalizer", "lowercase": true},
			"post_processor": map[string]any{"type": "TemplateProcessing",
				"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "[CLS]"}},
					map[string]any{"Sequence": map[string]any{"id": "A"}},
					map[string]any{"SpecialToken": map[string]any{"id": "[SEP]"}}},
				"pair": []any{map[string]any{"SpecialToken": map[string]any{"id": "[CLS]"}},
					map[string]any{"Sequence": map[string]any{"id": "A"}},
					map[string]any{"SpecialToken": map[string]any{"id": "[SEP]"}},
					map[string]any{"Sequence": map[string]any{"id": "B"}},
					map[string]any{"SpecialToken": map[string]any{"id": "[SEP]"}}}},
			"model": map[string]any{"type": "WordPiece", "vocab": vocab},
		})
	}
	writeJSONFile(t, filepath.Join(dir, "modules.json"), []map[string]any{
		{"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"},
		{"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}})
	writeJSONFile(t, filepath.Join(dir, "1_Pooling", "config.json"), map[string]any{"pooling_mode_cls_token": true})
	writeJSONFile(t, filepath.Join(dir, "sentence_bert_config.json"), map[string]any{"max_seq_length": 12})
	writeSafetensors(t, filepath.Join(dir, "model.safetensors"), m.entries())
	return dir
}
