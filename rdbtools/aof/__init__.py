"""AOF support: readers for every layout (:mod:`.reader`, :mod:`.manifest`) and the replay
engine that turns the commands into the object model (:mod:`.replay`)."""

from .manifest import Manifest, parse_manifest, read_manifest
from .reader import AofCommand, AofPart, AofReader, Truncation, open_aof

__all__ = ["open_aof", "AofReader", "AofCommand", "AofPart", "Truncation", "Manifest",
           "parse_manifest", "read_manifest"]


def read_aof(path, *, profile=None, skip_unknown: bool = False, upto_timestamp=None,
             upto_offset=None, strict: bool = False):
    """Replay the AOF at ``path`` and yield its dataset as :class:`~rdbtools.model.Entry`
    objects (databases in order).  ``profile`` is a :class:`~.replay.ServerProfile` or text such
    as ``"redis-7.4.1"``; see :func:`rdbtools.aof.replay.replay` for the other options.

    :raises rdbtools.errors.AofFormatError: damaged input or a command that cannot be replayed
        (:class:`~rdbtools.errors.UnknownCommandError` for unknown commands).
    """
    from .replay import ServerProfile, replay

    if isinstance(profile, str):
        profile = ServerProfile.parse(profile)
    with open_aof(path, strict=strict) as aof:
        engine = replay(aof, profile=profile, skip_unknown=skip_unknown,
                        upto_timestamp=upto_timestamp, upto_offset=upto_offset)
    yield from engine.iter_entries()


__all__.append("read_aof")
