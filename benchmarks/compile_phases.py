"""Where one `charter compile` spends its time: the stages of the command, timed in process.

    cd REPO && python /path/to/benchmarks/compile_phases.py [--check]

Runs `compiler.cli.main(["compile"])` once with wall-clock timers around its stages and prints
one line (to stderr): the import of the spec models (pydantic), the up-to-date test, the IR
cache lookup, discovery, loading, validation, the IR build, the cache's store, rendering and
writing. Stages nest (validate_tree holds load_documents and validate_documents; _write_targets
holds render_graph and write_set); `total` includes Python's own start only from this script's
first line. A profile says which functions are slow; this says which stage, without a
profiler's distortion. Used for the notes in benchmarks/README.md (run it on a tree kept with
`bench_compile.py --keep DIR`, after editing a spec).
"""

from __future__ import annotations

import functools
import importlib
import sys
import time

START = time.perf_counter()
spent: dict[str, float] = {}


def timed(module_name: str, attribute: str, *also: str) -> None:
    """Wrap `module.attribute` (and the same function where `also` modules imported it by name)."""
    module = importlib.import_module(module_name)
    function = getattr(module, attribute)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[attribute] = spent.get(attribute, 0.0) + time.perf_counter() - began

    setattr(module, attribute, wrapper)
    for name in also:
        setattr(importlib.import_module(name), attribute, wrapper)


def main() -> None:
    import compiler.cli as cli

    began = time.perf_counter()
    import compiler.driver  # noqa: F401 - timed: pydantic and the spec models

    spent["import spec models"] = time.perf_counter() - began
    for module, attribute, *also in (
        ("compiler.cli", "_unchanged"), ("compiler.ir.cache", "lookup"), ("compiler.ir.cache", "store"),
        ("compiler.load", "discover", "compiler.driver"), ("compiler.load", "load_documents", "compiler.driver"),
        ("compiler.validate", "validate_documents", "compiler.driver"), ("compiler.driver", "validate_tree"),
        ("compiler.driver", "compile_tree"), ("compiler.ir.build", "build_graph"),
        ("compiler.render", "render_graph"), ("compiler.atomic", "write_set"), ("compiler.cli", "_write_targets"),
    ):
        timed(module, attribute, *also)
    import compiler.ir as ir

    ir.build_graph = sys.modules["compiler.ir.build"].build_graph  # driver imports it from compiler.ir
    code = cli.main(["compile", *sys.argv[1:]])
    spent["total"] = time.perf_counter() - START
    print(" ".join(f"{name}={seconds:.3f}" for name, seconds in spent.items()), file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
