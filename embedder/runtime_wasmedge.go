//go:build wasmedge

package embedder

// The guest on WasmEdge (github.com/WasmEdge/WasmEdge), through its C API
// with cgo. Built only with -tags wasmedge, against the libwasmedge that
// embedder/wasmedge/build.sh installs (embedder/wasmedge/env.sh points
// CGO_CFLAGS and CGO_LDFLAGS at it); the default build is CGO_ENABLED=0 and has only
// wazero. The binding is ours and small: the Go module proxy does not serve
// second-state/WasmEdge-go, and the runtime needs a few dozen C calls.
//
// Two runtimes register here:
//
//	wasmedge         the guest compiled ahead of time by WasmEdge's LLVM
//	                 compiler into a shared object, cached in the cache dir
//	wasmedge-interp  WasmEdge's interpreter (no compile step; slow)
//
// WasmEdge's JIT is not offered: it compiles only in the VM API's
// instantiate (lib/vm/vm.cpp), and with the executor API used here its run
// mode interprets, silently. Its code would be the AOT compiler's anyway,
// compiled again at every start.
//
// What differs from wazero (runtime_wazero.go):
//   - Cancellation: a call is not started once its context has ended
//     (wazero starts it), and the pool stops a batch between its bounded
//     steps, on either runtime. The interpreter also stops a running
//     call: with a context that can end,
//     the call runs asynchronously (WasmEdge_ExecutorAsyncInvoke, a thread
//     per call) and is interrupted when the context ends; it returns the
//     context's error and the instance, like one that trapped, is dropped.
//     The AOT code is not compiled interruptible: the stop check on every
//     loop back edge made it 2.7× slower (1,500 → 550 tokens/s on one
//     thread, docs/wasmedge.md), slower than wazero.
//   - Memory bound: the same maxReserve (memory_unix.go), as WasmEdge's
//     page limit; a memory.grow past it fails, which the guest's allocator
//     reports as out of memory. WasmEdge reserves the address space itself
//     (8 GiB per memory on 64-bit hosts, guard pages included) and grows in
//     place, so there is no copy on growth either.
//   - Signals: while AOT code runs, WasmEdge installs its own SIGSEGV,
//     SIGBUS and SIGFPE handlers (to turn a fault into a trap) and resets
//     them to the default when its last call returns, which would leave the
//     Go runtime without its handlers. esw_exit puts Go's back once no call
//     is running; during a call a fault in Go code on another thread would
//     reach WasmEdge's handler and crash the process instead of panicking.
//   - No native-stack tuning (stack.go): function returns the same export
//     each time, so tuneEmbed's candidates are one function timed thrice.

/*
#cgo LDFLAGS: -lwasmedge
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <wasmedge/wasmedge.h>

// Go's handlers for the signals WasmEdge's AOT calls take over, saved once
// before the first call, and the calls running now.
static struct sigaction esw_go_handlers[3];
static const int esw_signals[3] = {SIGSEGV, SIGBUS, SIGFPE};
static pthread_mutex_t esw_mu = PTHREAD_MUTEX_INITIALIZER;
static int esw_active = -1; // -1: handlers not saved yet

static void esw_enter(void) {
	pthread_mutex_lock(&esw_mu);
	if (esw_active < 0) {
		for (int i = 0; i < 3; i++) sigaction(esw_signals[i], NULL, &esw_go_handlers[i]);
		esw_active = 0;
	}
	esw_active++;
	pthread_mutex_unlock(&esw_mu);
}

static void esw_exit(void) {
	pthread_mutex_lock(&esw_mu);
	if (--esw_active == 0) {
		for (int i = 0; i < 3; i++) sigaction(esw_signals[i], &esw_go_handlers[i], NULL);
	}
	pthread_mutex_unlock(&esw_mu);
}

enum { ESW_MAX_VALUES = 16 };

// esw_params converts n raw values into WasmEdge values of fn's parameter
// types; it returns -1 when n does not match or a type is not a number.
static int esw_params(const WasmEdge_FunctionInstanceContext *fn, const uint64_t *raw, uint32_t n, WasmEdge_Value *out) {
	const WasmEdge_FunctionTypeContext *ft = WasmEdge_FunctionInstanceGetFunctionType(fn);
	WasmEdge_ValType types[ESW_MAX_VALUES];
	if (!ft || n > ESW_MAX_VALUES || WasmEdge_FunctionTypeGetParametersLength(ft) != n) return -1;
	WasmEdge_FunctionTypeGetParameters(ft, types, n);
	for (uint32_t i = 0; i < n; i++) {
		if (WasmEdge_ValTypeIsI32(types[i])) out[i] = WasmEdge_ValueGenI32((int32_t)(uint32_t)raw[i]);
		else if (WasmEdge_ValTypeIsI64(types[i])) out[i] = WasmEdge_ValueGenI64((int64_t)raw[i]);
		else if (WasmEdge_ValTypeIsF32(types[i])) { uint32_t b = (uint32_t)raw[i]; float f; __builtin_memcpy(&f, &b, 4); out[i] = WasmEdge_ValueGenF32(f); }
		else if (WasmEdge_ValTypeIsF64(types[i])) { double d; __builtin_memcpy(&d, &raw[i], 8); out[i] = WasmEdge_ValueGenF64(d); }
		else return -1;
	}
	return 0;
}

// esw_returns is the number of fn's results.
static uint32_t esw_returns(const WasmEdge_FunctionInstanceContext *fn) {
	const WasmEdge_FunctionTypeContext *ft = WasmEdge_FunctionInstanceGetFunctionType(fn);
	return ft ? WasmEdge_FunctionTypeGetReturnsLength(ft) : 0;
}

// esw_raw converts n WasmEdge values back into raw 64-bit ones, as wazero
// hands them out (i32 zero-extended, floats as their bits).
static void esw_raw(const WasmEdge_Value *v, uint32_t n, uint64_t *raw) {
	for (uint32_t i = 0; i < n; i++) {
		if (WasmEdge_ValTypeIsI32(v[i].Type)) raw[i] = (uint32_t)WasmEdge_ValueGetI32(v[i]);
		else if (WasmEdge_ValTypeIsI64(v[i].Type)) raw[i] = (uint64_t)WasmEdge_ValueGetI64(v[i]);
		else if (WasmEdge_ValTypeIsF32(v[i].Type)) { float f = WasmEdge_ValueGetF32(v[i]); uint32_t b; __builtin_memcpy(&b, &f, 4); raw[i] = b; }
		else if (WasmEdge_ValTypeIsF64(v[i].Type)) { double d = WasmEdge_ValueGetF64(v[i]); __builtin_memcpy(&raw[i], &d, 8); }
		else raw[i] = 0;
	}
}

// esw_call invokes fn synchronously. *bad is set when the values do not fit
// fn's type.
static WasmEdge_Result esw_call(WasmEdge_ExecutorContext *ex, const WasmEdge_FunctionInstanceContext *fn,
		const uint64_t *params, uint32_t np, uint64_t *rets, uint32_t nr, int *bad) {
	WasmEdge_Value in[ESW_MAX_VALUES], out[ESW_MAX_VALUES];
	*bad = esw_params(fn, params, np, in) != 0 || nr > ESW_MAX_VALUES;
	if (*bad) return WasmEdge_Result_Fail;
	esw_enter();
	WasmEdge_Result res = WasmEdge_ExecutorInvoke(ex, fn, in, np, out, nr);
	esw_exit();
	if (WasmEdge_ResultOK(res)) esw_raw(out, nr, rets);
	return res;
}

// esw_start starts fn on a thread of its own; NULL when the values do not
// fit fn's type or WasmEdge could not start it. esw_finish waits for it,
// reads its results and frees it.
static WasmEdge_Async *esw_start(WasmEdge_ExecutorContext *ex, const WasmEdge_FunctionInstanceContext *fn,
		const uint64_t *params, uint32_t np) {
	WasmEdge_Value in[ESW_MAX_VALUES];
	if (esw_params(fn, params, np, in) != 0) return NULL;
	esw_enter();
	WasmEdge_Async *a = WasmEdge_ExecutorAsyncInvoke(ex, fn, in, np);
	if (!a) esw_exit();
	return a;
}

static void esw_wait(WasmEdge_Async *a) { WasmEdge_AsyncWait(a); }

static WasmEdge_Result esw_finish(WasmEdge_Async *a, uint64_t *rets, uint32_t nr) {
	WasmEdge_Value out[ESW_MAX_VALUES];
	WasmEdge_Result res = nr > ESW_MAX_VALUES ? WasmEdge_Result_Fail : WasmEdge_AsyncGet(a, out, nr);
	WasmEdge_AsyncDelete(a);
	esw_exit();
	if (WasmEdge_ResultOK(res)) esw_raw(out, nr, rets);
	return res;
}

static WasmEdge_String esw_string(_GoString_ s) {
	return WasmEdge_StringWrap(_GoStringPtr(s), (uint32_t)_GoStringLen(s));
}

static int esw_interrupted(WasmEdge_Result res) {
	return WasmEdge_ResultGetCategory(res) == WasmEdge_ErrCategory_WASM &&
		WasmEdge_ResultGetCode(res) == WasmEdge_ErrCode_Interrupted;
}
*/
import "C"

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"
)

func init() {
	// WasmEdge logs every trap and interruption to stderr; the error
	// comes back to us as a value, and the caller decides what to print.
	C.WasmEdge_LogOff()
	for name, mode := range map[string]uint32{
		"wasmedge": C.WasmEdge_RunMode_AOT, "wasmedge-interp": C.WasmEdge_RunMode_Interpreter,
	} {
		runtimes[name] = func(ctx context.Context, wasm []byte, cacheDir string) (guestRuntime, error) {
			return newWasmEdgeRuntime(wasm, cacheDir, mode)
		}
	}
}

// wasmedgeMaxPages bounds an instance's memory in 64 KiB pages: the bound
// wazero's instances have (maxReserve, memory_unix.go). Tests lower it.
var wasmedgeMaxPages = maxReserve >> 16

// WasmEdgeVersion is the version of the libwasmedge this binary runs on.
func WasmEdgeVersion() string { return C.GoString(C.WasmEdge_VersionGet()) }

// wasmedgeRuntime holds the guest parsed and validated once (from the AOT
// shared object, or from the wasm for the interpreter); every instance has
// an executor, a store and a WASI module of its own.
type wasmedgeRuntime struct {
	conf *C.WasmEdge_ConfigureContext
	ast  *C.WasmEdge_ASTModuleContext
	aot  bool // ast is compiled code, which cannot be interrupted
	// tmp is a directory to remove on close: where the AOT output went
	// when there was no cache dir.
	tmp string
	mu  sync.Mutex // serialises instantiation, which reads ast
}

// wasmedgeError turns a failed WasmEdge_Result into an error naming what
// was being done.
func wasmedgeError(what string, res C.WasmEdge_Result) error {
	return fmt.Errorf("%s: wasmedge: %s", what, C.GoString(C.WasmEdge_ResultGetMessage(res)))
}

// newWasmEdgeRuntime loads wasm for a WasmEdge run mode: for AOT, the
// shared object compileAOT makes of it.
func newWasmEdgeRuntime(wasm []byte, cacheDir string, mode uint32) (guestRuntime, error) {
	if len(wasm) == 0 {
		return nil, errors.New("couldn't compile the guest: empty module")
	}
	conf := C.WasmEdge_ConfigureCreate()
	if conf == nil {
		return nil, errors.New("wasmedge: couldn't create a configuration")
	}
	C.WasmEdge_ConfigureSetMaxMemoryPage(conf, C.uint64_t(wasmedgeMaxPages))
	// Without the AOT run mode WasmEdge reads a shared object's embedded
	// wasm and interprets it, silently.
	C.WasmEdge_ConfigureSetRunMode(conf, mode)
	r := &wasmedgeRuntime{conf: conf, aot: mode == C.WasmEdge_RunMode_AOT}
	loader := C.WasmEdge_LoaderCreate(conf)
	defer C.WasmEdge_LoaderDelete(loader)
	var res C.WasmEdge_Result
	if mode == C.WasmEdge_RunMode_AOT {
		so, tmp, err := compileAOT(wasm, cacheDir)
		if err != nil {
			C.WasmEdge_ConfigureDelete(conf)
			return nil, err
		}
		r.tmp = tmp
		cpath := C.CString(so)
		res = C.WasmEdge_LoaderParseFromFile(loader, &r.ast, cpath)
		C.free(unsafe.Pointer(cpath))
	} else {
		res = C.WasmEdge_LoaderParseFromBuffer(loader, &r.ast, (*C.uint8_t)(unsafe.Pointer(&wasm[0])), C.uint32_t(len(wasm)))
	}
	if !C.WasmEdge_ResultOK(res) {
		r.close(context.Background())
		return nil, wasmedgeError("couldn't load the guest", res)
	}
	validator := C.WasmEdge_ValidatorCreate(conf)
	res = C.WasmEdge_ValidatorValidate(validator, r.ast)
	C.WasmEdge_ValidatorDelete(validator)
	if !C.WasmEdge_ResultOK(res) {
		r.close(context.Background())
		return nil, wasmedgeError("couldn't validate the guest", res)
	}
	return r, nil
}

// compileAOT compiles wasm into a shared object with WasmEdge's AOT
// compiler (O3) and returns its path. With a cache dir the
// object is kept there under a name made of the WasmEdge version and the
// module's hash, and reused; without one it goes into a temporary
// directory, returned as tmp for the caller to remove.
func compileAOT(wasm []byte, cacheDir string) (so, tmp string, err error) {
	sum := sha256.Sum256(wasm)
	// The name changes with anything that changes the object: the module,
	// the compiler's version and the settings below.
	name := fmt.Sprintf("edgesearch-%s-O3-%s.so", WasmEdgeVersion(), hex.EncodeToString(sum[:8]))
	dir := filepath.Join(cacheDir, "wasmedge")
	if cacheDir == "" {
		if dir, err = os.MkdirTemp("", "edgesearch-wasmedge-"); err != nil {
			return "", "", fmt.Errorf("couldn't make a directory for the compiled guest: %w", err)
		}
		tmp = dir
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("couldn't make the cache directory %s: %w", dir, err)
	}
	so = filepath.Join(dir, name)
	if _, err := os.Stat(so); err == nil {
		return so, tmp, nil
	}
	// Compile to a name of our own and rename, so a concurrent process
	// never loads a half-written object.
	part := fmt.Sprintf("%s.%d.part", so, os.Getpid())
	conf := C.WasmEdge_ConfigureCreate()
	defer C.WasmEdge_ConfigureDelete(conf)
	C.WasmEdge_ConfigureCompilerSetOptimizationLevel(conf, C.WasmEdge_CompilerOptimizationLevel_O3)
	C.WasmEdge_ConfigureCompilerSetOutputFormat(conf, C.WasmEdge_CompilerOutputFormat_Native)
	// Not interruptible: see the note on cancellation at the top.
	C.WasmEdge_ConfigureCompilerSetInterruptible(conf, false)
	compiler := C.WasmEdge_CompilerCreate(conf)
	if compiler == nil {
		return "", tmp, errors.New("wasmedge: this libwasmedge has no AOT compiler (built without WASMEDGE_USE_LLVM); use --runtime wasmedge-interp")
	}
	defer C.WasmEdge_CompilerDelete(compiler)
	cpart := C.CString(part)
	defer C.free(unsafe.Pointer(cpart))
	res := C.WasmEdge_CompilerCompileFromBuffer(compiler, (*C.uint8_t)(unsafe.Pointer(&wasm[0])), C.uint64_t(len(wasm)), cpart)
	if !C.WasmEdge_ResultOK(res) {
		os.Remove(part)
		return "", tmp, wasmedgeError("couldn't compile the guest ahead of time", res)
	}
	if err := os.Rename(part, so); err != nil {
		os.Remove(part)
		return "", tmp, fmt.Errorf("couldn't store the compiled guest: %w", err)
	}
	return so, tmp, nil
}

func (r *wasmedgeRuntime) instantiate(ctx context.Context) (guestModule, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := &wasmedgeModule{
		interruptible: !r.aot,
		exec:          C.WasmEdge_ExecutorCreate(r.conf, nil),
		store:         C.WasmEdge_StoreCreate(),
		// No arguments, environment or directories: the ABI passes
		// everything through memory.
		wasi: C.WasmEdge_ModuleInstanceCreateWASI(nil, 0, nil, 0, nil, 0),
	}
	if m.exec == nil || m.store == nil || m.wasi == nil {
		m.close(ctx)
		return nil, errors.New("couldn't instantiate the guest: wasmedge: out of memory")
	}
	if res := C.WasmEdge_ExecutorRegisterImport(m.exec, m.store, m.wasi); !C.WasmEdge_ResultOK(res) {
		m.close(ctx)
		return nil, wasmedgeError("couldn't set up WASI", res)
	}
	if res := C.WasmEdge_ExecutorInstantiate(m.exec, &m.mod, m.store, r.ast); !C.WasmEdge_ResultOK(res) {
		m.close(ctx)
		return nil, wasmedgeError("couldn't instantiate the guest", res)
	}
	m.mem = C.WasmEdge_ModuleInstanceFindMemory(m.mod, C.esw_string("memory"))
	// A reactor's constructors run in _initialize, as wazero's start
	// function does for the wazero runtime.
	if init := m.function("_initialize"); init != nil {
		if _, err := init.Call(ctx); err != nil {
			m.close(ctx)
			return nil, fmt.Errorf("couldn't initialise the guest: %w", err)
		}
	}
	return m, nil
}

func (r *wasmedgeRuntime) close(context.Context) error {
	if r.ast != nil {
		C.WasmEdge_ASTModuleDelete(r.ast)
		r.ast = nil
	}
	if r.conf != nil {
		C.WasmEdge_ConfigureDelete(r.conf)
		r.conf = nil
	}
	if r.tmp != "" {
		os.RemoveAll(r.tmp)
		r.tmp = ""
	}
	return nil
}

type wasmedgeModule struct {
	interruptible bool // a running call can be stopped (the interpreter)
	exec          *C.WasmEdge_ExecutorContext
	store         *C.WasmEdge_StoreContext
	wasi          *C.WasmEdge_ModuleInstanceContext
	mod           *C.WasmEdge_ModuleInstanceContext
	mem           *C.WasmEdge_MemoryInstanceContext
}

func (m *wasmedgeModule) function(name string) guestFunction {
	fn := C.WasmEdge_ModuleInstanceFindFunction(m.mod, C.esw_string(name))
	if fn == nil {
		return nil
	}
	return &wasmedgeFunction{m: m, fn: fn, fname: name, nret: int(C.esw_returns(fn))}
}

func (m *wasmedgeModule) memory() guestMemory {
	if m.mem == nil {
		return nil
	}
	return wasmedgeMemory{m.mem}
}

func (m *wasmedgeModule) close(context.Context) {
	if m.mod != nil {
		C.WasmEdge_ModuleInstanceDelete(m.mod)
	}
	if m.wasi != nil {
		C.WasmEdge_ModuleInstanceDelete(m.wasi)
	}
	if m.store != nil {
		C.WasmEdge_StoreDelete(m.store)
	}
	if m.exec != nil {
		C.WasmEdge_ExecutorDelete(m.exec)
	}
	*m = wasmedgeModule{}
}

type wasmedgeFunction struct {
	m     *wasmedgeModule
	fn    *C.WasmEdge_FunctionInstanceContext
	fname string
	nret  int
}

func (f *wasmedgeFunction) name() string { return f.fname }

// Call runs the function; it returns the context's error without calling
// when the context has ended. On the interpreter, with a context that can
// end, the call runs on a thread of WasmEdge's and is interrupted when the
// context ends: it then returns the context's error, even if the guest
// finished meanwhile, because the executor's stop request may still be
// pending and would interrupt its next call; the caller drops the instance,
// as after a trap.
func (f *wasmedgeFunction) Call(ctx context.Context, params ...uint64) ([]uint64, error) {
	if f.m.exec == nil {
		return nil, fmt.Errorf("%s: instance closed", f.fname)
	}
	if len(params) > C.ESW_MAX_VALUES || f.nret > C.ESW_MAX_VALUES {
		return nil, fmt.Errorf("%s: too many values", f.fname)
	}
	var in, out [C.ESW_MAX_VALUES]C.uint64_t
	for i, p := range params {
		in[i] = C.uint64_t(p)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: not called: %w", f.fname, err)
	}
	var res C.WasmEdge_Result
	if ctx.Done() == nil || !f.m.interruptible {
		var bad C.int
		res = C.esw_call(f.m.exec, f.fn, &in[0], C.uint32_t(len(params)), &out[0], C.uint32_t(f.nret), &bad)
		if bad != 0 {
			return nil, fmt.Errorf("%s: %d parameters do not fit its type", f.fname, len(params))
		}
	} else {
		a := C.esw_start(f.m.exec, f.fn, &in[0], C.uint32_t(len(params)))
		if a == nil {
			return nil, fmt.Errorf("%s: couldn't start the call (%d parameters)", f.fname, len(params))
		}
		done := make(chan struct{})
		go func() {
			C.esw_wait(a)
			close(done)
		}()
		var cancelled error
		select {
		case <-done:
		case <-ctx.Done():
			C.WasmEdge_AsyncCancel(a)
			<-done
			cancelled = ctx.Err()
		}
		res = C.esw_finish(a, &out[0], C.uint32_t(f.nret))
		if cancelled != nil {
			if C.esw_interrupted(res) != 0 {
				return nil, fmt.Errorf("%s: interrupted: %w", f.fname, cancelled)
			}
			// It ended by itself before the stop took effect.
			return nil, fmt.Errorf("%s: abandoned: %w", f.fname, cancelled)
		}
	}
	if !C.WasmEdge_ResultOK(res) {
		if C.esw_interrupted(res) != 0 {
			return nil, fmt.Errorf("%s: interrupted", f.fname)
		}
		return nil, wasmedgeError(f.fname, res)
	}
	rets := make([]uint64, f.nret)
	for i := range rets {
		rets[i] = uint64(out[i])
	}
	return rets, nil
}

// wasmedgeMemory is a view of an instance's linear memory. WasmEdge keeps
// it at one address as it grows, but Read's views are still valid only
// until the next call, as guestMemory says.
type wasmedgeMemory struct {
	mem *C.WasmEdge_MemoryInstanceContext
}

func (m wasmedgeMemory) Size() uint32 {
	n := uint64(C.WasmEdge_MemoryInstanceGetPageSize(m.mem)) << 16
	return uint32(min(n, 1<<32-1))
}

func (m wasmedgeMemory) Read(offset, byteCount uint32) ([]byte, bool) {
	if uint64(offset)+uint64(byteCount) > uint64(C.WasmEdge_MemoryInstanceGetPageSize(m.mem))<<16 {
		return nil, false
	}
	if byteCount == 0 {
		return []byte{}, true
	}
	p := C.WasmEdge_MemoryInstanceGetPointer(m.mem, C.uint64_t(offset), C.uint64_t(byteCount))
	if p == nil {
		return nil, false
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), byteCount), true
}

func (m wasmedgeMemory) Write(offset uint32, v []byte) bool {
	buf, ok := m.Read(offset, uint32(len(v)))
	if !ok || uint64(len(v)) > 1<<32-1 {
		return false
	}
	copy(buf, v)
	return true
}
