"""Hostile input made in code (PIL, lzma, json): no binary fixtures. Shared by tests/test_hostile_*.py,
test_identity.py, test_orphans.py and test_check.py.

Each maker returns bytes or writes files; `GOOD_IMAGES` must import and extract, `BAD_IMAGES` must be
reported by name with the reason given here (a fragment of the message), and never stop a run.
"""

from __future__ import annotations

import io
import json
import lzma
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pandas as pd
from PIL import Image

TESTS = Path(__file__).resolve().parent
DATE = "2024-03-05"
STAMP = "2024-03-05_00-00-00_UTC"


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def tiny_png(seed: int, size: tuple[int, int] = (8, 8)) -> bytes:
    """A small PNG whose bytes (and pixels) differ for every seed."""
    colour = (seed % 251, (seed // 251) % 251, (seed * 7) % 253)
    img = Image.new("RGB", size, colour)
    img.putpixel((0, 0), (seed % 256, (seed >> 8) % 256, 255))
    return encode(img, "PNG")


def _photo(size=(64, 48)) -> Image.Image:
    img = Image.new("RGB", size, (200, 40, 40))
    for x in range(size[0] // 2):
        for y in range(size[1]):
            img.putpixel((x, y), (30, 60, 220))
    return img


def _bomb() -> bytes:
    """A valid small PNG whose header claims 60,000 x 60,000 pixels (3.6 gigapixels)."""
    data = bytearray(encode(Image.new("1", (8, 8)), "PNG"))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", 60_000, 60_000)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def _palette_with_transparency() -> bytes:
    img = Image.new("P", (16, 16), 0)
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    for x in range(8):
        for y in range(16):
            img.putpixel((x, y), 1)
    return encode(img, "PNG", transparency=0)


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (20, 20), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display: 64x48 stored -> 48x64 shown
    return encode(_photo(), "JPEG", exif=exif.tobytes(), quality=90)


def _sixteen_bit() -> bytes:
    img = Image.new("I;16", (32, 32))
    for x in range(32):
        for y in range(32):
            img.putpixel((x, y), x * 2000)
    return encode(img, "PNG")


#: name -> (bytes, expected (height, width) after orientation)
GOOD_IMAGES = {
    "cmyk.jpg": (encode(_photo().convert("CMYK"), "JPEG"), (48, 64)),
    "sixteen_bit.png": (_sixteen_bit(), (32, 32)),
    "palette_transparent.png": (_palette_with_transparency(), (16, 16)),
    "animated.gif": (_animated_gif(), (20, 20)),
    "photo.webp": (encode(_photo(), "WEBP"), (48, 64)),
    "exif_rotated.jpg": (_exif_rotated(), (64, 48)),
    "eight.png": (encode(Image.new("RGB", (8, 8), (9, 99, 199)), "PNG"), (8, 8)),
}

_JPEG = encode(_photo((400, 300)), "JPEG", quality=95)
#: name -> (bytes, a fragment of the reason that names what is wrong)
BAD_IMAGES = {
    "zero.jpg": (b"", "empty"),
    "truncated.jpg": (_JPEG[: len(_JPEG) // 2], "truncated"),
    "page.jpg": (b"<!DOCTYPE html><html><body>429 Too Many Requests</body></html>", "not an image"),
    "bomb.png": (_bomb(), "pixels"),
}


def write_images(folder: Path, images: dict[str, tuple[bytes, object]]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (data, _) in images.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    return paths


# -- instaloader metadata --------------------------------------------------------------------
def legacy_node(post_id: str, shortcode: str, timestamp: int, *, likes=10, slides: int = 0, owner="acct"):
    """The GraphQL node instaloader 4.x-4.10 saved."""
    node = {
        "id": post_id, "shortcode": shortcode, "__typename": "GraphSidecar" if slides else "GraphImage",
        "taken_at_timestamp": timestamp, "edge_media_preview_like": {"count": likes},
        "edge_media_to_comment": {"count": 2},
        "edge_media_to_caption": {"edges": [{"node": {"text": f"post {shortcode} #legacy"}}]},
        "owner": {"id": "1", "username": owner},
    }
    if slides:
        node["edge_sidecar_to_children"] = {"edges": [{"node": {"id": f"{post_id}{i}"}} for i in range(slides)]}
    return node


def web_info_node(post_id: str, code: str, timestamp: int, *, likes=20, slides: int = 0, owner="acct"):
    """The normalised web-info item instaloader 4.11+ saves (like_count, taken_at, carousel_media)."""
    node = {
        "pk": post_id, "id": f"{post_id}_1", "code": code, "taken_at": timestamp,
        "media_type": 8 if slides else 1, "like_count": likes, "comment_count": 3,
        "caption": {"text": f"post {code} #webinfo"}, "user": {"pk": "1", "username": owner},
    }
    if slides:
        node["carousel_media"] = [{"pk": f"{post_id}{i}", "media_type": 1} for i in range(slides)]
    return node


def write_metadata(path: Path, node, node_type="Post") -> Path:
    data = {"node": node, "instaloader": {"version": "4.13", "node_type": node_type}}
    path.write_bytes(lzma.compress(json.dumps(data).encode()))
    return path


# -- tables ----------------------------------------------------------------------------------
def distinct_images(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"img{i:04d}.png"
        path.write_bytes(tiny_png(i))
        paths.append(path)
    return paths


def same_date_table(folder: Path, n: int, name: str = "posts.csv", first_id: int = 0) -> Path:
    """A CSV of `n` posts that all share one (day-resolution) date, each with its own image."""
    images = distinct_images(folder / "images", n + first_id)[first_id:]
    table = folder / name
    pd.DataFrame({
        "post_id": [str(first_id + i) for i in range(n)],
        "date": [DATE] * n,
        "likes": list(range(n)),
        "image": [f"images/{p.name}" for p in images],
    }).to_csv(table, index=False)
    return table


# -- processes -------------------------------------------------------------------------------
def _processes():
    """(pid, parent pid, group, command) of every process that has not ended (zombies have)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] not in ("Z", "X"):
            yield int(entry), int(fields[1]), int(fields[2]), cmd


def alive_in_group(pgid: int) -> list[tuple[int, str]]:
    """(pid, command) of every process of group `pgid` that has not ended."""
    return [(pid, cmd) for pid, _, group, cmd in _processes() if group == pgid]


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (e.g. a Jupyter kernel, which starts its own session)."""
    return [child for child, parent, _, _ in _processes() if parent == pid]


def alive(pids) -> list[int]:
    pids = set(pids)
    return [pid for pid, _, _, _ in _processes() if pid in pids]


def rumaro_process(args: list[str], registry: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    """The real `rumaro` command in its own process group (extra REGISTRY entries: test extractors)."""
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "from rumaro_lab.extractors import REGISTRY\n"
        f"REGISTRY.update({registry or {}!r})\n"
        "from rumaro_lab.cli import main\n"
        f"sys.exit(main({args!r}))\n"
    )
    return subprocess.Popen([sys.executable, "-c", script], start_new_session=True, **popen)


# -- watching a folder while something writes it -------------------------------------------
def _whole(path: Path) -> str | None:
    """Why a visible output file is not whole (None when it is)."""
    import pyarrow.parquet as pq

    try:
        if path.suffix == ".parquet":
            pq.read_table(path)
        elif path.suffix == ".csv":
            text = path.read_text(encoding="utf-8")
            if not text.endswith("\n"):
                return "does not end with a newline"
            pd.read_csv(io.StringIO(text))
        elif path.suffix == ".html" and not path.read_text(encoding="utf-8").rstrip().endswith("</html>"):
            return "does not end with </html>"
    except FileNotFoundError:  # replaced or removed between listing and reading: fine
        return None
    except Exception as exc:  # noqa: BLE001 - any reader error means half a file
        return f"{type(exc).__name__}: {exc}"
    return None


class Watcher:
    """A thread that reads every visible .parquet/.csv/.html under `roots` over and over while a
    run writes them, and records any that is not whole (a half-written file ever visible)."""

    SUFFIXES = (".parquet", ".csv", ".html")

    def __init__(self, *roots: Path, interval: float = 0.02):
        import threading

        self.roots, self.interval = roots, interval
        self.reads = 0
        self.broken: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for root in self.roots:
                for path in (root.rglob("*") if root.is_dir() else []):
                    if path.suffix in self.SUFFIXES and not path.name.startswith("."):
                        self.reads += 1
                        if (why := _whole(path)) is not None:
                            self.broken.append((str(path), why))
            self._stop.wait(self.interval)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


#: the files a run writes, by kind: what `write_version` writes for each
WRITTEN = ("posts.parquet", "features.parquet", "table.csv", "report.html", "image.jpg")


def write_version(name: str, target: Path, version: int, sources: list[Path]) -> None:
    """Write version `version` of one kind of output file through the project's own writer."""
    from rumaro_lab import fileio

    target = Path(target)
    frame = pd.DataFrame({"account": ["a"] * 50, "post_id": [f"{version}-{i}" for i in range(50)]})
    if name == "posts.parquet":
        from rumaro_lab.posts.schema import write_posts

        write_posts(frame, target)
    elif name == "features.parquet":
        from rumaro_lab.extractors.tables import write_features

        write_features(frame, target)
    elif name == "table.csv":
        fileio.write_csv(frame, target)
    elif name == "report.html":
        fileio.write_text(target, f"<html>{version}" + "x" * 50_000 + "</html>\n")
    else:
        fileio.copy_file(sources[version % 2], target)


KILLED_WRITE = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from hostile import write_version

def half_then_die(src, dst):  # the state a kill mid-write leaves: half a temp file, no rename
    with open(src, "r+b") as handle:
        handle.truncate(max(1, os.path.getsize(src) // 2))
    os.kill(os.getpid(), signal.SIGKILL)

os.replace = half_then_die
write_version({name!r}, {target!r}, {version}, {sources!r})
"""


def killed_write(name: str, target: Path, version: int, sources: list[Path]) -> int:
    """`write_version` in a process killed half-way through the write; its exit status."""
    script = KILLED_WRITE.format(tests=str(TESTS), name=name, target=str(target), version=version,
                                 sources=[str(s) for s in sources])
    return subprocess.run([sys.executable, "-c", script], timeout=120).returncode
