"""Red team RB (issue 12): manifests that lie, loaded the way ``idgraph ingest`` loads them.

Each case is the attack, as the YAML a data engineer would write. A manifest must either
load meaning exactly what it says, or be refused at load with an error naming the file
and the key -- never read silently as something else, never a traceback later.

Holes found (each case failed before the fix in ``sources/manifest.py``):

* a key given twice (``fields:`` twice, a field twice): the last one silently won;
* ``input.path`` with a NUL byte crashed with a traceback; an empty one named the folder;
* templates ``{}``/``{0}``, ``{A!x}``, ``{A:%Y}``, ``{ADDR.LINE1}``, an unbalanced ``{A``
  crashed ingest with a traceback in a worker; ``{A:>300000000}`` built a 300 MB string
  per row; a template with no column (``"n/a"``, ``"{{A}}"``) nulled the field silently;
* codecs that are not file encodings (``unicode_escape`` rewrites ``\\x41`` to ``A``,
  ``idna``, ``punycode``, ``undefined``) were accepted;
* an input path that is a FIFO or a device hung ingest for ever, and so did a manifest
  that is one (``ingest /dev/zero`` filled memory);
* ``value: 01234`` (YAML 1.1 octal) became ZIP 00668, ``value: 12:30`` became 750,
  ``value: ON`` (Ontario) became ``True`` and ``value: true`` became ``1``; ``value: ''``
  nulled the field silently;
  ``max_invalid_share: true`` meant "never stop".
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from idgraph.sources.manifest import Manifest, ManifestError, load_manifest

BASE = textwrap.dedent("""\
    id: rb_src
    title: t
    kind: other
    jurisdiction: US
    collected_for: testing
    retention_days: 30
    input: {{path: people.csv, format: csv{input}}}
    record_id: ID
    fields:
      last_name: LAST
    """)


def write(folder: Path, text: str, name: str = "m.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "people.csv").write_text("ID,LAST,FIRST,DOB,ZIP\n1,Smith,John,1980-01-02,1\n")
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def manifest(fields: str = "", input_: str = "") -> str:
    return BASE.format(input=input_) + textwrap.indent(fields, "  ")


# --- refused at load: (case name, YAML text, key the error names, words it holds) ----------
REFUSED: list[tuple[str, str, str, str]] = [
    ("fields given twice (second silently won)",
     manifest() + "fields: {last_name: FIRST}\n", "fields", "twice"),
    ("a field given twice", manifest("last_name: FIRST\n"), "fields.last_name", "twice"),
    ("a top-level key given twice", manifest().replace("title: t\n", "title: t\ntitle: u\n"),
     "title", "twice"),
    ("an input key given twice", manifest(input_=", format: jsonl"), "input.format", "twice"),
    ("template with an empty field {}", manifest("street: {template: '{} {LAST}'}\n"),
     "fields.street.template", "{}"),
    ("template with a positional field {0}", manifest("street: {template: '{0} {LAST}'}\n"),
     "fields.street.template", "{0}"),
    ("template with a conversion", manifest("street: {template: '{LAST!x}'}\n"),
     "fields.street.template", "!x"),
    ("template with a format spec", manifest("street: {template: '{LAST:%Y}'}\n"),
     "fields.street.template", "%Y"),
    ("template padding bomb", manifest("street: {template: '{LAST:>300000000}'}\n"),
     "fields.street.template", ">300000000"),
    ("template with attribute access", manifest("street: {template: '{ADDR.LINE1}'}\n"),
     "fields.street.template", "ADDR.LINE1"),
    ("template with an index", manifest("street: {template: '{LAST[0]}'}\n"),
     "fields.street.template", "LAST[0]"),
    ("template with an unbalanced brace", manifest("street: {template: '{LAST'}\n"),
     "fields.street.template", "{LAST"),
    ("template naming no column", manifest("street: {template: 'n/a'}\n"),
     "fields.street.template", "no column"),
    ("template of escaped braces only", manifest("street: {template: '{{LAST}}'}\n"),
     "fields.street.template", "no column"),
    ("encoding unicode_escape", manifest(input_=", encoding: unicode_escape"),
     "input.encoding", "unicode_escape"),
    ("encoding raw_unicode_escape", manifest(input_=", encoding: raw_unicode_escape"),
     "input.encoding", "raw_unicode_escape"),
    ("encoding idna", manifest(input_=", encoding: idna"), "input.encoding", "idna"),
    ("encoding punycode", manifest(input_=", encoding: punycode"), "input.encoding",
     "punycode"),
    ("encoding undefined", manifest(input_=", encoding: undefined"), "input.encoding",
     "undefined"),
    ("retention_days beyond the store's INTEGER (failed the batch in DuckDB)",
     manifest().replace("retention_days: 30", "retention_days: 99999999999999"),
     "retention_days", "less than or equal"),
    ("empty constant", manifest("state: {value: ''}\n"), "fields.state.value", "empty"),
    ("boolean constant (stored as 1)", manifest("state: {value: true}\n"),
     "fields.state.value", "boolean"),
    ("blank constant", manifest("state: {value: '   '}\n"), "fields.state.value", "empty"),
    ("max_invalid_share as a boolean",
     manifest("dob: {column: DOB, max_invalid_share: true}\n"),
     "fields.dob.max_invalid_share", "number"),
    ("NUL byte in input.path (ValueError traceback)",
     manifest().replace("path: people.csv", 'path: "a\\0b.csv"'), "input.path", "NUL"),
    ("empty input.path", manifest().replace("path: people.csv", "path: ''"), "input.path",
     "empty"),
    ("delimiter '\\t' in single quotes (two characters)",
     manifest(input_=", delimiter: '\\t'"), "input.delimiter", 'double quotes'),
]


@pytest.mark.parametrize(("text", "key", "words"), [c[1:] for c in REFUSED],
                         ids=[c[0] for c in REFUSED])
def test_lying_manifest_is_refused_at_load(tmp_path: Path, text: str, key: str,
                                           words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert info.value.key == key, str(info.value)
    assert str(path) in str(info.value)
    assert words in str(info.value), str(info.value)


# --- loaded, meaning what the YAML text says: (case, YAML, field, attribute, value) ---------
KEPT: list[tuple[str, str, str, str, object]] = [
    ("zip constant with a leading zero (YAML 1.1 octal)", manifest("zip: {value: 01234}\n"),
     "zip", "value", "01234"),
    ("zip constant 02139 (not octal: has a 9)", manifest("zip: {value: 02139}\n"),
     "zip", "value", "02139"),
    ("sexagesimal-looking constant", manifest("case_number: {value: 12:30}\n"),
     "case_number", "value", "12:30"),
    ("hex-looking constant", manifest("case_number: {value: 0x1F}\n"),
     "case_number", "value", "0x1F"),
    ("Ontario, not True", manifest("state: {value: ON}\n"), "state", "value", "ON"),
    ("Norway, not False", manifest("state: {value: NO}\n"), "state", "value", "NO"),
    ("a plain int constant stays an int", manifest("zip: {value: 2139}\n"),
     "zip", "value", 2139),
    ("a share as a string", manifest("dob: {column: DOB, max_invalid_share: '0.5'}\n"),
     "dob", "max_invalid_share", 0.5),
    ("a real template", manifest("street: {template: '{FIRST} {LAST} {{x}}'}\n"),
     "street", "template", "{FIRST} {LAST} {{x}}"),
]


@pytest.mark.parametrize(("text", "field", "attr", "value"), [c[1:] for c in KEPT],
                         ids=[c[0] for c in KEPT])
def test_manifest_means_what_its_text_says(tmp_path: Path, text: str, field: str, attr: str,
                                           value: object) -> None:
    m = load_manifest(write(tmp_path, text))
    got = getattr(m.fields[field], attr)
    assert got == value and type(got) is type(value), (got, value)


def test_ordinary_yaml_still_reads(tmp_path: Path) -> None:
    """Booleans, numbers and dates other manifests use keep their meaning."""
    text = manifest(input_=", allow_outside: true").replace(
        "retention_days: 30", "retention_days: 3650\ncountry_level: false")
    m = load_manifest(write(tmp_path, text))
    assert m.input.allow_outside is True and m.retention_days == 3650
    assert m.country_level is False


# --- input paths that are not regular files -----------------------------------------------
def _fifo(folder: Path) -> str:
    os.mkfifo(folder / "pipe.csv")
    return "pipe.csv"


def _device(folder: Path) -> str:
    os.symlink("/dev/zero", folder / "zero.csv")
    return "zero.csv"


def _folder(folder: Path) -> str:
    (folder / "sub.csv").mkdir()
    return "sub.csv"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize(("make", "outside", "words"), [
    (_fifo, False, "FIFO"),
    (_device, True, "device"),
    (_folder, False, "folder"),
], ids=["fifo (hung for ever)", "symlink to /dev/zero, allowed outside (hung)", "a folder"])
def test_input_that_is_not_a_regular_file_is_refused(
        tmp_path: Path, make: object, outside: bool, words: str) -> None:
    assert callable(make)
    name = make(tmp_path)
    text = manifest(input_=", allow_outside: true" if outside else "").replace(
        "people.csv", str(name))
    m: Manifest = load_manifest(write(tmp_path, text))
    with pytest.raises(ManifestError) as info:
        m.check_input_path()
    assert info.value.key == "input.path"
    assert words in str(info.value), str(info.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
def test_manifest_that_is_no_file_is_refused_not_read(tmp_path: Path, kind: str) -> None:
    """``ingest folder/`` with a FIFO named m.yaml, or ``ingest /dev/zero``, hung (the
    device filling memory); a 2 MB "manifest" is a data file given by mistake."""
    path = tmp_path / "m.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        os.symlink("/dev/zero", path)
    else:
        path.write_text("# x\n" * 600_000)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert info.value.key == "<file>" and "m.yaml" in str(info.value)


def test_missing_input_is_left_to_ingest(tmp_path: Path) -> None:
    """A file that is not there yet is ingest's "file not found", not a manifest error."""
    m = load_manifest(write(tmp_path, manifest().replace("people.csv", "later.csv", 1)))
    assert m.check_input_path() == (tmp_path / "later.csv").resolve()


# --- the mapping hash: what decides a record's normalised values ---------------------------
def test_default_region_is_part_of_the_mapping_digest(tmp_path: Path) -> None:
    """Phones without a country code are read in the default region: another region
    changes the normalised phone, so it must change the digest."""
    m = load_manifest(write(tmp_path, manifest("phone: LAST\n")))
    assert m.mapping_digest(region="US") != m.mapping_digest(region="GB")
    assert m.mapping_digest(region="US") == m.mapping_digest(region="US")


def test_title_and_retention_are_not_part_of_the_mapping_digest(tmp_path: Path) -> None:
    a = load_manifest(write(tmp_path / "a", manifest()))
    b = load_manifest(write(tmp_path / "b", manifest().replace("title: t", "title: other")
                            .replace("retention_days: 30", "retention_days: 31")))
    assert a.mapping_digest() == b.mapping_digest()


def test_the_ingest_api_refuses_two_manifests_of_one_source_id(tmp_path: Path) -> None:
    """Not only the CLI: ``ingest_paths`` (benchmarks, scripts) refuses them too, before
    anything is stored, instead of letting the second re-version the first's records."""
    from idgraph.settings import Settings
    from idgraph.sources import ingest_paths
    from idgraph.store import open_store

    for name in ("a", "b"):
        (tmp_path / f"{name}.csv").write_text("ID,LAST\n1,SMITH\n", encoding="utf-8")
        (tmp_path / f"{name}.yaml").write_text(
            "id: same_src\ntitle: t\nkind: other\njurisdiction: US\ncollected_for: x\n"
            f"retention_days: 10\ninput: {{path: {name}.csv, format: csv}}\nrecord_id: ID\n"
            "fields: {last_name: LAST}\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", ingest_workers=0)
    store = open_store(settings.db_path)
    try:
        with pytest.raises(ManifestError, match="declared by 2 manifests"):
            ingest_paths(store, [tmp_path], settings)
        assert store.scalar("SELECT count(*) FROM records") == 0
    finally:
        store.close()
