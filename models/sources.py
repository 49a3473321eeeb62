"""The modules models/data was recorded from, unpacked from the pinned wheels, for the call-site check.

    python models/sources.py                  # fetch and unpack every package of models/data
    root = sources.unpacked("networkx")       # -> Path of the unpacked wheel, or None
    root / "networkx/algorithms/clique.py"

A record of models/data names its package, version and file (relative to site-packages),
but holds only its function's source. models/evaluate.py reads whole modules to measure how
often the labels that predict/callsites.py reads off a module's call sites are right. The
wheels come from the package index with `pip download --no-deps` (the version recorded,
for the Python the data was collected with) and are unpacked under SOURCES_DIR.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "data"
SOURCES_DIR = Path(os.environ.get("FASTIMPORT_MODEL_SOURCES", Path.home() / ".cache" / "fastimport-models" / "sources"))
COLLECTED_WITH = "3.12"  # models/collect.py's Python (COLLECT_PYTHON)


def packages(data_dir: Path = DATA_DIR) -> dict[str, str]:
    """{package: version} of every `<package>.jsonl.gz` in `data_dir` (from its first record)."""
    found = {}
    for path in sorted(data_dir.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            first = json.loads(f.readline())
        found[first["package"]] = first["version"]
    return found


def unpacked(package: str, data_dir: Path = DATA_DIR) -> Path | None:
    """Where `package`'s recorded version is unpacked, if it has been."""
    version = packages(data_dir).get(package)
    root = SOURCES_DIR / f"{package}-{version}"
    return root if version is not None and (root / ".complete").exists() else None


def fetch(package: str, version: str) -> Path:
    """Download and unpack `package==version`'s wheel (once); its root."""
    root = SOURCES_DIR / f"{package}-{version}"
    if (root / ".complete").exists():
        return root
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        command += ["--python-version", COLLECTED_WITH, "-q", "-d", tmp, f"{package}=={version}"]
        subprocess.run(command, check=True)  # noqa: S603 - our own pip, a pinned requirement
        [wheel] = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(root)
    (root / ".complete").write_text(wheel.name + "\n", encoding="utf-8")
    return root


def main() -> int:
    """Fetch every package of models/data; say where each went."""
    failed = 0
    for package, version in packages().items():
        try:
            print(f"{package}=={version}: {fetch(package, version)}", flush=True)
        except (subprocess.CalledProcessError, ValueError, OSError) as e:  # noqa: PERF203 - one failure doesn't stop the rest
            print(f"{package}=={version}: not fetched: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
