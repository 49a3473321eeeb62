"""The `.pym` container: a checked header, named sections, a checksum (cache/FORMAT.md).

    encode(header, sections) -> bytes         header: JSON-able dict; sections: name -> bytes
    decode(data) -> Artifact                  PymError unless every check passes
    mismatch(artifact, expected) -> str|None  why a valid artifact does not fit this process
    write_atomic(path, data)                  temp file in the same directory, then os.replace

Nothing in a `.pym` is executable Python: the header and any metadata are JSON, the
object code goes to backend/objload.py, which checks it again as it places it. The
whole file is covered by a SHA-256 at its end, verified before anything is parsed, so
a torn write, a truncation or a flipped bit is a PymError, never a crash or a misread.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct

TYPE_CHECKING = False  # a warm run imports this: no typing, no dataclasses (~8 ms)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

MAGIC = b"FIPYM\x00\r\n"  # \r\n: a text-mode copy that rewrote line ends no longer matches
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sHHI")  # magic, format version, flags (0), header length
_DIGEST = 32  # SHA-256 at the end of the file
MAX_HEADER = 1 << 20
# What a header must hold, and of which JSON type (cache/FORMAT.md).
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
    """The bytes of a `.pym`: prefix, JSON header (with the sections' table), the sections, the digest."""
    table, offset = [], 0
    for name, payload in sections.items():
        table.append({"name": name, "offset": offset, "size": len(payload)})
        offset += len(payload)
    text = json.dumps({**header, "sections": table}, sort_keys=True, separators=(",", ":")).encode()
    body = _PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(text)) + text + b"".join(sections.values())
    return body + hashlib.sha256(body).digest()


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
    if hashlib.sha256(body).digest() != digest:
        raise PymError("checksum mismatch (truncated or damaged)")
    if length > MAX_HEADER or _PREFIX.size + length > len(body):
        raise PymError("header length out of bounds")
    try:
        header = json.loads(body[_PREFIX.size : _PREFIX.size + length])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PymError(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise PymError("header is not a JSON object")
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
    return hashlib.sha256(source).hexdigest()


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
