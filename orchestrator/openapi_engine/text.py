"""Turning spec prose into short plain text the model reads.

Descriptions in real specs carry HTML, markdown links, images and code samples; they
cost tokens and say little to a model. Hosts such as Azure reject descriptions over
1,024 characters, so every text the model sees goes through `clean_text`.
"""

from __future__ import annotations

import re

__all__ = ["MAX_DESCRIPTION_CHARS", "clean_text", "short_text"]

MAX_DESCRIPTION_CHARS = 1024
"""Longest function description some hosts accept."""

_FENCE = re.compile(r"```.*?(```|$)", re.S)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>\n]{1,200}>")
_EMPHASIS = re.compile(r"(\*\*|__|`)")
_HEADING = re.compile(r"^#{1,6}\s*", re.M)
_SPACE = re.compile(r"\s+")
_ENTITIES = {"&nbsp;": " ", "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'"}


def clean_text(text: object, limit: int = MAX_DESCRIPTION_CHARS) -> str:
    """Plain one-paragraph text of at most `limit` characters (cut at a word, with '…')."""
    if not isinstance(text, str) or not text:
        return ""
    if "```" in text:
        text = _FENCE.sub(" ", text)
    if "](" in text:
        text = _IMAGE.sub("", text)
        text = _LINK.sub(r"\1", text)
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        for entity, char in _ENTITIES.items():
            text = text.replace(entity, char)
    text = _HEADING.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


def short_text(text: object, limit: int) -> str:
    """Like `clean_text`, but a long text keeps only its first sentence when that fits.

    Field descriptions are read once per field per request; the first sentence carries
    the meaning, the rest is usually detail a model does not need to fill the field.
    """
    cleaned = clean_text(text, 4 * limit)
    if len(cleaned) <= limit:
        return cleaned
    end = cleaned.find(". ", 20)
    if 0 < end < limit:
        return cleaned[: end + 1]
    return clean_text(cleaned, limit)
