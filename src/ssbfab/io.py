"""Writing results safely: a killed run never leaves a half-written file.

Everything is written to a temporary file in the target folder and renamed into
place (rename is atomic on one filesystem).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path


def json_clean(x):
    """JSON has no NaN or infinity: write null for a value that could not be computed."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: json_clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_clean(v) for v in x]
    return x


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write text or bytes to `path` via a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, doc) -> Path:
    return write_atomic(path, json.dumps(json_clean(doc), indent=2, allow_nan=False) + "\n")


def write_csv(path: str | Path, frame) -> Path:
    """A pandas DataFrame as CSV with a fixed float format, so reruns are byte-identical."""
    return write_atomic(path, frame.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
