package embedder

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// instance is one guest module with a loaded model. It is not safe for
// concurrent use: a worker goroutine owns it.
type instance struct {
	mod  guestModule
	mem  guestMemory
	dims int

	malloc, free, lastError          guestFunction
	load, loadVocab                  guestFunction
	modelInfo, nEmbd                 guestFunction
	setMaxTokens, tokenize, embedBat guestFunction
	jobStart, jobStep, jobFinish     guestFunction
	jobCancel                        guestFunction

	// scratch is a guest buffer reused across calls, grown on demand, so a
	// steady stream of requests does no guest allocation.
	scratch, scratchLen uint32

	tuned tuneResult // see stack.go
}

// newInstance instantiates the compiled guest and loads the model into it.
// maxTokens ≤ 0 keeps the model's own limit.
func newInstance(ctx context.Context, rt guestRuntime, model *modelFile, maxTokens int, tune bool) (*instance, error) {
	in, err := instantiate(ctx, rt)
	if err != nil {
		return nil, err
	}
	if err := in.loadModel(ctx, model); err != nil {
		in.close(ctx)
		return nil, err
	}
	if maxTokens > 0 {
		if _, err := in.call1(ctx, in.setMaxTokens, uint64(uint32(int32(maxTokens)))); err != nil {
			in.close(ctx)
			return nil, err
		}
	}
	d, err := in.call1(ctx, in.nEmbd)
	if err != nil {
		in.close(ctx)
		return nil, err
	}
	in.dims = int(d)
	if tune {
		if err := in.tuneEmbed(ctx); err != nil {
			in.close(ctx)
			return nil, err
		}
	}
	return in, nil
}

// instantiate starts a guest instance with no model loaded.
func instantiate(ctx context.Context, rt guestRuntime) (*instance, error) {
	mod, err := rt.instantiate(ctx)
	if err != nil {
		return nil, err
	}
	in := &instance{mod: mod, mem: mod.memory()}
	for name, fn := range map[string]*guestFunction{
		"es_malloc": &in.malloc, "es_free": &in.free, "es_last_error": &in.lastError,
		"es_load": &in.load, "es_load_vocab": &in.loadVocab, "es_model_info": &in.modelInfo, "es_n_embd": &in.nEmbd,
		"es_set_max_tokens": &in.setMaxTokens, "es_tokenize": &in.tokenize,
		"es_embed_batch": &in.embedBat, "es_job_start": &in.jobStart, "es_job_step": &in.jobStep,
		"es_job_finish": &in.jobFinish, "es_job_cancel": &in.jobCancel,
	} {
		if *fn = mod.function(name); *fn == nil {
			mod.close(ctx)
			return nil, fmt.Errorf("guest does not export %s", name)
		}
	}
	if in.mem == nil {
		mod.close(ctx)
		return nil, fmt.Errorf("guest exports no memory")
	}
	return in, nil
}

func (in *instance) close(ctx context.Context) { in.mod.close(ctx) }

// call1 calls fn and returns its single result as a signed 32-bit value.
func (in *instance) call1(ctx context.Context, fn guestFunction, args ...uint64) (int32, error) {
	res, err := fn.Call(ctx, args...)
	if err != nil {
		return 0, trapError{fmt.Errorf("guest %s trapped: %w", fn.name(), err)}
	}
	return int32(uint32(res[0])), nil
}

func (in *instance) alloc(ctx context.Context, size int) (uint32, error) {
	if size < 0 || uint64(size) > math.MaxUint32 {
		return 0, fmt.Errorf("allocation of %d bytes is out of range", size)
	}
	res, err := in.malloc.Call(ctx, uint64(size))
	if err != nil {
		return 0, trapError{fmt.Errorf("guest es_malloc trapped: %w", err)}
	}
	ptr := uint32(res[0])
	if ptr == 0 {
		return 0, fmt.Errorf("guest is out of memory (asked for %d bytes)", size)
	}
	return ptr, nil
}

func (in *instance) release(ctx context.Context, ptr uint32) {
	if ptr != 0 {
		in.free.Call(ctx, uint64(ptr))
	}
}

// errorText reads the guest's last error message.
func (in *instance) errorText(ctx context.Context) string {
	res, err := in.lastError.Call(ctx)
	if err != nil {
		return "unknown guest error"
	}
	return in.cString(uint32(res[0]), 4096)
}

// cString reads a NUL-terminated string of at most max bytes at ptr.
func (in *instance) cString(ptr uint32, max uint32) string {
	if ptr == 0 {
		return ""
	}
	size := in.mem.Size()
	if ptr >= size {
		return ""
	}
	if n := size - ptr; n < max {
		max = n
	}
	buf, _ := in.mem.Read(ptr, max)
	for i, b := range buf {
		if b == 0 {
			return string(buf[:i])
		}
	}
	return string(buf)
}

func (in *instance) loadModel(ctx context.Context, model *modelFile) error {
	ptr, err := in.alloc(ctx, model.size)
	if err != nil {
		return fmt.Errorf("couldn't make room for the model: %w", err)
	}
	view, ok := in.mem.Read(ptr, uint32(model.size))
	if !ok {
		in.release(ctx, ptr)
		return fmt.Errorf("guest allocation for the model is out of bounds")
	}
	if err := model.readInto(view); err != nil {
		in.release(ctx, ptr)
		return err
	}
	// es_load owns ptr from here on, whatever it returns.
	rc, err := in.call1(ctx, in.load, uint64(ptr), uint64(model.size))
	if err != nil {
		return err
	}
	if rc != 0 {
		return fmt.Errorf("couldn't load the model: %s", in.errorText(ctx))
	}
	// The guest copied the weights out of the file buffer (converting and
	// packing them) and freed it, unless every tensor was f32, whose
	// weights it uses in place (guest/src/bert.c, bert_load). A freed
	// buffer is as large as the model, and its pages stay resident: linear
	// memory never shrinks. Give them back; the allocator's bookkeeping at
	// the ends of the free block is left alone.
	mi, err := in.info(ctx)
	if err != nil {
		return err
	}
	const guard = 64 << 10
	if !strings.EqualFold(mi.WeightType, "f32") && model.size > 2*guard {
		// Read again: the load grew memory, which may have moved it.
		if freed, ok := in.mem.Read(ptr+guard, uint32(model.size-2*guard)); ok {
			releaseGuestPages(freed)
		}
	}
	return nil
}

func (in *instance) info(ctx context.Context) (ModelInfo, error) {
	res, err := in.modelInfo.Call(ctx)
	if err != nil {
		return ModelInfo{}, fmt.Errorf("guest es_model_info trapped: %w", err)
	}
	var mi ModelInfo
	text := in.cString(uint32(res[0]), 1<<16)
	if err := json.Unmarshal([]byte(text), &mi); err != nil {
		return ModelInfo{}, fmt.Errorf("guest model info %q is not JSON: %w", text, err)
	}
	return mi, nil
}

// ensureScratch makes the scratch buffer at least size bytes.
func (in *instance) ensureScratch(ctx context.Context, size int) (uint32, error) {
	if uint64(size) <= uint64(in.scratchLen) {
		return in.scratch, nil
	}
	in.release(ctx, in.scratch)
	in.scratch, in.scratchLen = 0, 0
	grown := size + size/4 + 4096
	ptr, err := in.alloc(ctx, grown)
	if err != nil {
		return 0, err
	}
	in.scratch, in.scratchLen = ptr, uint32(grown)
	return ptr, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// writeTexts writes texts into the scratch buffer as
// [texts | pad | lens u32×n | tail bytes] and returns the buffer's base and
// the offsets of lens and of the tail.
func (in *instance) writeTexts(ctx context.Context, texts []string, tail int) (base uint32, offLens, offTail int, err error) {
	n := len(texts)
	total := 0
	for _, t := range texts {
		total += len(t)
	}
	offLens = align4(total)
	offTail = offLens + 4*n
	if base, err = in.ensureScratch(ctx, offTail+tail); err != nil {
		return 0, 0, 0, err
	}
	buf := make([]byte, offTail)
	pos := 0
	for i, t := range texts {
		copy(buf[pos:], t)
		pos += len(t)
		binary.LittleEndian.PutUint32(buf[offLens+4*i:], uint32(len(t)))
	}
	if !in.mem.Write(base, buf) {
		return 0, 0, 0, fmt.Errorf("couldn't write %d texts into guest memory", n)
	}
	return base, offLens, offTail, nil
}

// readVectors reads n vectors of in.dims floats at ptr into out, with the
// token counts in tokens (2n: used, full per text).
func (in *instance) readVectors(ptr uint32, tokens []int32) ([]Embedding, error) {
	n := len(tokens) / 2
	raw, ok := in.mem.Read(ptr, uint32(4*n*in.dims))
	if !ok {
		return nil, fmt.Errorf("guest output is out of bounds")
	}
	out := make([]Embedding, n)
	vecs := make([]float32, n*in.dims) // one allocation for all vectors
	for i := range out {
		v := vecs[i*in.dims : (i+1)*in.dims : (i+1)*in.dims]
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*(i*in.dims+j):]))
		}
		used, full := int(tokens[2*i]), int(tokens[2*i+1])
		out[i] = Embedding{Vector: v, Tokens: used, Truncated: full > used}
	}
	return out, nil
}

// readTokens reads the 2n token counts es_job_start or es_embed_batch
// wrote at ptr.
func (in *instance) readTokens(ptr uint32, n int) ([]int32, error) {
	raw, ok := in.mem.Read(ptr, uint32(8*n))
	if !ok {
		return nil, fmt.Errorf("guest output is out of bounds")
	}
	tokens := make([]int32, 2*n)
	for i := range tokens {
		tokens[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return tokens, nil
}

// embedJob is a batch the guest is embedding in steps (es_job_start). It
// lives in the guest until finishJob or cancelJob.
type embedJob struct {
	handle int32
	tokens []int32 // used, full per text
}

// startJob tokenizes texts into a new guest job. The texts are read during
// the call only, so the scratch buffer is free for other calls afterwards.
func (in *instance) startJob(ctx context.Context, texts []string) (*embedJob, error) {
	n := len(texts)
	base, offLens, offTok, err := in.writeTexts(ctx, texts, 8*n)
	if err != nil {
		return nil, err
	}
	h, err := in.call1(ctx, in.jobStart, uint64(base), uint64(base+uint32(offLens)), uint64(n),
		uint64(base+uint32(offTok)))
	if err != nil {
		return nil, err
	}
	if h <= 0 {
		return nil, fmt.Errorf("couldn't embed: %s", in.errorText(ctx))
	}
	tokens, err := in.readTokens(base+uint32(offTok), n)
	if err != nil {
		in.cancelJob(ctx, &embedJob{handle: h})
		return nil, err
	}
	return &embedJob{handle: h, tokens: tokens}, nil
}

// step runs one bounded piece of j and reports whether j is done.
func (in *instance) step(ctx context.Context, j *embedJob) (done bool, err error) {
	rc, err := in.call1(ctx, in.jobStep, uint64(uint32(j.handle)))
	if err != nil {
		return false, err
	}
	if rc < 0 {
		return false, fmt.Errorf("couldn't embed: %s", in.errorText(ctx))
	}
	return rc == 0, nil
}

// finishJob returns the embeddings of a done job and frees it.
func (in *instance) finishJob(ctx context.Context, j *embedJob) ([]Embedding, error) {
	n := len(j.tokens) / 2
	base, err := in.ensureScratch(ctx, 4*n*in.dims)
	if err != nil {
		return nil, err
	}
	rc, err := in.call1(ctx, in.jobFinish, uint64(uint32(j.handle)), uint64(base))
	if err != nil {
		return nil, err
	}
	if rc != 0 {
		return nil, fmt.Errorf("couldn't embed: %s", in.errorText(ctx))
	}
	return in.readVectors(base, j.tokens)
}

// cancelJob frees a job that will not be finished.
func (in *instance) cancelJob(ctx context.Context, j *embedJob) {
	in.jobCancel.Call(ctx, uint64(uint32(j.handle)))
}

// embed embeds texts through a guest job stepped to the end.
func (in *instance) embed(ctx context.Context, texts []string) ([]Embedding, error) {
	j, err := in.startJob(ctx, texts)
	if err != nil {
		return nil, err
	}
	for {
		done, err := in.step(ctx, j)
		if err != nil {
			if !isTrap(err) {
				in.cancelJob(ctx, j)
			}
			return nil, err
		}
		if done {
			return in.finishJob(ctx, j)
		}
	}
}

// embedOneCall embeds texts in one es_embed_batch call: the guest steps
// the same job to the end itself. The layout of the scratch buffer is
// [texts | pad | lens u32×n | tokens i32×2n | out f32×n×dims].
func (in *instance) embedOneCall(ctx context.Context, texts []string) ([]Embedding, error) {
	n := len(texts)
	base, offLens, offTok, err := in.writeTexts(ctx, texts, 8*n+4*n*in.dims)
	if err != nil {
		return nil, err
	}
	offOut := offTok + 8*n
	rc, err := in.call1(ctx, in.embedBat,
		uint64(base), uint64(base+uint32(offLens)), uint64(n),
		uint64(base+uint32(offOut)), uint64(base+uint32(offTok)))
	if err != nil {
		return nil, err
	}
	if rc != 0 {
		return nil, fmt.Errorf("couldn't embed: %s", in.errorText(ctx))
	}
	tokens, err := in.readTokens(base+uint32(offTok), n)
	if err != nil {
		return nil, err
	}
	return in.readVectors(base+uint32(offOut), tokens)
}

// maxGuestBuffer is the most bytes one buffer shared with the guest may
// hold: a wasm32 memory addresses 4 GiB, and a 32-bit host's int counts
// 2 GiB.
const maxGuestBuffer = min(math.MaxUint32, math.MaxInt)

// tokenizeLayout places a text of n bytes and the guest's answer for it in
// one buffer: [text | pad | ids u32×capacity | offsets 2×u32×capacity],
// where capacity = n+16 since a piece covers at least one byte. The buffer
// is about 13n bytes, so a text too long for it to fit maxGuestBuffer is
// refused here, before the arithmetic wraps (on a 32-bit host a text of
// 330 MB made it 4 bytes).
func tokenizeLayout(n int) (capacity, offIDs, offOffs, size int, err error) {
	if n < 0 || n > (maxGuestBuffer-3-12*16)/13 {
		return 0, 0, 0, 0, fmt.Errorf("a text of %d bytes is too long to tokenize at once (at most %d)",
			n, (maxGuestBuffer-3-12*16)/13)
	}
	capacity = n + 16
	offIDs = align4(n)
	offOffs = offIDs + 4*capacity
	return capacity, offIDs, offOffs, offOffs + 8*capacity, nil
}

// tokenize returns the word pieces of text, without [CLS]/[SEP].
func (in *instance) tokenizeText(ctx context.Context, text string) ([]Token, error) {
	capacity, offIDs, offOffs, size, err := tokenizeLayout(len(text))
	if err != nil {
		return nil, err
	}
	base, err := in.ensureScratch(ctx, size)
	if err != nil {
		return nil, err
	}
	if !in.mem.Write(base, []byte(text)) {
		return nil, fmt.Errorf("couldn't write the text into guest memory")
	}
	n, err := in.call1(ctx, in.tokenize, uint64(base), uint64(len(text)),
		uint64(base+uint32(offIDs)), uint64(base+uint32(offOffs)), uint64(capacity))
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("couldn't tokenize: %s", in.errorText(ctx))
	}
	if int(n) > capacity {
		return nil, fmt.Errorf("guest returned %d pieces for %d bytes", n, len(text))
	}
	raw, ok := in.mem.Read(base+uint32(offIDs), uint32(size-offIDs))
	if !ok {
		return nil, fmt.Errorf("guest output is out of bounds")
	}
	toks := make([]Token, n)
	offs := raw[4*capacity:]
	for i := range toks {
		toks[i] = Token{
			ID:    int32(binary.LittleEndian.Uint32(raw[4*i:])),
			Start: int(int32(binary.LittleEndian.Uint32(offs[8*i:]))),
			End:   int(int32(binary.LittleEndian.Uint32(offs[8*i+4:]))),
		}
	}
	return toks, nil
}
