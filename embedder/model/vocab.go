package model

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Token types as llama.cpp numbers them.
const (
	tokNormal      int32 = 1
	tokControl     int32 = 3
	tokUserDefined int32 = 4
	tokUnused      int32 = 5
)

// wordPieceVocab is what the GGUF tokenizer.* keys are made from.
type wordPieceVocab struct {
	tokens    []string // phantom-space form
	types     []int32
	special   []specialID // in the order llama.cpp's SpecialVocab writes them
	addBOS    *bool
	addEOS    *bool
	addSEP    *bool
	lowercase *bool
	source    string // the file the vocabulary came from, for errors
}

type specialID struct {
	key string // suffix of tokenizer.ggml.<key>_token_id
	id  uint32
}

type addedToken struct {
	ID      int    `json:"id"`
	Content string `json:"content"`
	Special bool   `json:"special"`
}

type tokenizerJSON struct {
	Model struct {
		Type  string         `json:"type"`
		Vocab map[string]int `json:"vocab"`
	} `json:"model"`
	AddedTokens   []addedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
}

// loadVocab reads the WordPiece vocabulary from tokenizer.json, or from
// vocab.txt when there is no tokenizer.json, and builds the token list,
// token types and special ids the way llama.cpp's BERT converter does.
func loadVocab(dir string, c *bertConfig) (*wordPieceVocab, error) {
	v := &wordPieceVocab{}
	var tj *tokenizerJSON
	vocab := map[string]int{}
	tjPath := filepath.Join(dir, "tokenizer.json")
	if err := readJSON(tjPath, &tj); err == nil {
		if tj.Model.Type != "WordPiece" {
			return nil, fmt.Errorf("%s: %w: tokenizer model %q, want WordPiece", tjPath, ErrUnsupported, tj.Model.Type)
		}
		vocab = tj.Model.Vocab
		v.source = tjPath
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	} else {
		tj = nil
		path := filepath.Join(dir, "vocab.txt")
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("%w: need tokenizer.json or vocab.txt in %s: %w", ErrBadConfig, dir, err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for id := 0; sc.Scan(); id++ {
			tok := strings.TrimRight(sc.Text(), "\r")
			if _, dup := vocab[tok]; !dup {
				vocab[tok] = id
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		v.source = path
	}
	var tc map[string]any
	if err := readJSON(filepath.Join(dir, "tokenizer_config.json"), &tc); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}

	added := map[int]addedToken{}
	if tj != nil {
		for _, a := range tj.AddedTokens {
			vocab[a.Content] = a.ID
			added[a.ID] = a
		}
	} else {
		// The slow BertTokenizer registers its special tokens as added ones.
		for _, k := range []string{"unk_token", "sep_token", "pad_token", "cls_token", "mask_token"} {
			if s := configToken(tc, k); s != "" {
				if id, ok := vocab[s]; ok {
					added[id] = addedToken{ID: id, Content: s, Special: true}
				}
			}
		}
	}

	n := c.VocabSize
	byID := make([]string, n)
	have := make([]bool, n)
	for tok, id := range vocab {
		if id < 0 || id >= n {
			return nil, fmt.Errorf("%s: %w: token %q has id %d, config.json vocab_size is %d", v.source, ErrBadConfig, tok, id, n)
		}
		byID[id], have[id] = tok, true
	}
	v.tokens = make([]string, n)
	v.types = make([]int32, n)
	for i := range n {
		tok, typ := byID[i], tokNormal
		switch a, isAdded := added[i]; {
		case !have[i]:
			tok, typ = fmt.Sprintf("[PAD%d]", i), tokUnused
		case isAdded && (a.Special || looksSpecial(tok)):
			typ = tokControl
		case isAdded:
			tok, typ = strings.ReplaceAll(tok, "\u2581", " "), tokUserDefined
		}
		v.tokens[i], v.types[i] = phantom(tok, typ), typ
	}

	// Special ids: tokenizer_config.json names them, added tokens give ids,
	// config.json's <typ>_token_id fills the gaps.
	lookup := func(s string) (int, bool) {
		if s == "" {
			return 0, false
		}
		if tj == nil {
			id, ok := vocab[s]
			return id, ok
		}
		for _, a := range tj.AddedTokens {
			if a.Content == s {
				return a.ID, true
			}
		}
		return 0, false
	}
	names := map[string]string{}
	for _, typ := range []string{"bos", "eos", "unk", "sep", "pad", "cls", "mask"} {
		names[typ] = configToken(tc, typ+"_token")
	}
	if names["bos"] == "" {
		names["bos"] = names["cls"]
	}
	if names["eos"] == "" {
		names["eos"] = names["sep"]
	}
	if tj != nil {
		v.addBOS, v.addEOS, v.addSEP = templateAdds(tj.PostProcessor, names)
		v.lowercase = normalizerLowercase(tj.Normalizer)
	} else {
		t, f := true, false // what BertTokenizer does: [CLS] text [SEP]
		v.addBOS, v.addEOS, v.addSEP = &t, &t, &f
		if b, ok := tc["do_lower_case"].(bool); ok {
			v.lowercase = &b
		}
	}
	// llama.cpp's writer has no cls_token_id key (BERT uses bos as [CLS]).
	for _, typ := range []string{"bos", "eos", "unk", "sep", "pad", "mask"} {
		id, ok := lookup(names[typ])
		if !ok {
			id, ok = c.tokenID(typ)
		}
		if ok && id < n {
			key := typ
			switch typ {
			case "unk":
				key = "unknown"
			case "sep":
				key = "seperator" // llama.cpp's spelling
			case "pad":
				key = "padding"
			}
			v.special = append(v.special, specialID{key, uint32(id)})
		}
	}
	return v, nil
}

// configToken reads a token string from tokenizer_config.json, which holds
// either a plain string or an AddedToken object.
func configToken(tc map[string]any, key string) string {
	switch x := tc[key].(type) {
	case string:
		return x
	case map[string]any:
		s, _ := x["content"].(string)
		return s
	}
	return ""
}

// looksSpecial mirrors llama.cpp's does_token_look_special for added tokens
// not flagged special.
func looksSpecial(t string) bool {
	switch t {
	case "<pad>", "<mask>", "<2mass>", "[@BOS@]":
		return true
	}
	return (strings.HasPrefix(t, "<|") && strings.HasSuffix(t, "|>")) ||
		(strings.HasPrefix(t, "<｜") && strings.HasSuffix(t, "｜>")) ||
		(strings.HasPrefix(t, "<unused") && strings.HasSuffix(t, ">"))
}

// phantom converts a WordPiece token to llama.cpp's phantom-space form:
// continuation pieces lose "##", word starts gain U+2581, control tokens
// stay as they are.
func phantom(tok string, typ int32) string {
	if typ == tokControl {
		return tok
	}
	if rest, ok := strings.CutPrefix(tok, "##"); ok {
		return rest
	}
	return "\u2581" + tok
}

// templateAdds reads whether [CLS]/[SEP] are added from a TemplateProcessing
// post-processor, following the simple cases of llama.cpp's SpecialVocab.
func templateAdds(raw json.RawMessage, names map[string]string) (bos, eos, sep *bool) {
	type piece struct {
		Special *struct{ ID string } `json:"SpecialToken"`
		Seq     *struct{ ID string } `json:"Sequence"`
	}
	var pp struct {
		Type       string
		Single     []piece
		Pair       []piece
		Processors []json.RawMessage
	}
	if len(raw) == 0 || json.Unmarshal(raw, &pp) != nil {
		return nil, nil, nil
	}
	if pp.Type == "Sequence" {
		for _, p := range pp.Processors {
			if b, e, s := templateAdds(p, names); b != nil || e != nil || s != nil {
				return b, e, s
			}
		}
		return nil, nil, nil
	}
	if pp.Type != "TemplateProcessing" || len(pp.Single) < 2 {
		return nil, nil, nil
	}
	ptr := func(b bool) *bool { return &b }
	first, last := "", ""
	if s := pp.Single[0].Special; s != nil {
		first = s.ID
		bos = ptr(first == names["bos"] || first == names["cls"])
	}
	if s := pp.Single[len(pp.Single)-1].Special; s != nil {
		last = s.ID
		eos = ptr(last == names["eos"])
	}
	pair := pp.Pair
	if first != "" && len(pair) > 0 && pair[0].Special != nil && pair[0].Special.ID == first {
		pair = pair[1:]
	}
	if last != "" && len(pair) > 0 && pair[len(pair)-1].Special != nil && pair[len(pair)-1].Special.ID == last {
		pair = pair[:len(pair)-1]
	}
	if len(pair) > 2 && pair[0].Seq != nil && pair[0].Seq.ID == "A" && pair[len(pair)-1].Seq != nil && pair[len(pair)-1].Seq.ID == "B" {
		mid := pair[1 : len(pair)-1]
		add := false
		isSep := func(p piece) bool {
			return p.Special != nil && (p.Special.ID == names["sep"] || p.Special.ID == names["eos"])
		}
		if isSep(mid[0]) && last == "" {
			add = true
		}
		if len(mid) == 2 && isSep(mid[1]) {
			add = true
		}
		sep = ptr(add)
	}
	return bos, eos, sep
}

// normalizerLowercase reads the lowercase flag of a tokenizers normalizer.
func normalizerLowercase(raw json.RawMessage) *bool {
	var n struct {
		Type        string
		Lowercase   *bool `json:"lowercase"`
		Normalizers []json.RawMessage
	}
	if len(raw) == 0 || json.Unmarshal(raw, &n) != nil {
		return nil
	}
	t := true
	switch n.Type {
	case "Lowercase":
		return &t
	case "BertNormalizer":
		return n.Lowercase
	case "Sequence":
		var out *bool
		for _, r := range n.Normalizers {
			if b := normalizerLowercase(r); b != nil {
				out = b
			}
		}
		return out
	}
	return nil
}
