"""Uploaded files onto disk: a private temporary folder per request, safe file names.

An upload's name is only a hint: the folder is ours, the name is reduced to its last
path component of safe characters, and a name used twice is refused. An uploaded
manifest may read only the files uploaded with it (:func:`confine_manifest`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import yaml
from fastapi import UploadFile

from idgraph.app.errors import Invalid

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
CHUNK = 1 << 20


def safe_name(filename: str | None, default: str) -> str:
    """The last component of ``filename`` with unsafe characters replaced; never hidden."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).lstrip(".")
    return base[:120] or default


def new_folder(prefix: str) -> Path:
    """A fresh private folder (mode 0700) for one request's files."""
    return Path(tempfile.mkdtemp(prefix=f"idgraph-{prefix}-"))


def save(upload: UploadFile, folder: Path, default: str) -> Path:
    """Write ``upload`` into ``folder`` under its safe name; a repeated name is refused."""
    path = folder / safe_name(upload.filename, default)
    if path.exists():
        raise Invalid(f"two uploaded files are named {path.name!r}", field="files")
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, CHUNK)
    return path


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def confine_manifest(manifest: Path, uploaded: set[str]) -> None:
    """Refuse an uploaded manifest that would read anything but the files uploaded with it.

    On the command line a manifest may name a file outside its folder
    (``input.allow_outside: true``, or the deployment's ``allow_outside_paths``); over
    the API that would let an uploader make the server read its own files, so
    ``input.path`` must be the name of one of the uploaded files and nothing else.
    """
    try:
        doc = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise Invalid(f"the manifest is not readable YAML: {exc}", field="manifest") from None
    spec = doc.get("input") if isinstance(doc, dict) else None
    if not isinstance(spec, dict):
        raise Invalid("the manifest needs an input: section naming an uploaded file",
                      field="manifest")
    if spec.get("allow_outside"):
        raise Invalid("input.allow_outside is not accepted in an uploaded manifest",
                      field="manifest")
    name = spec.get("path")
    if not isinstance(name, str) or name not in uploaded:
        raise Invalid(f"input.path must name one of the uploaded files: "
                      f"{', '.join(sorted(uploaded)) or 'none'}", field="manifest")
