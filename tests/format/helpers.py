"""check_grammar: parse / build / compiled equivalence in one call (construct's
tests/declarativeunittest.py::common)."""

from __future__ import annotations

import re


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
