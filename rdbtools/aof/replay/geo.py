# rdbtools: aof/replay/geo.py
"""The geo searches that an AOF replays: GEORADIUS / GEORADIUSBYMEMBER ... STORE|STOREDIST and
GEOSEARCHSTORE, which every server propagates verbatim (only GEOADD is rewritten, as ZADD).

A geo set is a sorted set whose scores are 52-bit interleaved geohashes (geohash.c).  To store
what the server stored, the search runs as georadiusGeneric() in geo.c (Redis 6.2+, Valkey)
runs it: the 3x3 geohash boxes of geohashCalculateAreasByShapeWGS84() (geohash_helper.c), each
box a score range scanned in sorted-set order, every member decoded to the centre of its cell
and kept when it lies within the radius or box (the server's haversine, Earth radius
6372797.560856 m).  Box and scan order matter for ``COUNT n ANY``, which stops at the first n
members found.

The commands themselves (option parsing, the search, storing the result as a sorted set) are
:class:`GeoMixin`, at the end.
"""

from __future__ import annotations

import bisect
import math
from itertools import islice
from dataclasses import dataclass
from operator import itemgetter

from ...model import TYPE_ZSET
from .args import _CmdError, _float, _ll
from .keyspace import _ranked

__all__ = ["GeoMixin", "GeoShape", "UNITS", "GEO_STEP_MAX", "decode_score", "search"]

GEO_STEP_MAX = 26  # 52 bits
GEO_LAT_MIN, GEO_LAT_MAX = -85.05112878, 85.05112878
GEO_LONG_MIN, GEO_LONG_MAX = -180.0, 180.0
EARTH_RADIUS_IN_METERS = 6372797.560856
MERCATOR_MAX = 20037726.37
D_R = math.pi / 180.0
UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}  # extractUnitOrReply()


@dataclass
class GeoShape:
    """The search area: centre ``lon``/``lat``, a ``radius`` or a ``width`` x ``height`` box, in
    the command's unit (``conversion`` metres each)."""

    lon: float
    lat: float
    conversion: float
    radius: float | None = None
    width: float = 0.0
    height: float = 0.0


def _deinterleave(bits: int) -> tuple[int, int]:
    """(even bits, odd bits) of ``bits``: (latitude, longitude) cell numbers."""
    lat = lon = 0
    for i in range(32):
        lat |= ((bits >> (2 * i)) & 1) << i
        lon |= ((bits >> (2 * i + 1)) & 1) << i
    return lat, lon


def _interleave(lat: int, lon: int) -> int:
    bits = 0
    for i in range(32):
        bits |= ((lat >> i) & 1) << (2 * i) | ((lon >> i) & 1) << (2 * i + 1)
    return bits


def _cell(bits: int, step: int) -> tuple[float, float, float, float]:
    """geohashDecode(): (lon_min, lon_max, lat_min, lat_max) of a geohash cell."""
    ilat, ilon = _deinterleave(bits)
    cells = float(1 << step)
    lat_scale = GEO_LAT_MAX - GEO_LAT_MIN
    long_scale = GEO_LONG_MAX - GEO_LONG_MIN
    return (GEO_LONG_MIN + (ilon / cells) * long_scale,
            GEO_LONG_MIN + ((ilon + 1) / cells) * long_scale,
            GEO_LAT_MIN + (ilat / cells) * lat_scale,
            GEO_LAT_MIN + ((ilat + 1) / cells) * lat_scale)


def _encode(lon: float, lat: float, step: int) -> int:
    """geohashEncode(): the offsets are truncated to integers, as the C code's uint32 casts do."""
    lat_offset = (lat - GEO_LAT_MIN) / (GEO_LAT_MAX - GEO_LAT_MIN) * (1 << step)
    long_offset = (lon - GEO_LONG_MIN) / (GEO_LONG_MAX - GEO_LONG_MIN) * (1 << step)
    return _interleave(int(lat_offset) & 0xFFFFFFFF, int(long_offset) & 0xFFFFFFFF)


def decode_score(score: float) -> tuple[float, float] | None:
    """decodeGeohash(): the centre (lon, lat) of the step-26 cell a score names, or None where
    the C cast to uint64 has no defined value (negative, NaN, beyond 64 bits)."""
    if not 0 <= score < 2.0**64:
        return None
    lon_min, lon_max, lat_min, lat_max = _cell(int(score) & ((1 << 64) - 1), GEO_STEP_MAX)
    lon = min(max((lon_min + lon_max) / 2, GEO_LONG_MIN), GEO_LONG_MAX)
    lat = min(max((lat_min + lat_max) / 2, GEO_LAT_MIN), GEO_LAT_MAX)
    return lon, lat


def _lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS_IN_METERS * abs(lat2 * D_R - lat1 * D_R)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """geohashGetDistance(): haversine, with the meridian shortcut the server takes (7.0+)."""
    lon1r, lon2r = lon1 * D_R, lon2 * D_R
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return _lat_distance(lat1, lat2)
    lat1r, lat2r = lat1 * D_R, lat2 * D_R
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_IN_METERS * math.asin(math.sqrt(a))


def _within(shape: GeoShape, lon: float, lat: float) -> float | None:
    """geoWithinShape(): the distance from the centre when (lon, lat) is inside, else None."""
    if shape.radius is not None:
        d = distance(shape.lon, shape.lat, lon, lat)
        return None if d > shape.radius * shape.conversion else d
    if _lat_distance(lat, shape.lat) > shape.height * shape.conversion / 2:
        return None
    if distance(lon, lat, shape.lon, lat) > shape.width * shape.conversion / 2:
        return None
    return distance(shape.lon, shape.lat, lon, lat)


def _steps_by_radius(range_meters: float, lat: float) -> int:
    """geohashEstimateStepsByRadius()"""
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return min(max(step, 1), 26)


def _move(bits: int, step: int, dx: int, dy: int) -> int:
    """geohash_move_x / geohash_move_y: the neighbouring cell, wrapping around."""
    x, y = bits & 0xAAAAAAAAAAAAAAAA, bits & 0x5555555555555555
    if dx:
        zz = 0x5555555555555555 >> (64 - step * 2)
        x = x + (zz + 1) if dx > 0 else (x | zz) - (zz + 1)
        x &= 0xAAAAAAAAAAAAAAAA >> (64 - step * 2)
    if dy:
        zz = 0xAAAAAAAAAAAAAAAA >> (64 - step * 2)
        y = y + (zz + 1) if dy > 0 else (y | zz) - (zz + 1)
        y &= 0x5555555555555555 >> (64 - step * 2)
    return (x | y) & 0xFFFFFFFFFFFFFFFF


# membersOfAllNeighbors() order: the centre, then N, S, E, W, NE, NW, SE, SW
_NEIGHBOURS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))


def _search_boxes(shape: GeoShape, legacy: bool) -> list[tuple[int, int] | None]:
    """geohashCalculateAreasByShapeWGS84(): the nine (bits, step) boxes to scan, None for the
    ones excluded as useless.  ``legacy``: Redis before 7.0."""
    if shape.radius is not None:
        height = width = shape.conversion * shape.radius
        radius_meters = shape.radius * shape.conversion
    else:
        height, width = shape.conversion * shape.height / 2, shape.conversion * shape.width / 2
        radius_meters = math.sqrt((shape.width / 2) ** 2 + (shape.height / 2) ** 2) * shape.conversion
    # geohashBoundingBox(): the edges bend with latitude
    lat_delta = height / EARTH_RADIUS_IN_METERS / D_R
    long_delta_top = width / EARTH_RADIUS_IN_METERS / math.cos((shape.lat + lat_delta) * D_R) / D_R
    long_delta_bottom = width / EARTH_RADIUS_IN_METERS / math.cos((shape.lat - lat_delta) * D_R) / D_R
    long_delta = long_delta_bottom if shape.lat < 0 else long_delta_top
    min_lon, max_lon = shape.lon - long_delta, shape.lon + long_delta
    min_lat, max_lat = shape.lat - lat_delta, shape.lat + lat_delta

    steps = _steps_by_radius(radius_meters, shape.lat)
    bits = _encode(shape.lon, shape.lat, steps)
    # when the search area reaches past a neighbour, one step coarser
    north = _cell(_move(bits, steps, 0, 1), steps)
    south = _cell(_move(bits, steps, 0, -1), steps)
    east = _cell(_move(bits, steps, 1, 0), steps)
    west = _cell(_move(bits, steps, -1, 0), steps)
    if legacy:  # Redis 6.2: compared distances from the centre with the radius
        lon, lat = shape.lon, shape.lat
        too_near = (distance(lon, lat, lon, north[3]) < radius_meters
                    or distance(lon, lat, lon, south[2]) < radius_meters
                    or distance(lon, lat, east[1], lat) < radius_meters
                    or distance(lon, lat, west[0], lat) < radius_meters)
    else:  # Redis 7.0+: compares the neighbours' edges with the bounding box
        too_near = (north[3] < max_lat or south[2] > min_lat or east[1] < max_lon
                    or west[0] > min_lon)
    if steps > 1 and too_near:
        steps -= 1
        bits = _encode(shape.lon, shape.lat, steps)
    lon_lo, lon_hi, lat_lo, lat_hi = _cell(bits, steps)
    boxes: list[tuple[int, int] | None] = [(_move(bits, steps, dx, dy), steps)
                                           for dx, dy in _NEIGHBOURS]
    if steps >= 2:
        for i, (dx, dy) in enumerate(_NEIGHBOURS):
            if ((dy < 0 and lat_lo < min_lat) or (dy > 0 and lat_hi > max_lat)
                    or (dx < 0 and lon_lo < min_lon) or (dx > 0 and lon_hi > max_lon)):
                boxes[i] = None
    return boxes


def search(ranked: list[tuple[bytes, float]], shape: GeoShape, limit: int = 0,
           legacy: bool = False) -> list[tuple[bytes, float, float]]:
    """georadiusGeneric()'s scan: ``(member, score, distance in metres)`` of the members of a
    sorted set (``ranked`` in sorted-set order: score, then member) inside ``shape``, in the
    order the server finds them.  ``limit`` > 0 stops after that many (``COUNT n ANY``);
    ``legacy`` chooses the search boxes as Redis before 7.0 did."""
    scores = [s for _, s in ranked]
    found: list[tuple[bytes, float, float]] = []
    boxes = _search_boxes(shape, legacy)
    last = 0  # index of the box scanned last; 0 (the centre) never counts as "previous"
    for index, box in enumerate(boxes):
        if box is None:
            continue
        if last and box == boxes[last]:  # huge radii give equal neighbours: scanned once
            continue
        if limit and len(found) >= limit:
            break
        bits, step = box
        lo = float(bits << (52 - step * 2))  # scoresOfGeoHashBox(): [lo, hi)
        hi = float((bits + 1) << (52 - step * 2))
        for member, score in islice(ranked, bisect.bisect_left(scores, lo), None):
            if score >= hi:
                break
            xy = decode_score(score)
            d = None if xy is None else _within(shape, *xy)
            if d is not None:
                found.append((member, score, d))
            if limit and len(found) >= limit:
                break
        last = index
    return found


# -- the commands --------------------------------------------------------------------------
class GeoMixin:
    """GEORADIUS / GEORADIUSBYMEMBER with STORE|STOREDIST and GEOSEARCHSTORE (GEOADD reaches
    the AOF as ZADD; a search without STORE writes nothing).  A mixin of
    :class:`~.engine.Replayer`; uses the engine's ``keys``, ``_compat7`` and ``_get()``, and
    :meth:`ZSetsMixin._store_zset <.zsets.ZSetsMixin._store_zset>` to store the result."""

    def _geo_store(self, a, src: bytes, shape_args: int, store: bytes | None, storedist: bool,
                   options: list[bytes], from_member: bytes | None,
                   center: tuple[float, float] | None) -> None:
        """georadiusGeneric() in geo.c: parse the options from ``options``, search, store."""
        k = self._get(src, TYPE_ZSET)
        radius = width = height = None
        conversion = 1.0
        sort = None
        count = 0
        any_ = False
        i = 0
        while i < len(options):
            opt = options[i].upper()
            if opt in (b"ASC", b"DESC"):
                sort = opt
            elif opt == b"ANY":
                any_ = True
            elif opt == b"COUNT":
                count = _ll(options[i + 1])
                i += 1
            elif opt in (b"STORE", b"STOREDIST") and shape_args:  # GEORADIUS: the last wins
                store, storedist = options[i + 1], opt == b"STOREDIST"
                i += 1
            elif opt == b"STOREDIST":  # GEOSEARCHSTORE: a flag
                storedist = True
            elif opt == b"FROMMEMBER":
                from_member = options[i + 1]
                i += 1
            elif opt == b"FROMLONLAT":
                center = (_float(options[i + 1]), _float(options[i + 2]))
                i += 2
            elif opt == b"BYRADIUS":
                radius, conversion = _float(options[i + 1]), UNITS[options[i + 2].lower()]
                i += 2
            elif opt == b"BYBOX":
                width, height = _float(options[i + 1]), _float(options[i + 2])
                conversion = UNITS[options[i + 3].lower()]
                i += 3
            elif opt not in (b"WITHDIST", b"WITHHASH", b"WITHCOORD"):
                raise _CmdError(f"syntax error at {options[i][:40]!r}")
            i += 1
        if shape_args:  # GEORADIUS / GEORADIUSBYMEMBER: radius and unit are positional
            radius = _float(a[shape_args])
            conversion = UNITS[a[shape_args + 1].lower()]
        if store is None:
            return  # a read-only search changes nothing
        if k is None:
            self.keys.pop(store, None)
            return
        if from_member is not None:
            score = k.value.get(from_member)
            center = None if score is None else decode_score(score)
            if center is None:
                raise _CmdError("could not decode requested zset member")
        shape = GeoShape(center[0], center[1], conversion, radius, width or 0.0, height or 0.0)
        if count and sort is None and not any_:
            sort = b"ASC"  # the nearest COUNT members
        found = search(_ranked(k), shape, count if any_ else 0, legacy=not self._compat7)
        if sort is not None:  # qsort by distance; equal distances keep their scan order here
            found.sort(key=itemgetter(2), reverse=sort == b"DESC")
        if count:
            found = found[:count]
        self._store_zset(store, {m: (d / conversion if storedist else s) for m, s, d in found})

    def c_georadius(self, a):
        self._geo_store(a, a[1], 4, None, False, a[6:], None, (_float(a[2]), _float(a[3])))

    def c_georadiusbymember(self, a):
        self._geo_store(a, a[1], 3, None, False, a[5:], a[2], None)

    def c_geosearchstore(self, a):
        self._geo_store(a, a[2], 0, a[1], False, a[3:], None, None)
