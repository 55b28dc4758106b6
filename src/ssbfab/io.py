"""Files in and out: results written safely, names checked before they become paths,
and the JSON files ssbfab reads back (plan.json, stats.json) read without surprises.

Writing: every file goes to a temporary name in the target folder and is renamed
into place (rename is atomic on one filesystem), so a killed run never leaves a
half-written file; files get the permissions the user's umask allows, as any other
program's would. A whole run (`compare --out`) is written into a fresh sibling
folder and swapped in at the end, so a folder never mixes two runs.

Paths: route, step and scenario names are data; before one becomes a file or folder
name it must be a plain name (`plain_name`), and every path built from names is
checked to stay inside the output folder (`inside`). `check_out_dir` checks an
output folder before any work starts, so a bad `--out` costs nothing.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import InputError, Problem

# A name that can be a file name on every common filesystem and cannot climb out of
# its folder: ASCII letters, digits, '-', '_', '.'; not starting with '.' (hidden
# files and ssbfab's own temporaries start so), no '..'.
_PLAIN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_MAX_NAME = 120  # characters; well under the 255 bytes filesystems allow
_MARKER = "manifest.json"  # a folder holding one is an earlier `ssbfab compare` run
_WRITTEN_BY = "ssbfab compare"


def json_clean(x):
    """JSON has no NaN or infinity: write null for a value that could not be computed."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: json_clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_clean(v) for v in x]
    return x


# ----------------------------------------------------------------------------- names


def plain_name(name: Any, *, file: str = "", line: int | None = None,
               field: str = "name") -> str:
    """`name` if it can safely be a file name, else InputError naming `file`, `line`
    and `field`: letters, digits, '-', '_' and '.', no separators, no '..'."""
    text = str(name)
    if isinstance(name, str) and len(text) <= _MAX_NAME and _PLAIN.fullmatch(text) \
            and ".." not in text:
        return text
    shown = text if len(text) <= 60 else text[:60] + " ..."
    raise InputError(Problem(file, line, field, (
        f"found {shown!r}, which would become a file name; expected a plain name of at most "
        f"{_MAX_NAME} characters: letters, digits, '-', '_' and '.' (no '/', no '..', not "
        "starting with '.')")))


def inside(root: str | Path, *names: str) -> Path:
    """root/names..., each a checked plain name, and the result checked to resolve
    inside `root` (a symbolic link in the way cannot lead out of it)."""
    root = Path(root)
    path = root.joinpath(*(plain_name(n) for n in names))
    real_root = root.resolve()
    if not path.resolve().is_relative_to(real_root):
        raise InputError(Problem(str(path), None, "", f"resolves to {path.resolve()}, outside "
                                 f"the output folder {real_root}; refusing to write there"))
    return path


# ----------------------------------------------------------------------------- output folders


def check_out_dir(path: str | Path, option: str = "--out", run: bool = False) -> Path:
    """Check, before any work, that `path` can hold results: a folder, or a path that
    can become one, that this process may write. With `run`, `path` receives a whole
    run: it must be new, empty, or an earlier ssbfab run (holding its manifest.json),
    which the new run will replace whole. Raises InputError saying what is wrong."""
    path = Path(path)

    def bad(msg: str) -> InputError:
        return InputError(Problem("arguments", None, option, f"{path}: {msg}"))

    if "\0" in str(path):
        raise bad("a path cannot contain a NUL character")
    if path.exists() and not path.is_dir():
        raise bad("is a file, not a folder; give a folder (it is created if missing)")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise bad(f"{existing} is a file, so nothing can be created inside it")
    try:
        probe = _create_fresh(existing, ".ssbfab-probe", is_dir=False)
        probe.unlink()
    except OSError as exc:
        where = "" if existing == path else f" (the nearest existing folder, {existing})"
        raise bad(f"cannot write in{where or ' it'}: {exc.strerror or exc}") from None
    if run and path.is_dir() and any(path.iterdir()) and not is_earlier_run(path):
        raise bad(f"holds files that are not an earlier ssbfab run (no {_MARKER} written by "
                  f"`{_WRITTEN_BY}`); give a new or empty folder, so that no result is "
                  "mixed with other files or overwritten")
    return path


def is_earlier_run(path: str | Path) -> bool:
    """Whether `path` holds the manifest.json of an earlier `ssbfab compare` run."""
    try:
        doc = json.loads((Path(path) / _MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    # runs before the `written_by` marker have the command and the input hashes
    return isinstance(doc, dict) and (doc.get("written_by") == _WRITTEN_BY or (
        str(doc.get("command", "")).startswith("ssbfab") and "input_files_sha256" in doc))


def run_marker() -> dict:
    """The entry that marks a manifest.json as written by `ssbfab compare`."""
    return {"written_by": _WRITTEN_BY}


@contextlib.contextmanager
def replacing_dir(out: str | Path) -> Iterator[Path]:
    """A fresh folder beside `out` to write a whole run into. On success it takes
    `out`'s place (an earlier run there is removed whole); on failure it is removed
    and `out` is left as it was. Readers never see two runs mixed in one folder."""
    target = Path(os.path.realpath(out))  # through a symbolic link to the real folder
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _create_fresh(target.parent, f".{target.name}.new", is_dir=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{secrets.token_hex(4)}"
        os.rename(target, old)
    os.rename(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _create_fresh(folder: Path, prefix: str, is_dir: bool) -> Path:
    """A new file or folder with a random name in `folder`, created with the modes the
    umask allows (tempfile's are 0600/0700 whatever the umask)."""
    for _ in range(100):
        p = folder / f"{prefix}-{secrets.token_hex(6)}"
        try:
            if is_dir:
                os.mkdir(p, 0o777)
            else:
                os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return p
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


# ----------------------------------------------------------------------------- writing


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write text or bytes to `path` via a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_fresh(path.parent, f".{path.name}", is_dir=False)
    try:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, doc) -> Path:
    return write_atomic(path, json.dumps(json_clean(doc), indent=2, allow_nan=False) + "\n")


def write_csv(path: str | Path, frame) -> Path:
    """A pandas DataFrame as CSV with a fixed float format, so reruns are byte-identical."""
    return write_atomic(path, frame.to_csv(index=False, float_format="%.10g", lineterminator="\n"))


# ----------------------------------------------------------------------------- reading


def read_json(path: str | Path, what: str) -> tuple[Any, dict]:
    """(data, marks) of a JSON file ssbfab reads back (`what`: "a plan", "statistics"),
    marks[(key, 0, ...)] being 1-based lines as for YAML files. Any file that is not
    readable JSON (missing, a folder, binary, truncated) is an InputError saying so."""
    from .data.yamlio import loads_yaml

    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Problem(name, None, "", f"file not found; expected {what} "
                                 "(a JSON file)")) from None
    except IsADirectoryError:
        raise InputError(Problem(name, None, "", f"is a folder; expected {what} "
                                 "(a JSON file)")) from None
    except UnicodeDecodeError:
        raise InputError(Problem(name, None, "", f"is not a text file; expected {what} "
                                 "(a JSON file)")) from None
    except OSError as exc:
        raise InputError(Problem(name, None, "", f"cannot read: {exc.strerror or exc}")) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(Problem(name, exc.lineno, "", f"not valid JSON: {exc.msg} (column "
                                 f"{exc.colno}); expected {what}")) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of thousands of digits
        raise InputError(Problem(name, None, "", f"not readable JSON: {str(exc)[:120]}; "
                                 f"expected {what}")) from None
    try:  # JSON is YAML: its node tree gives the line of every key, for the messages
        marks = loads_yaml(text, name)[1]
    except (InputError, RecursionError):  # lines are a courtesy; the data is read already
        marks = {}
    return data, marks
