"""Unique, well-formed synthetic identifiers: SSNs, licence numbers, plates, phones.

Each identifier is a bijection of the person's index (an affine permutation modulo the
size of the identifier space), so values are unique without keeping a set in memory and
are the same for the same seed. Phones use the fictional 555 exchange.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Final

import phonenumbers

_LETTERS: Final[str] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# SSA rules: area 001-899 except 666, group 01-99, serial 0001-9999.
_AREAS: Final[tuple[int, ...]] = tuple(a for a in range(1, 900) if a != 666)
_SSN_SPACE: Final[int] = len(_AREAS) * 99 * 9999
_GEOGRAPHIC: Final[frozenset[int]] = frozenset(
    {
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.MOBILE,
    }
)


def _coprime_multiplier(space: int, seed: int, salt: int) -> int:
    """A multiplier coprime to ``space``, chosen from the seed."""
    a = (seed * 2654435761 + salt * 40503 + 1_000_003) % space or 1
    while math.gcd(a, space) != 1:
        a = a + 1 if a + 1 < space else 1
    return a


class Permutation:
    """``i -> (a*i + b) mod space``: a seed-chosen bijection of ``range(space)``."""

    __slots__ = ("a", "b", "space")

    def __init__(self, space: int, seed: int, salt: int) -> None:
        self.space = space
        self.a = _coprime_multiplier(space, seed, salt)
        self.b = (seed * 97 + salt * 1_000_000_007) % space

    def __call__(self, i: int) -> int:
        return (self.a * i + self.b) % self.space


def ssn_from(k: int) -> str:
    """The k-th valid SSN (9 digits) for ``0 <= k < _SSN_SPACE``."""
    serial = k % 9999 + 1
    k //= 9999
    group = k % 99 + 1
    area = _AREAS[k // 99]
    return f"{area:03d}{group:02d}{serial:04d}"


def ssn_is_valid(ssn: str) -> bool:
    """True when ``ssn`` (9 digits) follows the SSA issuing rules."""
    if len(ssn) != 9 or not ssn.isdigit():
        return False
    area, group, serial = int(ssn[:3]), int(ssn[3:5]), int(ssn[5:])
    return 0 < area < 900 and area != 666 and group != 0 and serial != 0


@lru_cache(maxsize=1)
def us_area_codes() -> tuple[str, ...]:
    """Geographic US area codes libphonenumber accepts with the 555 exchange, sorted."""
    out = []
    for npa in range(200, 1000):
        num = phonenumbers.parse(f"+1{npa}5550100")
        if (
            phonenumbers.is_valid_number(num)
            and phonenumbers.region_code_for_number(num) == "US"
            and phonenumbers.number_type(num) in _GEOGRAPHIC
        ):
            out.append(str(npa))
    return tuple(out)


class IdFactory:
    """Identifier permutations for one seed."""

    def __init__(self, seed: int) -> None:
        self.ssn = Permutation(_SSN_SPACE, seed, 1)
        self.ny_dl = Permutation(10**9, seed, 2)
        self.il_dl = Permutation(10**11, seed, 3)
        self.ca_dl = Permutation(10**7, seed, 4)
        self.plate = Permutation(26**3 * 10**4, seed, 5)
        self.npas = us_area_codes()
        self.phone = Permutation(len(self.npas) * 10_000, seed, 6)

    def ssn_for(self, idx: int) -> str:
        return ssn_from(self.ssn(idx))

    def dl_for(self, idx: int, state: str, surname: str) -> str:
        """Licence number in the state's format (NY 9 digits; IL, CA letter + digits)."""
        initial = next((c for c in surname if c.isalpha()), "X")
        if state == "NY":
            return f"{self.ny_dl(idx):09d}"
        if state == "IL":
            return f"{initial}{self.il_dl(idx):011d}"
        if state == "CA":
            return f"{_LETTERS[idx // 10**7 % 26]}{self.ca_dl(idx):07d}"
        return f"{state}{self.ny_dl(idx):09d}"

    def plate_for(self, idx: int, state: str) -> str:
        """Plate in a state-typical pattern (NY ABC1234, IL AB12345, CA 1ABC234)."""
        k = self.plate(idx)
        digits, letters = k % 10**4, k // 10**4
        l3 = _LETTERS[letters // 676] + _LETTERS[letters // 26 % 26] + _LETTERS[letters % 26]
        if state == "IL":
            return f"{l3[:2]}{digits:04d}{letters % 10}"
        if state == "CA":
            return f"{digits % 9 + 1}{l3}{digits // 10:03d}"
        return f"{l3}{digits:04d}"

    def phone_for(self, idx: int, slot: int) -> str:
        """The person's ``slot``-th phone (0..2): 10 digits, NPA + 555 + line."""
        k = self.phone((idx * 3 + slot) % self.phone.space)
        return f"{self.npas[k % len(self.npas)]}555{k // len(self.npas):04d}"
