"""The operations that combine the layers, one per job a user runs: :mod:`.convert` (RDB, JSONL
or AOF in; RDB, JSONL or RESP out, for any target), :mod:`.shards` (cluster slots: split one
file by slot range, merge several) and :mod:`.cut` (an AOF up to a point in time).  Nothing
below imports this package.
"""
