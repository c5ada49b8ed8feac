package embedder

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// wazeroRuntime runs the guest on wazero (pure Go, no cgo), with its
// compilation cache and one anonymous instance per worker.
type wazeroRuntime struct {
	rt       wazero.Runtime
	compiled wazero.CompiledModule
}

// newWazeroRuntime makes a wazero runtime with WASI and compiles wasm in
// it, through the compilation cache in cacheDir when that is not empty.
func newWazeroRuntime(ctx context.Context, wasm []byte, cacheDir string) (guestRuntime, error) {
	cfg := wazero.NewRuntimeConfig()
	if cacheDir != "" {
		if cache, err := wazero.NewCompilationCacheWithDir(cacheDir); err == nil {
			cfg = cfg.WithCompilationCache(cache)
		}
	}
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("couldn't set up WASI: %w", err)
	}
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("couldn't compile the guest: %w", err)
	}
	for _, f := range compiled.ImportedFunctions() {
		if mod, _, _ := f.Import(); mod == hostModule {
			if err := instantiateHostKernels(ctx, rt); err != nil {
				rt.Close(ctx)
				return nil, err
			}
			break
		}
	}
	return &wazeroRuntime{rt: rt, compiled: compiled}, nil
}

// instantiateHostKernels adds the module the host-kernel guest imports
// (kernels.go) to rt. A failed check in hostMatmul panics with its error,
// which wazero turns into a trap: the guest call returns that error.
func instantiateHostKernels(ctx context.Context, rt wazero.Runtime) error {
	serve := func(params int, f func(context.Context, []byte, []uint64) error) (api.GoModuleFunc, []api.ValueType) {
		types := make([]api.ValueType, params)
		for i := range types {
			types[i] = api.ValueTypeI32
		}
		return func(ctx context.Context, mod api.Module, stack []uint64) {
			mem := mod.Memory()
			if mem == nil {
				panic(fmt.Errorf("%s: the guest has no memory", hostModule))
			}
			view, _ := mem.Read(0, mem.Size())
			if err := f(ctx, view, stack[:params]); err != nil {
				panic(err)
			}
		}, types
	}
	b := rt.NewHostModuleBuilder(hostModule)
	matmul, params := serve(hostMatmulParams, hostMatmul)
	b.NewFunctionBuilder().WithGoModuleFunction(matmul, params, nil).Export("matmul")
	rows, params := serve(hostMatmulRowsParams, hostMatmulRows)
	b.NewFunctionBuilder().WithGoModuleFunction(rows, params, nil).Export("matmul_rows")
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("couldn't set up the host kernels: %w", err)
	}
	return nil
}

func (r *wazeroRuntime) instantiate(ctx context.Context) (guestModule, error) {
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous: several instances of one module share a runtime
		WithStartFunctions("_initialize")
	mod, err := r.rt.InstantiateModule(withGuestMemory(ctx), r.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("couldn't instantiate the guest: %w", err)
	}
	return wazeroModule{mod}, nil
}

func (r *wazeroRuntime) close(ctx context.Context) error { return r.rt.Close(ctx) }

type wazeroModule struct{ mod api.Module }

// function looks name up afresh: each lookup gets a native stack of its
// own, which stack.go relies on.
func (m wazeroModule) function(name string) guestFunction {
	fn := m.mod.ExportedFunction(name)
	if fn == nil {
		return nil
	}
	return wazeroFunction{fn}
}

func (m wazeroModule) memory() guestMemory {
	if mem := m.mod.Memory(); mem != nil {
		return mem
	}
	return nil
}

func (m wazeroModule) close(ctx context.Context) { m.mod.Close(ctx) }

type wazeroFunction struct{ api.Function }

func (f wazeroFunction) name() string { return f.Definition().Name() }
