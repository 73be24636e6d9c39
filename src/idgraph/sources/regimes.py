"""The catalogue of legal regimes a manifest may declare, each with its citation.

Policy rules read ``resource.regimes`` by exact spelling, so a regime written
``dppa`` would silently turn off every DPPA rule. Manifests are therefore checked
against this catalogue: input is case-insensitive and stored in its canonical
spelling; anything not catalogued is an error naming the file and the key.

The catalogue holds every regime the shipped Cedar rules read (``read_by``), plus a
few real ones that rules may read later (``read_by`` empty). A deployment that
writes a rule on a new regime adds it here first (tests check that every regime
the shipped rules read is catalogued).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Regime:
    code: str  # canonical spelling, as the rules read it
    title: str
    citation: str
    jurisdiction: str  # ISO 3166 code of the law's own jurisdiction
    read_by: tuple[str, ...] = ()  # ids of the shipped rules that read it


REGIMES: Final[dict[str, Regime]] = {
    r.code: r
    for r in (
        Regime("DPPA", "Driver's Privacy Protection Act", "18 U.S.C. §§ 2721-2725", "US",
               ("dppa.permissible_use", "dppa.highly_restricted")),
        Regime("GLBA", "Gramm-Leach-Bliley Act, privacy of nonpublic personal information",
               "15 U.S.C. §§ 6801-6809", "US",
               ("glba.exception", "fcra.1681f_identifying_only")),
        Regime("FCRA", "Fair Credit Reporting Act", "15 U.S.C. §§ 1681-1681x", "US",
               ("fcra.permissible_purpose", "fcra.1681f_identifying_only", "fcra.non_fcra_data")),
        Regime("NY-VTL-201", "New York Green Light law (DMV records)",
               "N.Y. Veh. & Traf. Law § 201(12)", "US-NY",
               ("ny.vtl201.basis", "ny.vtl201.notice")),
        Regime("CA-VC-1808", "California DMV records: public inspection and its limits",
               "Cal. Veh. Code §§ 1808-1808.47", "US-CA", ("ca.dmv.immigration",)),
        Regime("CA-VC-12801.9", "California licences under AB 60: no use for immigration "
               "enforcement", "Cal. Veh. Code § 12801.9(j)", "US-CA", ("ca.dmv.immigration",)),
        Regime("IL-625-ILCS-5/2-123", "Illinois Vehicle Code: sale and release of "
               "Secretary of State records", "625 ILCS 5/2-123", "US-IL",
               ("il.sos.basis", "il.sos.notice")),
        Regime("IL-15-ILCS-335", "Illinois Identification Card Act", "15 ILCS 335", "US-IL",
               ("il.sos.basis", "il.sos.notice")),
        Regime("CPNI", "Customer proprietary network information", "47 U.S.C. § 222", "US"),
        Regime("SCA", "Stored Communications Act: subscriber records to a governmental "
               "entity", "18 U.S.C. §§ 2702-2703", "US", ("sca.government_process",)),
    )
}

_BY_FOLD: Final[dict[str, str]] = {code.upper(): code for code in REGIMES}


def canonical_regime(text: str) -> str | None:
    """The catalogued spelling of ``text`` (case-insensitive), or None if unknown."""
    return _BY_FOLD.get(text.strip().upper())


def canonical_regimes(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Canonical spellings, in order, without repeats; ValueError naming unknown ones."""
    out: dict[str, None] = {}
    unknown: list[str] = []
    for v in values:
        code = canonical_regime(v)
        if code is None:
            unknown.append(v)
        else:
            out[code] = None
    if unknown:
        raise ValueError(
            f"unknown regime(s) {unknown}; catalogued: {', '.join(REGIMES)} "
            "(see docs/sources.md)"
        )
    return tuple(out)
