"""check_grammar: parse / build / compiled equivalence in one call (construct's
tests/declarativeunittest.py::common); the corpus location and a grammar-driven walk over a
corpus RDB file that cuts out each key's bytes for the grammar tests."""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from rdbtools.format import constants as C
from rdbtools.format.primitives import RdbString
from rdbtools.format.records import KeyMetaRecord, RdbHeader, opcode_records
from rdbtools.format.values import value_grammar


def hexdata(text: str) -> bytes:
    """Bytes from annotated hex: ``#`` comments and whitespace are ignored."""
    return bytes.fromhex(re.sub(r"#[^\n]*", "", text).replace(" ", "").replace("\n", ""))


def check_grammar(grammar, data: bytes, obj, *, build: bool = True, compiled: bool = True,
                  compiled_build: bool = True) -> None:
    """parse(data) == obj, build(obj) == data, and the same through ``grammar.compile()``."""
    parsed = grammar.parse(data)
    assert parsed == obj, f"parse mismatch:\n{parsed}\n!=\n{obj}"
    if build:
        built = grammar.build(obj)
        assert built == data, f"build mismatch: {built.hex()} != {data.hex()}"
    if compiled:
        c = grammar.compile()
        cparsed = c.parse(data)
        assert cparsed == obj, f"compiled parse mismatch:\n{cparsed}\n!=\n{obj}"
        if build and compiled_build:
            cbuilt = c.build(obj)
            assert cbuilt == data, f"compiled build mismatch: {cbuilt.hex()} != {data.hex()}"


# --- the shared corpus (read at run time, never copied into the project) ---------------------

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(),
                                  reason=f"shared corpus not found at {CORPUS}")


def corpus_file(relative: str) -> Path:
    """A corpus file, or a skip naming it when it (or the corpus) is absent."""
    path = CORPUS / relative
    if not path.is_file():
        pytest.skip(f"corpus file {relative} not found under {CORPUS}")
    return path


def gt_bytes(value) -> bytes:
    """Bytes from the dump format's rendering (docs/dump-format.md): a UTF-8 string or b64."""
    return base64.b64decode(value["b64"]) if isinstance(value, dict) else value.encode()


def gt_keys(truth: Path) -> dict:
    """``{(db, key bytes): key record}`` of a ground-truth JSON."""
    doc = json.loads(truth.read_text())
    return {(int(db), gt_bytes(k["key"])): k for db, keys in doc["dbs"].items() for k in keys}


@dataclass
class KeyRecord:
    """One key of an RDB file as the grammars read it, with the byte ranges tests cut out."""

    db: int
    rdb_type: int
    key: bytes
    key_meta: list | None  # KeyMetaRecord's parse
    key_meta_raw: bytes | None  # the opcode 243 body (class count through the last EOF)
    value: object  # value_grammar(..., parse_blobs=True)'s parse
    value_raw: bytes  # the value's bytes (after the key)


def corpus_records(path: Path, templates: dict | None = None):
    """Walk an RDB file record by record with the grammars, as the reader's opcode loop does:
    yields ``("record", opcode, body, body bytes)`` and ``("key", KeyRecord)``.  Hash template
    records fill ``templates`` (the parse parameter type 30/32 values read)."""
    data = path.read_bytes()
    header = RdbHeader.parse(data[:9])
    valkey = header.magic == b"VALKEY"
    records = opcode_records(header.version, valkey)
    table = {} if templates is None else templates
    stream = io.BytesIO(data)
    stream.seek(9)
    db = None
    while True:
        start = stream.tell()
        opcode = stream.read(1)[0]
        if opcode == C.RDB_OPCODE_EOF:
            return
        if opcode in records and opcode != C.RDB_OPCODE_KEY_META:
            body = records[opcode].parse_stream(stream, hash_templates=table)
            db = body.dbid if opcode == C.RDB_OPCODE_SELECTDB else db
            yield "record", opcode, body, data[start + 1:stream.tell()]
            continue
        meta = meta_raw = None
        if opcode == C.RDB_OPCODE_KEY_META:
            meta = KeyMetaRecord.parse_stream(stream)
            meta_raw = data[start + 1:stream.tell()]
            opcode = stream.read(1)[0]
        key = RdbString.parse_stream(stream)
        value_start = stream.tell()
        value = value_grammar(opcode, header.version, valkey, parse_blobs=True).parse_stream(
            stream, hash_templates=table)
        yield "key", KeyRecord(db, opcode, key, meta, meta_raw, value,
                               data[value_start:stream.tell()])


def corpus_keys(path: Path, rdb_types=None, templates: dict | None = None) -> list[KeyRecord]:
    """The key records of ``path`` (of the given type codes only, when given)."""
    return [r[1] for r in corpus_records(path, templates)
            if r[0] == "key" and (rdb_types is None or r[1].rdb_type in rdb_types)]
