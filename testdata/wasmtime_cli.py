"""Run guest/edgesearch.wasm as a standalone WASI command under wasmtime.

usage: wasmtime_cli.py WASM HOST_DIR GUEST_MODEL_PATH [TEXT...]

HOST_DIR is pre-opened at /m in the guest. The guest's stdout and stderr
pass through; the exit code is the guest's. Used by embedder/wasi_test.go to
show the module runs under a second WASI runtime, not only wazero.
"""
import sys

from wasmtime import Engine, ExitTrap, Linker, Module, Store, WasiConfig


def main() -> int:
    wasm, host_dir, model, *texts = sys.argv[1:]
    engine = Engine()
    linker = Linker(engine)
    linker.define_wasi()
    store = Store(engine)
    wasi = WasiConfig()
    wasi.argv = ["edgesearch.wasm", model, *texts]
    wasi.preopen_dir(host_dir, "/m")
    wasi.inherit_stdin()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    instance = linker.instantiate(store, Module.from_file(engine, wasm))
    try:
        instance.exports(store)["_start"](store)
    except ExitTrap as e:
        return e.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
