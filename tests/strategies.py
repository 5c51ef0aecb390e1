"""Hypothesis strategies for datasets that straddle every encoding threshold of Redis/Valkey.

A dataset is a list of :class:`KeySpec` — what to create on a real server.  Sizes cluster around
the defaults that switch encodings (FORMATS.md §9): listpack/ziplist entry counts (128, 512) and
value lengths (64), intset size (512), embstr (44), LZF (> 20 bytes), quicklist nodes (8 KiB) and
PLAIN nodes (elements over the node limit), integer encodings (int8/16/24/32/64 edges).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hypothesis import strategies as st


def live_examples(default: int) -> int:
    """Examples per property test against a live server: ``default`` locally, more where
    ``RDBTOOLS_LIVE_EXAMPLES`` says (``.ci/run`` sets it for the compiled pass)."""
    return max(default, int(os.environ.get("RDBTOOLS_LIVE_EXAMPLES") or 0))

INT_EDGES = [0, 1, 12, 13, 127, 128, -128, -129, 255, 4095, 4096, -4096, -4097, 32767, 32768,
             -32768, -32769, 8388607, 8388608, -8388608, 2**31 - 1, 2**31, -2**31, -2**31 - 1,
             2**63 - 1, -2**63]
FAR_FUTURE_MS = 4102444800000  # 2100-01-01


def _text_int(values=INT_EDGES) -> st.SearchStrategy[bytes]:
    return st.sampled_from(values).map(lambda v: b"%d" % v)


def _sized_bytes(lengths) -> st.SearchStrategy[bytes]:
    return st.sampled_from(lengths).flatmap(lambda n: st.one_of(
        st.binary(min_size=n, max_size=n),
        st.just((b"abc" * (n // 3 + 1))[:n]),  # compressible
    ))


element = st.one_of(
    _text_int(),
    st.integers(-2**63, 2**63 - 1).map(lambda v: b"%d" % v),
    _sized_bytes([0, 1, 5, 20, 21, 44, 45, 63, 64, 65]),
    st.binary(max_size=12),
)
big_element = _sized_bytes([200, 4095, 4096, 9000])


def _count(thresholds) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(1, 8), st.sampled_from(thresholds))


@dataclass
class KeySpec:
    """One key to create: ``commands`` build it; ``expire_at_ms`` and ``field_ttls`` are set
    afterwards when the server supports them."""

    key: bytes
    type: str
    commands: list[list]
    expire_at_ms: int | None = None
    field_ttls: dict[bytes, int] = field(default_factory=dict)


def _batched(verb: str, key: bytes, items: list, per: int = 200) -> list[list]:
    return [[verb, key, *items[i : i + per]] for i in range(0, len(items), per)]


@st.composite
def string_key(draw, key: bytes) -> KeySpec:
    value = draw(st.one_of(element, big_element, _sized_bytes([10_000])))
    return KeySpec(key, "string", [["SET", key, value]])


@st.composite
def list_key(draw, key: bytes) -> KeySpec:
    n = draw(_count([127, 128, 129, 600]))
    items = draw(st.lists(st.one_of(element, big_element) if n < 50 else element,
                          min_size=n, max_size=n))
    return KeySpec(key, "list", _batched("RPUSH", key, items))


@st.composite
def set_key(draw, key: bytes) -> KeySpec:
    ints = draw(st.booleans())
    n = draw(_count([127, 128, 129, 511, 512, 513] if ints else [127, 128, 129]))
    member = st.integers(-2**63, 2**63 - 1).map(lambda v: b"%d" % v) if ints else element
    items = draw(st.lists(member, min_size=n, max_size=n, unique=True))
    return KeySpec(key, "set", _batched("SADD", key, items))


score = st.one_of(
    st.floats(allow_nan=False),
    st.sampled_from([0.0, -0.0, 1.5, -2.5, float("inf"), float("-inf"), 1e300, 5e-324]),
    st.integers(-2**53, 2**53).map(float),
)


def _score_text(s: float) -> bytes:
    return b"inf" if s == float("inf") else b"-inf" if s == float("-inf") else repr(s).encode()


@st.composite
def zset_key(draw, key: bytes) -> KeySpec:
    n = draw(_count([127, 128, 129]))
    members = draw(st.lists(element, min_size=n, max_size=n, unique=True))
    args = []
    for m in members:
        args += [_score_text(draw(score)), m]
    return KeySpec(key, "zset", _batched("ZADD", key, args))


@st.composite
def hash_key(draw, key: bytes) -> KeySpec:
    n = draw(_count([127, 128, 511, 512, 513]))
    fields = draw(st.lists(element, min_size=n, max_size=n, unique=True))
    args = []
    for f in fields:
        args += [f, draw(element)]
    spec = KeySpec(key, "hash", _batched("HSET", key, args))
    if draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(fields), max_size=min(5, n), unique=True))
        spec.field_ttls = {f: FAR_FUTURE_MS + i for i, f in enumerate(chosen)}
    return spec


@st.composite
def stream_key(draw, key: bytes) -> KeySpec:
    n = draw(st.integers(0, 120))
    commands: list[list] = []
    ms = draw(st.integers(1, 2**40))
    ids = []
    for i in range(n):
        ms += draw(st.integers(0, 3))
        entry_id = b"%d-%d" % (ms, i + 1)
        ids.append(entry_id)
        nfields = draw(st.integers(1, 3))
        fv = []
        for j in range(nfields):
            fv += [draw(st.sampled_from([b"f", b"field", b"n", b"%d" % j])), draw(element)]
        commands.append(["XADD", key, entry_id, *fv])
    if n == 0:
        commands.append(["XGROUP", "CREATE", key, "g0", "$", "MKSTREAM"])
    else:
        for g in range(draw(st.integers(0, 2))):
            group = b"group%d" % g
            commands.append(["XGROUP", "CREATE", key, group, "0"])
            for c in range(draw(st.integers(0, 2))):
                count = draw(st.integers(1, max(1, n)))
                commands.append(["XREADGROUP", "GROUP", group, b"consumer%d" % c, "COUNT", count,
                                 "STREAMS", key, ">"])
            acked = draw(st.lists(st.sampled_from(ids), max_size=3, unique=True))
            if acked:
                commands.append(["XACK", key, group, *acked])
        deleted = draw(st.lists(st.sampled_from(ids), max_size=min(5, n), unique=True))
        if deleted:
            commands.append(["XDEL", key, *deleted])
    return KeySpec(key, "stream", commands)


_BUILDERS = {"string": string_key, "list": list_key, "set": set_key, "zset": zset_key,
             "hash": hash_key, "stream": stream_key}


@st.composite
def dataset(draw, max_keys: int = 12) -> list[tuple[int, KeySpec]]:
    """A list of (db, KeySpec) with unique binary key names per db."""
    keys = draw(st.lists(st.binary(min_size=0, max_size=24), min_size=1, max_size=max_keys,
                         unique=True))
    out = []
    for key in keys:
        kind = draw(st.sampled_from(sorted(_BUILDERS)))
        spec = draw(_BUILDERS[kind](key))
        if draw(st.integers(0, 4)) == 0:
            spec.expire_at_ms = FAR_FUTURE_MS + draw(st.integers(0, 10**9))
        out.append((draw(st.sampled_from([0, 0, 0, 5])), spec))
    return out
