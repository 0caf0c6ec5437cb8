"""The language of people's words: gettext catalogs, the language choice, and the
Vietnamese conventions for dates, decimals and the order of names.

The CLI sets the language once per process, before any output
(``set_language(resolve_language(args.lang))``); everything that writes for people
calls ``_()`` / ``ngettext()`` at the time it writes, never at import.  Machines' words
(JSON keys and values, metric names, log records, inventory keys) are never translated.

Catalogs: ``vcfleet/locale/<lang>/LC_MESSAGES/vcfleet.po`` is the source; a wheel ships
the compiled ``vcfleet.mo`` beside it (setup.py's build step).  Where no ``.mo`` is
found (an editable install, a checkout) the ``.po`` is compiled in memory
with Babel (docs/decisions.md, "Message catalogs").
"""

from __future__ import annotations

import gettext
import io
import os
import unicodedata
from collections.abc import Mapping
from datetime import datetime, tzinfo
from importlib import resources
from zoneinfo import ZoneInfo

DOMAIN = "vcfleet"
LANGUAGES = ("en", "vi")
"""The languages with a complete catalog; English is the source language."""
DEFAULT_LANGUAGE = "en"
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")
"""Read in this order; the first that is set decides, as POSIX does."""
VI_TIME_ZONE = "Asia/Ho_Chi_Minh"
"""Where Vietnamese reports show their times unless told otherwise."""

_state: dict[str, object] = {"lang": DEFAULT_LANGUAGE,
                             "translations": gettext.NullTranslations()}


def resolve_language(option: str | None = None,
                     environ: Mapping[str, str] | None = None) -> str:
    """The language to speak: ``--lang``, else ``VCFLEET_LANG``, else the locale
    (``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else English.

    ValueError (one line) for a ``--lang`` or ``VCFLEET_LANG`` that names no catalog; a
    locale of another language simply means English."""
    env = os.environ if environ is None else environ
    for source, value in (("--lang", option), ("VCFLEET_LANG", env.get("VCFLEET_LANG"))):
        if value:
            lang = _language_of(value)
            if lang not in LANGUAGES:
                raise ValueError(f"{source}: unknown language {value!r} "
                                 f"(expected one of: {', '.join(LANGUAGES)})")
            return lang
    for name in LOCALE_VARIABLES:
        value = env.get(name)
        if value:
            lang = _language_of(value)
            return lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def _language_of(value: str) -> str:
    """``vi_VN.UTF-8`` -> ``vi``; ``C``/``POSIX`` -> ``c``/``posix`` (not a catalog)."""
    return value.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()


def set_language(lang: str) -> None:
    """Speak ``lang`` from now on (one of ``LANGUAGES``) in this process."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    translations = gettext.NullTranslations() if lang == DEFAULT_LANGUAGE else _load(lang)
    _state.update(lang=lang, translations=translations)


def language() -> str:
    """The language being spoken (``"en"`` or ``"vi"``)."""
    return str(_state["lang"])


def _translations() -> gettext.NullTranslations:
    t = _state["translations"]
    assert isinstance(t, gettext.NullTranslations)
    return t


def _load(lang: str) -> gettext.NullTranslations:
    folder = resources.files("vcfleet") / "locale" / lang / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if mo.is_file():  # a wheel's compiled catalog (setup.py)
        return gettext.GNUTranslations(io.BytesIO(mo.read_bytes()))
    return gettext.GNUTranslations(io.BytesIO(compile_po(po.read_bytes(), lang)))


def compile_po(source: bytes, lang: str) -> bytes:
    """A ``.po`` catalog compiled to ``.mo`` bytes (Babel; fuzzy entries left out)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalog = read_po(io.BytesIO(source), locale=lang, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def _(message: str) -> str:
    """``message`` in the current language (gettext)."""
    return _translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the current language."""
    return _translations().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks ``message`` for translation without translating it (for tables built at
    import time; translate with ``_()`` when writing)."""
    return message


# -- conventions ----------------------------------------------------------------------


def decimal(text: str) -> str:
    """A number already written the English way, with the language's decimal mark
    (``"35.2"`` -> ``"35,2"`` in Vietnamese)."""
    return text.replace(".", ",") if language() == "vi" else text


def number(value: float, fmt: str) -> str:
    """``value`` written with ``fmt`` (``".1f"``) and the language's decimal mark."""
    return decimal(format(value, fmt))


def report_time_zone(tz: tzinfo | None = None) -> tzinfo | None:
    """The zone a report shows times in: ``tz`` if given, else the province's for
    Vietnamese (``VI_TIME_ZONE``), else the machine's (None)."""
    if tz is not None:
        return tz
    return ZoneInfo(VI_TIME_ZONE) if language() == "vi" else None


def format_time(ts: float, tz: tzinfo | None = None) -> str:
    """Epoch seconds as the language writes a time: ``27/11/2026 08:30`` in Vietnamese
    (the province's zone), ``2026-11-27 08:30:00 +0700`` in English (local time)."""
    zone = report_time_zone(tz)
    moment = datetime.fromtimestamp(ts, zone) if zone else datetime.fromtimestamp(ts).astimezone()
    if language() == "vi":
        return moment.strftime("%d/%m/%Y %H:%M")
    return moment.strftime("%Y-%m-%d %H:%M:%S %z")


# -- Vietnamese order of names --------------------------------------------------------

_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
"""Tone marks in dictionary order after the level tone: huyền, hỏi, ngã, sắc, nặng."""
_LETTER_MARKS = {"\u0306": 1, "\u0302": 2, "\u031b": 3}
"""Marks that make another letter: ă (breve), â ê ô (circumflex), ơ ư (horn)."""


SortKey = tuple[tuple[tuple[tuple[str, int], ...], tuple[int, ...]], ...]


def vi_sort_key(text: str) -> tuple[SortKey, str]:
    """A sort key in Vietnamese dictionary order, syllable by syllable: letters first
    (a < ă < â < b ... d < đ < e < ê ... o < ô < ơ ... u < ư), then the tone (level,
    huyền, hỏi, ngã, sắc, nặng), then the next syllable; case breaks a tie (lower first)."""
    words = tuple(_syllable_key(w) for w in unicodedata.normalize("NFD", text).split())
    return words, unicodedata.normalize("NFC", text).swapcase()


def _syllable_key(word: str) -> tuple[tuple[tuple[str, int], ...], tuple[int, ...]]:
    letters: list[tuple[str, int]] = []
    tone = 0
    for ch in word:
        if ch in _TONES:
            tone = _TONES[ch]
        elif ch in _LETTER_MARKS and letters:
            letters[-1] = (letters[-1][0], _LETTER_MARKS[ch])
        elif ch.lower() == "đ":
            letters.append(("d", 1))
        elif not unicodedata.combining(ch):
            letters.append((ch.lower(), 0))
    return tuple(letters), (tone,)
