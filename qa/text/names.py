"""Whether a name is stated: inflections ("Japan"/"Japanese"), acronyms ("WTO", "U.S."), a shorter form
("Biden" for "Joe Biden", "Korea" for "South Korea") but never a rival ("North Korea" for "South Korea")
nor a name that lacks the claim name's own last word ("Japanese Prime Minister" is no "Shinzo Abe").

Used by the claim checker to confirm names, and by :mod:`qa.text.roles` to place them.
"""

from __future__ import annotations

import re
from typing import Sequence

from qa.text.words import STOPWORDS
from qa.text.types import DEMONYMS, common_words as _common


def _name_words(text: str) -> list[str]:
    words = [re.sub(r"['’]s$", "", w).strip("'’").lower() for w in re.findall(r"[\w'’.-]+", text)]
    return [w for part in words for w in re.split(r"[-.]", part) if w and w not in STOPWORDS]


def _same_word(a: str, b: str) -> bool:
    """Equal, or a short inflection of each other ("Japan"/"Japanese", "Korea"/"Korean")."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short) and len(long_) - len(short) <= 3


_GENERIC = frozenset("sea ocean river island islands mountain house university party ministry council "
                     "assembly general national republic state states united government committee "
                     "prime minister president emperor king queen chairman secretary foreign chief "
                     "mr mrs ms dr sir lord".split())

# Common nouns that head the name of an event, a document or a place ("Korean War", "Basic Treaty"):
# a source may leave them out ("Korea ... the conflict") without naming anything else.
_HEADS = frozenset("war wars treaty agreement accord accords pact crisis dispute conflict summit conference talks "
                   "bridge tower line strait peninsula dynasty empire kingdom period era movement revolution act law "
                   "bill declaration statement games cup fund bank company corporation organization organisation "
                   "association union alliance forces army navy court museum station airport port city province "
                   "prefecture region campaign incident massacre uprising invasion occupation program programme "
                   "project plan policy report book paper agency institute center centre festival award prize".split())

_DEMONYMS = frozenset(w.lower() for w in DEMONYMS)
_MODIFIERS = frozenset("north south east west northern southern eastern western new old upper lower great greater "
                       "central little".split())


def name_in(name: str, words: list[str], names: Sequence[list[str]] = ()) -> bool:
    """True when a name is stated among ``words``: every distinctive word of it is there, or some are
    and none of the other side's ``names`` (their words) that holds them adds a distinctive word of its
    own ("Biden" confirms "Joe Biden", "Korea" confirms "South Korea"; "South Korea" does not confirm
    "North Korea", nor "Joe Biden" "Hunter Biden"); or an acronym matches."""
    mine = _name_words(name)
    if not mine:
        return True
    distinctive = [w for w in mine if w not in _GENERIC] or mine
    shared = [w for w in distinctive if any(_same_word(w, o) for o in words)]
    if len(shared) == len(distinctive):
        return True
    # A conflicting name shares the very word ("Korea" in "South Korea"), not an inflection of it
    # ("Korea" in "North Korea" is no rival of "Korean War").
    # A shorter form keeps the name's last distinctive word (its surname: "Biden" for "Joe Biden", "Korea"
    # for "South Korea"), or lacks only common nouns ("Korea" for "Korean War"); "Japanese" alone is no
    # "Japanese Prime Minister Shinzo Abe".
    # A person's surname may also come first ("Yoon" for "Yoon Suk Yeol"), but not a nationality or a
    # compass point.
    core = [w for w in distinctive if w not in _DEMONYMS] or distinctive
    if (shared and (core[-1] in shared or (core[0] in shared and core[0] not in _MODIFIERS)
                    or all(w in _HEADS or w in _common() for w in distinctive if w not in shared))
            and not any(_rival(other, shared, mine) for other in names)):
        return True
    # Acronyms either way: "WTO" / "World Trade Organization", "U.S." / "United States".
    initials = "".join(w[0] for w in mine)
    if len(initials) >= 2 and (initials in words or initials in _acronyms(words)):
        return True
    return any(any("".join(w[0] for w in words[i:i + len(a)]) == a for i in range(len(words) - len(a) + 1))
               for a in _acronyms(mine))


def _rival(other: list[str], shared: list[str], mine: list[str]) -> bool:
    """``other`` (a name's words) holds one of the ``shared`` words itself, not an inflection of it, and adds
    a distinctive word of its own: "South Korea" against "North Korea", not "North Korea" against "Korean War"."""
    return (any(w in other for w in shared)
            and any(x not in _GENERIC and not any(_same_word(x, m) for m in mine) for x in other))


def _acronyms(words: list[str]) -> set[str]:
    """Runs of single letters joined: ["u", "s", "house"] -> {"us"}."""
    out, run = set(), ""
    for w in words + [""]:
        if len(w) == 1:
            run += w
        else:
            if len(run) >= 2:
                out.add(run)
            run = ""
    return out


_TITLES = frozenset("president premier prime minister chancellor king queen emperor empress prince princess pope "
                    "chairman chairwoman chair ceo secretary governor mayor speaker ambassador senator general "
                    "admiral colonel captain judge justice".split())


def title_words(name: str) -> frozenset[str]:
    """The office a name carries ("Prime Minister Fumio Kishida": {"prime", "minister"})."""
    return frozenset(w for w in _name_words(name) if w in _TITLES)


def same_role(a: str, b: str) -> bool:
    """Two names could fill the same role: not a president against a prime minister."""
    ta, tb = title_words(a), title_words(b)
    if ta and tb:
        return bool(ta & tb)
    # A person with an office against a bare one-word name ("Prime Minister Shinzo Abe" against "Tokyo"):
    # most likely a place or a body, not the person.
    return not ((ta and len(_name_words(b)) < 2) or (tb and len(_name_words(a)) < 2))
