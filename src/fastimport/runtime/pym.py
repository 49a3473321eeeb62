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
checks it again as it places it. The whole file is covered by a CRC-32 at its end,
verified before anything is parsed, so a torn write, a truncation or a flipped bit is a
PymError, never a crash or a misread. (CRC-32, not a cryptographic hash: it is there
against damage, which it detects as well for files this size, at a twelfth of SHA-256's
cost on a warm run; against a file made on purpose no unkeyed hash helps, the cache
directory's permissions do.)
"""

from __future__ import annotations

import marshal
import os
import struct
import sys
from zlib import crc32

TYPE_CHECKING = False  # a warm run imports this: no typing, no dataclasses (~8 ms)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

MAGIC = b"FIPYM\x00\r\n"  # \r\n: a text-mode copy that rewrote line ends no longer matches
FORMAT_VERSION = 3
MARSHAL_VERSION = 2  # the newest without references (version 3 adds them, and they depend on refcounts)
_PREFIX = struct.Struct("<8sHHI")  # magic, format version, flags (0), header length
_CHECKSUM = struct.Struct("<I")  # CRC-32 of everything before it, at the end of the file
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


class PymVersionError(PymError):
    """A `.pym` of another format version: written by another fastimport, not damaged."""


class Artifact:
    """A decoded `.pym`: its header and its sections' bytes."""

    __slots__ = ("header", "sections")

    def __init__(self, header: dict[str, Any], sections: dict[str, bytes]) -> None:
        self.header = header
        self.sections = sections


def encode(header: dict[str, Any], sections: dict[str, bytes]) -> bytes:
    """The bytes of a `.pym`: prefix, header (with the sections' table), the sections, the checksum."""
    table, offset = [], 0
    for name, payload in sections.items():
        table.append({"name": name, "offset": offset, "size": len(payload)})
        offset += len(payload)
    text = dump_plain(dict(sorted({**header, "sections": table}.items())))  # sorted: the same bytes each time
    body = _PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(text)) + text + b"".join(sections.values())
    return body + _CHECKSUM.pack(crc32(body))


def decode(data: bytes) -> Artifact:
    """Check and split `data`; PymError names the first check that failed."""
    if len(data) < _PREFIX.size + _CHECKSUM.size:
        raise PymError("too short to be a .pym")
    magic, version, flags, length = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise PymError("not a .pym (bad magic)")
    if version != FORMAT_VERSION or flags:
        raise PymVersionError(f"format version {version} (flags {flags}); this fastimport reads {FORMAT_VERSION}")
    end = len(data) - _CHECKSUM.size
    if (crc32(memoryview(data)[:end]),) != _CHECKSUM.unpack_from(data, end):
        raise PymError("checksum mismatch (truncated or damaged)")
    if length > MAX_HEADER or _PREFIX.size + length > end:
        raise PymError("header length out of bounds")
    header = load_plain(data[_PREFIX.size : _PREFIX.size + length])
    if not isinstance(header, dict):
        raise PymError("header is not a dict")
    for key, kind in REQUIRED.items():
        if not isinstance(header.get(key), kind):
            raise PymError(f"header field {key!r} missing or not a {kind.__name__}")
    payload = data[_PREFIX.size + length : end]
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

_PLAIN = frozenset({str, int, float, bool, type(None)})
_CONTAINERS = frozenset({dict, list})  # dicts with str keys
_ALLOWED = _PLAIN | _CONTAINERS
_STR = frozenset({str})


def dump_plain(value: object) -> bytes:
    """`value` (plain data: dicts with string keys, lists, str, int, float, bool, None) as bytes."""
    return marshal.dumps(value, MARSHAL_VERSION)


def load_plain(data: bytes) -> Any:  # noqa: ANN401 - whatever plain data it holds
    """The plain data `dump_plain` wrote; PymError for anything else (marshal can build more: code, bytes, sets)."""
    try:
        value = marshal.loads(data)  # noqa: S302 - behind the file's checksum, and checked below: never run
    except (EOFError, ValueError, TypeError) as exc:
        raise PymError(f"not plain data: {exc}") from None
    if type(value) not in _ALLOWED:
        raise PymError(f"not plain data: a {type(value).__name__}")
    stack = [value] if type(value) in _CONTAINERS else []  # (a scalar is plain data as it is)
    while stack:  # each container's items checked by type, a set at a time (map and set run in C)
        item = stack.pop()
        if type(item) is dict:
            if not set(map(type, item)) <= _STR:
                raise PymError("a dict key that is not a string")
            item = item.values()
        kinds = set(map(type, item))
        if not kinds <= _ALLOWED:
            raise PymError(f"not plain data: a {min(kind.__name__ for kind in kinds - _ALLOWED)}")
        if dict in kinds or list in kinds:
            stack += [x for x in item if type(x) is dict or type(x) is list]
    return value


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
