package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// bertConfig is the part of a Hugging Face config.json that shapes a BERT
// encoder.
type bertConfig struct {
	Architectures         []string `json:"architectures"`
	ModelType             string   `json:"model_type"`
	NameOrPath            string   `json:"_name_or_path"`
	HiddenSize            int      `json:"hidden_size"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	IntermediateSize      int      `json:"intermediate_size"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	TypeVocabSize         *int     `json:"type_vocab_size"`
	VocabSize             int      `json:"vocab_size"`
	LayerNormEps          *float64 `json:"layer_norm_eps"`
	HiddenAct             string   `json:"hidden_act"`
	PositionEmbeddingType string   `json:"position_embedding_type"`

	raw map[string]json.RawMessage
}

// bertArchitectures are the config.json architectures llama.cpp converts
// with its BertModel class.
var bertArchitectures = map[string]bool{"BertModel": true, "BertForMaskedLM": true,
	"BertForSequenceClassification": true}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w: %w", path, ErrBadConfig, err)
	}
	return nil
}

func loadConfig(dir string) (*bertConfig, error) {
	path := filepath.Join(dir, "config.json")
	var c bertConfig
	if err := readJSON(path, &c); err != nil {
		return nil, err
	}
	if err := readJSON(path, &c.raw); err != nil {
		return nil, err
	}
	arch := ""
	if len(c.Architectures) > 0 {
		arch = c.Architectures[0]
	}
	if !bertArchitectures[arch] && !(arch == "" && c.ModelType == "bert") {
		return nil, fmt.Errorf("%s: %w: architecture %q (model_type %q) is not a BERT encoder", path, ErrUnsupported, arch, c.ModelType)
	}
	if len(c.raw["id2label"]) > 0 && arch == "BertForSequenceClassification" {
		return nil, fmt.Errorf("%s: %w: classification heads are not supported", path, ErrUnsupported)
	}
	if c.HiddenAct != "gelu" {
		return nil, fmt.Errorf("%s: %w: hidden_act %q, only gelu is supported", path, ErrUnsupported, c.HiddenAct)
	}
	if c.PositionEmbeddingType != "" && c.PositionEmbeddingType != "absolute" {
		return nil, fmt.Errorf("%s: %w: position_embedding_type %q, only absolute is supported", path, ErrUnsupported, c.PositionEmbeddingType)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"hidden_size", c.HiddenSize}, {"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads}, {"intermediate_size", c.IntermediateSize},
		{"max_position_embeddings", c.MaxPositionEmbeddings}, {"vocab_size", c.VocabSize}} {
		if f.v <= 0 || f.v > 1<<24 {
			return nil, fmt.Errorf("%s: %w: %s is %d", path, ErrBadConfig, f.name, f.v)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return nil, fmt.Errorf("%s: %w: hidden_size %d is not a multiple of num_attention_heads %d",
			path, ErrBadConfig, c.HiddenSize, c.NumAttentionHeads)
	}
	if c.LayerNormEps == nil || *c.LayerNormEps <= 0 {
		return nil, fmt.Errorf("%s: %w: layer_norm_eps missing or not positive", path, ErrBadConfig)
	}
	if c.TypeVocabSize != nil && *c.TypeVocabSize < 0 {
		return nil, fmt.Errorf("%s: %w: type_vocab_size is %d", path, ErrBadConfig, *c.TypeVocabSize)
	}
	return &c, nil
}

// typeVocab is type_vocab_size, 1 when absent as llama.cpp assumes.
func (c *bertConfig) typeVocab() int {
	if c.TypeVocabSize == nil {
		return 1
	}
	return *c.TypeVocabSize
}

// tokenID returns config.json's <typ>_token_id, if it is a non-negative int.
func (c *bertConfig) tokenID(typ string) (int, bool) {
	var id int
	if r, ok := c.raw[typ+"_token_id"]; ok && json.Unmarshal(r, &id) == nil && id >= 0 {
		return id, true
	}
	return 0, false
}

// poolingType reads the sentence-transformers pooling mode the way
// llama.cpp does: modules.json names the Pooling module's folder. It
// returns 0 when the folder says nothing about pooling.
func poolingType(dir string) (uint32, error) {
	poolDir := ""
	var modules []struct{ Type, Path string }
	err := readJSON(filepath.Join(dir, "modules.json"), &modules)
	switch {
	case err == nil:
		for _, m := range modules {
			if strings.HasSuffix(m.Type, "Pooling") {
				poolDir = m.Path
				break
			}
		}
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(filepath.Join(dir, "1_Pooling", "config.json")); err == nil {
			poolDir = "1_Pooling"
		}
	default:
		return 0, err
	}
	if poolDir == "" {
		return 0, nil
	}
	path := filepath.Join(dir, poolDir, "config.json")
	var p struct {
		Mean bool   `json:"pooling_mode_mean_tokens"`
		CLS  bool   `json:"pooling_mode_cls_token"`
		Last bool   `json:"pooling_mode_lasttoken"`
		Mode string `json:"pooling_mode"`
	}
	if err := readJSON(path, &p); err != nil {
		return 0, err
	}
	switch {
	case p.Mean || p.Mode == "mean":
		return poolingMean, nil
	case p.CLS || p.Mode == "cls":
		return poolingCLS, nil
	case p.Last || p.Mode == "lasttoken":
		return poolingLast, nil
	}
	return 0, fmt.Errorf("%s: %w: only mean, cls and lasttoken pooling are supported", path, ErrUnsupported)
}

// Pooling types as llama.cpp numbers them.
const (
	poolingMean uint32 = 1
	poolingCLS  uint32 = 2
	poolingLast uint32 = 3
)

// maxSeqLength is sentence-transformers' truncation limit, or the position
// table size when the folder does not say.
func maxSeqLength(dir string, c *bertConfig) (uint32, error) {
	var s struct {
		MaxSeqLength int `json:"max_seq_length"`
	}
	err := readJSON(filepath.Join(dir, "sentence_bert_config.json"), &s)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && s.MaxSeqLength == 0) {
		return uint32(c.MaxPositionEmbeddings), nil
	}
	if err != nil {
		return 0, err
	}
	if s.MaxSeqLength < 0 || s.MaxSeqLength > c.MaxPositionEmbeddings {
		return 0, fmt.Errorf("%s: %w: max_seq_length %d outside 1..%d", filepath.Join(dir, "sentence_bert_config.json"),
			ErrBadConfig, s.MaxSeqLength, c.MaxPositionEmbeddings)
	}
	return uint32(s.MaxSeqLength), nil
}
