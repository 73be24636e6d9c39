"""Personal names: parsing, cleaning, nickname canonicalisation, phonetic keys.

Decisions (tested in tests/normalize/test_names.py):

* Tokens are ASCII-folded upper case; apostrophes and periods vanish (O'BRIEN -> OBRIEN),
  hyphens stay (JEAN-LUC), other punctuation becomes a space.
* Surnames keep their written whole form: a hyphenated surname keeps its hyphen
  ("GARCIA-LOPEZ"), a two-word surname keeps its space ("GARCIA LOPEZ").
  ``last_parts`` splits it on hyphens and spaces, gluing particles (DE, LA, VAN, ...)
  to the word they precede, and adds the particle-free core when it differs:
  "GARCIA-LOPEZ" -> ("GARCIA", "LOPEZ"); "DE LA CRUZ" -> ("DE LA CRUZ", "CRUZ").
  Linkage compares the parts as a set, so "CRUZ" and "DE LA CRUZ" overlap.
* "MARIA GARCIA LOPEZ": when the parsed middle name is a single word that the 1990 US
  Census lists as a surname but never as a given name, it is read as the first half of
  a two-word surname (last "GARCIA LOPEZ"). "MARY ELIZABETH SMITH" keeps its middle.
* Nicknames: the ``nicknames`` package gives, for a name, the set of names it is a
  nickname of. Its data is a noisy graph (it says BILL is a nickname of ROBERT and
  WILLIAM a nickname of BILL), so the choice is made with a frequency prior: the
  candidate with the highest ``census_frequency * (0.2 + jaro_winkler(nick, candidate))``
  wins (ties: more nicknames, then alphabetical). A name maps to itself when it is at
  least as common a given name as every candidate (WILLIAM, JOHN, MARY), and names the
  package does not know map to themselves. BILL -> WILLIAM, PEGGY -> MARGARET,
  LIZ -> ELIZABETH, MOLLY -> MARY, JACK -> JOHN. Known misses of this rule: PETER ->
  PATRICK and LISA -> ELIZABETH (the data lists them as nicknames; both are rarer).
  The result is followed to a fixed point, so canonical_given is idempotent.
* Phonetic key: Metaphone (jellyfish), spaces and hyphens removed first. On a list of
  20 common spelling-variant pairs (SMITH/SMYTH, CATHERINE/KATHRYN, STEVEN/STEPHEN,
  GEOFFREY/JEFFREY, PHILIP/FILIP, MCDONALD/MACDONALD, ...) Metaphone gave the same key
  to 14, NYSIIS to 11, Soundex to 15 but with 4-character keys that also join many
  unrelated names (Soundex keeps only the first letter and three consonant classes).
  Metaphone keys are variable length, so they stay specific for long names.
* Placeholders for an unknown name (BABY GIRL, FNU, MRS, LNU, ...) are no name: the
  normalised given name (or surname) is None, the raw row keeps them (see
  ``_GIVEN_PLACEHOLDERS``; tested in tests/normalize/test_names_placeholders.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Final, Literal

import jellyfish
from nameparser import HumanName
from nameparser.config import CONSTANTS as NP_CONSTANTS
from nicknames import NickNamer

from idgraph.normalize.base import InvalidValue, blank, fold

__all__ = [
    "Name",
    "canonical_given",
    "clean_name_token",
    "clean_suffix",
    "from_parts",
    "parse_full",
    "phonetic",
]

_SUFFIX_FORMS: Final[dict[str, str]] = {
    "JR": "JR",
    "JNR": "JR",
    "JUNIOR": "JR",
    "SR": "SR",
    "SNR": "SR",
    "SENIOR": "SR",
    "I": "I",
    "1ST": "I",
    "II": "II",
    "2ND": "II",
    "2D": "II",
    "III": "III",
    "3RD": "III",
    "3D": "III",
    "IV": "IV",
    "4TH": "IV",
    "V": "V",
    "5TH": "V",
}
# Professional / honorific post-nominals: not part of identity, dropped quietly.
_HONORIFIC_SUFFIXES: Final[frozenset[str]] = frozenset(
    {"ESQ", "ESQUIRE", "MD", "PHD", "DDS", "DMD", "DVM", "CPA", "RN", "JD", "MBA"}
)
_PARTICLES: Final[frozenset[str]] = frozenset(
    {"DE", "DA", "DI", "DO", "DOS", "DAS", "DEL", "DELA", "LA", "LE", "LOS", "LAS", "VAN",
     "VON", "DER", "DEN", "TER", "TEN", "ST", "SAINT", "DU", "DES", "BIN", "BEN", "AL", "EL",
     "Y", "MAC"}
)
_NOT_NAME = re.compile(r"[^A-Z\- ]+")
_SPACES = re.compile(r"\s+")
_HYPHENS = re.compile(r"\s*-[\s-]*")


@dataclass(frozen=True)
class Name:
    """A parsed, cleaned personal name with its matching keys."""

    first: str | None
    middle: str | None
    last: str | None
    suffix: str | None
    first_canon: str | None
    first_phonetic: str | None
    last_phonetic: str | None
    last_parts: tuple[str, ...]

    @property
    def full(self) -> str:
        """Display form "FIRST MIDDLE LAST SUFFIX", missing parts omitted."""
        return " ".join(p for p in (self.first, self.middle, self.last, self.suffix) if p)


@lru_cache(maxsize=200_000)
def clean_name_token(text: str | None) -> str | None:
    """Fold one name field: A-Z, single spaces and inner hyphens only."""
    if blank(text):
        return None
    assert text is not None
    folded = fold(text).replace("'", "").replace(".", "")
    letters = _NOT_NAME.sub(" ", folded)
    joined = _HYPHENS.sub("-", letters)
    cleaned = _SPACES.sub(" ", joined).strip(" -")
    return cleaned or None


def clean_suffix(text: str | None) -> str | None:
    """Generational suffix as JR, SR, I, II, III, IV or V.

    Post-nominal honorifics (ESQ, MD, PHD, ...) are not identity and give None;
    anything else raises InvalidValue.
    """
    if blank(text):
        return None
    assert text is not None
    key = re.sub(r"[^A-Z0-9]", "", fold(text))
    if key in _SUFFIX_FORMS:
        return _SUFFIX_FORMS[key]
    if key in _HONORIFIC_SUFFIXES or not key:
        return None
    raise InvalidValue(f"not a generational suffix: {key[:20]}")


@lru_cache(maxsize=1 << 16)
def _is_suffix_token(token: str, initial_ok: bool = True) -> bool:
    """True for a suffix word; ``initial_ok=False`` refuses the one-letter I and V,
    which after a given name are more likely middle initials ("SMITH, JOHN V")."""
    key = re.sub(r"[^A-Z0-9]", "", token.upper())
    if not initial_ok and len(key) == 1:
        return False
    return key in _SUFFIX_FORMS or key in _HONORIFIC_SUFFIXES


# --- reference data -------------------------------------------------------------------


@lru_cache(maxsize=4)
def _census(filename: str) -> dict[str, float]:
    """Name -> percent frequency from the 1990 US Census lists shipped by `names`."""
    text = resources.files("names").joinpath(filename).read_text(encoding="ascii")
    table: dict[str, float] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2:
            table[fields[0]] = table.get(fields[0], 0.0) + float(fields[1])
    return table


@lru_cache(maxsize=1)
def _given_frequency() -> dict[str, float]:
    male = _census("dist.male.first")
    female = _census("dist.female.first")
    return {k: male.get(k, 0.0) + female.get(k, 0.0) for k in male.keys() | female.keys()}


def is_known_given(name: str | None) -> bool:
    """Is this a given name of the US Census lists (not, say, a typo of one)?"""
    return bool(name) and name in _given_frequency()


@lru_cache(maxsize=1 << 16)
def is_listed_given(name: str | None) -> bool:
    """Does any given-name table idgraph uses list this name: the US Census lists, the
    nicknames package or the extra diminutives (PEPE)? A name none lists (MONCHO, a
    typo, a name from elsewhere) tells nothing about which names it may stand for."""
    if not name:
        return False
    table = _canonical_table()
    return name in _given_frequency() or name in table or name in _listed_canonicals()


@lru_cache(maxsize=1)
def _listed_canonicals() -> frozenset[str]:
    return frozenset(_canonical_table().values())


@lru_cache(maxsize=1 << 16)
def is_nickname_of(short: str, name: str) -> bool:
    """Is ``short`` a nickname of ``name`` by the nicknames package (SAM of SAMANTHA as
    well as of SAMUEL, which :func:`canonical_given` cannot say: it picks one)?"""
    return name.lower() in _nick_namer().canonicals_of(short.lower())


@lru_cache(maxsize=1)
def _nick_namer() -> NickNamer:
    return NickNamer()


# a name is one sex's when that sex bears it this many times as often as the other,
# and it is common enough (percent of people) that a slip rarely lands on it (WILLIA,
# 0.002%, is more often a misspelt WILLIAM than a woman)
SEXED_NAME_RATIO: Final = 10.0
SEXED_NAME_MIN_PERCENT: Final = 0.01


@lru_cache(maxsize=1 << 14)
def given_name_sex(name: str | None) -> Literal["M", "F"] | None:
    """``M`` or ``F`` for a given name the Census lists give (almost) only to men or
    only to women (PATRICK, PATRICIA); None for names both bear (CHRIS; JEAN, nine times
    as often a woman's), for rare names and for names not listed."""
    if not name:
        return None
    male = _census("dist.male.first").get(name, 0.0)
    female = _census("dist.female.first").get(name, 0.0)
    if male + female < SEXED_NAME_MIN_PERCENT:
        return None
    if male > SEXED_NAME_RATIO * female:
        return "M"
    if female > SEXED_NAME_RATIO * male:
        return "F"
    return None


@lru_cache(maxsize=1)
def _canonical_table() -> dict[str, str]:
    """Every name the nicknames package knows -> its chosen canonical given name."""
    namer = NickNamer()
    canon_of = {k.upper(): {c.upper() for c in v} for k, v in namer.canonical_lookup.items()}
    out_degree = {k.upper(): len(v) for k, v in namer.nickname_lookup.items()}
    freq = _given_frequency()

    def one_step(name: str) -> str:
        candidates = canon_of.get(name)
        if not candidates:
            return name
        own = freq.get(name, 0.0)
        if own >= max(freq.get(c, 0.0) for c in candidates):
            return name
        return max(
            sorted(candidates),
            key=lambda c: (
                freq.get(c, 0.0) * (0.2 + jellyfish.jaro_winkler_similarity(name, c)),
                out_degree.get(c, 0),
            ),
        )

    step = {name: one_step(name) for name in canon_of}
    table: dict[str, str] = {}
    for name in step:
        seen = [name]
        current = step[name]
        while current != seen[-1] and current not in seen:
            seen.append(current)
            current = step.get(current, current)
        table[name] = seen[-1]
    table = {name: _EXTRA_CANON.get(canon, canon) for name, canon in table.items()}
    table.update(_EXTRA_CANON)
    return table


# Pairs the nicknames package lacks (or splits): name -> canonical given name.
_EXTRA_CANON: Final = {
    "TERESA": "THERESA", "TESS": "THERESA", "TESSA": "THERESA", "TESSIE": "THERESA",
    "TERRY": "THERESA", "LUPE": "GUADALUPE", "LUPITA": "GUADALUPE",
    # common Spanish diminutives and a few English ones the package lacks
    "PEPE": "JOSE", "PEPITO": "JOSE", "PACO": "FRANCISCO", "PANCHO": "FRANCISCO",
    "NACHO": "IGNACIO", "LALO": "EDUARDO", "MEMO": "GUILLERMO", "CHUY": "JESUS",
    "TONO": "ANTONIO", "CONCHA": "CONCEPCION", "CHELO": "CONSUELO",
    "BARB": "BARBARA", "BARBIE": "BARBARA", "SASHA": "ALEXANDRA",
}


@lru_cache(maxsize=100_000)
def canonical_given(first: str | None) -> str | None:
    """Canonical given name for a first name (BILL -> WILLIAM); unknown names map to
    themselves. Input is cleaned with clean_name_token first."""
    token = clean_name_token(first)
    if token is None:
        return None
    return _canonical_table().get(token, token)


@lru_cache(maxsize=200_000)
def phonetic(text: str | None) -> str | None:
    """Metaphone key of a name field, spaces and hyphens removed."""
    token = clean_name_token(text)
    if token is None:
        return None
    return jellyfish.metaphone(token.replace(" ", "").replace("-", "")) or None


# --- surnames -----------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def _surname_parts(last: str) -> tuple[str, ...]:
    """Split a surname on hyphens/spaces, particles glued to the following word."""
    parts: list[str] = []
    pending: list[str] = []
    for word in re.split(r"[ -]", last):
        if not word:
            continue
        if word in _PARTICLES:
            pending.append(word)
            continue
        parts.append(" ".join([*pending, word]))
        pending = []
    if pending:  # a trailing particle ("VAN") is a surname word of its own
        parts.append(" ".join(pending))
    cores = [p.split(" ")[-1] for p in parts if " " in p]
    result = tuple(dict.fromkeys([*parts, *cores]))
    return result or (last,)


def _looks_like_surname_only(word: str) -> bool:
    return (
        len(word) > 1
        and " " not in word
        and word in _census("dist.all.last")
        and _given_frequency().get(word, 0.0) == 0.0
    )


# --- building -----------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def _split_trailing_suffix(text: str | None) -> tuple[str | None, str | None]:
    """"SMITH JR" -> ("SMITH", "JR"); a lone word is never taken as a suffix."""
    if blank(text):
        return None, None
    assert text is not None
    words = fold(text).replace(".", " ").replace(",", " ").split()
    suffix = None
    if len(words) > 1 and _is_suffix_token(words[-1]):
        suffix = clean_suffix(words.pop())
    return clean_name_token(" ".join(words)), suffix


def _tolerant_suffix(text: str) -> str | None:
    """First generational suffix in nameparser's suffix field ("JR, MD"), if any."""
    for word in re.split(r"[ ,]+", text):
        if _is_suffix_token(word):
            return clean_suffix(word)
    return None


# Placeholders written where a name is unknown: not names, so not "different" names.
# Registries fill a required name field with them: hospitals register newborns as BABY
# BOY / BABY GIRL / INFANT before they are named (The Joint Commission, Sentinel Event
# Alert 61, 2018, on newborn identification); US federal and immigration records write
# FNU / LNU (first / last name unknown) and NFN (no first name) (DHS, State Department
# visa and passport conventions); survey and census files carry relation words and
# honorifics in the name column (GIRL, CHILD, DAUGHTER, MR, MRS, LADY, GENTLEMAN: the
# NORC list of fake names in the Census Bureau's Person Identification Validation
# System). A placeholder becomes no given name (no surname for LNU, UNKNOWN, ...); the
# raw row keeps it. Single letters are initials, never placeholders. Not here: SON, a
# given name the 1990 Census lists for men (Vietnamese SON), and words that are also
# common given names.
_GIVEN_PLACEHOLDERS: Final[frozenset[str]] = frozenset({
    "BABY", "BABY BOY", "BABY GIRL", "BABYBOY", "BABYGIRL", "BOY", "GIRL", "INFANT",
    "INFANT BOY", "INFANT GIRL", "NEWBORN", "CHILD", "DAUGHTER", "MR", "MRS", "MS", "MISS",
    "LADY", "GENTLEMAN", "GENTELMAN", "GENTLEMEN", "UNKNOWN", "UNK", "NONE", "NFN", "FNU",
    "NO NAME", "NONAME", "NO FIRST NAME", "TEST",
})
_SURNAME_PLACEHOLDERS: Final[frozenset[str]] = frozenset({
    "LNU", "UNKNOWN", "UNK", "NONE", "NO NAME", "NONAME", "NO LAST NAME", "TEST",
})


def _without_placeholders(
    first: str | None, middle: str | None, last: str | None
) -> tuple[str | None, str | None, str | None]:
    """Drop a placeholder given name (the longest placeholder the first and middle
    words start with: BABY + GIRL) and a placeholder surname; the words after a
    placeholder given name stay the middle name (GIRL R -> middle R)."""
    if last is not None and last in _SURNAME_PLACEHOLDERS:
        last = None
    if first is None:
        return first, middle, last
    words = f"{first} {middle}".split() if middle else first.split()
    for n in range(len(words), 0, -1):
        if " ".join(words[:n]) in _GIVEN_PLACEHOLDERS:
            return None, " ".join(words[n:]) or None, last
    return first, middle, last


def _build(
    first: str | None, middle: str | None, last: str | None, suffix: str | None
) -> Name | None:
    cleaned = clean_name_token(first), clean_name_token(middle), clean_name_token(last)
    first_c, middle_c, last_c = _without_placeholders(*cleaned)
    if first_c is None and last_c is None:
        if middle_c is None or (cleaned[0], cleaned[2]) != (None, None):
            return None  # nothing but placeholders (and perhaps an initial): no name
        raise InvalidValue("name has a middle name but no first or last name")
    return Name(
        first=first_c,
        middle=middle_c,
        last=last_c,
        suffix=suffix,
        first_canon=canonical_given(first_c),
        first_phonetic=phonetic(first_c),
        last_phonetic=phonetic(last_c),
        last_parts=_surname_parts(last_c) if last_c else (),
    )


def from_parts(
    first: str | None,
    middle: str | None = None,
    last: str | None = None,
    suffix: str | None = None,
) -> Name | None:
    """Name from separate source columns.

    The suffix may be embedded in the last name ("SMITH JR") and the middle name in
    the first ("JOHN A"); an explicit suffix column wins over an embedded one.
    """
    last_c, embedded = _split_trailing_suffix(last)
    first_c = clean_name_token(first)
    middle_c = clean_name_token(middle)
    if first_c and " " in first_c:
        head, rest = first_c.split(" ", 1)
        first_c, middle_c = head, f"{rest} {middle_c}" if middle_c else rest
    explicit = clean_suffix(suffix)
    return _build(first_c, middle_c, last_c, explicit or embedded)


# Name order without a comma is evidence, not a promise: sources declare one order and
# write some rows in the other ("NAVARRETE RAMON" in a "first_last" column). Readings
# of a name of plain words, by how many words the surname takes in front:
#   0: GIVEN [MIDDLE ...] SURNAME          (first_last)
#   1: SURNAME GIVEN [MIDDLE ...]          (last_first)
#   2: SURNAME SURNAME GIVEN               (last_first, a two-word surname: three words)
# Each is scored by the 1990 Census given-name and surname frequencies of the words in
# their roles. The declared order's reading (0, or the better of 1 and 2) stands unless
# another scores this many times higher. JAMES THOMAS against THOMAS JAMES is 7 to 1
# (both are given names and surnames): such names keep the declared order.
ORDER_EVIDENCE: Final = 20.0
# percent frequency of a listed name rounded to 0.000 and of a name not listed at all
_LISTED_FLOOR: Final = 0.0005
_UNLISTED_FLOOR: Final = 0.0001


def _frequency(table: dict[str, float], name: str) -> float:
    if name not in table:
        return _UNLISTED_FLOOR
    return max(table[name], _LISTED_FLOOR)


def _given(word: str) -> float:
    return _frequency(_given_frequency(), word)


def _surname(word: str) -> float:
    return _frequency(_census("dist.all.last"), word.split("-")[0])


def _middle(word: str) -> float:
    """A middle word is a given name, a surname (MARIA GARCIA LOPEZ) or an initial."""
    return 1.0 if len(word) == 1 else max(_given(word), _surname(word))


def _reading_score(words: list[str], surname_first: int) -> float:
    """How likely the words are a name read with ``surname_first`` leading surname words
    (0: the last word is the surname), the words taken as independent."""
    if surname_first == 0:
        given, middles, surnames = words[0], words[1:-1], words[-1:]
    else:
        surnames = words[:surname_first]
        given, middles = words[surname_first], words[surname_first + 1:]
    score = _given(given)
    for word in surnames:
        score *= _surname(word)
    for word in middles:
        score *= _middle(word)
    return score


def surname_words_first(words: list[str], declared: Literal["first_last", "last_first"]
                        ) -> int:
    """How many leading words are the surname (0, 1 or 2; see the readings above) of a
    name written without a comma in a column declared ``declared``. Names the rule
    cannot weigh (a particle as in DE LA CRUZ, a word with no letters, one word, more
    than four words) keep the declared order's plain reading (0 or 1)."""
    plain = 0 if declared == "first_last" else 1
    keys = [clean_name_token(w) for w in words]
    if not 2 <= len(words) <= 4 or any(
            k is None or " " in k or w in _PARTICLES for w, k in zip(words, keys, strict=True)):
        return plain
    clean = [k for k in keys if k is not None]
    readings = [0, 1, 2] if len(clean) == 3 else [0, 1]
    scores = {r: _reading_score(clean, r) for r in readings}
    own = [0] if declared == "first_last" else [r for r in readings if r > 0]
    best_own = max(own, key=lambda r: (scores[r], r == plain))
    if best_own != plain and scores[best_own] < ORDER_EVIDENCE * scores[plain]:
        best_own = plain
    other = max((r for r in readings if r not in own), key=lambda r: scores[r])
    if scores[other] >= ORDER_EVIDENCE * scores[best_own] and _listed(clean, other):
        return other
    return best_own


def _listed(words: list[str], surname_first: int) -> bool:
    """Do the tables know the reading's given name as a given name and its surname
    words as surnames? Overruling the source takes positive evidence: JIRI PAUL (a
    Czech given name no table lists, and PAUL) is not read as PAUL JIRI."""
    if surname_first == 0:
        given, surnames = words[0], words[-1:]
    else:
        given, surnames = words[surname_first], words[:surname_first]
    table = _census("dist.all.last")
    return given in _given_frequency() and all(w.split("-")[0] in table for w in surnames)


def _pre_split(text: str, order: Literal["first_last", "last_first"]) -> tuple[str, str | None]:
    """Pull a generational suffix out of the string and fix up last-first order.

    Handles "JOHN SMITH 2ND", "SMITH JR, JOHN" and "SMITH JOHN A" (order last_first).
    """
    folded = fold(text).replace(".", " ")
    if "," in folded:
        raw_head, tail = (s.strip() for s in folded.split(",", 1))
        head, suffix = _split_trailing_suffix(raw_head)
        tail_words = [w for w in tail.replace(",", " ").split() if w]
        if suffix is None and len(tail_words) > 1 and _is_suffix_token(tail_words[-1], False):
            suffix = clean_suffix(tail_words.pop())
        return f"{head or ''}, {' '.join(tail_words)}", suffix
    words = folded.split()
    suffix = None
    if len(words) > 1 and _is_suffix_token(words[-1], len(words) > 2):
        suffix = clean_suffix(words.pop())
    body = " ".join(words)
    lead = surname_words_first(words, order)
    if lead == 1:
        n = 0
        while n < len(words) - 1 and words[n] in _PARTICLES:
            n += 1
        if len(words) > n + 1:
            body = f"{' '.join(words[: n + 1])}, {' '.join(words[n + 1 :])}"
    elif lead == 2:
        body = f"{' '.join(words[:2])}, {' '.join(words[2:])}"
    return body, suffix


_TITLES: Final[frozenset[str]] = frozenset(
    w.upper().replace(".", "")
    for group in (NP_CONSTANTS.titles, NP_CONSTANTS.conjunctions)
    for w in group
    if len(w) > 1  # single letters are middle initials here, not conjunctions
)
_NP_PREFIXES: Final[frozenset[str]] = frozenset(w.upper() for w in NP_CONSTANTS.prefixes)
_SIMPLE_TOKEN = re.compile(r"^[A-Z][A-Z'\-]*$")


def _simple_split(body: str) -> tuple[str, str | None, str] | None:
    """(first, middle, last) for plain names nameparser would read the same way.

    nameparser is thorough but slow (~600 names/s); most source names are plain
    tokens: "LAST, FIRST [MIDDLE]" or "FIRST [MIDDLE] LAST". Anything with a title,
    particle, conjunction, suffix-like word or non-letter goes to nameparser.
    """
    if "," in body:  # "LAST WORDS, FIRST [MIDDLE]": the head is the whole surname
        head, tail = (p.strip() for p in body.split(",", 1))
        last_words, words = head.split(), tail.split()
        if not last_words or not 1 <= len(words) <= 3 or "," in tail:
            return None
        if not all(_SIMPLE_TOKEN.match(w) and w not in _TITLES for w in last_words):
            return None
        words.append(" ".join(last_words))
    else:
        words = body.split()
        if not 2 <= len(words) <= 4:
            return None
    for w in words[:-1] if "," in body else words:
        if (not _SIMPLE_TOKEN.match(w) or w in _PARTICLES or w in _NP_PREFIXES
                or w in _TITLES or _is_suffix_token(w, False)):
            return None
    return words[0], " ".join(words[1:-1]) or None, words[-1]


def parse_full(
    text: str | None, order: Literal["first_last", "last_first"] = "first_last"
) -> Name | None:
    """Parse a whole name with nameparser; titles (DR, MR, ...) are dropped.

    ``order`` is how the source says it writes a name without a comma: "JOHN SMITH"
    (first_last) or "SMITH JOHN" (last_first). It is a hint: when the name tables
    strongly favour the other reading, that one is taken (see
    :func:`surname_words_first`;
    the model's "given and surname swapped" level still compares the two readings of
    names the tables cannot decide). A comma always means "LAST, FIRST MIDDLE".
    """
    if blank(text):
        return None
    assert text is not None
    body, suffix = _pre_split(text, order)
    if not clean_name_token(body.replace(",", " ")):
        raise InvalidValue("no letters in name")
    simple = _simple_split(body)
    if simple is not None:
        first, middle, last = simple
        parsed = None
    else:
        parsed = HumanName(body)
        first, middle, last = parsed.first, parsed.middle, parsed.last
    if parsed is not None and not first and not last and parsed.title:
        first = parsed.title  # "DEAN" alone: a name, not a title
    if parsed is not None and suffix is None and parsed.suffix:
        suffix = _tolerant_suffix(parsed.suffix)
    middle_c = clean_name_token(middle)
    if middle_c and last and _looks_like_surname_only(middle_c.split(" ")[-1]):
        words = middle_c.split(" ")
        last = f"{words[-1]} {last}"
        middle_c = " ".join(words[:-1]) or None
    return _build(first, middle_c, last, suffix)
