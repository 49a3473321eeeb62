"""The `.pym` container: a checked header, named sections, a checksum (cache/FORMAT.md).

    encode(header, sections) -> bytes         header: plain data (below); sections: name -> bytes
    decode(data) -> Artifact                  PymError unless every check passes
    mismatch(artifact, expected) -> str|None  why a valid artifact does not fit this process
    write_atomic(path, data)                  temp file in the same directory, then os.replace
    dump_plain(value) / load_plain(data)      the encoding of the header and of `meta`

Nothing in a `.pym` is executable Python: the header and the metadata are plain data
(dicts with string keys, lists, strings, numbers, booleans, None) in marshal's version-2
encoding, which has no references, so equal values give equal bytes; whatever else
marshal could build is refused. Marshal, not JSON: it is built in, where importing json
costs a warm run over a millisecond. The object code goes to backend/objload.py, which
checks it again as it places it. The whole file is covered by a SHA-256 at its end,
verified before anything is parsed, so a torn write, a truncation or a flipped bit is a
PymError, never a crash or a misread.
"""

from __future__ import annotations

import marshal
import os
import struct
import sys

TYPE_CHECKING = False  # a warm run imports this: no typing, no dataclasses (~8 ms)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

MAGIC = b"FIPYM\x00\r\n"  # \r\n: a text-mode copy that rewrote line ends no longer matches
FORMAT_VERSION = 2
MARSHAL_VERSION = 2  # the newest without references (version 3 adds them, and they depend on refcounts)
_PREFIX = struct.Struct("<8sHHI")  # magic, format version, flags (0), header length
_DIGEST = 32  # SHA-256 at the end of the file
MAX_HEADER = 1 << 20
# What a header must hold, and of which type (cache/FORMAT.md).
REQUIRED = {
    "fastimport": str,
    "llvm": str,
    "python": str,
    "triple": str,
    "cpu": str,
    "features": list,
    "module": str,
    "source_sha256": str,
    "depends": dict,
    "sections": list,
}


class PymError(ValueError):
    """Not a `.pym` this version can read (malformed, damaged, or another format version)."""


class Artifact:
    """A decoded `.pym`: its header and its sections' bytes."""

    __slots__ = ("header", "sections")

    def __init__(self, header: dict[str, Any], sections: dict[str, bytes]) -> None:
        self.header = header
        self.sections = sections


def encode(header: dict[str, Any], sections: dict[str, bytes]) -> bytes:
    """The bytes of a `.pym`: prefix, header (with the sections' table), the sections, the digest."""
    table, offset = [], 0
    for name, payload in sections.items():
        table.append({"name": name, "offset": offset, "size": len(payload)})
        offset += len(payload)
    text = dump_plain(dict(sorted({**header, "sections": table}.items())))  # sorted: the same bytes each time
    body = _PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(text)) + text + b"".join(sections.values())
    return body + sha256(body).digest()


def decode(data: bytes) -> Artifact:
    """Check and split `data`; PymError names the first check that failed."""
    if len(data) < _PREFIX.size + _DIGEST:
        raise PymError("too short to be a .pym")
    magic, version, flags, length = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise PymError("not a .pym (bad magic)")
    if version != FORMAT_VERSION or flags:
        raise PymError(f"format version {version} (flags {flags}); this fastimport reads version {FORMAT_VERSION}")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if sha256(body).digest() != digest:
        raise PymError("checksum mismatch (truncated or damaged)")
    if length > MAX_HEADER or _PREFIX.size + length > len(body):
        raise PymError("header length out of bounds")
    header = load_plain(body[_PREFIX.size : _PREFIX.size + length])
    if not isinstance(header, dict):
        raise PymError("header is not a dict")
    for key, kind in REQUIRED.items():
        if not isinstance(header.get(key), kind):
            raise PymError(f"header field {key!r} missing or not a {kind.__name__}")
    payload = body[_PREFIX.size + length :]
    return Artifact(header, _sections(header["sections"], payload))


def _sections(table: list[Any], payload: bytes) -> dict[str, bytes]:
    """The sections named in `table`, each inside `payload`, together covering it exactly."""
    sections: dict[str, bytes] = {}
    end = 0
    for entry in table:
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str)):
            raise PymError("bad section entry")
        offset, size = entry.get("offset"), entry.get("size")
        if not (type(offset) is int and type(size) is int and offset == end and size >= 0):
            raise PymError(f"section {entry['name']!r} is not where the table says")
        if entry["name"] in sections:
            raise PymError(f"section {entry['name']!r} twice")
        end = offset + size
        if end > len(payload):
            raise PymError(f"section {entry['name']!r} out of bounds")
        sections[entry["name"]] = payload[offset:end]
    if end != len(payload):
        raise PymError("bytes after the last section")
    return sections


def mismatch(artifact: Artifact, expected: dict[str, Any]) -> str | None:
    """Why `artifact` must not be used here (None: it fits).

    `expected` holds this process's values: the versions, the target triple, the CPU
    features it has (a set), the module's source hash and the hashes of the modules
    whose compiled code the artifact calls (`depends`: module -> sha256).
    """
    header = artifact.header
    for key in ("fastimport", "llvm", "python", "triple", "module", "source_sha256"):
        if header[key] != expected[key]:
            return f"{key} is {header[key]!r}, here {expected[key]!r}"
    missing = set(header["features"]) - set(expected["features"])
    if missing:
        return "needs CPU features this machine lacks: " + ", ".join(sorted(missing))
    for module, digest in header["depends"].items():
        if expected["depends"].get(module) != digest:
            return f"module {module!r} it calls has changed"
    return None


def source_hash(source: bytes) -> str:
    """The hash a header records for a module's source."""
    return sha256(source).hexdigest()


def sha256(data: bytes) -> Any:  # noqa: ANN401 - a hashlib-like hash object
    """SHA-256 from CPython's built-in module: importing hashlib loads OpenSSL (~3 ms of a warm run)."""
    return _sha256_type()(data)


def _sha256_type() -> Any:  # noqa: ANN401
    global _SHA256  # noqa: PLW0603 - found once
    if _SHA256 is None:
        try:
            if sys.version_info >= (3, 12):
                from _sha2 import sha256 as found
            else:
                from _sha256 import sha256 as found
        except ImportError:  # a build without them
            from hashlib import sha256 as found
        _SHA256 = found
    return _SHA256


_SHA256: Any = None

_PLAIN = frozenset({str, int, float, bool, type(None)})  # and dicts with str keys, lists


def dump_plain(value: object) -> bytes:
    """`value` (plain data: dicts with string keys, lists, str, int, float, bool, None) as bytes."""
    return marshal.dumps(value, MARSHAL_VERSION)


def load_plain(data: bytes) -> Any:  # noqa: ANN401 - whatever plain data it holds
    """The plain data `dump_plain` wrote; PymError for anything else (marshal can build more: code, bytes, sets)."""
    try:
        value = marshal.loads(data)  # noqa: S302 - behind the file's checksum, and checked below: never run
    except (EOFError, ValueError, TypeError) as exc:
        raise PymError(f"not plain data: {exc}") from None
    stack = [value]
    while stack:
        stack += _containers(stack.pop())
    return value


def _containers(item: object) -> list[Any]:
    """The dicts and lists directly inside `item`, whose keys and scalars are checked (PymError otherwise)."""
    found = []
    for x in _items(item):  # (scalars checked here, not pushed: most of the items are strings)
        kind = type(x)
        if kind is dict or kind is list:
            found.append(x)
        elif kind not in _PLAIN:
            raise PymError(f"not plain data: a {kind.__name__}")
    return found


def _items(item: object) -> Any:  # noqa: ANN401 - an iterable of anything
    """What a container holds (nothing for a scalar); PymError for a non-string key or a non-plain item."""
    kind = type(item)
    if kind is dict:
        if any(type(key) is not str for key in item):  # type: ignore[attr-defined]
            raise PymError("a dict key that is not a string")
        return item.values()  # type: ignore[attr-defined]
    if kind is list:
        return item
    if kind in _PLAIN:
        return ()
    raise PymError(f"not plain data: a {kind.__name__}")


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write `data` to `path` so that a reader sees the old file or the new one, never a torn one.

    A cache file is private to the user (0600), as its directory is (0700); a shipped one
    is world-readable (`mode`).
    """
    import contextlib
    import tempfile

    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
