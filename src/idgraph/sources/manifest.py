"""Source manifests: what a source is, the law it is under, and how its columns map.

A manifest is a YAML file; see ``docs/sources.md``. Validation errors name the file
and the key, so a records officer can fix the manifest without reading code.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import stat
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from idgraph.normalize import jurisdictions
from idgraph.normalize.base import InvalidValue
from idgraph.schema import CANONICAL_FIELDS, DATE_FIELDS, SourceKind
from idgraph.sources.regimes import REGIMES, canonical_regimes

InputFormat = Literal["csv", "jsonl", "parquet"]
NameOrder = Literal["first_last", "last_first"]

_ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")

# Bump when a normaliser changes what it makes of the same input: every record's
# mapping hash (see Manifest.mapping_digest) changes, so a re-ingest re-versions them.
NORMALISER_VERSION = "2"  # 2: unverified values kept, bad parts null only themselves

# strptime directives a date format may use (``%%`` is a literal percent sign).
_DATE_DIRECTIVES = frozenset("aAbBcdfGHIjmMpSuUVwWxXyYzZ%")
_YEAR_DIRECTIVES = frozenset("YyGcx")
_DIRECTIVE_RE = re.compile(r"%(.?)")
_SAMPLE_DATETIME = datetime(1987, 11, 23, 14, 35, 56, tzinfo=UTC)
_FORMAT_HINT = "write a strptime format, e.g. '%m/%d/%Y' for 11/23/1987 or '%Y-%m-%d'"
MAX_MANIFEST_BYTES = 1 << 20  # a manifest is a page of YAML, not a data file
_TEMPLATE_HINT = "columns as {COLUMN}, e.g. '{HOUSE_NO} {STREET}' ({{ and }} for braces)"
# Codecs Python calls text encodings that no data file is written in: unicode_escape
# turns the text "\x41" into "A", idna and punycode refuse ordinary text, undefined
# refuses everything.
_NOT_FILE_ENCODINGS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"})


class ManifestError(ValueError):
    """A manifest that cannot be used, with the file and key at fault."""

    def __init__(self, path: Path | str, key: str, message: str) -> None:
        self.path = str(path)
        self.key = key
        super().__init__(f"{path}: {key}: {message}")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InputSpec(_Strict):
    path: str
    format: InputFormat
    encoding: str = "utf-8"
    delimiter: str = ","
    # True: input.path may point outside the manifest's folder (see Manifest.check_input_path)
    allow_outside: bool = False

    @field_validator("path")
    @classmethod
    def _check_path(cls, v: str) -> str:
        """A file name: not empty (the manifest's own folder), no NUL byte (no OS takes
        one; Python raises on it)."""
        if not v.strip():
            raise ValueError("is empty; give the data file, relative to the manifest")
        if "\0" in v:
            raise ValueError(f"{v!r} holds a NUL byte, which no file name can")
        return v

    @field_validator("encoding")
    @classmethod
    def _check_encoding(cls, v: str) -> str:
        """A text codec Python knows (``base64``, ``rot13``, ``zlib`` are not text)."""
        try:
            info = codecs.lookup(v)
        except LookupError:
            raise ValueError(
                f"unknown encoding {v!r}; use a Python codec name such as utf-8, "
                "cp1252 or latin-1"
            ) from None
        if not getattr(info, "_is_text_encoding", True):
            raise ValueError(f"{v!r} is not a text encoding; use e.g. utf-8 or cp1252")
        if info.name in _NOT_FILE_ENCODINGS:
            raise ValueError(
                f"{v!r} is not an encoding files are written in (it rewrites or refuses "
                "ordinary text); use e.g. utf-8, cp1252 or latin-1"
            )
        return v

    @field_validator("delimiter")
    @classmethod
    def _check_delimiter(cls, v: str) -> str:
        """One character, and not one the CSV format itself needs."""
        if len(v) != 1:
            hint = ""
            if v.startswith("\\"):
                hint = (f"; YAML reads escapes such as {v} only in double quotes: write "
                        f'delimiter: "{v}"')
            raise ValueError(
                f"must be exactly one character, not {v!r} ({len(v)} characters){hint}"
            )
        if v in "\"\r\n\0":
            raise ValueError(f"{v!r} cannot be a delimiter (a quote, newline or NUL)")
        return v


class FieldSpec(_Strict):
    """How one canonical field is read from a row: exactly one of column/template/value."""

    column: str | None = None
    template: str | None = None
    value: str | int | None = None
    format: str | None = None  # strptime format for dates
    order: NameOrder | None = None  # for full names
    # Share (0..1) of the field's non-null values that may fail to normalise before
    # the batch stops; None: the setting for date fields, no stop for other fields.
    max_invalid_share: float | None = Field(default=None, ge=0.0, le=1.0)

    @field_validator("format")
    @classmethod
    def _check_format(cls, v: str | None) -> str | None:
        if v is not None:
            check_date_format(v)
        return v

    @field_validator("template")
    @classmethod
    def _check_template(cls, v: str | None) -> str | None:
        if v is not None:
            check_template(v)
        return v

    @field_validator("value", mode="before")
    @classmethod
    def _value_not_bool(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError(f"{str(v).lower()} is a YAML boolean, not a value of a field; "
                             "quote it if the text is meant")
        return v

    @field_validator("value")
    @classmethod
    def _check_value(cls, v: str | int | None) -> str | int | None:
        if isinstance(v, str) and not v.strip():
            raise ValueError("is empty: every row would get no value; remove the field "
                             "or give the constant")
        return v

    @field_validator("max_invalid_share", mode="before")
    @classmethod
    def _share_not_bool(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError(f"must be a number from 0 to 1 (a share), not {str(v).lower()}")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = [k for k in ("column", "template", "value") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of column, template or value")
        return self

    def columns(self) -> list[str]:
        """The input columns this field reads."""
        if self.column is not None:
            return [self.column]
        if self.template is not None:
            return [f for _, f, _, _ in string.Formatter().parse(self.template) if f]
        return []


class Manifest(_Strict):
    id: str
    title: str
    kind: SourceKind
    # True: a bare country code that is also a US state abbreviation (IL, CA, GA, ...)
    # really means the country (declared before `jurisdiction`, which reads it).
    country_level: bool = False
    jurisdiction: str
    regimes: tuple[str, ...] = Field(default=())
    collected_for: str
    # at most ~2,700 years: the store keeps it as a 32-bit INTEGER, and retention
    # subtracts it from today (a larger value failed the whole batch in DuckDB)
    retention_days: int = Field(gt=0, le=1_000_000)
    input: InputSpec
    record_id: str
    fields: dict[str, FieldSpec]
    base_dir: Path = Path(".")  # folder of the manifest file (set by the loader)
    manifest_path: Path | None = None  # the manifest file itself (set by the loader)

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError("must be lower-case letters, digits and _ (2-64 chars)")
        return v

    @field_validator("kind", mode="before")
    @classmethod
    def _fold_kind(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("jurisdiction")
    @classmethod
    def _check_jurisdiction(cls, v: str, info: ValidationInfo) -> str:
        """An ISO 3166-1 country or ISO 3166-2 subdivision code, canonical upper case.

        A bare country code that is also a US state or territory abbreviation (``IL`` is
        Israel, ``CA`` Canada, ``GA`` Gabon) is refused unless ``country_level: true``
        says the country is meant: state laws key on ``US-IL``, so reading ``IL`` as
        Illinois would be a guess, and reading it as Israel silently drops them.
        """
        try:
            code = jurisdictions.canonical_code(v)
        except InvalidValue as exc:
            raise ValueError(exc.reason) from None
        country_level = bool(info.data.get("country_level"))
        state = jurisdictions.state_clash(code)
        if state and not country_level:
            raise ValueError(
                f"{code} is the ISO 3166-1 code of {jurisdictions.country_name(code)} (a "
                f"country), not {state}: write US-{code} for {state}, or set "
                f"country_level: true if the source is under {jurisdictions.country_name(code)}"
                "'s law"
            )
        if country_level and not jurisdictions.is_country(code):
            raise ValueError(f"country_level: true needs a country code, not {code}")
        return code

    @field_validator("regimes", mode="before")
    @classmethod
    def _regimes_list(cls, v: Any) -> Any:
        if isinstance(v, str):
            raise ValueError(f"must be a list, e.g. [{v.strip()}], not the string {v!r}")
        return v

    @field_validator("regimes")
    @classmethod
    def _check_regimes(cls, v: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """Catalogued spellings, each a law of the source's own country: ``DPPA`` on a
        source declared ``IL`` (Israel) is a US source mislabelled to escape US-IL rules."""
        codes = canonical_regimes(v)
        own = info.data.get("jurisdiction")
        if own:
            country = own.split("-", 1)[0]
            foreign = [c for c in codes if REGIMES[c].jurisdiction.split("-", 1)[0] != country]
            if foreign:
                laws = ", ".join(f"{c} ({REGIMES[c].jurisdiction})" for c in foreign)
                raise ValueError(
                    f"{laws}: not the law of {own}; a source under them is in their "
                    "jurisdiction (for Illinois write US-IL, not IL with country_level)"
                )
        return codes

    @field_validator("fields")
    @classmethod
    def _check_fields(cls, v: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        unknown = sorted(set(v) - set(CANONICAL_FIELDS))
        if unknown:
            raise ValueError(f"unknown canonical field(s) {unknown}")
        if not v:
            raise ValueError("map at least one canonical field")
        for name, spec in v.items():
            if spec.format is not None and name not in DATE_FIELDS:
                raise ValueError(f"{name}: format is only for date fields")
            if spec.order is not None and name != "full_name":
                raise ValueError(f"{name}: order is only for full_name")
        return v

    @property
    def input_path(self) -> Path:
        return (self.base_dir / self.input.path).resolve()

    def check_input_path(self, allow_outside: bool = False) -> Path:
        """The input file, refused when it lies outside the manifest's folder.

        The resolved path (symlinks followed) must be inside the resolved folder, unless
        ``input.allow_outside: true`` or ``allow_outside`` (the setting) says otherwise.
        """
        path = self.input_path
        kind = _not_a_file(path)
        if kind:
            raise ManifestError(
                self.manifest_path or self.base_dir, "input.path",
                f"{self.input.path!r} resolves to {path}, {kind}, not a regular file; "
                "point it at the data file",
            )
        if self.input.allow_outside or allow_outside:
            return path
        folder = self.base_dir.resolve()
        if not path.is_relative_to(folder):
            raise ManifestError(
                self.manifest_path or folder, "input.path",
                f"{self.input.path!r} resolves to {path}, outside the manifest's folder "
                f"{folder}; set input.allow_outside: true (or IDGRAPH_ALLOW_OUTSIDE_PATHS=1) "
                "to read it",
            )
        return path

    def mapping_digest(self, region: str | None = None) -> str:
        """SHA-256 of everything that decides a record's normalised values.

        Stored per record version: a re-ingest under a changed mapping (fields, record
        id, input settings, jurisdiction, or the normalisers themselves) re-versions
        every row, so a fixed mapping is never silently ignored. ``region`` is the
        default region phones without a country code are read in (the setting
        ``default_region``): another region normalises the same phone differently.
        """
        fields = {
            name: spec.model_dump(mode="json", exclude={"max_invalid_share"}, exclude_none=True)
            for name, spec in sorted(self.fields.items())
        }
        try:
            encoding = codecs.lookup(self.input.encoding).name
        except LookupError:  # pragma: no cover - refused at load
            encoding = self.input.encoding
        doc = {
            "normaliser": NORMALISER_VERSION,
            "record_id": self.record_id,
            "fields": fields,
            "input": {"format": self.input.format, "encoding": encoding,
                      "delimiter": self.input.delimiter},
            "jurisdiction": self.jurisdiction,
            "kind": self.kind.value,
        }
        if region is not None:
            doc["region"] = region.strip().upper()
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def required_columns(self) -> list[str]:
        """Every input column the mapping reads (the record id first)."""
        cols = [self.record_id]
        for spec in self.fields.values():
            cols.extend(c for c in spec.columns() if c not in cols)
        return cols

    def public_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"base_dir", "manifest_path"})


def check_date_format(fmt: str) -> None:
    """Raise ValueError unless ``fmt`` is a strptime format that can read a date.

    It needs at least one ``%`` directive, only directives strptime knows, a year, and
    a sample date written with it must read back.
    """
    found = _DIRECTIVE_RE.findall(fmt)
    if not [d for d in found if d != "%"]:
        raise ValueError(f"{fmt!r} has no % directive, so no value can match it; {_FORMAT_HINT}")
    bad = sorted({f"%{d}" if d else "a lone % at the end" for d in found
                  if d not in _DATE_DIRECTIVES})
    if bad:
        raise ValueError(f"{fmt!r} uses unknown directive(s) {', '.join(bad)}; {_FORMAT_HINT}")
    if not _YEAR_DIRECTIVES.intersection(found):
        raise ValueError(f"{fmt!r} has no year (%Y or %y); {_FORMAT_HINT}")
    try:
        text = _SAMPLE_DATETIME.strftime(fmt)
        back = datetime.strptime(text, fmt)
    except (ValueError, re.error) as exc:
        raise ValueError(f"{fmt!r} cannot be read back ({exc}); {_FORMAT_HINT}") from None
    if back.year != _SAMPLE_DATETIME.year:
        raise ValueError(f"{fmt!r} does not read back the year; {_FORMAT_HINT}")


def check_template(template: str) -> None:
    """Raise ValueError unless ``template`` joins columns as plain ``{COLUMN}`` fields.

    ``str.format`` would read ``{}``/``{0}`` as positions, ``{A.B}``/``{A[0]}`` as
    attribute or item access, ``{A!r}`` as a conversion and ``{A:>99999999}`` as padding:
    each crashes ingest or builds something else than the column's text. A template
    must name at least one column (a constant is ``value:``).
    """
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{template!r} does not parse ({exc}); write {_TEMPLATE_HINT}") from None
    names: list[str] = []
    for _, name, spec, conv in parts:
        if name is None:
            continue
        shown = "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
        if not name or name.isdigit():
            raise ValueError(f"{template!r}: {shown} names no column; write {_TEMPLATE_HINT}")
        if conv or spec:
            raise ValueError(f"{template!r}: {shown} has a conversion or format spec; "
                             f"write {_TEMPLATE_HINT}")
        if any(c in name for c in ".[]"):
            raise ValueError(f"{template!r}: {shown}: a template cannot name a column with "
                             "'.', '[' or ']' in it (str.format reads them as attribute or "
                             f"item access); write {_TEMPLATE_HINT}")
        names.append(name)
    if not names:
        raise ValueError(f"{template!r} names no column, so every row would get no value; "
                         f"write {_TEMPLATE_HINT}, or use value: for a constant")


def _normalise_fields(raw: Any) -> Any:
    """Accept the short form ``field: COLUMN`` as ``{column: COLUMN}``."""
    if not isinstance(raw, dict):
        return raw
    return {k: ({"column": v} if isinstance(v, str) else v) for k, v in raw.items()}


def parse_manifest(data: Any, path: Path | str = "<manifest>") -> Manifest:
    """Validate a manifest mapping; raise ManifestError naming the key."""
    if not isinstance(data, dict):
        raise ManifestError(path, "<root>", "a manifest must be a YAML mapping")
    data = dict(data)
    if "fields" in data:
        data["fields"] = _normalise_fields(data["fields"])
    data["base_dir"] = Path(path).parent if str(path) != "<manifest>" else Path(".")
    data["manifest_path"] = Path(path) if str(path) != "<manifest>" else None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key"
        raise ManifestError(path, key, msg) from None


def _not_a_file(path: Path) -> str:
    """What ``path`` is when it exists and is no regular file ("" otherwise): reading a
    FIFO waits for a writer for ever, a device like /dev/zero never ends."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return ""  # missing or unreadable: ingest says so
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


class _DuplicateKey(ValueError):
    def __init__(self, key: str, line: int, first: int) -> None:
        self.key = key
        super().__init__(f"given twice (lines {first} and {line}); YAML keeps only the "
                         "last one: remove one of them")


def _check_duplicate_keys(node: yaml.Node | None, path: str = "") -> None:
    """Raise _DuplicateKey for a mapping key written twice (PyYAML silently keeps the
    last). Aliased nodes are visited once, so an alias bomb costs nothing."""
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(node, path)] if node is not None else []
    while stack:
        n, where = stack.pop()
        if id(n) in seen_nodes:
            continue
        seen_nodes.add(id(n))
        if isinstance(n, yaml.MappingNode):
            first: dict[str, int] = {}
            for k, v in n.value:
                name = str(k.value) if isinstance(k, yaml.ScalarNode) else "?"
                key = f"{where}.{name}" if where else name
                line = k.start_mark.line + 1
                if isinstance(k, yaml.ScalarNode) and name != "<<":
                    if name in first:
                        raise _DuplicateKey(key, line, first[name])
                    first[name] = line
                stack.append((v, key))
        elif isinstance(n, yaml.SequenceNode):
            stack.extend((v, f"{where}.{i}" if where else str(i)) for i, v in enumerate(n.value))


class _ManifestLoader(yaml.SafeLoader):
    """SafeLoader that keeps YAML 1.1 surprises as the text written: ``01234`` (octal),
    ``12:30`` (base 60), ``0x1F`` stay strings, as do ``ON``/``NO``/``yes``; only
    plain decimals are ints and only ``true``/``false`` booleans. A ZIP constant
    ``01234`` must not become 668, nor Ontario ``ON`` become True."""


_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9_]*)")


def _int_or_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    if _DECIMAL.fullmatch(node.value):
        return loader.construct_yaml_int(node)
    return node.value


def _bool_or_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    if node.value.lower() in ("true", "false"):
        return loader.construct_yaml_bool(node)
    return node.value


_ManifestLoader.add_constructor("tag:yaml.org,2002:int", _int_or_text)
_ManifestLoader.add_constructor("tag:yaml.org,2002:bool", _bool_or_text)


def load_manifest(path: Path | str) -> Manifest:
    """Read and validate one manifest file."""
    p = Path(path)
    kind = _not_a_file(p)
    if kind and kind != "a folder":  # a folder: the OSError below says so
        raise ManifestError(p, "<file>", f"is {kind}, not a manifest file")
    try:
        size = p.stat().st_size
    except OSError:
        size = 0
    if size > MAX_MANIFEST_BYTES:
        raise ManifestError(p, "<file>", f"{size:,} bytes: not a manifest (at most "
                            f"{MAX_MANIFEST_BYTES:,} bytes)")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(p, "<file>", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ManifestError(p, "<file>", f"not UTF-8 text at line {line}, byte {exc.start}: "
                            f"{exc.reason}") from None
    try:
        _check_duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader))
        data = yaml.load(text, Loader=_ManifestLoader)  # a SafeLoader subclass
    except _DuplicateKey as exc:
        raise ManifestError(p.resolve(), exc.key, str(exc)) from None
    except yaml.YAMLError as exc:
        raise ManifestError(p, "<yaml>", f"not valid YAML: {exc}") from None
    return parse_manifest(data, p.resolve())


def find_manifests(paths: list[Path]) -> list[Path]:
    """Expand folders into the manifests (``*.yaml``/``*.yml``) they hold, sorted."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted([*p.glob("*.yaml"), *p.glob("*.yml")]))
        else:
            out.append(p)
    return out


def load_manifests(paths: list[Path]) -> tuple[list[Manifest], list[ManifestError]]:
    """Every manifest under ``paths``, each file once, and the errors of those that
    cannot be used. A source id declared by two manifests is refused for all of them:
    the second would re-version the first's records as its own."""
    loaded: list[Manifest] = []
    errors: list[ManifestError] = []
    seen: set[Path] = set()
    for mpath in find_manifests(paths):
        try:
            key = mpath.resolve()
        except OSError:
            key = mpath
        if key in seen:
            continue
        seen.add(key)
        try:
            loaded.append(load_manifest(mpath))
        except ManifestError as exc:
            errors.append(exc)
    by_id: dict[str, list[Manifest]] = {}
    for m in loaded:
        by_id.setdefault(m.id, []).append(m)
    for sid, ms in by_id.items():
        if len(ms) > 1:
            names = ", ".join(str(m.manifest_path) for m in ms)
            errors.append(ManifestError(
                ms[0].manifest_path or "<manifest>", "id",
                f"source id {sid!r} is declared by {len(ms)} manifests ({names}): each "
                "source needs its own id; none of them was ingested"))
    return [m for m in loaded if len(by_id[m.id]) == 1], errors
