"""Small text helpers the offline model reasons with: words, verbs, stems, keywords, numbers.

The offline provider has no model, so it leans on surface features of English task text. The
word lists are short on purpose: they cover the verbs that objectives and tool names use.
"""

from __future__ import annotations

import re

__all__ = [
    "ACTION_VERBS",
    "STOPWORDS",
    "keywords",
    "numbers",
    "quoted",
    "starts_with_verb",
    "stem",
    "words",
]

ACTION_VERBS = frozenset(
    """
    add analyze analyse answer append archive ask assign book build calculate call cancel check choose
    classify close collect combine compare compile compose compute confirm convert copy count create
    decide define delete describe design determine display download draft edit email estimate evaluate
    explain export extract fetch file fill find finish gather generate get give identify import inform
    insert investigate keep label list load locate log look make mark measure merge message modify move
    note notify open order organize outline pick plan post prepare print produce publish put query rank
    read record remember remove rename reply report request research retrieve return review rewrite
    save schedule search select send set share show sort split store suggest summarise summarize tag
    tell test translate update upload use validate verify visit write
    """.split()
)

STOPWORDS = frozenset(
    """
    a an the and or but of to in on at for from by with about into onto over under as is are was were be
    been being it its this that these those there their them they we you your our my me i he she his her
    him us do does did done please then also next finally first after before all any some each every
    which what who whom whose when where why how than so such via using use new one up out if no not
    titled called named saying say says containing contains
    """.split()
)

_WORD = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])|\d+(?:\.\d+)?")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_QUOTED = re.compile(r"[\"“']([^\"”']{2,120})[\"”']")


def words(text: str) -> list[str]:
    """Lower-case words, splitting snake_case and camelCase (so tool names tokenize too)."""
    return [w.lower() for w in _WORD.findall(text.replace("_", " ").replace("-", " "))]


def stem(word: str) -> str:
    """A crude suffix stripper: notes/note, searching/search, created/create meet in the middle."""
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + keep
    return word


def starts_with_verb(text: str) -> bool:
    first = words(text)[:1]
    return bool(first) and first[0] in ACTION_VERBS


def keywords(text: str, *, drop: frozenset[str] = frozenset()) -> list[str]:
    """Content words in order, without stopwords, action verbs or the words in ``drop``."""
    seen: list[str] = []
    for word in words(text):
        if word in STOPWORDS or word in ACTION_VERBS or word in drop or stem(word) in drop:
            continue
        if word not in seen:
            seen.append(word)
    return seen


def numbers(text: str) -> list[float]:
    return [float(n) for n in _NUMBER.findall(text)]


def quoted(text: str) -> str | None:
    match = _QUOTED.search(text)
    return match.group(1).strip() if match else None
