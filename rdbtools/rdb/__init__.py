"""The RDB layer: bytes in and out of an RDB file, through the object model.

:mod:`.source` (input: paths, pipes, gzip/lz4, the buffered cursor with offsets and CRC64),
:mod:`.reader` (the opcode loop and value decoders), :mod:`.blobs` (the fast blob walkers),
:mod:`.targets` (every server version the writer can target), :mod:`.encoders` and
:mod:`.writer` (model -> RDB file, DUMP payloads, RESTORE commands), :mod:`.filters` (which
keys a read keeps), :mod:`._accel` (the switch to the compiled twins in ``csrc/``).
Imports only the grammars (:mod:`rdbtools.format`), the model and the errors.
"""
