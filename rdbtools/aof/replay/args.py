# rdbtools: aof/replay/args.py
"""Argument parsing shared by the replay's commands: integers as string2ll() reads them, floats
as strtold()/strtod() do, the number formats the server writes back (ll2string, ld2string),
stream IDs (streamParseID in t_stream.c), list-style indexes, score and lex ranges
(zslParseRange / zslParseLexRange in t_zset.c), and the two errors a command can raise.

Mirrors util.c and object.c (getLongLongFromObject, getDoubleFromObject) for the helpers every
t_*.c file shares; nothing here touches the keyspace.
"""

from __future__ import annotations

import math
from typing import Callable

from ...errors import AofFormatError

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
U64_MAX = 2**64 - 1


class ReplayError(AofFormatError):
    """A command's arguments are not what the server would have accepted (a server never writes
    such a command into its AOF, so the file is damaged or was not written by a server).
    ``needs_release`` is the (major, minor) Redis release the command first appeared in, when
    that is why it was refused."""

    needs_release: tuple[int, int] | None = None


class _CmdError(Exception):
    """A command the server would have refused; the engine raises it again as a
    :class:`ReplayError` naming the command and its offset."""

    release: tuple[int, int] | None = None


class _NeedsRelease(_CmdError):
    """A command of a later Redis release than the replay's profile."""

    def __init__(self, release: tuple[int, int], profile) -> None:
        super().__init__(f"needs Redis {release[0]}.{release[1]} or later (replaying as {profile.label()})")
        self.release = release


def _strict_int(b: bytes) -> int | None:
    """string2ll(): canonical decimal text in int64 range, else None."""
    if len(b) > 20:
        return None
    try:
        v = int(b)
    except ValueError:
        return None
    if b"%d" % v != b:  # not canonical: a sign other than "-", leading zeros, "_", spaces
        return None
    return v if I64_MIN <= v <= I64_MAX else None


def _ll(b: bytes) -> int:
    v = _strict_int(b)
    if v is None:
        raise _CmdError(f"value is not an integer: {b[:40]!r}")
    return v


def _float(b: bytes) -> float:
    try:
        v = float(b)
    except ValueError:
        return _float_checked(b)
    if v == v and b.isascii() and not b[:1].isspace() and not b[-1:].isspace():
        return v
    return _float_checked(b)


def _strtod(b: bytes) -> float:
    """A SORT weight as sort.c reads it with strtod(): leading blanks allowed, hex floats too."""
    text = b.decode("latin-1").lstrip(" \t\n\v\f\r")
    try:
        v = float.fromhex(text) if text[:3].lower() in ("0x", "-0x", "+0x") or \
            text[:2].lower() == "0x" else float(text)
    except ValueError:
        raise _CmdError(f"One or more scores can't be converted into double: {b[:40]!r}") from None
    if math.isnan(v) or "_" in text or text != text.rstrip():
        raise _CmdError(f"One or more scores can't be converted into double: {b[:40]!r}")
    return v


def _float_checked(b: bytes) -> float:
    try:
        text = b.decode("ascii").strip()
        v = float(text)
    except (UnicodeDecodeError, ValueError):
        raise _CmdError(f"value is not a valid float: {b[:40]!r}") from None
    if math.isnan(v) or text.lower() in ("nan", "+nan", "-nan") or b != b.strip():
        raise _CmdError(f"value is not a valid float: {b[:40]!r}")
    return v


def _fmt_ll(v: int) -> bytes:
    return b"%d" % v


def _fmt_long_double(v: float) -> bytes:
    """ld2string(LD_STR_HUMAN): %.17Lf with trailing zeros removed (double precision here)."""
    if math.isinf(v):
        raise _CmdError("increment would produce NaN or Infinity")
    text = "%.17f" % v
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text.encode()


def _sid(b: bytes, seq_default: int = 0) -> tuple[int, int]:
    if b in (b"-",):
        return (0, 0)
    if b in (b"+",):
        return (U64_MAX, U64_MAX)
    ms, _, seq = b.partition(b"-")
    try:
        m = int(ms)
        s = int(seq) if seq else seq_default
    except ValueError:
        raise _CmdError(f"invalid stream ID {b[:40]!r}") from None
    if not (0 <= m <= U64_MAX and 0 <= s <= U64_MAX):
        raise _CmdError(f"invalid stream ID {b[:40]!r}")
    return (m, s)


def _lpos(index: int, n: int) -> int:
    return index + n if index < 0 else index


def _mpop_args(a: list[bytes], first_key: int) -> tuple[list[bytes], bytes, int]:
    """``numkeys key ... LEFT|RIGHT|MIN|MAX [COUNT n]`` at a[first_key] (LMPOP, BLMPOP, ZMPOP,
    BZMPOP): (keys, where in upper case, count)."""
    numkeys = _ll(a[first_key])
    keys = a[first_key + 1 : first_key + 1 + numkeys]
    rest = a[first_key + 1 + numkeys :]
    where = rest[0].upper()
    count = 1
    if len(rest) >= 3 and rest[1].upper() == b"COUNT":
        count = _ll(rest[2])
    return keys, where, count


def _expire_refused(flags, cur: int | None, when: int) -> bool:
    """Whether the NX|XX|GT|LT conditions in ``flags`` keep an expiry ``cur`` (None: no TTL)
    from becoming ``when`` (expireGenericCommand in expire.c; HEXPIRE's fields the same)."""
    return (b"NX" in flags and cur is not None or b"XX" in flags and cur is None
            or b"GT" in flags and (cur is None or when <= cur)
            or b"LT" in flags and cur is not None and when >= cur)


def _deadline(opt: bytes, n: int, now: Callable[[], int]) -> int:
    """The absolute expiry in ms of ``EX|PX|EXAT|PXAT n`` (SET, GETEX, HSETEX, HGETEX); ``now``
    is read for the relative forms only.  Another option is a KeyError, as a malformed command
    is."""
    if opt == b"EX":
        return now() + n * 1000
    if opt == b"PX":
        return now() + n
    if opt == b"EXAT":
        return n * 1000
    if opt == b"PXAT":
        return n
    raise KeyError(opt)


# -- ranges (zslParseRange, zslParseLexRange) ----------------------------------------------
def _score_bound(b: bytes) -> tuple[float, bool]:
    if b.startswith(b"("):
        return _float(b[1:]), True
    return _float(b), False


def _score_range(lo: bytes, hi: bytes) -> Callable[[float], bool]:
    mn, mnex = _score_bound(lo)
    mx, mxex = _score_bound(hi)

    def inside(s: float) -> bool:
        return (s > mn if mnex else s >= mn) and (s < mx if mxex else s <= mx)
    return inside


def _lex_range(lo: bytes, hi: bytes) -> Callable[[bytes], bool]:
    def bound(b: bytes, low: bool):
        if b == b"-":
            return lambda m: True
        if b == b"+":
            return lambda m: True if low else True
        ex = b[:1] == b"("
        if b[:1] not in (b"(", b"["):
            raise _CmdError("min or max not valid string range item")
        v = b[1:]
        if low:
            return (lambda m: m > v) if ex else (lambda m: m >= v)
        return (lambda m: m < v) if ex else (lambda m: m <= v)
    if lo == b"+" or hi == b"-":
        return lambda m: False
    f, g = bound(lo, True), bound(hi, False)
    return lambda m: f(m) and g(m)
