"""Module type id codec, the opcode-typed module value framing, and key metadata (opcode 243)
checked against the 8.6.2 / 8.10.2 corpus files written with Redis's test_keymeta module."""

from __future__ import annotations

import pytest
from construct import ConstructError, Container, ListContainer

from rdbtools.format.module import (
    KEY_META_ALPHABET,
    MODULE_ID_ALPHABET,
    KeyMeta,
    KeyMetaClass,
    KeyMetaClassSpec,
    ModuleValue,
    decode_key_meta_class,
    decode_module_id,
    encode_key_meta_class,
    encode_module_id,
)

from .helpers import (
    check_grammar,
    corpus_file,
    corpus_keys,
    gt_bytes,
    gt_keys,
    hexdata,
    needs_corpus,
)


def test_rejson_id():
    # the id every RedisJSON key in corpus/redis-7.4.1/with-modules starts with (after 07 81)
    module_id = 0x45E25238DF912C03
    assert encode_module_id("ReJSON-RL", 3) == module_id
    assert decode_module_id(module_id) == ("ReJSON-RL", 3)


@pytest.mark.parametrize("name,encver", [("AAAAAAAAA", 0), ("_________", 1023),
                                         ("MBbloom--", 4), ("TSDB-TYPE", 6)])
def test_round_trip(name, encver):
    assert decode_module_id(encode_module_id(name, encver)) == (name, encver)


@pytest.mark.parametrize("name,encver", [("short", 0), ("bad.chars", 0), ("AAAAAAAAA", 1024)])
def test_invalid(name, encver):
    with pytest.raises(ConstructError):
        encode_module_id(name, encver)


MODULE_VALUE = hexdata("""
    81 45e25238df912c03   # module id ReJSON-RL/3 (64-bit length form)
    01 05                 # SINT 5
    02 8100000001 00000000  # UINT 2^32 (0x81 + u64 BE): "81 00000001 00000000"
    03 0000c03f           # FLOAT 1.5 (f32 LE)
    04 000000000000f83f   # DOUBLE 1.5 (f64 LE)
    05 03 616263          # STRING "abc"
    00                    # EOF
""")


def test_value_every_opcode():
    obj = Container(module_id=0x45E25238DF912C03, items=ListContainer([
        Container(opcode=1, value=5),
        Container(opcode=2, value=2**32),
        Container(opcode=3, value=1.5),
        Container(opcode=4, value=1.5),
        Container(opcode=5, value=b"abc"),
        Container(opcode=0, value=None),
    ]))
    check_grammar(ModuleValue, MODULE_VALUE, obj)


def test_unknown_opcode_rejected():
    with pytest.raises(ConstructError):
        ModuleValue.parse(bytes.fromhex("01 06 00"))


# --- key metadata (opcode 243, Redis 8.6) ----------------------------------------------------

def test_class_spec_example():
    # FORMATS-RDB13-15.md §3: class KMT1, version 1, ALLOW_IGNORE -> bytes 09 F5 C4 28
    spec = Container(class_name="KMT1", version=1, flags=1)
    assert encode_key_meta_class("KMT1", 1, 1) == 0x28C4F509
    check_grammar(KeyMetaClassSpec, bytes.fromhex("09f5c428"), spec, compiled_build=False)


def test_class_alphabet_differs_from_module_names():
    # keymeta.c keyMetaCharSet ends "_-", module.c ModuleTypeNameCharSet ends "-_"
    assert decode_key_meta_class(encode_key_meta_class("a_-9", 31, 7)) == ("a_-9", 31, 7)
    assert decode_key_meta_class(62 << 26) == ("_AAA", 0, 0)
    assert decode_module_id(62 << 58) == ("-AAAAAAAA", 0)
    assert KEY_META_ALPHABET[-2:] == "_-" and MODULE_ID_ALPHABET[-2:] == "-_"


@pytest.mark.parametrize("name,version,flags", [("KMT", 0, 0), ("KM.1", 0, 0), ("KMT1", 32, 0),
                                                ("KMT1", 0, 8)])
def test_class_spec_invalid(name, version, flags):
    with pytest.raises(ConstructError):
        encode_key_meta_class(name, version, flags)


KEY_META = hexdata("""
    01                 # 1 class
    09f5c428           # class spec KMT1 v1 ALLOW_IGNORE, u32 LE
    05 01 76           # STRING "v"
    02 01              # UINT 1
    00                 # EOF
""")


def test_key_meta():
    obj = ListContainer([Container(
        class_spec=Container(class_name="KMT1", version=1, flags=1),
        items=ListContainer([Container(opcode=5, value=b"v"), Container(opcode=2, value=1),
                             Container(opcode=0, value=None)]))])
    check_grammar(KeyMeta, KEY_META, obj, compiled_build=False)
    assert KeyMeta.parse(b"\x00") == []  # loads (nothing to read), though no server writes it


@pytest.mark.parametrize("data,error", [
    (b"\x08" + KEY_META[1:] * 8, "key metadata class count 8"),  # "Too many metadata classes"
    (KEY_META[:-1] + b"\x06", "Error field was activated"),  # unknown module opcode 6
    (KEY_META[:-1], "stream read less"),  # no EOF
])
def test_key_meta_load_errors(data, error):
    with pytest.raises(ConstructError, match=error):
        KeyMeta.parse(data)


@needs_corpus
@pytest.mark.parametrize("version", ["redis-8.6.2", "redis-8.10.2"])
def test_corpus_key_meta(version):
    path = corpus_file(f"{version}/rdb/dump-keymeta.rdb")
    truth = gt_keys(path.with_suffix(".json"))
    with_meta = [k for k in corpus_keys(path) if k.key_meta is not None]
    assert {k.key for k in with_meta} == {key for (_, key), r in truth.items() if "key_meta" in r}
    for k in with_meta:
        gt = truth[(k.db, k.key)]["key_meta"]
        assert [(c.class_spec.class_name, c.class_spec.version, c.class_spec.flags)
                for c in k.key_meta] == [(m["class"], m["version"], m["flags"]) for m in gt]
        # the ground truth's raw is the class spec through the EOF, class by class
        raws = [gt_bytes(m["raw"]) for m in gt]
        assert k.key_meta_raw == bytes((len(raws),)) + b"".join(raws)
        assert [KeyMetaClass.parse(r) for r in raws] == list(k.key_meta)
        assert KeyMeta.build(k.key_meta) == k.key_meta_raw
