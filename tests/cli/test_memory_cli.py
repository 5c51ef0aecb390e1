"""rdbtool memory / bigkeys / report through click's CliRunner, and the --html page in a real
headless chromium."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from rdbtools_cli.rdbtool import rdbtool

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


@pytest.fixture(scope="module")
def rdb() -> Path:
    path = CORPUS / "redis-7.0.15" / "rdb" / "dump-lfu.rdb"
    if not path.is_file():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return path


def run(*args):
    result = CliRunner().invoke(rdbtool, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_memory_csv(rdb):
    rows = list(csv.DictReader(io.StringIO(run("memory", rdb))))
    assert len(rows) == 85
    assert set(rows[0]) == {"db", "key", "type", "encoding", "elements", "memory_usage",
                            "largest_element", "expire_at_ms"}
    assert all(int(r["memory_usage"]) > 0 for r in rows)


def test_memory_of_a_fifo_equals_the_file(rdb, tmp_path):
    """A named pipe is read once, front to back (it cannot be reopened or pread)."""
    import os
    import threading

    fifo = tmp_path / "dump.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(rdb.read_bytes()))
    writer.start()
    try:
        from_fifo = run("memory", fifo)
    finally:
        writer.join(timeout=30)
    assert from_fifo == run("memory", rdb)


def test_memory_jsonl_server_and_filter(rdb):
    out = run("memory", rdb, "-f", "jsonl", "--server", "valkey-8.1", "--type", "hash",
              "--config", "hash-max-listpack-entries=1024")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and all(r["type"] == "hash" for r in rows)
    big = next(r for r in rows if r["key"] == "hash:big")
    assert big["encoding"] == "listpack"  # 600 fields fit once the threshold is 1024


def test_memory_parquet_matches_csv(rdb, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="parquet output needs the parquet extra")
    out = tmp_path / "memory.parquet"
    run("memory", rdb, "-f", "parquet", "-o", out)
    table = pq.read_table(out).to_pylist()
    rows = list(csv.DictReader(io.StringIO(run("memory", rdb))))
    assert len(table) == len(rows) == 85
    assert [r["memory_usage"] for r in table] == [int(r["memory_usage"]) for r in rows]
    assert [r["type"] for r in table] == [r["type"] for r in rows]


def test_memory_rejects_bad_options(rdb):
    r = CliRunner().invoke(rdbtool, ["memory", str(rdb), "--server", "memcached"])
    assert r.exit_code == 2
    r = CliRunner().invoke(rdbtool, ["memory", str(rdb), "--config", "nope=1"])
    assert r.exit_code == 2


def test_bigkeys(rdb):
    data = json.loads(run("bigkeys", rdb, "-n", "3", "-f", "json"))
    top = data["by_memory"]["all"]
    assert len(top) == 3 and top[0]["memory_usage"] >= top[1]["memory_usage"] >= top[2]["memory_usage"]
    assert len(data["by_elements"]["hash"]) <= 3
    assert "top all keys by memory" in run("bigkeys", rdb)


def test_report_json_several_files(rdb):
    other = CORPUS / "redis-7.0.15" / "rdb" / "dump.rdb"
    data = json.loads(run("report", rdb, other, "-f", "json", "--depth", "2"))
    assert data["keys"] == 170 and len(data["files"]) == 2
    assert sum(r["memory"] for r in data["by_type"]) == data["memory"]
    assert [b["bucket"] for b in data["expiry"]] == ["none", "expired", "< 1 h", "< 1 d", "< 7 d", "later"]
    assert data["hot_keys"] and data["advice"]
    assert any(a["kind"] == "threshold" and a["bytes_saved"] > 0 for a in data["advice"])


def test_report_prefix_normalisation():
    from rdbtools.analysis.report import normalise_key

    assert normalise_key(b"user:123:cart") == ["user", "*"]
    assert normalise_key(b"user:123:cart:x", depth=3) == ["user", "*", "cart"]
    assert normalise_key(b"a/b7:c", separators=b":/") == ["a", "b*"]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_html_in_headless_chromium(rdb, tmp_path):
    page = tmp_path / "report.html"
    run("report", rdb, "--html", page, "-f", "json")
    text = page.read_text()
    assert 'id="treemap"' in text and "<rect" in text and 'id="topkeys"' in text
    assert "http://" not in text and "https://" not in text  # self-contained
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs it with apt-get install chromium)")
    shot = tmp_path / "shot.png"
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120)
    assert 'id="treemap"' in dom.stdout and "Memory by type" in dom.stdout
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1200,1600", page.as_uri()], capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 5000
    import zlib

    # a non-blank screenshot: the decompressed PNG pixel data is not one repeated colour
    data = shot.read_bytes()
    idat = b"".join(data[i + 8 : i + 8 + int.from_bytes(data[i : i + 4], "big")]
                    for i in range(8, len(data) - 8) if data[i + 4 : i + 8] == b"IDAT")
    pixels = zlib.decompress(idat)
    assert len(set(pixels[: 200000])) > 10
