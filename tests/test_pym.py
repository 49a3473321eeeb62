"""The `.pym` container (runtime/pym.py, cache/FORMAT.md): what it accepts, what it refuses, and why."""

from __future__ import annotations

import json
import marshal
import os
import random
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from fastimport.runtime import pym

ROOT = Path(__file__).resolve().parents[1]

HEADER = {
    "fastimport": "0.1.0",
    "llvm": "llvmlite 0.50.0, LLVM 22.1.0",
    "python": "cpython-311",
    "triple": "x86_64-unknown-linux-gnu",
    "cpu": "x86-64-v3",
    "features": ["avx2", "fma"],
    "module": "pkg.kernels",
    "source_sha256": pym.source_hash(b"def f(x):\n    return x + 1\n"),
    "depends": {"pkg.helpers": pym.source_hash(b"def g():\n    pass\n")},
}
SECTIONS = {"object": bytes(range(256)) * 40, "meta": b'{"functions": []}', "empty": b""}
HERE = {**HEADER, "features": {"avx2", "fma", "sse4.2"}}


def _good() -> bytes:
    return pym.encode(HEADER, SECTIONS)


def test_round_trip() -> None:
    """What was written is read back: the header (with its sections table) and every section's bytes."""
    artifact = pym.decode(_good())
    assert artifact.sections == SECTIONS
    assert {k: v for k, v in artifact.header.items() if k != "sections"} == HEADER
    assert pym.mismatch(artifact, HERE) is None


def test_every_truncation_and_every_single_flip_is_refused() -> None:
    """A torn write (any prefix) or a flipped byte anywhere: PymError, at the first check it fails."""
    good = _good()
    for size in range(len(good)):
        with pytest.raises(pym.PymError):
            pym.decode(good[:size])
    rng = random.Random(7)  # noqa: S311 - reproducible damage, not secrets
    for position in list(range(200)) + [rng.randrange(len(good)) for _ in range(3000)]:
        damaged = bytearray(good)
        damaged[position] ^= rng.randrange(1, 256)
        with pytest.raises(pym.PymError):
            pym.decode(bytes(damaged))


def _resealed(header: object, sections: bytes = b"", *, text: bytes | None = None) -> bytes:
    """A file with this header (any marshal data, or raw `text`) and a valid checksum: later checks refuse it."""
    if text is None:
        text = marshal.dumps(header, 2)
    body = pym._PREFIX.pack(pym.MAGIC, pym.FORMAT_VERSION, 0, len(text)) + text + sections
    return body + zlib.crc32(body).to_bytes(4, "little")


@pytest.mark.parametrize(
    ("header", "sections", "reason"),
    [
        ([1, 2], b"", "not a dict"),
        ({**HEADER, "sections": [], "extra": (1, 2)}, b"", "not plain data: a tuple"),
        ({**HEADER, "sections": [], "extra": [b"bytes"]}, b"", "not plain data: a bytes"),
        ({**HEADER, "sections": [], "extra": {"x": {1, 2}}}, b"", "not plain data: a set"),
        ({**HEADER, "sections": [], 7: "seven"}, b"", "not a string"),
        ({**HEADER, "sections": [], "code": compile("print('never run')", "<x>", "exec")}, b"", "a code"),
        ({**HEADER, "sections": []} | {"features": "avx2"}, b"", "'features'"),
        ({k: v for k, v in HEADER.items() if k != "python"} | {"sections": []}, b"", "'python'"),
        ({**HEADER, "sections": [{"name": "object", "offset": 0, "size": 5}]}, b"abc", "out of bounds"),
        ({**HEADER, "sections": [{"name": "object", "offset": 1, "size": 2}]}, b"abc", "not where"),
        ({**HEADER, "sections": [{"name": "object", "offset": 0, "size": 2}]}, b"abc", "after the last"),
        (
            {**HEADER, "sections": [{"name": "a", "offset": 0, "size": 1}, {"name": "a", "offset": 1, "size": 1}]},
            b"ab",
            "twice",
        ),
        ({**HEADER, "sections": [{"name": "a", "offset": 0, "size": True}]}, b"a", "not where"),
    ],
)
def test_sealed_but_malformed_headers_are_refused(header: object, sections: bytes, reason: str) -> None:
    """A file whose checksum is right but whose header is not what version 3 writes (code is data, never run)."""
    with pytest.raises(pym.PymError, match=reason):
        pym.decode(_resealed(header, sections))


def test_a_sealed_header_that_is_not_marshal_data_is_refused() -> None:
    """Garbage, a truncated encoding, JSON (what version 1 wrote): PymError, never an exception of marshal's."""
    good = marshal.dumps({**HEADER, "sections": []}, 2)
    for text in (b"", b"\xff\xfe", good[: len(good) // 2], json.dumps(HEADER).encode(), os.urandom(300)):
        with pytest.raises(pym.PymError):
            pym.decode(_resealed(None, text=text))


def test_truncated_plain_data_is_refused() -> None:
    """Plain data cut anywhere: PymError, never an exception of marshal's.

    (Only truncations: a flipped byte behind a valid checksum can be a list's length, and
    marshal then allocates that list before finding the data short; such a file has to be
    made on purpose, and costs memory and time, never a wrong result.)
    """
    good = pym.dump_plain({"units": [{"args": ["INT", ["array", "F64", 2, "C", False]], "big": 1 << 70}] * 4})
    for size in range(len(good)):
        with pytest.raises(pym.PymError):
            pym.load_plain(good[:size])


def test_scalars_are_plain_data_and_a_scalar_header_is_refused() -> None:
    """A bare int, float, string, bool or None decodes as itself; as a header it is not a dict (found by os.urandom)."""
    for value in (5, 1 << 70, -0.5, "x", "", True, None):
        assert pym.load_plain(marshal.dumps(value, 2)) == value
        with pytest.raises(pym.PymError, match="header is not a dict"):
            pym.decode(_resealed(value))


def test_plain_data_round_trips_to_the_same_bytes() -> None:
    """dump_plain is deterministic (no marshal references), and load_plain gives back equal data."""
    value = {"units": [{"args": ["INT", ["array", "F64", 2, "C", False]], "x": -0.0, "n": None, "big": 1 << 70}]}
    data = pym.dump_plain(value)
    assert pym.load_plain(data) == value
    copy = pym.load_plain(pym.dump_plain(pym.load_plain(data)))
    assert pym.dump_plain(copy) == data


def test_other_versions_and_garbage_are_refused() -> None:
    """Another format version, a foreign file, nothing at all."""
    good = bytearray(_good())
    good[8] = 1  # what the first fastimport wrote (JSON, ELF objects)
    with pytest.raises(pym.PymError, match="format version 1"):
        pym.decode(bytes(good))
    for data in (b"", b"\x7fELF" + bytes(100), b"FIPYM", os.urandom(4096)):
        with pytest.raises(pym.PymError):
            pym.decode(data)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"fastimport": "0.2.0"}, "fastimport"),
        ({"llvm": "llvmlite 0.51.0, LLVM 23.0.0"}, "llvm"),
        ({"python": "cpython-312"}, "python"),
        ({"triple": "aarch64-unknown-linux-gnu"}, "triple"),
        ({"source_sha256": pym.source_hash(b"def f(x):\n    return x + 2\n")}, "source_sha256"),
        ({"features": {"sse4.2"}}, "avx2, fma"),
        ({"depends": {"pkg.helpers": pym.source_hash(b"changed")}}, "pkg.helpers"),
        ({"depends": {}}, "pkg.helpers"),
    ],
)
def test_a_valid_artifact_that_does_not_fit_says_why(change: dict, reason: str) -> None:
    """Each invalidation cause of issue #4 gives its own reason (the caller then recompiles)."""
    why = pym.mismatch(pym.decode(_good()), {**HERE, **change})
    assert why is not None
    assert reason in why


WRITER = """
import sys
from pathlib import Path
sys.path.insert(0, {src!r})
from fastimport.runtime import pym
path, k = Path(sys.argv[1]), int(sys.argv[2])
header = {header!r}
for round in range(40):
    pym.write_atomic(path, pym.encode(header, {{"object": bytes([k]) * (1000 + 97 * k), "meta": str(round).encode()}}))
    artifact = pym.decode(path.read_bytes())  # whoever wrote last: always a whole file
    assert len(set(artifact.sections["object"])) == 1
"""


def test_concurrent_writers_never_leave_a_torn_file(tmp_path: Path) -> None:
    """Eight processes rewriting one artifact: every read in between decodes, and so does the end result."""
    path = tmp_path / "m.pym"
    script = textwrap.dedent(WRITER).format(src=str(ROOT / "src"), header=HEADER)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), str(k)]) for k in range(8)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 8
    artifact = pym.decode(path.read_bytes())
    assert len(set(artifact.sections["object"])) == 1
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pym"]  # no temporary file left behind


GOLDEN = Path(__file__).resolve().parent.parent / "cache" / "golden"
UNIT_KEYS = {"function", "args", "ret", "symbol", "shape", "nests", "object", "numpy", "objects", "world", "callees"}


def test_golden_sample_is_a_valid_version_3_artifact() -> None:
    """cache/golden/sample.cpython-311.pym decodes, and its meta section has the documented shape (FORMAT.md)."""
    from fastimport.backend import objload

    artifact = pym.decode((GOLDEN / "sample.cpython-311.pym").read_bytes())
    assert artifact.header["origin"] == "shipped"
    assert artifact.header["module"] == "sample"
    assert artifact.header["source_sha256"] == pym.source_hash((GOLDEN / "sample.py").read_bytes())
    meta = pym.load_plain(artifact.sections["meta"])
    assert [u["function"] for u in meta["units"]] == ["add", "hypot_sum"]
    assert set(artifact.sections) == {"meta", "runtime", "code"}
    members = [member[0] for member in meta["members"]]
    for unit in meta["units"]:
        assert set(unit) == UNIT_KEYS
        assert unit["object"] in members
        assert "shape:" + unit["shape"] in members
        assert all(record["kind"] in {"value", "callable", "module", "defaults"} for record in unit["world"])
    assert set(meta["shared"]) == {"runtime", *("shape:" + u["shape"] for u in meta["units"])}
    (runtime,) = objload.place([objload.read_image(artifact.sections["runtime"])], lambda _name: 1)  # never run
    placed = objload.place_members(objload.read_image(artifact.sections["code"]), meta["members"], lambda _name: 1)
    assert "fi_world_ok" in runtime.symbols
    for unit in meta["units"]:
        assert unit["symbol"] in placed[unit["object"]].symbols
        assert f"fi_fastcall_{unit['shape']}" in placed["shape:" + unit["shape"]].symbols


@pytest.mark.parametrize("version", [1, 2])
def test_older_golden_samples_are_refused_as_such(version: int) -> None:
    """What fastimport wrote before format version 3 is not misread: refused, saying which version it is."""
    with pytest.raises(pym.PymError, match=f"format version {version}"):
        pym.decode((GOLDEN / f"sample.v{version}.cpython-311.pym").read_bytes())


def test_golden_sample_loads_where_the_versions_match(tmp_path: Path) -> None:
    """Beside its source, the sample is loaded (same versions) or refused with the reason (others)."""
    import shutil

    from fastimport.runtime import cachedir

    artifact = pym.decode((GOLDEN / "sample.cpython-311.pym").read_bytes())
    shutil.copy(GOLDEN / "sample.py", tmp_path / "sample.py")
    (tmp_path / "__pycache__").mkdir()
    shutil.copy(
        GOLDEN / "sample.cpython-311.pym", tmp_path / "__pycache__" / f"sample.{sys.implementation.cache_tag}.pym"
    )
    (tmp_path / "main.py").write_text(
        "import sample\nprint(sample.add(2, 3), sample.hypot_sum(20))\n", encoding="utf-8"
    )
    env = {
        **__import__("os").environ,
        "PYTHONPATH": str(GOLDEN.parent.parent / "src"),
        "FASTIMPORT_CACHE": "0",
        "FASTIMPORT_DEBUG": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "fastimport", "main.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    plain = subprocess.run(
        [sys.executable, "main.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout == plain.stdout
    why = pym.mismatch(artifact, cachedir.environment("sample", artifact.header["source_sha256"]))
    if why is None:
        assert "sample.add: loaded from" in result.stderr
        assert "sample.hypot_sum: loaded from" in result.stderr
    else:  # another Python, llvmlite or fastimport version: never loaded, compiled instead
        assert "loaded from" not in result.stderr
