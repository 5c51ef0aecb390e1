# rdbtools: aof/replay/hashes.py
"""The hash commands of the replay: HSET/HMSET, HSETNX, HDEL, HINCRBY(FLOAT), and the field
TTLs of Redis 7.4+ / Valkey 9.0+: HEXPIRE/HPEXPIRE/HEXPIREAT/HPEXPIREAT, HPERSIST, and Redis
8.0's HSETEX, HGETEX and HGETDEL (propagated as HPEXPIREAT/HPERSIST/HDEL, accepted raw too),
and 8.10's HIMPORT PREPARE / SET, with the encoding a server picks: listpack while small,
listpackex once a field has a TTL (Valkey: hashtable), else hashtable; a template hash (8.10,
HIMPORT or RESTORE of a type 29/31 payload) stays template-encoded through HSET and HDEL,
moving from template-listpack to template-array when a value or the field count outgrows a
listpack, and becomes an ordinary hash once a field gets a TTL.

Mirrors t_hash.c (hashTypeTryConversion, hashTypeSet, hashTypeSetEx, himportPrepareCommand,
himportSetCommand, hashTypeConvertTmplToListpackOrHT @8.10.2).
"""

from __future__ import annotations

from ...model import TYPE_HASH
from .args import (I64_MAX, I64_MIN, _CmdError, _deadline, _expire_refused, _float, _fmt_ll,
                   _fmt_long_double, _ll, _NeedsRelease)
from .keyspace import _Key, template_order


class HashesMixin:
    """The hash commands, field TTLs included.  A mixin of :class:`~.engine.Replayer`; uses the
    engine's ``keys``, ``profile`` (and ``_profile``/``_compat7``, read directly on the hot
    path), ``now()``, ``_get()`` and ``_delete_if_empty()``."""

    def _hash(self, key: bytes, create: bool) -> _Key | None:
        k = self._get(key, TYPE_HASH)
        if k is None and create:
            k = self.keys[key] = _Key(TYPE_HASH, {}, "listpack")
        return k

    def _hash_try_convert(self, k: _Key, args: list[bytes], pairs: bool = True) -> None:
        enc = k.enc
        if enc != "listpack" and enc != "listpackex":
            return
        p = self._profile
        if pairs and self._compat7 and len(args) // 2 > p.hash_max_listpack_entries:
            k.enc = "hashtable"
            return
        if args and max(map(len, args)) > p.hash_max_listpack_value:
            k.enc = "hashtable"

    def _hset(self, k: _Key, field: bytes, value: bytes) -> None:
        v = k.value
        enc = k.enc
        if enc == "template-listpack":
            p = self.profile
            if len(value) > p.hash_max_listpack_value or \
                    (field not in v and len(v) + 1 > p.hash_max_listpack_entries):
                k.enc = "template-array"
        v[field] = value
        if k.fttl:
            k.fttl.pop(field, None)
        if (enc == "listpack" or enc == "listpackex") and \
                len(v) > self.profile.hash_max_listpack_entries:
            k.enc = "hashtable"

    def _fits_listpack(self, items) -> bool:
        """hashTypeSdsArrayFitsLp(): at most hash-max-listpack-entries entries, none longer than
        hash-max-listpack-value."""
        p = self.profile
        return len(items) <= p.hash_max_listpack_entries and \
            all(len(x) <= p.hash_max_listpack_value for x in items)

    def c_hset(self, a):
        if len(a) < 4 or len(a) % 2:
            raise _CmdError("wrong number of arguments")
        k = self.keys.get(a[1])
        if k is None or k.type != TYPE_HASH:
            k = self._hash(a[1], True)
        if len(a) == 4 and not k.fttl:  # one field: _hash_try_convert and _hset, inlined
            enc = k.enc
            v = k.value
            if enc == "hashtable":
                v[a[2]] = a[3]
                return
            if enc == "listpack":
                p = self._profile
                entries, value = p.hash_max_listpack_entries, p.hash_max_listpack_value
                if self._compat7 and 1 > entries or len(a[2]) > value or len(a[3]) > value:
                    k.enc = "hashtable"
                v[a[2]] = a[3]
                if len(v) > entries:
                    k.enc = "hashtable"
                return
        self._hash_try_convert(k, a[2:])
        for i in range(2, len(a), 2):
            self._hset(k, a[i], a[i + 1])

    def c_hsetnx(self, a):
        k = self._hash(a[1], True)
        if a[2] in k.value:
            return
        self._hash_try_convert(k, a[2:4])
        self._hset(k, a[2], a[3])

    def c_hdel(self, a):
        k = self._hash(a[1], False)
        if k is None:
            return
        for f in a[2:]:
            k.value.pop(f, None)
            if k.fttl:
                k.fttl.pop(f, None)
        self._delete_if_empty(a[1], k)

    def c_hgetdel(self, a):
        # HGETDEL key FIELDS n f... (Redis 8.0): propagated as HDEL, but accept it as well
        i = [x.upper() for x in a].index(b"FIELDS")
        self.c_hdel([b"HDEL", a[1]] + a[i + 2:])

    def c_hincrby(self, a):
        k = self._hash(a[1], True)
        cur = k.value.get(a[2])
        v = (0 if cur is None else _ll(cur)) + _ll(a[3])
        if not I64_MIN <= v <= I64_MAX:
            raise _CmdError("increment or decrement would overflow")
        self._hincr_set(k, a[2], _fmt_ll(v))

    def c_hincrbyfloat(self, a):
        k = self._hash(a[1], True)
        cur = k.value.get(a[2])
        v = _fmt_long_double((0.0 if cur is None else _float(cur)) + _float(a[3]))
        self._hincr_set(k, a[2], v)

    def _hincr_set(self, k: _Key, field: bytes, value: bytes) -> None:
        """HINCRBY / HINCRBYFLOAT store their result: the field keeps its TTL."""
        if self._compat7:  # Redis 7.0 made hashTypeSet() check lengths; 6.2 keeps a ziplist
            self._hash_try_convert(k, [field], pairs=False)
        keep = k.fttl.get(field) if k.fttl else None
        self._hset(k, field, value)
        if keep is not None:
            k.fttl[field] = keep

    def _fields(self, a, start: int) -> tuple[list[bytes], int]:
        # ... FIELDS numfields field ...
        if a[start].upper() != b"FIELDS":
            raise _CmdError("missing FIELDS")
        n = _ll(a[start + 1])
        fields = a[start + 2 : start + 2 + n]
        if len(fields) != n:
            raise _CmdError("wrong number of fields")
        return fields, start + 2 + n

    def _set_field_ttl(self, k: _Key, field: bytes, when: int) -> None:
        p = self.profile
        if k.fttl is None:
            k.fttl = {}
        k.fttl[field] = when
        if k.enc == "listpack":
            k.enc = "hashtable" if p.is_valkey else "listpackex"
        elif k.enc.startswith("template-"):
            # templates hold no field TTLs: listpackex if the fields and values fit, else
            # hashtable
            fits = self._fits_listpack(k.value) and self._fits_listpack(list(k.value.values()))
            k.enc = "listpackex" if fits else "hashtable"

    def _hexpire(self, a, unit: int, absolute: bool):
        k = self._hash(a[1], False)
        when = _ll(a[2]) * unit
        if not absolute:
            when += self.now()
        i = 3
        cond = ()
        if a[i].upper() in (b"NX", b"XX", b"GT", b"LT"):
            cond = (a[i].upper(),)
            i += 1
        fields, _ = self._fields(a, i)
        if k is None:
            return
        for f in fields:
            if f not in k.value:
                continue
            if not _expire_refused(cond, k.fttl.get(f) if k.fttl else None, when):
                self._set_field_ttl(k, f, when)

    def c_hexpire(self, a):
        self._hexpire(a, 1000, False)

    def c_hpexpire(self, a):
        self._hexpire(a, 1, False)

    def c_hexpireat(self, a):
        self._hexpire(a, 1000, True)

    def c_hpexpireat(self, a):
        self._hexpire(a, 1, True)

    def c_hpersist(self, a):
        k = self._hash(a[1], False)
        fields, _ = self._fields(a, 2)
        if k is None or not k.fttl:
            return
        for f in fields:
            k.fttl.pop(f, None)

    def c_hsetex(self, a):
        # Redis 8.0: HSETEX key [FNX|FXX] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] FIELDS n f v ...
        # Valkey 9.0: HSETEX key [NX|XX] [FNX|FXX] [EX|PX|EXAT|PXAT|KEEPTTL] FIELDS n f v ...
        key = a[1]
        i = 2
        fnx = fxx = nx = xx = keepttl = False
        when = None
        while a[i].upper() != b"FIELDS":
            opt = a[i].upper()
            if opt == b"FNX":
                fnx = True
            elif opt == b"FXX":
                fxx = True
            elif opt == b"NX":
                nx = True
            elif opt == b"XX":
                xx = True
            elif opt == b"KEEPTTL":
                keepttl = True
            elif opt in (b"EX", b"PX", b"EXAT", b"PXAT"):
                when = _deadline(opt, _ll(a[i + 1]), self.now)
                i += 1
            else:
                raise _CmdError(f"unknown option {opt!r}")
            i += 1
        n = _ll(a[i + 1])
        flat = a[i + 2 : i + 2 + 2 * n]
        if len(flat) != 2 * n:
            raise _CmdError("wrong number of field/value pairs")
        k = self._hash(key, False)
        if nx and k is not None or xx and k is None:
            return
        fields = flat[0::2]
        if k is not None:
            if fnx and any(f in k.value for f in fields):
                return
            if fxx and not all(f in k.value for f in fields):
                return
        elif fxx:
            return
        k = self._hash(key, True)
        self._hash_try_convert(k, flat)
        for f, v in zip(flat[0::2], flat[1::2]):
            keep = k.fttl.get(f) if (keepttl and k.fttl) else None
            self._hset(k, f, v)
            if keep is not None:
                k.fttl[f] = keep
            elif when is not None:
                self._set_field_ttl(k, f, when)

    def c_hgetex(self, a):
        # HGETEX key [EX|PX|EXAT|PXAT n | PERSIST] FIELDS n f...: propagated as HPEXPIREAT/HPERSIST
        key = a[1]
        i = 2
        when = None
        persist = False
        while a[i].upper() != b"FIELDS":
            opt = a[i].upper()
            if opt == b"PERSIST":
                persist = True
            else:
                when = _deadline(opt, _ll(a[i + 1]), self.now)
                i += 1
            i += 1
        fields, _ = self._fields(a, i)
        k = self._hash(key, False)
        if k is None:
            return
        for f in fields:
            if f not in k.value:
                continue
            if persist and k.fttl:
                k.fttl.pop(f, None)
            elif when is not None:
                self._set_field_ttl(k, f, when)

    def c_himport__prepare(self, a):
        """HIMPORT PREPARE fieldset field [field ...] (Redis 8.10): a fieldset of the client
        (here: of the AOF), its fields in template order."""
        if not self.profile.hash_templates:
            raise _NeedsRelease((8, 10), self.profile)
        fields = a[3:]
        if not fields:
            raise _CmdError("wrong number of arguments")
        if len(set(fields)) != len(fields):
            raise _CmdError("duplicate field name in fieldset")
        self.himport_fieldsets[a[2]] = fields

    def c_himport__set(self, a):
        """HIMPORT SET key fieldset value [value ...] (Redis 8.10): replaces the key with a
        template hash of the fieldset's fields and these values (propagated as RESTORE)."""
        key = a[2]
        self._get(key, TYPE_HASH)
        fields = self.himport_fieldsets.get(a[3])
        if fields is None:
            raise _CmdError("no such fieldset")
        values = a[4:]
        if len(values) != len(fields):
            raise _CmdError("value count does not match fieldset field count")
        pairs = sorted(zip(fields, values), key=lambda fv: template_order(fv[0]))
        enc = "template-listpack" if self._fits_listpack(values) else "template-array"
        self.keys[key] = _Key(TYPE_HASH, dict(pairs), enc)
