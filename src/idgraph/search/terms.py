"""The index terms of a record, and of a query: one function makes both.

A record and a query are both rows with the columns of
:data:`idgraph.link.model.INPUT_SQL` (a query: :func:`idgraph.search.criteria.readings`),
so a query's terms are made exactly as the terms of the records it should meet.

Each term belongs to a field and carries a weight. A candidate's score is the sum of
the weights of the distinct terms it shares with the query: no term statistics of the
index enter it, so a document of a segment the query may not read cannot change
another document's score or rank (the purpose-scope rule: a withheld source is as if it
did not exist). Name terms ignore the role of a word (given name, middle name, surname),
so a name in either order, or split differently, meets the same terms.

=====  ========================================================================
field  terms
=====  ========================================================================
nm     name words and whole parts: first, middle words, the surname, its compound
       parts and words ("GARCIA LOPEZ", "GARCIA", "LOPEZ")
cn     the canonical given name of each name word (BILL -> WILLIAM)
ph     the Metaphone key of each name word and of the whole surname
dob    ``D:YYYYMMDD``, ``X:YYYY:AA:BB`` (day and month in either order), ``M:YYYYMM``,
       ``Y:YYYY``
house  house number
street ``S:<street>``, ``HS:<house> <street>``, ``W:<word>`` (words of the street name,
       not suffixes or directionals)
zip    ZIP5
city   ``<city>|<state>``
tel    E.164 phone
ssn    nine digits
dl     ``N:<number>`` and ``K:<state>:<number>``
plate  plate
=====  ========================================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from idgraph.normalize.addresses import DIRECTIONALS, STREET_SUFFIXES
from idgraph.normalize.names import canonical_given, phonetic

__all__ = ["BOOSTERS", "FIELDS", "QUERY_WEIGHTS", "RECORD_FIELDS", "QueryTerms", "Term",
           "doc_terms", "kind", "query_terms"]

Term = tuple[str, str]  # (field, term)

FIELDS: Final[tuple[str, ...]] = (
    "nm", "cn", "ph", "ed", "dob", "house", "street", "zip", "city", "tel", "ssn", "dl", "plate",
)

# Weight of a query term by (field, kind); kind is the term's prefix where it has one.
QUERY_WEIGHTS: Final[dict[str, float]] = {
    "nm": 3.0, "cn": 2.0, "ph": 1.5, "ed": 1.0,
    "dob:D": 4.0, "dob:X": 3.0, "dob:M": 2.0, "dob:Y": 1.5, "dob:Y+-1": 0.5,
    "house": 0.25, "street:S": 1.5, "street:HS": 3.0, "street:W": 0.5,
    "zip": 1.5, "city": 0.75, "tel": 6.0, "ssn": 8.0, "dl:N": 6.0, "dl:K": 7.0, "plate": 6.0,
}
# Kinds that only add to the score of a document another term found: each matches a
# large share of all records (a birth year: ~1/80; a ZIP, a city, a street word), and a
# search over their union would read most of the index. When a query has no other
# term (only a birth year and a ZIP, say), they find documents themselves.
BOOSTERS: Final[frozenset[str]] = frozenset(
    {"dob:M", "dob:Y", "dob:Y+-1", "house", "street:S", "street:W", "zip", "city"})
# A phonetic key this short (LEE, LI, LOWE: "L") joins too many names to find any: a
# query's shorter keys are not searched (documents keep them).
MIN_PHONETIC_KEY: Final = 2
# Name words at least this long also match one edit away (typos the phonetic key misses).
FUZZY_MIN_LENGTH: Final = 4
# ... and at most this long: a word of n letters has n edit keys of n - 1 letters (a
# 3,000-letter "name" would make 9 MB of terms); a longer word is only itself (no real
# name word is this long, and it still matches exactly).
FUZZY_MAX_LENGTH: Final = 30
# Words (and parts) taken from each name column: a record's name is what ingest
# accepted, a list's row what a file says; a real name has far fewer, and more would only
# make terms (a query has at most 12 words: criteria.MAX_NAME_WORDS).
MAX_WORDS_PER_COLUMN: Final = 12

# Which of a record's fields a term of each kind carries: a term matches a record of a
# segment only where that field may leave (:func:`kind`; a tuple of alternatives per
# field the term needs: the house+street term needs both, a birth year either its dob or
# its birth year). Name kinds are absent: names identify, and match in every permitted
# segment.
RECORD_FIELDS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "dob:D": (("dob",),), "dob:X": (("dob",),), "dob:M": (("dob",),),
    "dob:Y": (("dob", "birth_year"),), "dob:Y+-1": (("dob", "birth_year"),),
    "house": (("house_number",),), "street:S": (("street",),),
    "street:HS": (("house_number",), ("street",)), "street:W": (("street",),),
    "zip": (("zip",),), "city": (("city",),), "tel": (("phone",),), "ssn": (("ssn",),),
    "dl:N": (("dl_number",),), "dl:K": (("dl_number",),), "plate": (("plate",),),
}


def edit_keys(word: str) -> list[str]:
    """The word and each form of it with one letter left out (``ed`` terms): two words
    one substitution, insertion, deletion or swap of neighbours apart share one
    (SMITH and SIMTH: SMTH). Term lookups where a fuzzy query would walk the whole term
    dictionary and gather every posting it finds (~1 ms a word at 1M records)."""
    if len(word) < FUZZY_MIN_LENGTH or not _is_word(word):
        return []
    if len(word) > FUZZY_MAX_LENGTH:
        return [word]
    return list(dict.fromkeys([word, *(word[:i] + word[i + 1:] for i in range(len(word)))]))


def _is_word(term: str) -> bool:
    return " " not in term and "-" not in term


def _words(value: object) -> list[str]:
    return value.split() if isinstance(value, str) else []


def name_words(row: Mapping[str, Any]) -> list[str]:
    """Every name word and whole name part of a row, in order, without repeats: at most
    :data:`MAX_WORDS_PER_COLUMN` from each name column and from the surname's parts."""
    out: list[str] = []
    for col in ("first_name", "middle_name", "last_name"):
        value = row.get(col)
        if isinstance(value, str):
            words = [value, *_words(value),
                     *(w for part in value.split("-") for w in (part, *part.split()))]
            out.extend(_first_words(words))
    parts = row.get("last_name_parts")
    if isinstance(parts, (list, tuple)):
        out.extend(_first_words([p for p in parts if isinstance(p, str)]))
    return [w for w in dict.fromkeys(out) if w and w != "-"]


def _first_words(words: Sequence[str]) -> list[str]:
    return [w for w in dict.fromkeys(words) if w and w != "-"][:MAX_WORDS_PER_COLUMN]


def _name_terms(row: Mapping[str, Any]) -> Iterator[Term]:
    for word in name_words(row):
        yield "nm", word
        for edit in edit_keys(word):
            yield "ed", edit
        canon = canonical_given(word)
        if canon:
            yield "cn", canon
        key = phonetic(word)
        if key:
            yield "ph", key
    for col in ("first_name_phonetic", "last_name_phonetic"):
        value = row.get(col)
        if isinstance(value, str):
            yield "ph", value


def _dob_terms(row: Mapping[str, Any]) -> Iterator[Term]:
    day, month, year = row.get("dob_day"), row.get("dob_month"), row.get("birth_year")
    if isinstance(day, str) and len(day) == 8:
        yield "dob", f"D:{day}"
        a, b = sorted((day[4:6], day[6:8]))
        yield "dob", f"X:{day[:4]}:{a}:{b}"
    if isinstance(month, str):
        yield "dob", f"M:{month}"
    if year is not None:
        yield "dob", f"Y:{int(year)}"


def _address_terms(row: Mapping[str, Any]) -> Iterator[Term]:
    house, street = row.get("house_number"), row.get("street")
    if isinstance(house, str):
        yield "house", house
    if isinstance(street, str):
        yield "street", f"S:{street}"
        if isinstance(house, str):
            yield "street", f"HS:{house} {street}"
        for word in street.split():
            if word not in STREET_SUFFIXES and word not in DIRECTIONALS:
                yield "street", f"W:{word}"
    for col in ("zip",):
        value = row.get(col)
        if isinstance(value, str):
            yield col, value
    city, state = row.get("city"), row.get("state")
    if isinstance(city, str):
        yield "city", f"{city}|{state or ''}"


def _id_terms(row: Mapping[str, Any]) -> Iterator[Term]:
    for col, field in (("phone", "tel"), ("ssn", "ssn"), ("plate", "plate")):
        value = row.get(col)
        if isinstance(value, str):
            yield field, value
    key = row.get("dl_key")
    number = row.get("dl_number")
    if isinstance(key, str) and ":" in key:
        state, _, num = key.partition(":")
        number = number or num
        if state:
            yield "dl", f"K:{key}"
    if isinstance(number, str):
        yield "dl", f"N:{number}"


def doc_terms(row: Mapping[str, Any]) -> dict[str, list[str]]:
    """The terms a record's document holds, by field (each term once)."""
    out: dict[str, list[str]] = {}
    for terms in (_name_terms(row), _dob_terms(row), _address_terms(row), _id_terms(row)):
        for field, term in terms:
            values = out.setdefault(field, [])
            if term not in values:
                values.append(term)
    return out


def kind(field: str, term: str) -> str:
    """A term's kind (the keys of :data:`QUERY_WEIGHTS` and :data:`RECORD_FIELDS`)."""
    if field in ("dob", "street", "dl"):
        return f"{field}:{term.split(':', 1)[0]}"
    return field


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """A query's weighted terms.

    ``names``: one group of terms per word of the name (the word, its canonical given
    name, its phonetic key; ``edits``: the word's edit keys, matched as one term). A document
    is found by its name when it matches two groups (any two: the words' roles and
    order do not matter), or the one group of a one-word name. Groups come most telling
    first (longer words; one- and two-letter words last). ``anchors`` (identifiers,
    a full birth date, house and street) find documents by themselves. ``boosters``
    only add to the score of a document found otherwise; when a query has neither name
    nor anchor, they find documents themselves.
    """

    words: tuple[str, ...]  # the name words, one per group
    names: tuple[dict[Term, float], ...]
    edits: tuple[tuple[str, ...], ...]  # per name group: its word's edit keys
    anchors: dict[Term, float]
    boosters: dict[Term, float]

    @property
    def empty(self) -> bool:
        return not (self.names or self.anchors or self.boosters)


def query_terms(rows: Sequence[Mapping[str, Any]]) -> QueryTerms:
    """The weighted terms of a query: the union over its readings."""
    kinds: dict[Term, str] = {}
    groups: dict[str, dict[Term, float]] = {}
    for row in rows:
        for word in name_words(row):
            if _is_word(word):
                group = groups.setdefault(word, {("nm", word): QUERY_WEIGHTS["nm"]})
                canon, key = canonical_given(word), phonetic(word)
                if canon:
                    group[("cn", canon)] = QUERY_WEIGHTS["cn"]
                if key and len(key) >= MIN_PHONETIC_KEY:
                    group[("ph", key)] = QUERY_WEIGHTS["ph"]
        for field, values in doc_terms(row).items():
            if field == "ed":  # the groups' edit keys, matched per group
                continue
            for term in values:
                kinds[(field, term)] = kind(field, term)
        year = row.get("birth_year")
        if year is not None and row.get("dob_month") is None:
            for near in (int(year) - 1, int(year) + 1):
                kinds.setdefault(("dob", f"Y:{near}"), "dob:Y+-1")
    in_groups = {t for g in groups.values() for t in g}
    anchors = {t: QUERY_WEIGHTS[k] for t, k in kinds.items()
               if k not in BOOSTERS and k not in _NAME_KINDS}
    boosters = {t: QUERY_WEIGHTS[k] for t, k in kinds.items()
                if (k in BOOSTERS or k in _NAME_KINDS) and t not in in_groups}
    if not groups and not anchors:
        anchors, boosters = boosters, {}
    words = sorted(groups, key=_specificity)
    return QueryTerms(tuple(words), tuple(groups[w] for w in words),
                      tuple(tuple(edit_keys(w)) for w in words), anchors, boosters)


def _specificity(word: str) -> tuple[bool, int]:
    """Name groups most telling first: longer words before shorter, and a word of one
    or two letters (an initial, a particle as DE or LA) after any longer one."""
    return len(word) <= 2, -len(word)


_NAME_KINDS: Final = frozenset({"nm", "cn", "ph"})
