"""Selecting keys: by database, key pattern, value type and expiry.

:class:`KeyFilter` decides from what a record says before its value (db, key, type code, expiry:
all known once the key is read), so a reader or a caller can skip decoding values it does not
want.  Key patterns use the glob syntax of Redis's ``KEYS``/``SCAN MATCH`` (``stringmatchlen()``
in src/util.c): ``*``, ``?``, ``[abc]``, ``[^abc]``, ``[a-z]`` and ``\\`` to escape; matching is
on bytes and case-sensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..model import VALUE_TYPES, Entry

__all__ = ["KeyFilter", "glob_to_regex"]


def glob_to_regex(pattern: bytes) -> re.Pattern[bytes]:
    """A compiled regex that fully matches the keys the Redis glob ``pattern`` matches.

    Mirrors stringmatchlen() in src/util.c: an unterminated ``[`` class takes the rest of the
    pattern as its members, a ``\\`` at the very end matches a backslash.
    """
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x2A:  # *
            while i + 1 < n and pattern[i + 1] == 0x2A:
                i += 1
            out.append(b".*")
        elif c == 0x3F:  # ?
            out.append(b".")
        elif c == 0x5B:  # [
            i += 1
            negate = i < n and pattern[i] == 0x5E  # ^
            if negate:
                i += 1
            members = []
            while i < n:
                c = pattern[i]
                if c == 0x5C and i + 1 < n:  # \x
                    i += 1
                    members.append((pattern[i], pattern[i]))
                elif c == 0x5D:  # ]
                    break
                elif i + 2 < n and pattern[i + 1] == 0x2D:  # a-z (either order)
                    lo, hi = sorted((c, pattern[i + 2]))
                    members.append((lo, hi))
                    i += 2
                else:
                    members.append((c, c))
                i += 1
            cls = b"".join(
                re.escape(bytes([lo])) + (b"-" + re.escape(bytes([hi])) if hi != lo else b"")
                for lo, hi in members
            )
            if not members:
                out.append(b"[\\x00-\\xff]" if negate else b"(?!)")
            else:
                out.append(b"[" + (b"^" if negate else b"") + cls + b"]")
        elif c == 0x5C and i + 1 < n:  # \x
            i += 1
            out.append(re.escape(bytes([pattern[i]])))
        else:
            out.append(re.escape(bytes([c])))
        i += 1
    return re.compile(b"".join(out), re.DOTALL)


def _as_bytes(text: str | bytes) -> bytes:
    # surrogateescape: a pattern given on a command line may hold arbitrary bytes
    return text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")


@dataclass
class KeyFilter:
    """Which keys to keep.  Every criterion left at its default accepts everything; a key must
    meet all the criteria that are set.

    Accessible attributes: ``dbs`` (set of database numbers), ``key_globs`` (Redis globs, any may
    match), ``key_regexes`` (all must match, searched anywhere in the key: anchor with ``^``/``$``),
    ``not_key_regexes`` (none may match), ``types`` (names from :data:`~rdbtools.model.VALUE_TYPES`),
    ``expiring`` (True: only keys with a TTL; False: only keys without one).

    Patterns may be given as ``str`` (UTF-8) or ``bytes``.

    :raises ValueError: an unknown type name or an invalid regular expression.
    """

    dbs: frozenset[int] | None = None
    key_globs: tuple[str | bytes, ...] = ()
    key_regexes: tuple[str | bytes, ...] = ()
    not_key_regexes: tuple[str | bytes, ...] = ()
    types: frozenset[str] | None = None
    expiring: bool | None = None
    _globs: list = field(init=False, repr=False, compare=False)
    _regexes: list = field(init=False, repr=False, compare=False)
    _not_regexes: list = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.dbs is not None:
            self.dbs = frozenset(self.dbs)
        if self.types is not None:
            self.types = frozenset(self.types)
            unknown = self.types - set(VALUE_TYPES)
            if unknown:
                raise ValueError(f"unknown type {sorted(unknown)[0]!r} (expected one of {', '.join(VALUE_TYPES)})")
        self._globs = [glob_to_regex(_as_bytes(g)) for g in self.key_globs]
        try:
            self._regexes = [re.compile(_as_bytes(r), re.DOTALL) for r in self.key_regexes]
            self._not_regexes = [re.compile(_as_bytes(r), re.DOTALL) for r in self.not_key_regexes]
        except re.error as e:
            raise ValueError(f"invalid regular expression: {e}") from None

    @property
    def is_empty(self) -> bool:
        """True when the filter keeps every key."""
        return (
            self.dbs is None
            and not self.key_globs
            and not self.key_regexes
            and not self.not_key_regexes
            and self.types is None
            and self.expiring is None
        )

    def accepts_db(self, db: int) -> bool:
        """Whether any key of database ``db`` can be kept (lets a reader skip a whole db)."""
        return self.dbs is None or db in self.dbs

    def accepts(self, db: int, key: bytes, type: str, expire_at_ms: int | None = None) -> bool:
        """Decide from the parts of a record known before its value is decoded."""
        if self.dbs is not None and db not in self.dbs:
            return False
        if self.types is not None and type not in self.types:
            return False
        if self.expiring is not None and (expire_at_ms is not None) != self.expiring:
            return False
        if self._globs and not any(g.fullmatch(key) for g in self._globs):
            return False
        if self._regexes and not all(r.search(key) for r in self._regexes):
            return False
        if any(r.search(key) for r in self._not_regexes):
            return False
        return True

    def matches(self, entry: Entry) -> bool:
        """Whether ``entry`` is kept."""
        return self.accepts(entry.db, entry.key, entry.type, entry.expire_at_ms)
