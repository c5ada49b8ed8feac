package embedder

import (
	"context"
	"time"
)

// Choosing where the guest's native stack lives.
//
// wazero runs each api.Function on a native stack of its own, a 10 KiB Go
// allocation made when the function is looked up. Go packs four of those in
// a 40 KiB span, so the stack's top lands at one of two offsets within a
// 4 KiB page, depending on the slot it got. On the 2-core AMD EPYC VM this
// project is measured on, one of the two made every matmul in the guest run
// at half speed for the life of the instance: a 10-token query took 25 ms
// instead of 12.5 ms in about half of all instances, same binary, same
// model. Forcing the offset in a patched wazero showed a window of about 64
// bad offsets, and the window moved when the kernels changed. The hot loops
// wazero emits reload the memory's base and length from the module context
// on every iteration and keep spill slots on that stack, so the likely cause
// is the CPU's memory dependence prediction matching low address bits of
// the two; that is a guess, not a proof.
//
// As the window depends on the compiled code and on where Go puts the module
// context, tuneEmbed does not predict it: it looks es_job_step (which runs
// every matmul; the other calls of a job only tokenize and copy) up a few
// times, which puts the candidates' stacks in consecutive slots (so both
// page offsets are among them), times one short embedding on each, and keeps
// the fastest. The dropped candidates are garbage. It adds about 30 ms to an
// instance's start and avoids a 2× slowdown in about half of them;
// bench/RESULTS.md has the before and after.

// tuneStacks reports whether instances of a pool with opts (Kernels
// resolved) run tuneEmbed: for the guest's kernels, unless KeepFirstStack.
func tuneStacks(opts Options) bool {
	return !opts.KeepFirstStack && opts.Kernels == KernelsGuest
}

// tuneCandidates is how many lookups of es_job_step compete: three
// consecutive slots hold both page offsets even when the first is the last
// slot of its span.
const tuneCandidates = 3

// tuneText is the short text timed on each candidate ([CLS] a [SEP]): the
// time of a short text is the matmuls streaming every weight, which is what
// the stack's placement slows down.
const tuneText = "a"

// tuneEmbed replaces in.jobStep with the fastest of a few fresh lookups of
// the same export. It changes nothing the guest computes.
//
// It is wazero's quirk: on another runtime it does nothing.
func (in *instance) tuneEmbed(ctx context.Context) error {
	if _, ok := in.mod.(wazeroModule); !ok {
		return nil
	}
	cands := []*candidate{{fn: in.jobStep}}
	for len(cands) < tuneCandidates {
		fn := in.mod.function("es_job_step")
		if fn == nil {
			break
		}
		cands = append(cands, &candidate{fn: fn})
	}
	// One untimed call first: a fresh instance's first call also pays for
	// touching its scratch memory. Then one timed call each; noise only
	// ever adds time, so a candidate of the slow kind cannot win against
	// one of the fast kind by luck.
	if _, err := in.embed(ctx, []string{tuneText}); err != nil {
		return err
	}
	for _, c := range cands {
		in.jobStep = c.fn
		start := time.Now()
		if _, err := in.embed(ctx, []string{tuneText}); err != nil {
			return err
		}
		c.best = time.Since(start)
	}
	best := cands[0]
	for _, c := range cands[1:] {
		if c.best < best.best {
			best = c
		}
	}
	in.jobStep = best.fn
	in.tuned = tuneResult{first: cands[0].best, best: best.best}
	return nil
}

type candidate struct {
	fn   guestFunction
	best time.Duration
}

// tuneResult records what tuneEmbed measured: the time of the short text on
// the first lookup and on the one kept.
type tuneResult struct{ first, best time.Duration }

// avoidedSlowStack reports whether the first lookup was the slow kind.
func (t tuneResult) avoidedSlowStack() bool { return t.first > t.best*7/5 }
