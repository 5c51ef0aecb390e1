"""What the model is written as besides an RDB file: the lossless JSON/JSONL dump and its text
view (:mod:`.dump`), and the RESP commands that rebuild each key as the AOF rewrite writes them
(:mod:`.commands`).  Builds on the RDB layer (DUMP payloads for module values).
"""
