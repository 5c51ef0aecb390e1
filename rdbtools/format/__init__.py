"""Declarative construct grammars of the RDB format: the specification (no I/O, no model).

primitives (lengths, strings, doubles, times), records (header and opcode bodies, whole-file
grammar for tests), values (one grammar per RDB_TYPE_*, ``value_grammar`` factory, DUMP
payloads), ziplist/listpack/intset/zipmap (blob bytes), stream (stream values and node
semantics, incl. IDMP state and NACK zones), module (module type ids, typed module values,
key metadata), array (type 28), hash_template (opcode 242, types 29-32).  The fast readers in
:mod:`rdbtools.rdb.blobs` are tested equal to these grammars.
"""
