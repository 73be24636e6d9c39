"""Source manifests: what a source is, the law it is under, and how its columns map.

A manifest is a YAML file; see ``docs/sources.md``. Validation errors name the file
and the key, so a records officer can fix the manifest without reading code.
"""

from __future__ import annotations

import re
import string
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


class FieldSpec(_Strict):
    """How one canonical field is read from a row: exactly one of column/template/value."""

    column: str | None = None
    template: str | None = None
    value: str | int | None = None
    format: str | None = None  # strptime format for dates
    order: NameOrder | None = None  # for full names

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
    retention_days: int = Field(gt=0)
    input: InputSpec
    record_id: str
    fields: dict[str, FieldSpec]
    base_dir: Path = Path(".")  # folder of the manifest file (set by the loader)

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

    def required_columns(self) -> list[str]:
        """Every input column the mapping reads (the record id first)."""
        cols = [self.record_id]
        for spec in self.fields.values():
            cols.extend(c for c in spec.columns() if c not in cols)
        return cols

    def public_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"base_dir"})


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
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key"
        raise ManifestError(path, key, msg) from None


def load_manifest(path: Path | str) -> Manifest:
    """Read and validate one manifest file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(p, "<file>", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
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
