"""The .pym cache: a second run loads native code without LLVM, and nothing stale is ever used.

Each test runs real programs in subprocesses (`python -m fastimport`), with a cache
directory of its own, and reads the JSON report: `compilations` counts what LLVM compiled
in that run, `loaded` what came from an artifact.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fastimport.runtime import pym

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """
import math
import sys
import numpy as np

N = 10
SCALE = 0.5

def helper(x):
    return x * 2 + N

def with_default(a, b=3):
    s = 0
    for i in range(a):
        s += helper(i) % b
    return s

def g(x):
    return math.sqrt(x) + abs(-x) + round(x)

def h(n):
    t = 0.0
    for i in range(n):
        t += g(i * 1.0)
    return t

def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)

def norms(a):
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        s = 0.0
        for j in range(a.shape[1]):
            s += a[i, j] * a[i, j]
        out[i] = np.sqrt(s) * SCALE
    return out

def total(xs):
    s = 0.0
    for x in xs:
        s += x
    return s

def pair(a, b):
    return (a + b, a * b)

a = np.arange(12.0).reshape(3, 4)
print(with_default(50), with_default(50, 7), g(2.0), h(30), fib(15))
print(norms(a).tolist(), total([0.5, 1.5, 2.0]), pair(3, 4))
print(sys.modules.get("llvmlite.binding") is not None, file=sys.stderr)
"""


def run(tmp: Path, *, cache: Path | None = None, script: str = "prog.py", **env: str) -> tuple[str, str, list[dict]]:
    """Run `script` under fastimport with its cache in `cache`; (stdout, stderr, report records)."""
    report = tmp / f"report-{random.randrange(1 << 30)}.json"  # noqa: S311 - a file name
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "FASTIMPORT_CACHE_DIR": str(cache or tmp / "cache"),
        "FASTIMPORT_REPORT": str(report),
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-m", "fastimport", script],
        cwd=tmp,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr, json.loads(report.read_text(encoding="utf-8"))


def counts(records: list[dict]) -> tuple[int, int]:
    """(specializations compiled, specializations loaded) in a run."""
    return sum(r["compilations"] for r in records), sum(r["loaded"] for r in records)


def llvm_imported(stderr: str) -> bool:
    """The program's own last stderr line says whether llvmlite.binding was imported."""
    return stderr.strip().splitlines()[-1] == "True"


def artifacts(cache: Path) -> list[Path]:
    """The .pym files in a cache directory."""
    return sorted(cache.rglob("*.pym"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory with the program, plain CPython's output of it checked first."""
    (tmp_path / "prog.py").write_text(PROGRAM, encoding="utf-8")
    return tmp_path


def plain_output(tmp: Path, script: str = "prog.py") -> str:
    """The program's stdout under plain CPython."""
    return subprocess.run(
        [sys.executable, script], cwd=tmp, capture_output=True, text=True, timeout=120, check=True
    ).stdout


def test_second_run_loads_everything_without_llvm(project: Path) -> None:
    """Run 1 compiles and writes one artifact; run 2 compiles nothing and never imports LLVM."""
    want = plain_output(project)
    out1, err1, records1 = run(project)
    assert out1 == want
    compiled, loaded = counts(records1)
    assert compiled >= 7
    assert loaded == 0
    assert llvm_imported(err1)
    assert len(artifacts(project / "cache")) == 1
    out2, err2, records2 = run(project)
    assert out2 == want
    assert counts(records2) == (0, compiled)
    assert not llvm_imported(err2)
    loaded_signatures = [s for r in records2 for s in r["signatures"] if s.endswith("(from cache)")]
    assert len(loaded_signatures) == compiled
    assert err2.strip().splitlines() == ["False"]  # no warning either


def test_cache_dir_is_private(project: Path) -> None:
    """The cache tree is created 0700 and the artifact 0600."""
    run(project)
    tree = next((project / "cache").iterdir())
    assert (project / "cache").stat().st_mode & 0o777 == 0o700
    assert tree.stat().st_mode & 0o777 == 0o700
    assert tree.name == sys.implementation.cache_tag
    assert artifacts(project / "cache")[0].stat().st_mode & 0o777 == 0o600


def test_editing_the_module_recompiles(project: Path) -> None:
    """A changed source is never served stale code: N = 11 shows in the output."""
    run(project)
    source = (project / "prog.py").read_text(encoding="utf-8")
    (project / "prog.py").write_text(source.replace("return x * 2 + N", "return x * 3 + N"), encoding="utf-8")
    want = plain_output(project)
    out, _, records = run(project)
    assert out == want
    assert counts(records)[1] == 0
    out, _, records = run(project)  # and the rewritten artifact serves the new source
    assert out == want
    assert counts(records)[0] == 0


def test_a_global_of_another_type_is_not_served_the_old_unit(project: Path) -> None:
    """`norms` compiled while SCALE was an int is not loaded when SCALE is a float (its world differs)."""
    source = (project / "prog.py").read_text(encoding="utf-8")
    (project / "prog.py").write_text(
        source.replace("SCALE = 0.5", "SCALE = 2 if 'INT_SCALE' in __import__('os').environ else 0.5"),
        encoding="utf-8",
    )
    int_out, _, _ = run(project, INT_SCALE="1")
    float_out, _, records = run(project)
    assert float_out == plain_output(project) != int_out
    norms = next(r for r in records if r["qualname"] == "norms")
    assert (norms["compilations"], norms["loaded"]) == (1, 0)
    _, _, records = run(project)  # the float unit replaced the int one
    assert counts(records)[0] == 0


def rewrite_header(path: Path, **changes: object) -> None:
    """Re-encode an artifact with header fields changed (and a valid checksum)."""
    artifact = pym.decode(path.read_bytes())
    header = {k: v for k, v in artifact.header.items() if k != "sections"}
    path.write_bytes(pym.encode({**header, **changes}, artifact.sections))


@pytest.mark.parametrize(
    "changes",
    [
        {"fastimport": "0.0.1"},
        {"llvm": "llvmlite 0.1.0"},
        {"python": "cpython-39 3.9.0 final"},
        {"triple": "aarch64-linux"},
        {"features": ["avx2", "fi_no_such_cpu_flag"]},
        {"unnamed_features": ["fi_unnamed"], "host": "0000000000000000"},
    ],
    ids=["fastimport", "llvm", "python", "platform", "cpu-flag", "other-cpu"],
)
def test_each_invalidation_cause_recompiles_and_rewrites(project: Path, changes: dict) -> None:
    """Another version, platform or CPU: compiled again (never loaded), and the artifact rewritten to fit."""
    _, _, records = run(project)
    compiled = counts(records)[0]
    (path,) = artifacts(project / "cache")
    rewrite_header(path, **changes)
    out, err, records = run(project, FASTIMPORT_DEBUG="1")
    assert out == plain_output(project)
    assert counts(records) == (compiled, 0)
    assert "is stale" in err
    header = pym.decode(path.read_bytes()).header
    assert all(header.get(key) != value for key, value in changes.items())
    assert counts(run(project)[2]) == (0, compiled)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda _: b"",
        lambda _: b"garbage" * 100,
        lambda data: data[:100] + bytes([data[100] ^ 0x40]) + data[101:],
    ],
    ids=["truncated", "empty", "garbage", "flipped"],
)
def test_a_damaged_artifact_is_recompiled_with_one_warning(project: Path, damage: object) -> None:
    """The program runs correctly, prints one warning, and the artifact is rewritten valid."""
    _, _, records = run(project)
    compiled = counts(records)[0]
    (path,) = artifacts(project / "cache")
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    out, err, records = run(project)
    assert out == plain_output(project)
    assert counts(records) == (compiled, 0)
    warnings = [line for line in err.splitlines() if line.startswith("fastimport:")]
    assert len(warnings) == 1
    assert "damaged cache file" in warnings[0]
    pym.decode(path.read_bytes())  # valid again
    assert counts(run(project)[2]) == (0, compiled)


@pytest.mark.parametrize(
    "members",
    [
        lambda members: members[:-1],  # a member missing: its symbols are nobody's
        lambda members: [[*m[:7], m[7] + 1] for m in members],  # symbol counts that do not add up
        lambda members: [[m[0], 1 << 30, *m[2:]] for m in members],  # code out of bounds
        lambda _: "members",
    ],
    ids=["missing", "symbols", "bounds", "not-a-list"],
)
def test_an_artifact_whose_members_do_not_fit_its_code_is_recompiled_and_rewritten(
    project: Path, members: object
) -> None:
    """A checksum-valid file whose member table is wrong: nothing placed from it, compiled, and rewritten whole."""
    _, _, records = run(project)
    compiled = counts(records)[0]
    (path,) = artifacts(project / "cache")
    artifact = pym.decode(path.read_bytes())
    meta = pym.load_plain(artifact.sections["meta"])
    meta["members"] = members(meta["members"])  # type: ignore[operator]
    header = {k: v for k, v in artifact.header.items() if k != "sections"}
    path.write_bytes(pym.encode(header, {**artifact.sections, "meta": pym.dump_plain(meta)}))
    out, _, records = run(project)
    assert out == plain_output(project)
    assert counts(records) == (compiled, 0)
    assert counts(run(project)[2]) == (0, compiled)


@pytest.mark.parametrize("version", [1, 2, 99])
def test_an_artifact_of_another_format_version_is_recompiled_quietly(project: Path, version: int) -> None:
    """What another fastimport wrote is stale, not damaged: compiled again and rewritten, no warning (like a .pyc)."""
    _, _, records = run(project)
    compiled = counts(records)[0]
    (path,) = artifacts(project / "cache")
    data = path.read_bytes()
    path.write_bytes(data[:8] + version.to_bytes(2, "little") + data[10:])
    out, err, records = run(project)
    assert out == plain_output(project)
    assert counts(records) == (compiled, 0)
    assert not [line for line in err.splitlines() if line.startswith("fastimport:")]
    pym.decode(path.read_bytes())  # rewritten in this version
    assert counts(run(project)[2]) == (0, compiled)
    path.write_bytes(data[:8] + version.to_bytes(2, "little") + data[10:])
    _, err, _ = run(project, FASTIMPORT_DEBUG="1")
    assert f"is stale (format version {version}" in err


def test_unwritable_cache_dir_runs_uncached_with_one_warning(project: Path) -> None:
    """A cache directory that cannot be created: correct output, one warning, nothing written."""
    blocker = project / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    out, err, records = run(project, cache=blocker / "cache")
    assert out == plain_output(project)
    warnings = [line for line in err.splitlines() if line.startswith("fastimport:")]
    assert len(warnings) == 1
    assert "unusable" in warnings[0]
    assert counts(records)[1] == 0


def test_cache_can_be_disabled(project: Path) -> None:
    """FASTIMPORT_CACHE=0: nothing written, everything compiled each time."""
    _, _, records = run(project, FASTIMPORT_CACHE="0")
    assert not (project / "cache").exists()
    assert counts(records)[1] == 0


def test_concurrent_first_runs_all_succeed(project: Path) -> None:
    """8 processes with one empty cache at once: all print the right output; the artifact is whole."""
    want = plain_output(project)
    with ThreadPoolExecutor(8) as pool:
        outputs = list(pool.map(lambda _: run(project)[0], range(8)))
    assert outputs == [want] * 8
    for path in artifacts(project / "cache"):
        pym.decode(path.read_bytes())
    out, _, records = run(project)
    assert out == want
    assert counts(records)[1] > 0


def test_random_damage_never_crashes(project: Path) -> None:
    """Thousands of random corruptions of a real artifact are all refused before any code runs (in-process)."""
    run(project)
    (path,) = artifacts(project / "cache")
    data = path.read_bytes()
    rng = random.Random(1234)  # noqa: S311 - reproducible damage
    for _ in range(3000):
        damaged = bytearray(data)
        action = rng.randrange(4)
        if action == 0:
            for _ in range(rng.randint(1, 8)):
                damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        elif action == 1:
            del damaged[rng.randrange(len(damaged)) :]
        elif action == 2:
            at = rng.randrange(len(damaged))
            damaged[at:at] = rng.randbytes(rng.randint(1, 64))
        else:
            at, length = rng.randrange(len(damaged)), rng.randint(1, 256)
            damaged[at : at + length] = bytes(length)
        if bytes(damaged) == data:
            continue
        with pytest.raises(pym.PymError):
            pym.decode(bytes(damaged))


FUZZED = """
import math
K = 3
def inner(x, y=2.5):
    return math.sqrt(x) * y + K

def outer(n):
    s = 0.0
    for i in range(n):
        s += inner(i * 1.0) + abs(-i)
    return s
"""

_WRONG = (None, 12345, "x", [], {}, -1, "attr:no_such_module:nothing", ["union"], True)


def _damage_meta(meta: dict, rng: random.Random) -> None:
    """One random structural fault somewhere in a unit: a key gone, a value of the wrong kind."""
    unit = rng.choice(meta["units"])
    holder = rng.choice([unit, *unit["world"], *unit["objects"]])
    if isinstance(holder, dict):
        key = rng.choice(sorted(holder))
        if rng.random() < 0.3:
            del holder[key]
        else:
            holder[key] = rng.choice(_WRONG)
    else:
        holder[rng.randrange(len(holder))] = rng.choice(_WRONG)


def test_structural_damage_behind_a_valid_checksum_is_recompiled() -> None:
    """Metadata with missing keys, wrong types or unknown names (checksum made valid): never a crash or wrong result."""
    from fastimport.runtime import artifacts as store
    from fastimport.runtime.registry import all_functions
    from fastimport.testing import compile_module, plain_module

    want = plain_module(FUZZED).outer(20)
    name = f"fi_cache_fuzz_{os.getpid()}"
    assert compile_module(FUZZED, name=name).outer(20) == want
    store.flush()  # (artifacts are written at exit, or when asked)
    path = next(p for p in store._DECODED if Path(p).name.startswith(name + "-"))
    artifact = pym.decode(Path(path).read_bytes())
    header = {k: v for k, v in artifact.header.items() if k != "sections"}
    rng = random.Random(99)  # noqa: S311 - reproducible damage
    loaded = compiled = 0
    for _ in range(60):
        meta = pym.load_plain(artifact.sections["meta"])
        _damage_meta(meta, rng)
        sections = {**artifact.sections, "meta": pym.dump_plain(meta)}
        Path(path).write_bytes(pym.encode(header, sections))
        store._DECODED.clear()
        module = compile_module(FUZZED, name=name)
        assert module.outer(20) == want
        record = [r for r in all_functions() if (r.module, r.qualname) == (name, "outer")][-1]
        loaded += record.loaded
        compiled += record.compilations
    assert loaded > 0  # damage to what the call does not use (a default's text, say) still loads
    assert compiled > 0


def test_a_unit_whose_world_lost_its_records_is_recompiled_not_loaded() -> None:
    """`"world": []` behind a valid checksum: the code still has the slot of `K`, so the loader refuses the unit.

    (Loaded, it read `K` as 0: `outer(20)` was off by 20 * K. The random damage above found it once.)
    """
    from fastimport.runtime import artifacts as store
    from fastimport.runtime.registry import all_functions
    from fastimport.testing import compile_module, plain_module

    want = plain_module(FUZZED).outer(20)
    name = f"fi_cache_world_{os.getpid()}"
    assert compile_module(FUZZED, name=name).outer(20) == want
    store.flush()
    path = next(p for p in store._DECODED if Path(p).name.startswith(name + "-"))
    artifact = pym.decode(Path(path).read_bytes())
    header = {k: v for k, v in artifact.header.items() if k != "sections"}
    meta = pym.load_plain(artifact.sections["meta"])
    (unit,) = [u for u in meta["units"] if u["function"] == "outer"]
    assert any(record["name"] == "K" for record in unit["world"])
    unit["world"] = []
    Path(path).write_bytes(pym.encode(header, {**artifact.sections, "meta": pym.dump_plain(meta)}))
    store._DECODED.clear()
    module = compile_module(FUZZED, name=name)
    assert module.outer(20) == want
    record = [r for r in all_functions() if (r.module, r.qualname) == (name, "outer")][-1]
    assert (record.loaded, record.compilations) == (0, 1)


def cache_command(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m fastimport cache ...` on the test's cache directory."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "FASTIMPORT_CACHE_DIR": str(tmp / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "fastimport", "cache", *args],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cache_info_lists_the_artifact(project: Path) -> None:
    """`cache info`: the location, the size, and the artifact with its units and its source."""
    _, _, records = run(project)
    result = cache_command(project, "info")
    assert result.returncode == 0, result.stderr
    assert str(project / "cache" / sys.implementation.cache_tag) in result.stdout
    assert "1 artifact(s)" in result.stdout
    (line,) = [line for line in result.stdout.splitlines() if ".pym" in line]
    assert f"{counts(records)[0]} unit(s)" in line  # one per specialization compiled
    assert line.rstrip().endswith(str(project / "prog.py"))
    assert " ok " in line


def test_cache_clear_removes_everything(project: Path) -> None:
    """`cache clear` removes the artifacts; the next run compiles again."""
    run(project)
    result = cache_command(project, "clear")
    assert result.returncode == 0, result.stderr
    assert "removed 1 artifact(s)" in result.stdout
    assert not artifacts(project / "cache")
    assert counts(run(project)[2])[1] == 0


def test_cache_prune_drops_orphaned_damaged_and_old_artifacts(project: Path) -> None:
    """`cache prune`: an artifact whose source is gone, a damaged one and an old one go; a fresh one stays."""
    run(project)
    (kept,) = artifacts(project / "cache")
    other = project / "other.py"
    other.write_text("def f(x):\n    return x + 1\nprint(f(2))\n", encoding="utf-8")
    run(project, script="other.py")
    orphan = next(p for p in artifacts(project / "cache") if p != kept)
    other.unlink()
    damaged = kept.with_name("damaged-0000.pym")
    damaged.write_bytes(b"not a pym")
    old = kept.with_name("old-0000.pym")
    old.write_bytes(kept.read_bytes())
    os.utime(old, (1, 1))
    result = cache_command(project, "prune")
    assert result.returncode == 0, result.stderr
    assert artifacts(project / "cache") == [kept]
    assert "source gone" in result.stdout
    assert "damaged" in result.stdout
    assert "older than 30 days" in result.stdout
    assert "pruned 3 artifact(s)" in result.stdout
    assert orphan.name in result.stdout


def test_cache_command_rejects_unknown_actions(project: Path) -> None:
    """`cache frobnicate` is a usage error (exit 2), like argparse's."""
    result = cache_command(project, "frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_a_module_reloaded_with_another_source_is_not_served_the_old_code() -> None:
    """In one process: the same module file compiled, written, then changed and run again."""
    from fastimport.runtime import artifacts as store
    from fastimport.testing import compile_module

    name = f"fi_cache_reload_{os.getpid()}"
    old = compile_module("def f(x):\n    return x + 1\n", name=name)
    assert old.f(1) == 2
    store.flush()
    new = compile_module("def f(x):\n    return x + 100\n", name=name)
    assert new.f(1) == 101
    again = compile_module("def f(x):\n    return x + 1\n", name=name)
    assert again.f(1) == 2


def test_a_unit_loaded_twice_in_one_process_gets_code_of_its_own() -> None:
    """Two modules from one cached source, run in two threads: each loop reads its own module's global.

    A value global is unboxed into a slot of the unit's code at each call, and the loop
    offers the GIL at its checkpoints; were the two functions given one copy of the code,
    the other thread's calls would overwrite the slot under the running loop.
    """
    import threading

    from fastimport.runtime import artifacts as store
    from fastimport.runtime.registry import all_functions
    from fastimport.testing import compile_module

    name = f"fi_cache_twice_{os.getpid()}"
    source = "K = 1\n\ndef total(n):\n    s = 0\n    for i in range(n):\n        s += K\n    return s\n"
    assert compile_module(source, name=name).total(10) == 10
    store.flush()
    store._DECODED.clear()
    first, second = compile_module(source, name=name), compile_module(source, name=name)
    second.K = 1000
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            assert second.total(1) == 1000

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    thread = threading.Thread(target=spin)
    thread.start()
    try:
        results = [first.total(1_000_000) for _ in range(6)]
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert results == [1_000_000] * 6
    records = [r for r in all_functions() if (r.module, r.qualname) == (name, "total")][-2:]
    assert [(r.loaded, r.compilations) for r in records] == [(1, 0), (1, 0)]


def test_units_of_two_sources_queued_in_one_process_are_labelled_by_their_own_source() -> None:
    """Both compiled before any write: whichever is written, it loads only for its own source."""
    from fastimport.runtime import artifacts as store
    from fastimport.testing import compile_module

    name = f"fi_cache_two_sources_{os.getpid()}"
    assert compile_module("def f(x):\n    return x + 1\n", name=name).f(1) == 2
    assert compile_module("def f(x):\n    return x + 100\n", name=name).f(1) == 101
    store.flush()
    store._DECODED.clear()
    assert compile_module("def f(x):\n    return x + 1\n", name=name).f(1) == 2
    assert compile_module("def f(x):\n    return x + 100\n", name=name).f(1) == 101


def test_editing_a_module_whose_function_is_called_natively_recompiles(tmp_path: Path) -> None:
    """kern.g calls lib_b.f natively; editing lib_b.py (not kern.py) makes g compile again."""
    (tmp_path / "lib_b.py").write_text("K = 5\n\ndef f(x):\n    return x + K\n", encoding="utf-8")
    (tmp_path / "kern.py").write_text(
        "from lib_b import f\n\ndef g(x: int) -> int:\n    return f(x) * 2\n", encoding="utf-8"
    )
    (tmp_path / "main.py").write_text("import kern\n\nprint(kern.g(3))\n", encoding="utf-8")

    def g_counts(records: list[dict]) -> tuple[int, int]:
        g = next(r for r in records if r["qualname"] == "g")
        return g["compilations"], g["loaded"]

    out, _, records = run(tmp_path, script="main.py")
    assert out == "16\n"
    assert g_counts(records) == (1, 0)
    assert "(called from native code)" in next(r for r in records if r["qualname"] == "f")["signatures"][0]
    out, _, records = run(tmp_path, script="main.py")
    assert (out, g_counts(records)) == ("16\n", (0, 1))
    (tmp_path / "lib_b.py").write_text("K = 5\n\ndef f(x):\n    return x + K + 1\n", encoding="utf-8")
    out, _, records = run(tmp_path, script="main.py")
    assert (out, g_counts(records)) == ("18\n", (1, 0))
    out, _, records = run(tmp_path, script="main.py")
    assert (out, g_counts(records)) == ("18\n", (0, 1))


def test_code_loaded_from_the_cache_sees_rebound_globals_like_cpython(tmp_path: Path) -> None:
    """After a load: a rebound value (another type too), callee, callee-module global and builtin act as in CPython."""
    (tmp_path / "lib_b.py").write_text("K = 5\n\ndef f(x):\n    return x + K + abs(-1)\n", encoding="utf-8")
    (tmp_path / "kern.py").write_text(
        "from lib_b import f\nSCALE = 3\n\n"
        "def g(x: int) -> int:\n    return f(x) * SCALE\n\n"
        "def h(x: float) -> float:\n    return round(x * SCALE, 2) + 0.5\n",
        encoding="utf-8",
    )
    (tmp_path / "main.py").write_text(
        "import kern, lib_b\n"
        "for step in range(5):\n"
        "    print(step, kern.g(3), kern.h(1.25))\n"
        "    if step == 0:\n        lib_b.K = 7\n"
        "    elif step == 1:\n        lib_b.abs = lambda x: 100\n"
        "    elif step == 2:\n        kern.SCALE = 2.5\n"
        "    elif step == 3:\n        kern.f = lambda x: -x\n",
        encoding="utf-8",
    )
    plain = plain_output(tmp_path, "main.py")
    first, _, _ = run(tmp_path, script="main.py")
    second, _, records = run(tmp_path, script="main.py")
    assert first == second == plain
    assert counts(records)[1] >= 2  # g and h came from the cache before the rebinding began


@pytest.mark.parametrize(
    ("xdg", "home", "inline"),
    [
        (None, "/home/u", True),
        ("", "/home/u/", True),
        ("/srv/xdg-cache", "/home/u", True),
        ("/x/", None, True),
        ("rel", "/home/u", False),  # relative: platformdirs releases have differed, so it is asked
        (None, "rel", False),
    ],
)
def test_the_inline_cache_location_is_platformdirs_answer(
    monkeypatch: pytest.MonkeyPatch, xdg: str | None, home: str | None, *, inline: bool
) -> None:
    """Where runtime/cachedir.py settles the location itself, it is what platformdirs says; elsewhere it asks it."""
    import platformdirs

    from fastimport.config import Config
    from fastimport.runtime import cachedir

    for name, value in (("XDG_CACHE_HOME", xdg), ("HOME", home)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    expected = Path(platformdirs.user_cache_dir("fastimport", appauthor=False))
    assert cachedir._xdg_cache_root() == (expected if inline else None)
    assert cachedir.cache_root(Config()) == expected
