"""sha256 checksums of a folder's files: recorded when a model or checkpoint is written, checked before it is read.

orbax checks neither: a weight file with flipped bytes restores as wrong (even NaN) weights, and a truncated one
fails deep inside TensorStore. Hashing costs about 10 ms per 10 MB, small beside a restore.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def file_checksums(root: str | Path, prefix: str = "", skip: tuple[str, ...] = ()) -> dict[str, str]:
    """{prefix + path relative to root (posix): sha256} for every file under root, sorted; `skip` names files
    (relative paths) to leave out."""
    root = Path(root)
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel not in skip:
            out[prefix + rel] = sha256(path)
    return out


def first_damaged(base: str | Path, recorded: dict[str, str]) -> str | None:
    """What is wrong with the first recorded file under `base` that is missing or differs from its checksum
    ("params/x is missing", "params/x does not match its recorded sha256 (damaged, truncated or replaced)"), or None
    when all match. Files not recorded are not looked at: they are not read either."""
    base = Path(base)
    for rel, want in recorded.items():
        path = base / rel
        if not path.is_file():
            return f"{rel} is missing"
        if sha256(path) != want:
            return f"{rel} does not match its recorded sha256 (damaged, truncated or replaced)"
    return None
