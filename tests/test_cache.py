"""The feature cache: keys, batched look-ups, listing, clearing, several processes, kill -9."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from rumaro_lab.extractors.cache import CacheError, CacheKey, FeatureCache


def key(i: int, extractor="faces", version="1", config="c0") -> CacheKey:
    return CacheKey(f"{i:064x}", extractor, version, config)


def test_hit_and_miss_keys_include_version_and_config(tmp_path):
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        cache.put_many([(key(1), {"count": 2, "share": 0.25}, None)])
        assert cache.get(key(1)) == {"count": 2, "share": 0.25}
        assert cache.get(key(1, version="2")) is None
        assert cache.get(key(1, config="c1")) is None
        assert cache.get(key(1, extractor="pose")) is None
        assert cache.get(key(2)) is None
        # a later put of the same key replaces the value
        cache.put_many([(key(1), {"count": 3, "share": None}, {"raw": [1, 2]})])
        assert cache.get_many([key(1)], with_raw=True) == {key(1): ({"count": 3, "share": None},
                                                                    {"raw": [1, 2]})}
        assert len(cache) == 1


def test_get_many_is_batched_and_exact(tmp_path):
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        cache.put_many((key(i, extractor=e), {"i": i, "e": e}, None)
                       for i in range(0, 3000, 2) for e in ("faces", "pose"))
        wanted = [key(i, extractor=e) for i in range(3000) for e in ("faces", "pose")]
        found = cache.get_many(wanted)
        assert len(found) == 3000
        assert all(k.image_sha256 == f"{v['i']:064x}" and k.extractor == v["e"]
                   for k, v in found.items())
        assert key(3) not in found and key(2) in found


def test_stats_entries_and_clear(tmp_path):
    with FeatureCache(tmp_path / "c.sqlite") as cache:
        cache.put_many([(key(i), {"count": i}, None) for i in range(5)])
        cache.put_many([(key(i, version="2"), {"count": i}, None) for i in range(3)])
        cache.put_many([(key(i, extractor="azure_vision"), {"tags": "x"}, {"big": "y" * 100})
                        for i in range(2)])
        stats = cache.stats().set_index(["extractor", "version"])
        assert stats.loc[("faces", "1"), "entries"] == 5
        assert stats.loc[("faces", "2"), "entries"] == 3
        assert stats.loc[("azure_vision", "1"), "with_raw"] == 2
        assert stats.loc[("azure_vision", "1"), "bytes"] > stats.loc[("faces", "2"), "bytes"]
        assert str(stats["first_created"].dtype) == "datetime64[ns, UTC]"
        listing = cache.entries("faces")
        assert len(listing) == 8 and set(listing["version"]) == {"1", "2"}
        assert json.loads(listing["features"].iloc[0]) == {"count": 0}

        assert cache.clear("faces") == 8
        assert set(cache.stats()["extractor"]) == {"azure_vision"}
        assert cache.clear() == 2 and len(cache) == 0


def test_a_cache_pickled_to_another_process_reconnects(tmp_path):
    cache = FeatureCache(tmp_path / "c.sqlite")
    cache.put_many([(key(1), {"n": 1}, None)])
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        assert pool.apply(_read_one, (cache, key(1))) == {"n": 1}
    cache.close()


def _read_one(cache, k):
    return cache.get(k)


def _writer(path, worker: int, n_batches: int) -> int:
    cache = FeatureCache(path, busy_timeout=60)
    for b in range(n_batches):
        # overlapping keys across writers (same images), plus each writer's own
        entries = [(key(i), {"i": i}, None) for i in range(b * 10, b * 10 + 10)]
        entries += [(key(i, extractor=f"w{worker}"), {"i": i, "w": worker}, None)
                    for i in range(b * 10, b * 10 + 10)]
        cache.put_many(entries)
        assert len(cache.get_many([k for k, _, _ in entries])) == 20
    cache.close()
    return worker


def test_several_processes_write_at_once(tmp_path):
    path = tmp_path / "c.sqlite"
    FeatureCache(path).close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        done = pool.starmap(_writer, [(path, w, 40) for w in range(4)])
    assert sorted(done) == [0, 1, 2, 3]
    with FeatureCache(path) as cache:
        stats = cache.stats().set_index("extractor")["entries"]
        assert stats.to_dict() == {"faces": 400, "w0": 400, "w1": 400, "w2": 400, "w3": 400}
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


KILLED_WRITER = """
import sys
from rumaro_lab.extractors.cache import CacheKey, FeatureCache
cache = FeatureCache(sys.argv[1])
batch = 0
while True:  # batches of 200 entries, each tagged with its batch number, until killed
    cache.put_many([(CacheKey(f"{batch:08d}{i:056d}", "x", "1", "c"), {"batch": batch, "pad": "p" * 500}, None)
                    for i in range(200)])
    batch += 1
"""


def test_kill_9_leaves_whole_transactions_only(tmp_path):
    path = tmp_path / "c.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(KILLED_WRITER), str(path)])
    deadline = time.monotonic() + 30
    n = 0
    while time.monotonic() < deadline and n < 2000:
        time.sleep(0.1)
        if path.exists():  # the file exists a moment before its table does
            with sqlite3.connect(path, timeout=10) as conn, contextlib.suppress(sqlite3.OperationalError):
                n = conn.execute("SELECT COUNT(*) FROM features").fetchone()[0]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and n >= 2000
    with FeatureCache(path) as cache:
        entries = cache.entries()
        assert cache.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    batches = entries["features"].map(lambda t: json.loads(t)["batch"]).value_counts()
    assert (batches == 200).all()  # every batch complete: no half-written transaction
    assert sorted(batches.index) == list(range(len(batches)))


def test_a_file_that_is_not_a_cache_is_a_clear_error(tmp_path):
    bad = tmp_path / "features.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CacheError, match="cannot open the feature cache") as info:
        len(FeatureCache(bad))
    assert "deleted" in info.value.hint
