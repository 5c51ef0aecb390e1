"""Declarative construct grammars of the RDB format: the specification (no I/O, no model).

primitives (lengths, strings, doubles, times), records (header and opcode bodies, whole-file
grammar for tests), values (one grammar per RDB_TYPE_*, ``value_grammar`` factory, DUMP
payloads), ziplist/listpack/intset/zipmap (blob bytes), stream (stream values and node
semantics), module (module type ids, typed module values).  The fast readers in
:mod:`rdbtools.rdb.blobs` are tested equal to these grammars.
"""
