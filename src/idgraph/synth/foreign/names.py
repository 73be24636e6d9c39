"""Name tables and the ways sources write a name differently (foreign conventions).

Given names carry their accents as people write them (``José``, ``María``); a source
that cannot store them writes them upper-case without accents. Some given names have a
nickname that an informal source uses instead. Surnames are Spanish-style (paternal,
sometimes followed by a maternal one, some accented) and Anglo, Vietnamese and
Central-European ones.
"""

from __future__ import annotations

import random
import unicodedata
from typing import Final

# given name -> nicknames an informal source may write instead (first is most common)
MALE: Final[dict[str, tuple[str, ...]]] = {
    "José": ("Pepe", "Joe"), "Juan": ("Juanito",), "Luis": (), "Jesús": ("Chuy",),
    "Ramón": ("Moncho",), "Andrés": ("Andy",), "Martín": (), "Raúl": (),
    "Héctor": (), "Joaquín": ("Quino",), "Julián": (), "Francisco": ("Paco", "Frank"),
    "Alejandro": ("Alex",), "Miguel": ("Mike",), "Carlos": ("Charlie",),
    "Robert": ("Bob", "Rob", "Bobby"), "William": ("Bill", "Will"), "James": ("Jim",),
    "Richard": ("Rick", "Dick"), "Thomas": ("Tom",), "Michael": ("Mike",),
    "Joseph": ("Joe",), "Charles": ("Chuck",), "Daniel": ("Dan",),
    "Anthony": ("Tony",), "Christopher": ("Chris",), "David": ("Dave",),
    "Quang": (), "Minh": (), "Tuan": (), "Jan": (), "Tomáš": ("Tom",),
    "Jiří": (), "Stefan": (), "Jürgen": (), "Ángel": (), "Óscar": (),
}
FEMALE: Final[dict[str, tuple[str, ...]]] = {
    "María": ("Mary",), "Sofía": ("Sofi",), "Lucía": ("Lucy",), "Inés": (),
    "Verónica": ("Vero",), "Mónica": (), "Guadalupe": ("Lupe",), "Rocío": (),
    "Beatriz": ("Bea",), "Ana": (), "Carmen": (), "Dolores": ("Lola",),
    "Elizabeth": ("Liz", "Beth", "Betty"), "Katherine": ("Kate", "Kathy"),
    "Margaret": ("Peggy", "Maggie"), "Jennifer": ("Jen", "Jenny"),
    "Patricia": ("Pat", "Patty"), "Susan": ("Sue",), "Deborah": ("Debbie",),
    "Rebecca": ("Becky",), "Linh": (), "Thu": (), "Lan": (), "Zoë": ("Zoe",),
    "Renée": (), "Agnieszka": (), "Małgorzata": ("Gosia",), "Chloé": (),
}

SPANISH: Final[tuple[str, ...]] = (
    "García", "López", "Martínez", "Hernández", "González", "Pérez", "Sánchez",
    "Rodríguez", "Ramírez", "Gómez", "Díaz", "Núñez", "Peña", "Muñoz", "Ibáñez",
    "Álvarez", "Navarrete", "Ramón", "Jiménez", "Domínguez", "Vázquez", "Castillo",
    "Ortiz", "Morales", "Herrera", "Medina", "Aguilar", "Vargas", "Cruz", "Reyes",
    "Mendoza", "Guzmán", "Salazar", "Ríos", "Cortés", "Rentería", "Beltrán", "Villaseñor",
)
OTHER: Final[tuple[str, ...]] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
    "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "White", "Harris",
    "O'Brien", "McDonald", "Nguyen", "Tran", "Le", "Pham", "Müller", "Schröder",
    "Kowalski", "Nowak", "Dvořák", "Novák", "Thompson", "Robinson", "Clark", "Lewis",
    "James", "Henry", "Paul",
)
MIDDLE: Final[tuple[str, ...]] = (
    "Antonio", "Luis", "Manuel", "Alberto", "Eduardo", "Ann", "Marie", "Lee", "Lynn",
    "James", "Edward", "Isabel", "Elena", "Guadalupe", "Thi", "Van", "Rose", "Jean",
)

_TYPO_KEYS: Final[str] = "ABCDEFGHIJKLMNOPRSTUVZ"


def fold(text: str) -> str:
    """Upper case without accents, as a source whose system has no accents writes it."""
    norm = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    return "".join(c for c in norm if not unicodedata.combining(c)).upper()


def typo(rng: random.Random, word: str) -> str:
    """One keying error: a substitution, a deletion or a swap of two letters."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.4:
        sub = rng.choice(_TYPO_KEYS)
        return word[:i] + (sub if sub != word[i].upper() else "Y") + word[i + 1:]
    if kind < 0.7:
        return word[:i] + word[i + 1:]
    return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]


def given_pool(sex: str) -> list[str]:
    return sorted(MALE if sex == "M" else FEMALE)


def nicknames(given: str) -> tuple[str, ...]:
    return MALE.get(given) or FEMALE.get(given) or ()
