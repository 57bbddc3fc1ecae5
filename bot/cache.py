"""A disk cache for the content in service (validated catalogue, trained model, rendered replies), keyed
by the content file's bytes, the training files, the versions of Python and the libraries the build
holds objects of, and the source of the code that validates and builds it.

Validating the file, training the model and rendering every reply take several times longer
than loading the result, and a process restarts far more often than staff save the file, so start-up
reads the last build when neither the file nor the code changed: the same input through the same code
gives the same output, so nothing is skipped that could have come out differently. The files are
written and read only by this process's owner, in a directory it owns; a cache that is missing,
unreadable or corrupt is rebuilt, and a key never matches changed content or code.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger("bot.cache")
T = TypeVar("T")
KEEP = 4  # builds kept: the live one and a few earlier, for a quick roll back


def code_digest(code: list[Path]) -> str:
    """A digest of the source of every module in `code`. Take it once, when the process loads that code:
    a file edited while the process runs must not give the old code's build the new code's key."""
    digest = hashlib.sha256()
    for module in sorted(code):
        digest.update(module.read_bytes())
    return digest.hexdigest()


def cache_key(*parts: bytes | str, code: str) -> str:
    """A digest of the inputs and of the code that builds from them (`code_digest`)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") if isinstance(part, str) else part)
        digest.update(b"\0")
    digest.update(code.encode())
    return digest.hexdigest()[:32]


def cached(cache_dir: Path | None, key: str, build: Callable[[], T]) -> T:
    """build(), or the result of an earlier build() with the same key. Exceptions from build()
    propagate and nothing is cached."""
    if cache_dir is None:
        return build()
    path = cache_dir / f"content-{key}.pickle"
    try:
        with path.open("rb") as f:
            return pickle.load(f)  # type: ignore[no-any-return]  # our own file, named by what built it
    except FileNotFoundError:
        pass
    except Exception as exc:  # corrupt or from an incompatible Python: rebuild
        log.warning("content cache %s unreadable (%s); rebuilding", path.name, type(exc).__name__)
    value = build()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a concurrent start never reads half a file.
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".content-")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        builds = sorted(cache_dir.glob("content-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in builds[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError as exc:  # a read-only disk: run without the cache
        log.info("content cache not written (%s)", type(exc).__name__)
    return value
