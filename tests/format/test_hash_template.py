"""Hash template grammars (Redis 8.10): opcode 242 records and types 30/32 cut out of the 8.10.2
RDB files, types 29/31 from the RESTORE payloads of its RESP AOF, each checked against the
ground truth, and every load error of rdbLoadHashTemplate / rdbLoadObject."""

from __future__ import annotations

import pytest
from construct import ConstructError, Container, ListContainer

from rdbtools.format import constants as C
from rdbtools.format.hash_template import HashTemplateRecord
from rdbtools.format.listpack import build_listpack, listpack_elements
from rdbtools.format.records import rdb_file_grammar
from rdbtools.format.resp import parse_commands
from rdbtools.format.values import dump_payload_grammar, value_grammar

from .helpers import (
    check_grammar,
    corpus_file,
    corpus_records,
    gt_bytes,
    gt_keys,
    hexdata,
    needs_corpus,
)

# corpus/redis-8.10.2/rdb/dump.rdb (FORMATS-RDB13-15.md §6): template 0 = age, name, email
TEMPLATE_0 = hexdata("""
    00                                 # tid 0
    03                                 # 3 fields, sorted shorter first, then by bytes
    03 616765 04 6e616d65 05 656d61696c  # "age" "name" "email"
""")
FIELDS_0 = [b"age", b"name", b"email"]
# tmpl:user:1, type 30: the listpack [tid 0][30][alice][alice@example.com]
USER_1 = bytes.fromhex("25" "25000000040000011e0185616c6963650691616c696365406578616d706c652e"
                       "636f6d12ff")


def _grammar(rdb_type, parse_blobs=False):
    return value_grammar(rdb_type, 15, parse_blobs=parse_blobs)


def test_template_record_fills_the_table():
    table = {}
    obj = Container(tid=0, fields=ListContainer(FIELDS_0))
    assert HashTemplateRecord.parse(TEMPLATE_0, hash_templates=table) == obj
    assert table == {0: FIELDS_0}
    table = {}
    assert HashTemplateRecord.build(obj, hash_templates=table) == TEMPLATE_0
    assert table == {0: FIELDS_0}
    check_grammar(HashTemplateRecord, TEMPLATE_0, obj, compiled_build=False)


@pytest.mark.parametrize("text,error", [
    ("00 00", "hash template field count 0"),  # "Hash template ID 0 has zero fields"
    ("00 02 04 6e616d65 03 616765", "not strictly sorted"),  # longer name first
    ("00 02 01 61 01 61", "not strictly sorted"),  # a repeated name
    ("00 02 01 62 01 61", "not strictly sorted"),  # same length, bytes descending
])
def test_template_record_load_errors(text, error):
    with pytest.raises(ConstructError, match=error):
        HashTemplateRecord.parse(hexdata(text))


def test_duplicate_template_id():
    with pytest.raises(ConstructError, match="duplicate hash template id 0"):
        HashTemplateRecord.parse(TEMPLATE_0, hash_templates={0: [b"x"]})


def test_lp_ref():
    lp = USER_1[1:]
    elements = [0, 30, b"alice", b"alice@example.com"]
    assert build_listpack(elements) == lp
    check_grammar(_grammar(30), USER_1, lp)
    parsed = _grammar(30, parse_blobs=True).parse(USER_1, hash_templates={0: FIELDS_0})
    assert listpack_elements(parsed) == elements
    assert _grammar(30, parse_blobs=True).build(parsed, hash_templates={0: FIELDS_0}) == USER_1


@pytest.mark.parametrize("elements,templates,error", [
    ([1, 30, b"alice", b"a@b"], {0: FIELDS_0}, "hash template id 1 has no opcode 242"),
    ([0, 30, b"alice"], {0: FIELDS_0}, "entry count 3 does not match 3 fields"),
    ([-1, 30, b"alice", b"a@b"], {0: FIELDS_0}, "hash template id -1 is negative"),
    ([b"x", 30, b"alice", b"a@b"], {0: FIELDS_0}, "first entry is not an integer"),
    ([], {0: FIELDS_0}, "template-listpack is empty"),
])
def test_lp_ref_load_errors(elements, templates, error):
    lp = build_listpack(elements)
    with pytest.raises(ConstructError, match=error):
        _grammar(30, parse_blobs=True).parse(bytes((len(lp),)) + lp, hash_templates=templates)


ARRAY_REF = hexdata("""
    00                      # tid 0: three values follow
    c0 1e                   # "30" (int-encoded string)
    05 616c696365           # "alice"
    03 612062               # "a b"
""")


def test_array_ref():
    obj = Container(tid=0, field_values=ListContainer([b"30", b"alice", b"a b"]))
    g = _grammar(32)
    assert g.parse(ARRAY_REF, hash_templates={0: FIELDS_0}) == obj
    assert g.build(obj, hash_templates={0: FIELDS_0}) == ARRAY_REF
    assert g.compile().parse(ARRAY_REF, hash_templates={0: FIELDS_0}) == obj
    with pytest.raises(ConstructError, match="hash template id 0 has no opcode 242"):
        g.parse(ARRAY_REF)  # "Invalid hash template ID 0"
    with pytest.raises(ConstructError, match="stream read less"):
        g.parse(ARRAY_REF, hash_templates={0: FIELDS_0 + [b"phone"]})
    with pytest.raises(ConstructError, match="2 values for a template of 3 fields"):
        g.build(Container(tid=0, field_values=[b"1", b"2"]), hash_templates={0: FIELDS_0})


def test_whole_file_with_templates():
    data = hexdata(f"""
        5245444953 30303135    # "REDIS0015"
        f2 {TEMPLATE_0.hex()}  # HASH_TEMPLATE 0
        fe 00                  # SELECTDB 0
        20 0161 {ARRAY_REF.hex()}  # type 32, key "a"
        ff 0000000000000000    # EOF, checksum off
    """)
    parsed = rdb_file_grammar(15).parse(data)
    assert parsed.records[2].body.value.field_values == [b"30", b"alice", b"a b"]
    assert rdb_file_grammar(15).build(parsed) == data
    assert rdb_file_grammar(15).compile().parse(data) == parsed
    with pytest.raises(ConstructError, match="hash template id 0 has no opcode 242"):
        rdb_file_grammar(15).parse(data.replace(b"\xf2" + TEMPLATE_0, b""))


# --- DUMP payload forms (types 29 and 31) ----------------------------------------------------

def _dump(rdb_type: int, body: str) -> bytes:
    return bytes((rdb_type,)) + hexdata(body) + bytes.fromhex("0f00") + bytes(8)


NAMES_LP = build_listpack(FIELDS_0)
SHORT_LP = build_listpack([0, 30, b"alice"])  # a value missing


@pytest.mark.parametrize("rdb_type,body,obj", [
    (C.RDB_TYPE_HASH_TMPL_LP, f"""
        00                                      # fields_fmt 0: the names as a listpack
        {len(NAMES_LP):02x} {NAMES_LP.hex()}
        {USER_1.hex()}                          # values listpack, source tid 0
     """, Container(fields_fmt=0, fields=NAMES_LP, field_values=USER_1[1:])),
    (C.RDB_TYPE_HASH_TMPL_ARRAY, """
        01                                      # fields_fmt 1: count, then the names
        03 03616765 046e616d65 05656d61696c
        c0 1e 05616c696365 03612062             # one value per field
     """, Container(fields_fmt=1, fields=ListContainer(FIELDS_0),
                    field_values=ListContainer([b"30", b"alice", b"a b"]))),
    (C.RDB_TYPE_HASH_TMPL_ARRAY, f"""
        00 {len(NAMES_LP):02x} {NAMES_LP.hex()}  # the value count comes from the listpack
        c0 1e 05616c696365 03612062
     """, Container(fields_fmt=0, fields=NAMES_LP, field_values=ListContainer([b"30", b"alice",
                                                                         b"a b"]))),
])
def test_dump_forms(rdb_type, body, obj):
    data = _dump(rdb_type, body)
    g = dump_payload_grammar(15)
    payload = Container(key_meta=None, rdb_type=rdb_type, value=obj, rdb_version=15, crc64=0)
    check_grammar(g, data, payload, compiled_build=False)


@pytest.mark.parametrize("rdb_type,body,error", [
    (C.RDB_TYPE_HASH_TMPL_ARRAY, "02 01 0161", "hash template fields format 2"),
    (C.RDB_TYPE_HASH_TMPL_ARRAY, "01 00", "hash template field count 0"),  # zero fields
    (C.RDB_TYPE_HASH_TMPL_ARRAY, "01 02 0162 0161 0131 0132", "not strictly sorted"),
    (C.RDB_TYPE_HASH_TMPL_ARRAY, f"00 {len(build_listpack([])):02x} {build_listpack([]).hex()}",
     "zero fields"),
    (C.RDB_TYPE_HASH_TMPL_LP, f"01 01 0161 {len(NAMES_LP):02x} {NAMES_LP.hex()}",
     "first entry is not an integer"),
    (C.RDB_TYPE_HASH_TMPL_LP, f"01 03 03616765 046e616d65 05656d61696c {len(SHORT_LP):02x} "
                              f"{SHORT_LP.hex()}", "entry count 3 does not match 3 fields"),
    # "Hash type 30/32 not valid in a DUMP payload"
    (C.RDB_TYPE_HASH_TMPL_LP_REF, USER_1.hex(), "Error field was activated"),
    (C.RDB_TYPE_HASH_TMPL_ARRAY_REF, ARRAY_REF.hex(), "Error field was activated"),
])
def test_dump_load_errors(rdb_type, body, error):
    data = _dump(rdb_type, body)
    with pytest.raises(ConstructError, match=error):
        dump_payload_grammar(15, parse_blobs=True).parse(data)


# --- the corpus ------------------------------------------------------------------------------

def _pairs(fields, values) -> dict:
    assert len(fields) == len(values)
    return dict(zip(fields, (b"%d" % v if isinstance(v, int) else v for v in values)))


def _gt_pairs(record) -> dict:
    # the ground truth lists the pairs as HGETALL sorted them, not in template order
    return {gt_bytes(f): gt_bytes(v) for f, v in record["value"]}


@needs_corpus
@pytest.mark.parametrize("name", ["dump.rdb", "dump-keymeta.rdb"])
def test_corpus_rdb(name):
    path = corpus_file(f"redis-8.10.2/rdb/{name}")
    truth = gt_keys(path.with_suffix(".json"))
    table = {}
    seen = set()
    for record in corpus_records(path, table):
        if record[0] == "record":
            if record[1] == C.RDB_OPCODE_HASH_TEMPLATE:
                body, raw = record[2], record[3]
                assert HashTemplateRecord.parse(raw) == body
                built = HashTemplateRecord.build(body)
                # an LZF-compressed field name comes back with our compressor's bytes
                assert built == raw or HashTemplateRecord.parse(built) == body
            continue
        k = record[1]
        gt = truth[(k.db, k.key)]
        assert k.rdb_type == gt["rdb_type"]
        if k.rdb_type == C.RDB_TYPE_HASH_TMPL_LP_REF:
            elements = listpack_elements(k.value)
            fields = table[elements[0]]
            assert _pairs(fields, elements[1:]) == _gt_pairs(gt)
            raw_grammar = _grammar(30)
        elif k.rdb_type == C.RDB_TYPE_HASH_TMPL_ARRAY_REF:
            assert _pairs(table[k.value.tid], k.value.field_values) == _gt_pairs(gt)
            raw_grammar = _grammar(32)
        else:
            continue
        seen.add(k.key)
        parsed = raw_grammar.parse(k.value_raw, hash_templates=table)
        built = raw_grammar.build(parsed, hash_templates=table)
        # values with LZF strings (tmpl:bigval) come back with our compressor's bytes
        assert built == k.value_raw or raw_grammar.parse(built, hash_templates=table) == parsed
    assert seen == {key for (_, key), r in truth.items() if r["rdb_type"] in (30, 32)}
    assert table, "no hash template records"


def _aof_commands(directory):
    commands = []
    for path in sorted(directory.glob("*.aof"), key=lambda p: ".incr." in p.name):
        buf = path.read_bytes()
        pos = 0
        while pos < len(buf):
            batch, _, pos = parse_commands(buf, pos)
            assert batch, f"{path}: not a command at {pos}"
            commands += batch
    return commands


@needs_corpus
def test_corpus_restore_payloads():
    directory = corpus_file("redis-8.10.2/aof/aof-nopreamble/appendonlydir/"
                            "appendonly.aof.manifest").parent
    truth = gt_keys(directory.parent.parent / "aof-nopreamble.json")
    commands = _aof_commands(directory)
    db = 0
    forms = set()
    compared = []
    for i, cmd in enumerate(commands):
        if cmd[0].upper() == b"SELECT":
            db = int(cmd[1])
        if cmd[0].upper() != b"RESTORE":
            continue
        key, payload = cmd[1], cmd[3]
        parsed = dump_payload_grammar(15, parse_blobs=True).parse(payload)
        assert parsed.rdb_version == 15 and parsed.key_meta is None
        value = parsed.value
        if value.fields_fmt == C.HASH_TMPL_FIELDS_LP:
            fields = [b"%d" % f if isinstance(f, int) else f
                      for f in listpack_elements(value.fields)]
        else:
            fields = list(value.fields)
        values = (listpack_elements(value.field_values)[1:]
                  if parsed.rdb_type == C.RDB_TYPE_HASH_TMPL_LP else value.field_values)
        forms.add((parsed.rdb_type, value.fields_fmt))
        if any(key in later for later in commands[i + 1:]):
            continue  # changed after the RESTORE (tmpl:user:1 gets a field): no truth for it
        assert _pairs(fields, values) == _gt_pairs(truth[(db, key)]), key
        compared.append(key)
        plain = dump_payload_grammar(15)  # blobs as strings: rebuilds the same bytes or values
        again = plain.build(plain.parse(payload))
        assert again == payload or plain.parse(again) == plain.parse(payload)
    # FORMATS-RDB13-15.md §6: every combination of 29/31 with field formats 0/1 is in the AOF
    assert forms == {(29, 0), (29, 1), (31, 0), (31, 1)}
    assert len(compared) == 9, compared  # all but tmpl:user:1 (HSET) and :3 (PEXPIREAT)
