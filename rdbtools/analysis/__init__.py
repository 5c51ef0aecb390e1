"""Memory analysis of RDB files: per-key ``MEMORY USAGE`` estimates (:mod:`.memory`) and the
aggregations behind ``rdbtool bigkeys`` and ``rdbtool report`` (:mod:`.report`).

Returns data; rendering is the CLI's business.
"""

from .memory import KeyMemory, MemoryEstimator, ServerProfile, estimate_file, profile_for

__all__ = ["KeyMemory", "MemoryEstimator", "ServerProfile", "estimate_file", "profile_for"]
