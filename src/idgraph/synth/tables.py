"""Small embedded tables the generator draws from.

Everything here is generic: common given names, common surnames, generic street names
and real city/state/ZIP-prefix combinations. No row describes a real person; people
are assembled from these parts at random.
"""

from __future__ import annotations

from typing import Final

# Given names with sex and weight (rough US frequency rank, not real counts).
MALE_FIRST: Final[tuple[tuple[str, int], ...]] = (
    ("JAMES", 40), ("JOHN", 38), ("ROBERT", 36), ("MICHAEL", 36), ("WILLIAM", 30),
    ("DAVID", 30), ("RICHARD", 20), ("JOSEPH", 20), ("THOMAS", 18), ("CHARLES", 18),
    ("CHRISTOPHER", 16), ("DANIEL", 16), ("MATTHEW", 14), ("ANTHONY", 12), ("MARK", 10),
    ("DONALD", 8), ("STEVEN", 10), ("PAUL", 8), ("ANDREW", 8), ("JOSHUA", 8),
    ("KENNETH", 6), ("KEVIN", 6), ("BRIAN", 6), ("GEORGE", 6), ("EDWARD", 6),
    ("RONALD", 5), ("TIMOTHY", 5), ("JASON", 5), ("JEFFREY", 5), ("RYAN", 5),
    ("JOSE", 10), ("LUIS", 8), ("CARLOS", 8), ("JUAN", 8), ("MIGUEL", 6), ("JORGE", 4),
    ("MINH", 3), ("TUAN", 3), ("HUNG", 2), ("MIN-JUN", 2), ("JI-HOON", 2), ("SEAN", 4),
    ("PATRICK", 5), ("LIAM", 3), ("OMAR", 2), ("SAMUEL", 4), ("BENJAMIN", 4),
    ("NICHOLAS", 4), ("ALEXANDER", 4), ("FRANCISCO", 4), ("ANTONIO", 4), ("GREGORY", 3),
)
FEMALE_FIRST: Final[tuple[tuple[str, int], ...]] = (
    ("MARY", 36), ("PATRICIA", 24), ("JENNIFER", 24), ("LINDA", 20), ("ELIZABETH", 20),
    ("BARBARA", 16), ("SUSAN", 16), ("JESSICA", 14), ("SARAH", 14), ("KAREN", 12),
    ("NANCY", 10), ("LISA", 10), ("MARGARET", 10), ("BETTY", 6), ("SANDRA", 8),
    ("ASHLEY", 8), ("KIMBERLY", 8), ("EMILY", 8), ("DONNA", 6), ("MICHELLE", 8),
    ("CAROL", 6), ("AMANDA", 6), ("MELISSA", 6), ("DEBORAH", 6), ("STEPHANIE", 6),
    ("REBECCA", 5), ("KATHERINE", 6), ("CHRISTINE", 5), ("SAMANTHA", 4), ("VICTORIA", 4),
    ("MARIA", 24), ("ANA", 8), ("GUADALUPE", 4), ("ROSA", 5), ("CARMEN", 5), ("SOFIA", 4),
    ("LINH", 3), ("THAO", 2), ("MAI", 3), ("SEO-YEON", 2), ("JI-WOO", 2), ("SIOBHAN", 2),
    ("BRIDGET", 2), ("AISHA", 2), ("ABIGAIL", 3), ("ALEXANDRA", 3), ("DOROTHY", 4),
    ("JOSEPHINE", 3), ("THERESA", 3), ("VERONICA", 3),
)

# Canonical given name -> nicknames a source may carry instead.
NICKNAMES: Final[dict[str, tuple[str, ...]]] = {
    "WILLIAM": ("BILL", "WILL", "BILLY"), "ROBERT": ("BOB", "ROB", "BOBBY"),
    "RICHARD": ("RICK", "DICK", "RICH"), "JAMES": ("JIM", "JIMMY"),
    "JOHN": ("JACK", "JOHNNY"), "MICHAEL": ("MIKE",), "JOSEPH": ("JOE", "JOEY"),
    "THOMAS": ("TOM", "TOMMY"), "CHARLES": ("CHARLIE", "CHUCK"), "DAVID": ("DAVE",),
    "CHRISTOPHER": ("CHRIS",), "DANIEL": ("DAN", "DANNY"), "MATTHEW": ("MATT",),
    "ANTHONY": ("TONY",), "DONALD": ("DON",), "STEVEN": ("STEVE",), "ANDREW": ("ANDY", "DREW"),
    "JOSHUA": ("JOSH",), "KENNETH": ("KEN", "KENNY"), "EDWARD": ("ED", "EDDIE", "TED"),
    "RONALD": ("RON",), "TIMOTHY": ("TIM",), "JEFFREY": ("JEFF",), "SAMUEL": ("SAM",),
    "BENJAMIN": ("BEN",), "NICHOLAS": ("NICK",), "ALEXANDER": ("ALEX",),
    "FRANCISCO": ("PACO", "FRANK"), "JOSE": ("PEPE",), "GREGORY": ("GREG",),
    "PATRICIA": ("PAT", "PATTY", "TRISH"), "JENNIFER": ("JENNY", "JEN"),
    "ELIZABETH": ("LIZ", "BETH", "BETSY"), "BARBARA": ("BARB",), "SUSAN": ("SUE",),
    "JESSICA": ("JESS",), "MARGARET": ("PEGGY", "MAGGIE", "MEG"), "KIMBERLY": ("KIM",),
    "DEBORAH": ("DEBBIE", "DEB"), "REBECCA": ("BECKY",), "KATHERINE": ("KATE", "KATHY"),
    "CHRISTINE": ("CHRIS",), "SAMANTHA": ("SAM",), "VICTORIA": ("VICKY", "TORI"),
    "ABIGAIL": ("ABBY",), "ALEXANDRA": ("ALEX", "SASHA"), "DOROTHY": ("DOT", "DOTTIE"),
    "JOSEPHINE": ("JOSIE",), "THERESA": ("TERRY", "TESS"), "GUADALUPE": ("LUPE",),
    "MARY": ("MOLLY",), "SANDRA": ("SANDY",), "AMANDA": ("MANDY",),
}

# Surnames with weight and a cultural group used only to pick plausible given names and
# compound-surname behaviour (never written to any source).
SURNAMES: Final[tuple[tuple[str, int, str], ...]] = (
    ("SMITH", 40, "en"), ("JOHNSON", 32, "en"), ("WILLIAMS", 28, "en"), ("BROWN", 26, "en"),
    ("JONES", 26, "en"), ("MILLER", 20, "en"), ("DAVIS", 20, "en"), ("WILSON", 14, "en"),
    ("ANDERSON", 14, "en"), ("TAYLOR", 14, "en"), ("THOMAS", 12, "en"), ("MOORE", 12, "en"),
    ("JACKSON", 12, "en"), ("MARTIN", 12, "en"), ("THOMPSON", 10, "en"), ("WHITE", 10, "en"),
    ("HARRIS", 10, "en"), ("CLARK", 8, "en"), ("LEWIS", 8, "en"), ("ROBINSON", 8, "en"),
    ("WALKER", 8, "en"), ("YOUNG", 8, "en"), ("ALLEN", 8, "en"), ("KING", 8, "en"),
    ("WRIGHT", 7, "en"), ("SCOTT", 7, "en"), ("HILL", 7, "en"), ("GREEN", 7, "en"),
    ("ADAMS", 6, "en"), ("BAKER", 6, "en"), ("NELSON", 6, "en"), ("CARTER", 6, "en"),
    ("MITCHELL", 6, "en"), ("ROBERTS", 6, "en"), ("PHILLIPS", 5, "en"), ("CAMPBELL", 5, "en"),
    ("PARKER", 5, "en"), ("EVANS", 5, "en"), ("EDWARDS", 5, "en"), ("COLLINS", 5, "en"),
    ("STEWART", 5, "en"), ("MORRIS", 5, "en"), ("COOK", 4, "en"), ("ROGERS", 4, "en"),
    ("O'BRIEN", 5, "ie"), ("O'CONNOR", 4, "ie"), ("O'NEILL", 4, "ie"), ("MCCARTHY", 4, "ie"),
    ("MCDONALD", 4, "ie"), ("MCLAUGHLIN", 3, "ie"), ("MURPHY", 6, "ie"), ("KELLY", 6, "ie"),
    ("SULLIVAN", 5, "ie"), ("FITZGERALD", 3, "ie"), ("O'SULLIVAN", 2, "ie"),
    ("GARCIA", 30, "es"), ("RODRIGUEZ", 26, "es"), ("MARTINEZ", 24, "es"),
    ("HERNANDEZ", 24, "es"), ("LOPEZ", 22, "es"), ("GONZALEZ", 22, "es"), ("PEREZ", 16, "es"),
    ("SANCHEZ", 16, "es"), ("RAMIREZ", 14, "es"), ("TORRES", 12, "es"), ("FLORES", 12, "es"),
    ("RIVERA", 12, "es"), ("GOMEZ", 10, "es"), ("DIAZ", 10, "es"), ("CRUZ", 8, "es"),
    ("MORALES", 8, "es"), ("REYES", 8, "es"), ("GUTIERREZ", 7, "es"), ("ORTIZ", 7, "es"),
    ("CHAVEZ", 6, "es"), ("RUIZ", 6, "es"), ("DE LA CRUZ", 3, "es"),
    ("NGUYEN", 20, "vi"), ("TRAN", 10, "vi"), ("LE", 8, "vi"), ("PHAM", 7, "vi"),
    ("HUYNH", 4, "vi"), ("VO", 4, "vi"), ("DANG", 3, "vi"), ("BUI", 3, "vi"),
    ("KIM", 14, "ko"), ("LEE", 16, "ko"), ("PARK", 10, "ko"), ("CHOI", 6, "ko"),
    ("JUNG", 5, "ko"), ("KANG", 4, "ko"), ("CHO", 4, "ko"), ("YOON", 3, "ko"),
    ("SMITH-JONES", 1, "en"), ("WHITE-SANTOS", 1, "en"), ("BAKER-NGUYEN", 1, "en"),
    ("ST. JOHN", 1, "en"), ("VAN DYKE", 1, "en"),
)

# Name pairs deliberately over-represented so unrelated namesakes collide.
COMMON_NAMES: Final[tuple[tuple[str, str, str], ...]] = (
    ("JAMES", "SMITH", "M"), ("MARIA", "GARCIA", "F"), ("MICHAEL", "JOHNSON", "M"),
    ("DAVID", "NGUYEN", "M"), ("MARY", "SMITH", "F"), ("JOSE", "RODRIGUEZ", "M"),
    ("JOHN", "KIM", "M"), ("MARIA", "HERNANDEZ", "F"), ("ROBERT", "BROWN", "M"),
    ("JENNIFER", "LEE", "F"),
)

STREET_NAMES: Final[tuple[str, ...]] = (
    "MAIN", "OAK", "MAPLE", "CEDAR", "ELM", "PINE", "WASHINGTON", "LAKE", "HILL", "PARK",
    "WALNUT", "SPRING", "NORTH", "RIDGE", "CHURCH", "WILLOW", "MILL", "SUNSET", "RAILROAD",
    "JACKSON", "LINCOLN", "MADISON", "FRANKLIN", "HIGHLAND", "MEADOW", "FOREST", "RIVER",
    "CHESTNUT", "BIRCH", "SPRUCE", "DOGWOOD", "HICKORY", "ASH", "POPLAR", "MAGNOLIA",
    "CENTRAL", "BROAD", "COLLEGE", "SCHOOL", "UNION", "VALLEY", "GROVE", "ORCHARD",
    "FAIRVIEW", "PROSPECT", "PLEASANT", "JEFFERSON", "ADAMS", "MONROE", "CLINTON",
    "VISTA", "SIERRA", "MISSION", "CYPRESS", "HARBOR", "BAYVIEW", "LAUREL", "ASPEN",
)
STREET_TYPES: Final[tuple[tuple[str, str], ...]] = (
    # (abbreviation, long form): sources disagree on which they print
    ("ST", "STREET"), ("AVE", "AVENUE"), ("RD", "ROAD"), ("DR", "DRIVE"), ("LN", "LANE"),
    ("BLVD", "BOULEVARD"), ("CT", "COURT"), ("PL", "PLACE"), ("WAY", "WAY"), ("TER", "TERRACE"),
)
DIRECTIONS: Final[tuple[str, ...]] = ("N", "S", "E", "W")
UNIT_TYPES: Final[tuple[str, ...]] = ("APT", "UNIT", "#", "STE")

# City, state, 3-digit ZIP prefix, number of ZIPs used under it, weight, area codes.
CITIES: Final[tuple[tuple[str, str, str, int, int, tuple[str, ...]], ...]] = (
    ("NEW YORK", "NY", "100", 40, 14, ("212", "646", "917")),
    ("BROOKLYN", "NY", "112", 40, 12, ("718", "347", "929")),
    ("BRONX", "NY", "104", 70, 6, ("718", "347")),
    ("JAMAICA", "NY", "114", 35, 4, ("718", "347")),
    ("YONKERS", "NY", "107", 10, 3, ("914",)),
    ("BUFFALO", "NY", "142", 25, 4, ("716",)),
    ("ROCHESTER", "NY", "146", 25, 3, ("585",)),
    ("SYRACUSE", "NY", "132", 15, 2, ("315",)),
    ("ALBANY", "NY", "122", 10, 2, ("518",)),
    ("CHICAGO", "IL", "606", 60, 16, ("312", "773", "872")),
    ("EVANSTON", "IL", "602", 2, 2, ("847",)),
    ("AURORA", "IL", "605", 6, 2, ("630", "331")),
    ("NAPERVILLE", "IL", "605", 6, 2, ("630", "331")),
    ("JOLIET", "IL", "604", 8, 2, ("815", "779")),
    ("ROCKFORD", "IL", "611", 10, 2, ("815", "779")),
    ("PEORIA", "IL", "616", 10, 2, ("309",)),
    ("SPRINGFIELD", "IL", "627", 10, 2, ("217",)),
    ("LOS ANGELES", "CA", "900", 90, 12, ("213", "323", "310")),
    ("SAN DIEGO", "CA", "921", 40, 5, ("619", "858")),
    ("SAN JOSE", "CA", "951", 40, 4, ("408", "669")),
    ("SAN FRANCISCO", "CA", "941", 30, 4, ("415", "628")),
    ("OAKLAND", "CA", "946", 20, 2, ("510", "341")),
    ("FRESNO", "CA", "937", 20, 2, ("559",)),
    ("SACRAMENTO", "CA", "958", 30, 3, ("916", "279")),
    ("LONG BEACH", "CA", "908", 15, 2, ("562",)),
    ("SPRINGFIELD", "MA", "011", 10, 1, ("413",)),
    ("NEWARK", "NJ", "071", 10, 2, ("973", "862")),
    ("JERSEY CITY", "NJ", "073", 8, 1, ("201", "551")),
    ("HOUSTON", "TX", "770", 90, 2, ("713", "832")),
    ("MIAMI", "FL", "331", 80, 2, ("305", "786")),
    ("PHOENIX", "AZ", "850", 40, 1, ("602", "480")),
    ("PHILADELPHIA", "PA", "191", 50, 2, ("215", "267")),
    ("ATLANTA", "GA", "303", 40, 1, ("404", "678")),
    ("SEATTLE", "WA", "981", 40, 1, ("206",)),
)

MIDDLE_LETTERS: Final[str] = "ABCDEFGHJKLMNPRSTW"

COURT_CHARGES: Final[tuple[str, ...]] = (
    "RETAIL THEFT", "DUI", "DRIVING ON SUSPENDED LICENSE", "CRIMINAL TRESPASS",
    "POSSESSION OF CANNABIS", "DISORDERLY CONDUCT", "BATTERY", "CRIMINAL DAMAGE TO PROPERTY",
    "THEFT UNDER 500", "RECKLESS DRIVING", "FORGERY", "BURGLARY",
)
COURT_DISPOSITIONS: Final[tuple[str, ...]] = (
    "DISMISSED", "NOLLE PROSEQUI", "GUILTY PLEA", "FOUND GUILTY", "NOT GUILTY", "SUPERVISION",
    "PENDING",
)
FACILITIES: Final[tuple[str, ...]] = (
    "COOK COUNTY JAIL", "DUPAGE COUNTY JAIL", "WILL COUNTY ADULT DETENTION FACILITY",
    "SANGAMON COUNTY JAIL", "PEORIA COUNTY JAIL", "WINNEBAGO COUNTY JAIL",
)
