#!/usr/bin/env python3
"""Build the feed_eval benchmark set: ~200 "real-feed-like" images with hand labels.

This file is kept twice: /work/scratch/feed_eval/build.py (where it was developed) and
benchmarks/data/feed_eval/build_feed_eval.py (the committed copy, identical).

Usage (see README.md in the output folder for the full procedure):

    python build_feed_eval.py --out benchmarks/data/feed_eval [--pkg /work/scratch/feed_eval]
                    [--shared /work/shared/data] [--sheets DIR]

Nothing is downloaded by this script. It reads
  * registry packages that were fetched with their ordinary clients and unpacked under --pkg
    (``deb/x_<package>/`` = ``dpkg-deb -x``, ``pypi/x_<dist>/`` = unzipped wheel,
    ``fonts_deb/x/`` = several font .debs unpacked together), see README "Rebuild";
  * the shared local data sets under --shared (CC0 portraits, CC0 garments, COCO 000000000785);
  * and it renders its own graphics (Pillow, matplotlib, headless Debian chromium).

Every output row gets the labels written in this file (LABELS below). Those labels were assigned
BY EYE on contact sheets of the built images (``--sheets``), not from the source of a file.
The script is deterministic except for chromium's text antialiasing.
"""
from __future__ import annotations

import argparse
import csv
import glob
import html
import io
import json
import math
import os
import pickle
import random
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

MAX_SIDE = 1080
JPEG_Q = 88
ALLOWED = ("CC0-1.0", "Public domain", "CC-BY-2.0", "CC-BY-3.0", "CC-BY-4.0", "BSD-2-Clause",
           "BSD-3-Clause", "MIT", "Apache-2.0", "CC0-1.0 (made for this set)")

# --------------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------------
A = argparse.ArgumentParser()
A.add_argument("--out", required=True)
A.add_argument("--pkg", default="/work/scratch/feed_eval")
A.add_argument("--shared", default="/work/shared/data")
A.add_argument("--sheets", default=None, help="also write numbered 4x4 contact sheets here")
A.add_argument("--only", default=None, help="regex on keys: build only these (debugging)")
ARGS = A.parse_args() if __name__ == "__main__" else None

PKG = ARGS.pkg if ARGS else "/work/scratch/feed_eval"
SHARED = ARGS.shared if ARGS else "/work/shared/data"
WORK = os.path.join(PKG, "work")
DEB = os.path.join(PKG, "deb")
PYPI = os.path.join(PKG, "pypi")
FONTDIR = os.path.join(PKG, "fonts_deb", "x", "usr", "share", "fonts")
SYSFONTS = "/usr/share/fonts/truetype"

GC_RCC = os.path.join(DEB, "x_gcompris-qt-data", "usr", "share", "gcompris-qt", "rcc")
GC = os.path.join(WORK, "gcompris")  # extracted resources: GC/gcompris/src/activities/...
E_BG = os.path.join(DEB, "x_enlightenment-data", "usr", "share", "enlightenment", "data", "backgrounds")
LOMIRI = os.path.join(DEB, "x_lomiri-wallpapers-16.04", "usr", "share", "backgrounds")
JXL = os.path.join(DEB, "x_libjxl-testdata", "usr", "share", "libjxl-testdata")
OCA = os.path.join(DEB, "x_openclipart-png", "usr", "share", "openclipart", "png")
SKI = os.path.join(PYPI, "x_scikit_image", "skimage", "data")
SKL = os.path.join(PYPI, "x_scikit_learn", "sklearn", "datasets", "images")
SCIPY_MISC = os.path.join(PYPI, "x_scipy", "scipy", "misc")
IFACES = os.path.join(SHARED, "interfaces_cc0")
CLOTH = os.path.join(SHARED, "clothing_small_cc0")
COCO785 = os.path.join(SHARED, "mmpose_keypoints", "coco", "000000000785.jpg")
PD_DEMO = os.path.join(SHARED, "pd_demo_images")


# --------------------------------------------------------------------------------------------
# extraction helpers (Qt .rcc of GCompris, Enlightenment .edj wallpapers, scipy .dat)
# --------------------------------------------------------------------------------------------
def rcc_extract(path: str, outdir: str) -> int:
    """Extract every file of a Qt binary resource file (format 'qres' v1-3, zlib entries)."""
    b = open(path, "rb").read()
    assert b[:4] == b"qres", path
    ver, tree, data, names = struct.unpack(">IIII", b[4:20])
    esize = 14 if ver == 1 else 22
    n = 0

    def name(off):
        ln = struct.unpack(">H", b[names + off:names + off + 2])[0]
        return b[names + off + 6:names + off + 6 + 2 * ln].decode("utf-16-be")

    def walk(idx, prefix):
        nonlocal n
        e = tree + idx * esize
        noff, flags = struct.unpack(">IH", b[e:e + 6])
        nm = name(noff) if idx else ""
        if flags & 2:
            cnt, first = struct.unpack(">II", b[e + 6:e + 14])
            for c in range(first, first + cnt):
                walk(c, prefix + nm + "/")
            return
        doff = struct.unpack(">I", b[e + 10:e + 14])[0]
        p = data + doff
        size = struct.unpack(">I", b[p:p + 4])[0]
        raw = b[p + 4:p + 4 + size]
        if flags & 1:
            raw = zlib.decompress(raw[4:])
        dst = os.path.join(outdir, (prefix + nm).lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as f:
            f.write(raw)
        n += 1

    walk(0, "")
    return n


def prepare():
    os.makedirs(WORK, exist_ok=True)
    if not os.path.isdir(GC):
        for r in sorted(glob.glob(os.path.join(GC_RCC, "*.rcc"))):
            rcc_extract(r, GC)


def edj_image(name: str, height: int = 1080) -> Image.Image:
    """The JPEG of an Enlightenment wallpaper (.edj) whose height is `height` (lossy entries are
    stored as plain JPEG streams inside the Eet file, one per screen size)."""
    cache = os.path.join(WORK, "edj", f"{name}_{height}.png")
    if os.path.exists(cache):
        return Image.open(cache).convert("RGB")
    b = open(os.path.join(E_BG, name + ".edj"), "rb").read()
    Image.MAX_IMAGE_PIXELS = None  # trusted package data; some wallpapers embed 8K versions
    i = 0
    while True:
        i = b.find(b"\xff\xd8\xff", i)
        if i < 0:
            raise FileNotFoundError(f"{name}: no {height}p JPEG")
        try:
            im = Image.open(io.BytesIO(b[i:]))
            im.load()
            if im.size[1] == height:
                os.makedirs(os.path.dirname(cache), exist_ok=True)
                im.convert("RGB").save(cache)
                return im.convert("RGB")
        except Exception:
            pass
        i += 3


def scipy_ascent() -> Image.Image:
    a = np.array(pickle.load(open(os.path.join(SCIPY_MISC, "ascent.dat"), "rb")))
    return Image.fromarray(a.astype(np.uint8)).convert("RGB")


def scipy_face() -> Image.Image:
    import bz2
    d = bz2.decompress(open(os.path.join(SCIPY_MISC, "face.dat"), "rb").read())
    return Image.fromarray(np.frombuffer(d, dtype=np.uint8).reshape(768, 1024, 3))


# GCompris: every resource folder has a README with Copyright/Source/License/Files blocks.
_GC_LIC = None


def gc_license(relpath: str) -> dict:
    """License record of a GCompris resource from the README beside it."""
    global _GC_LIC
    if _GC_LIC is None:
        _GC_LIC = {}
        for rd in glob.glob(os.path.join(GC, "**", "README*"), recursive=True):
            d = os.path.dirname(rd)
            txt = open(rd, encoding="utf-8", errors="replace").read()
            for block in re.split(r"\n\s*\n", txt):
                lic = re.search(r"^License:\s*(.+)$", block, re.M)
                cp = re.search(r"^Copyright:\s*(.+)$", block, re.M)
                src = re.search(r"^Source:\s*(.+)$", block, re.M)
                fm = re.search(r"^Files:\s*(.*)$", block, re.M | re.S)
                if not (lic and fm):
                    continue
                for f in fm.group(1).split():
                    for p in glob.glob(os.path.join(d, f)):
                        _GC_LIC[os.path.relpath(p, GC)] = dict(
                            license=lic.group(1).strip(), author=cp.group(1).strip() if cp else "",
                            url=src.group(1).strip() if src else "")
    rec = _GC_LIC[os.path.join("gcompris", "src", "activities", relpath)]
    norm = rec["license"].lower().replace(" ", "-")
    lic = {"public-domain": "Public domain", "cc0-1.0": "CC0-1.0", "cc-by-2.0": "CC-BY-2.0",
           "cc-by-3.0": "CC-BY-3.0"}.get(norm)
    if lic is None:
        raise ValueError(f"GCompris {relpath}: license {rec['license']!r} not allowed")
    return dict(rec, license=lic)


# --------------------------------------------------------------------------------------------
# image utilities
# --------------------------------------------------------------------------------------------
def fit_max(im: Image.Image, side=MAX_SIDE) -> Image.Image:
    if max(im.size) > side:
        s = side / max(im.size)
        im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
    return im


def crop_rel(im, box):
    w, h = im.size
    x0, y0, x1, y1 = box
    return im.crop((round(x0 * w), round(y0 * h), round(x1 * w), round(y1 * h)))


def center_crop_ratio(im, ratio):  # ratio = w/h
    w, h = im.size
    if w / h > ratio:
        nw = round(h * ratio)
        return im.crop(((w - nw) // 2, 0, (w - nw) // 2 + nw, h))
    nh = round(w / ratio)
    return im.crop((0, (h - nh) // 2, w, (h - nh) // 2 + nh))


def cover(im, size, focus=(0.5, 0.5)):
    """Resize+crop `im` to fill `size` (w,h), keeping the focus point in view."""
    W, H = size
    s = max(W / im.width, H / im.height)
    im2 = im.resize((max(W, round(im.width * s)), max(H, round(im.height * s))), Image.LANCZOS)
    x = min(max(0, round(im2.width * focus[0] - W / 2)), im2.width - W)
    y = min(max(0, round(im2.height * focus[1] - H / 2)), im2.height - H)
    return im2.crop((x, y, x + W, y + H))


def pad_blur(im, ratio=0.8):
    """Pad to w/h = ratio with a blurred, enlarged copy (what phone apps do for 4:5 posts)."""
    w, h = im.size
    if w / h > ratio:
        W, H = w, round(w / ratio)
    else:
        W, H = round(h * ratio), h
    bg = cover(im, (W, H)).filter(ImageFilter.GaussianBlur(30))
    bg = ImageEnhance.Brightness(bg).enhance(0.8)
    bg.paste(im, ((W - w) // 2, (H - h) // 2))
    return bg


def gradient(size, c0, c1, angle=90):
    W, H = size
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    a = math.radians(angle)
    t = (x * math.cos(a) + y * math.sin(a))
    t = (t - t.min()) / (t.max() - t.min() + 1e-6)
    c0, c1 = np.array(c0, np.float32), np.array(c1, np.float32)
    arr = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def hexc(h):
    h = h.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


_FONT_FILES = None


def font(name, size):
    global _FONT_FILES
    if _FONT_FILES is None:
        _FONT_FILES = {}
        for root in (FONTDIR, SYSFONTS):
            for p in glob.glob(os.path.join(root, "**", "*.[ot]tf"), recursive=True):
                _FONT_FILES.setdefault(os.path.splitext(os.path.basename(p))[0].lower(), p)
    return ImageFont.truetype(_FONT_FILES[name.lower()], size)


def font_path(name):
    font(name, 10)
    return _FONT_FILES[name.lower()]


def wrap(draw, text, fnt, width):
    """Greedy word wrap to pixel width; keeps explicit newlines."""
    lines = []
    for para in text.split("\n"):
        cur = ""
        for w in para.split(" "):
            t = (cur + " " + w).strip()
            if draw.textlength(t, font=fnt) <= width or not cur:
                cur = t
            else:
                lines.append(cur)
                cur = w
        lines.append(cur)
    return lines


def draw_block(draw, xy, text, fnt, fill, width, align="left", spacing=1.15, stroke=0,
               stroke_fill=None, anchor_x="left"):
    """Draw wrapped text starting at xy (top); returns the bottom y."""
    x, y = xy
    lh = fnt.size * spacing
    for line in wrap(draw, text, fnt, width):
        lw = draw.textlength(line, font=fnt)
        if align == "center":
            lx = x + (width - lw) / 2
        elif align == "right":
            lx = x + width - lw
        else:
            lx = x
        draw.text((lx, y), line, font=fnt, fill=fill, stroke_width=stroke, stroke_fill=stroke_fill)
        y += lh
    return y


def fit_font(draw, text, name, width, height, start=140, stop=20, spacing=1.15):
    for s in range(start, stop, -2):
        f = font(name, s)
        lines = wrap(draw, text, f, width)
        if len(lines) * s * spacing <= height and all(draw.textlength(ln, font=f) <= width for ln in lines):
            return f
    return font(name, stop)


def block_height(draw, text, fnt, width, spacing=1.15):
    return len(wrap(draw, text, fnt, width)) * fnt.size * spacing


def clipart(rel, height=None, width=None):
    im = Image.open(os.path.join(OCA, rel)).convert("RGBA")
    im = im.crop(im.getchannel("A").getbbox())  # drop transparent margins
    if height:
        im = im.resize((max(1, round(im.width * height / im.height)), height), Image.LANCZOS)
    elif width:
        im = im.resize((width, max(1, round(im.height * width / im.width))), Image.LANCZOS)
    return im


def paste_rgba(base, im, xy):
    base.paste(im, xy, im)


def rounded(base_size, radius, fill):
    m = Image.new("L", base_size, 0)
    ImageDraw.Draw(m).rounded_rectangle((0, 0, base_size[0] - 1, base_size[1] - 1), radius, fill=255)
    return m


# --------------------------------------------------------------------------------------------
# the items
# --------------------------------------------------------------------------------------------
@dataclass
class Item:
    key: str            # stable id (also the 'variant of' reference)
    make: object        # callable -> PIL image
    source: str         # package/path of every input
    license: str        # license of the output image (of its inputs)
    base: str = ""      # id of the source photo (for the <= 2 variants rule); "" for made images
    attribution: str = ""  # required credit (CC BY)


ITEMS: list[Item] = []


def add(key, make, source, license, base="", attribution=""):
    assert not any(i.key == key for i in ITEMS), key
    ITEMS.append(Item(key, make, source, license, base, attribution))


def opened(path):
    return lambda: ImageOps.exif_transpose(Image.open(path)).convert("RGB")


def ops(fn, *steps):
    """Compose a loader with transforms."""
    def run():
        im = fn()
        for s in steps:
            im = s(im)
        return im
    return run


MIRROR = ImageOps.mirror


def CROP(box):
    return lambda im: crop_rel(im, box)


def RATIO(r):
    return lambda im: center_crop_ratio(im, r)


def PAD(r=0.8):
    return lambda im: pad_blur(im, r)


# ---- real photos -------------------------------------------------------------------------
def gc_add(key, rel, *steps, base=None):
    lic = gc_license(rel)
    credit = f"{lic['author']}; {lic['url']}"
    add(key, ops(opened(os.path.join(GC, "gcompris", "src", "activities", rel)), *steps),
        f"deb:gcompris-qt-data_3.1-2 /usr/share/gcompris-qt/rcc -> {rel} (photo: {credit})",
        lic["license"], base=base or ("gc:" + rel),
        attribution=(f"{lic['author']} ({lic['url']}), {lic['license']}, via GCompris"
                     if lic["license"].startswith("CC-BY") else ""))


LOMIRI_LIC = {  # from /usr/share/doc/lomiri-wallpapers-16.04/copyright (DEP-5)
    "aitzgorri_by_Aitzol_Berasategi.jpg": ("CC-BY-4.0", "Aitzol Berasategi, 2018"),
    "life_by_Aitzol_Berasategi.jpg": ("CC-BY-4.0", "Aitzol Berasategi, 2018"),
    "picosdeeuropa_by_Aitzol_Berasategi.jpg": ("CC-BY-4.0", "Aitzol Berasategi, 2018"),
    "sunset_by_Aitzol_Berasategi.jpg": ("CC-BY-4.0", "Aitzol Berasategi, 2018"),
    "friends_by_Aitzol_Berasategi.jpg": ("CC-BY-4.0", "Aitzol Berasategi, 2018"),
    "Picture_0B_by_freespace.jpg": ("CC-BY-4.0", 'Trevor "Freespace", 2018'),
    "Picture_1A_by_freespace.jpg": ("CC-BY-4.0", 'Trevor "Freespace", 2018'),
    "Wine_by_Jakkub_Mede.jpg": ("CC-BY-4.0", "Jakub Mede, 2018"),
    "seeding_by_Clements_Engelhardt.jpg": ("CC0-1.0", "Clemens Engelhardt, 2018"),
}


def lomiri_add(key, fname, *steps):
    lic, who = LOMIRI_LIC[fname]
    add(key, ops(opened(os.path.join(LOMIRI, fname)), *steps),
        f"deb:lomiri-wallpapers-16.04_20.04.0-2 /usr/share/backgrounds/{fname} ({who})", lic,
        base="lomiri:" + fname,
        attribution=f"{who}, {fname} (Lomiri wallpapers, Debian lomiri-wallpapers-16.04), {lic}"
        if lic.startswith("CC-BY") else "")


def e_add(key, name, *steps, height=1080):
    add(key, ops(lambda: edj_image(name, height), *steps),
        f"deb:enlightenment-data_0.25.4-2 /usr/share/enlightenment/data/backgrounds/{name}.edj "
        f"(embedded {height}p JPEG)", "BSD-2-Clause", base="e:" + name,
        attribution=f"Enlightenment wallpaper {name}, (c) Carsten Haitzler and contributors, BSD-2-Clause")


def iface_add(key, num, *steps, base=None):
    add(key, ops(opened(os.path.join(IFACES, f"{num}.jpg")), *steps),
        f"local:interfaces_cc0/{num}.jpg (github.com/cjdowner/interfaces @2166b22, '500 x 500/')",
        "CC0-1.0", base="iface:" + num)


def real_photos():
    # ---------------- portraits: CC0 interfaces (not the ones data/sample uses) ----------
    for num in ["002", "003", "005", "006", "012", "013", "015", "016", "017", "018", "019",
                "023", "024", "025", "026", "027", "028", "035", "037", "038", "039", "040",
                "070", "071", "073", "075", "077", "078", "079", "081", "083", "084", "087",
                "088", "093", "095", "097", "099"]:
        iface_add(f"iface_{num}", num)
    add("astronaut", opened(os.path.join(PD_DEMO, "skimage_astronaut.png")),
        "pypi:scikit-image 0.26.0 skimage/data/astronaut.png (NASA; via shared pd_demo_images)",
        "Public domain", base="astronaut")

    # ---------------- people from GCompris (explore_world_music) ------------------------
    M = "explore_world_music/resource/music/"
    gc_add("gc_australia", M + "australia.webp")
    gc_add("gc_australia_crop", M + "australia.webp", CROP((0.0, 0.02, 1.0, 0.57)))
    gc_add("gc_ireland", M + "ireland.webp")
    gc_add("gc_ireland_crop", M + "ireland.webp", CROP((0.52, 0.0, 1.0, 1.0)))
    gc_add("gc_italy", M + "italy.webp")
    gc_add("gc_italy_crop", M + "italy.webp", CROP((0.25, 0.0, 0.75, 1.0)))
    gc_add("gc_mexico", M + "mexico.webp")
    gc_add("gc_mexico_crop", M + "mexico.webp", CROP((0.52, 0.12, 1.0, 0.98)))
    gc_add("gc_orchestra", M + "orchestra.webp")
    gc_add("gc_japan", M + "japan.webp")
    gc_add("gc_america", M + "america.webp")
    gc_add("gc_middleeast", M + "middleeast.webp")

    # ---------------- other full-body people -------------------------------------------
    add("coco785", opened(COCO785),
        "local:mmpose_keypoints/coco/000000000785.jpg (COCO 2017 val, Flickr 6795644157; open-mmlab/mmpose "
        "tests/data/coco @759b39c)", "CC-BY-2.0", base="coco785",
        attribution="COCO 2017 image 000000000785, Flickr photo 6795644157 "
        "(http://farm8.staticflickr.com/7015/6795644157_f019453ae7_z.jpg), CC BY 2.0")
    add("coco785_crop", ops(opened(COCO785), CROP((0.25, 0.05, 0.85, 1.0)), RATIO(0.8)),
        "local:mmpose_keypoints/coco/000000000785.jpg (as above)", "CC-BY-2.0", base="coco785",
        attribution="COCO 2017 image 000000000785, Flickr photo 6795644157, CC BY 2.0")
    add("cameraman", opened(os.path.join(PD_DEMO, "skimage_camera.png")),
        "pypi:scikit-image 0.26.0 skimage/data/camera.png (Lav Varshney; via shared pd_demo_images)",
        "CC0-1.0", base="cameraman")
    add("cameraman_pad", ops(opened(os.path.join(PD_DEMO, "skimage_camera.png")), MIRROR, PAD(0.8)),
        "pypi:scikit-image 0.26.0 skimage/data/camera.png (as above)", "CC0-1.0", base="cameraman")
    add("ascent_crop", ops(scipy_ascent, CROP((0.0, 0.45, 0.62, 1.0))),
        "pypi:scipy 1.9.3 scipy/misc/ascent.dat (as above)", "Public domain", base="ascent")
    add("ascent", scipy_ascent,
        "pypi:scipy 1.9.3 (cp310 wheel) scipy/misc/ascent.dat (from accent-to-the-top.jpg, "
        "public-domain-image.com)", "Public domain", base="ascent")

    # ---------------- scenery ---------------------------------------------------------
    EM = "explore_monuments/resource/"
    for key, rel in [
        ("gc_greatwall", EM + "wonders/greatWallofChina.webp"),
        ("gc_machupicchu", EM + "wonders/machuPicchu.webp"),
        ("gc_petra", EM + "wonders/petra.webp"),
        ("gc_colosseum", EM + "wonders/colosseum.webp"),
        ("gc_goldentemple", EM + "india/goldenTemple.webp"),
        ("gc_hawamahal", EM + "india/hawaMahal.webp"),
        ("gc_gatewayindia", EM + "india/gatewayofIndia.webp"),
        ("gc_victoria", EM + "india/victoriaMemorial.webp"),
        ("gc_chenonceau", EM + "france/chateaudeChenonceau.webp"),
        ("gc_montstmichel", EM + "france/montStMichel.webp"),
        ("gc_pontdugard", EM + "france/pontduGard.webp"),
        ("gc_carcassonne", EM + "france/citedeCarcassonne.webp"),
        ("gc_eiffel", EM + "france/eiffelTower.webp"),
        ("gc_neuschwanstein", EM + "germany/neuschwansteinCastle.webp"),
        ("gc_brandenburg", EM + "germany/brandenburgGate.webp"),
        ("gc_canyondechelly", EM + "usa/canyondeChelly.webp"),
        ("gc_lincoln", EM + "usa/lincolnMemorial.webp"),
        ("gc_liberty", EM + "usa/statueofLiberty.webp"),
        ("gc_rushmore", EM + "usa/mountRushmore.webp"),
        ("gc_navajo", EM + "usa/navajo.webp"),
        ("gc_pyramid", EM + "egypt/greatPyramidOfGiza.webp"),
        ("gc_charminar", EM + "india/charminar.webp"),
        ("gc_stupa", EM + "india/greatStupa.webp"),
    ]:
        gc_add(key, rel)
    for fn in ["aitzgorri_by_Aitzol_Berasategi.jpg", "life_by_Aitzol_Berasategi.jpg",
               "picosdeeuropa_by_Aitzol_Berasategi.jpg", "sunset_by_Aitzol_Berasategi.jpg"]:
        lomiri_add("lomiri_" + fn.split("_by_")[0].lower(), fn)
    for name in ["God-Rays", "Mountain", "Sunset-Clouds", "Snow-Trees", "Peaks"]:
        e_add("e_" + name.lower(), name)
    add("china", opened(os.path.join(SKL, "china.jpg")),
        "pypi:scikit-learn 1.9.1 sklearn/datasets/images/china.jpg (Flickr danielbuechele 6061409035)",
        "CC-BY-2.0", base="china",
        attribution="china.jpg by danielbuechele (https://www.flickr.com/photos/danielbuechele/6061409035/), "
        "CC BY 2.0, via scikit-learn")
    add("wesat_lake", opened(os.path.join(JXL, "external/wesaturate/500px/cvo9xd_keong_macan_srgb8.png")),
        "deb:libjxl-testdata_0.0~git20230110.d6168ff-1 external/wesaturate/500px/cvo9xd_keong_macan_srgb8.png "
        "(wesaturate.com)", "CC0-1.0", base="wesat_lake")

    # ---------------- other: animals, objects, food, plants, textures --------------------
    A_ = "explore_world_animals/resource/animals/"
    F_ = "explore_farm_animals/resource/animals/"
    ER = "erase/resource/"
    for key, rel in [
        ("gc_polarbear", A_ + "polar_bear.webp"), ("gc_macaw", A_ + "scarlet_macaw.webp"),
        ("gc_koala", A_ + "koala.webp"), ("gc_panda", A_ + "panda.webp"),
        ("gc_hedgehog", A_ + "hedgehog.webp"), ("gc_jaguar", A_ + "jaguar.webp"),
        ("gc_dog", F_ + "dog.webp"), ("gc_cow", F_ + "cow.webp"), ("gc_horse", F_ + "horse.webp"),
        ("gc_sheep", F_ + "sheep.webp"), ("gc_kitten", ER + "kitten.webp"),
        ("gc_kingfisher", ER + "kingfisher.webp"), ("gc_crab", ER + "crab.webp"),
        ("gc_redpanda", ER + "red_panda.webp"), ("gc_giraffe", ER + "giraffe.webp"),
        ("gc_bee", ER + "bee.webp"),
    ]:
        gc_add(key, rel)
    for fn in ["Picture_0B_by_freespace.jpg", "Picture_1A_by_freespace.jpg", "Wine_by_Jakkub_Mede.jpg",
               "friends_by_Aitzol_Berasategi.jpg", "seeding_by_Clements_Engelhardt.jpg"]:
        lomiri_add("lomiri_" + fn.split("_by_")[0].lower(), fn)
    for name in ["Yellow-Flower", "Red-Maple", "Bamboo", "Sea-of-Lanterns"]:
        e_add("e_" + name.lower(), name)
    add("sk_flower", opened(os.path.join(SKL, "flower.jpg")),
        "pypi:scikit-learn 1.9.1 sklearn/datasets/images/flower.jpg (Flickr vultilion 6056698931)",
        "CC-BY-2.0", base="sk_flower",
        attribution="flower.jpg by vultilion (https://www.flickr.com/photos/vultilion/6056698931/), "
        "CC BY 2.0, via scikit-learn")
    add("raccoon", scipy_face,
        "pypi:scipy 1.9.3 (cp310 wheel) scipy/misc/face.dat (raccoon-procyon-lotor.jpg, "
        "public-domain-image.com)", "Public domain", base="raccoon")
    add("jxl_flower", opened(os.path.join(JXL, "jxl/flower/flower.png")),
        "deb:libjxl-testdata_0.0~git20230110.d6168ff-1 jxl/flower/flower.png (the JPEG XL Project Authors)",
        "BSD-3-Clause", base="jxl_flower",
        attribution="flower.png, (c) the JPEG XL Project Authors, BSD-3-Clause (libjxl test data)")
    add("wesat_tulips", opened(os.path.join(JXL, "external/wesaturate/500px/tmshre_riaphotographs_srgb8.png")),
        "deb:libjxl-testdata external/wesaturate/500px/tmshre_riaphotographs_srgb8.png (wesaturate.com)",
        "CC0-1.0", base="wesat_tulips")
    add("wesat_blossom", opened(os.path.join(JXL, "external/wesaturate/500px/u76c0g_bliznaca_srgb8.png")),
        "deb:libjxl-testdata external/wesaturate/500px/u76c0g_bliznaca_srgb8.png (wesaturate.com)",
        "CC0-1.0", base="wesat_blossom")
    add("coins", opened(os.path.join(SKI, "coins.png")),
        "pypi:scikit-image 0.26.0 skimage/data/coins.png (Brooklyn Museum; 'No known copyright restrictions')",
        "Public domain", base="coins")
    for cls in ["hat", "shoes"]:
        fn = sorted(os.listdir(os.path.join(CLOTH, "validation", cls)))[0]
        add(f"garment_{cls}", opened(os.path.join(CLOTH, "validation", cls, fn)),
            f"local:clothing_small_cc0/validation/{cls}/{fn} (alexeygrigorev/clothing-dataset-small @1196151)",
            "CC0-1.0", base=f"cloth:{cls}/{fn}")


# ---- made graphics ------------------------------------------------------------------------
# GRAPHICS_START
MADE = "CC0-1.0 (made for this set)"
SQ = (1080, 1080)
P45 = (1080, 1350)


def made_src(what, fonts=(), inputs=()):
    s = f"made:build_feed_eval.py {what}"
    if fonts:
        s += "; fonts " + ", ".join(fonts) + " (OFL/Apache, Debian font packages)"
    if inputs:
        s += "; input " + "; ".join(inputs)
    return s


def gc_photo(rel):
    return opened(os.path.join(GC, "gcompris", "src", "activities", rel))()


def gc_src(rel):
    lic = gc_license(rel)
    return (f"deb:gcompris-qt-data {rel} ({lic['author']}; {lic['url']}; {lic['license']})",
            lic["license"])


def iface(num):
    return opened(os.path.join(IFACES, f"{num}.jpg"))()


def garment(cls, idx=0, split="validation"):
    fn = sorted(os.listdir(os.path.join(CLOTH, split, cls)))[idx]
    return (Image.open(os.path.join(CLOTH, split, cls, fn)).convert("RGB"),
            f"local:clothing_small_cc0/{split}/{cls}/{fn} (CC0-1.0)", f"cloth:{cls}/{fn}")


# ---------------------------------------------------------------- quote / text cards
def g_quote_plain(bg, fg, fname, text, sub, size=SQ, align="center", accent=None, fsub="Inter-Regular"):
    im = Image.new("RGB", size, hexc(bg))
    d = ImageDraw.Draw(im)
    W, H = size
    f = fit_font(d, text, fname, W - 200, H - 420, start=110)
    h = block_height(d, text, f, W - 200)
    y = (H - h) / 2 - 40
    if accent:
        d.text((100 if align == "left" else W / 2 - 40, y - 150), "\u201c", font=font("EBGaramond12-Regular", 220),
               fill=hexc(accent))
    draw_block(d, (100, y), text, f, hexc(fg), W - 200, align=align)
    fs = font(fsub, 34)
    tw = d.textlength(sub, font=fs)
    d.text(((W - tw) / 2 if align == "center" else 100, H - 140), sub, font=fs, fill=hexc(fg))
    return im


def g_quote_gradient(c0, c1, angle, fname, text, sub, size=SQ, upper=True, fg="#ffffff"):
    im = gradient(size, hexc(c0), hexc(c1), angle)
    d = ImageDraw.Draw(im)
    W, H = size
    t = text.upper() if upper else text
    f = fit_font(d, t, fname, W - 180, H - 400, start=190, spacing=1.0)
    h = block_height(d, t, f, W - 180, spacing=1.0)
    draw_block(d, (90, (H - h) / 2 - 30), t, f, hexc(fg), W - 180, align="center", spacing=1.0)
    fs = font("Quicksand-Medium", 36)
    d.text(((W - d.textlength(sub, font=fs)) / 2, H - 130), sub, font=fs, fill=hexc(fg))
    return im


def g_tweet_card(name, handle, text, bg="#e9edf1", dark=False):
    W, H = SQ
    im = Image.new("RGB", SQ, hexc("#15202b" if dark else bg))
    d = ImageDraw.Draw(im)
    card_bg = hexc("#192734" if dark else "#ffffff")
    fg = hexc("#ffffff" if dark else "#0f1419")
    grey = hexc("#8899a6" if dark else "#536471")
    f = font("Inter-Regular", 50)
    lines = wrap(d, text, f, W - 260)
    ch = 260 + len(lines) * 64 + 90
    y0 = (H - ch) // 2
    d.rounded_rectangle((80, y0, W - 80, y0 + ch), 36, fill=card_bg)
    d.ellipse((130, y0 + 60, 230, y0 + 160), fill=hexc("#f4a261"))
    ini = "".join(p[0] for p in name.split()[:2])
    fi = font("Inter-Bold", 42)
    d.text((180 - d.textlength(ini, font=fi) / 2, y0 + 85), ini, font=fi, fill="white")
    d.text((255, y0 + 70), name, font=font("Inter-Bold", 40), fill=fg)
    d.text((255, y0 + 118), handle, font=font("Inter-Regular", 34), fill=grey)
    y = y0 + 200
    for ln in lines:
        d.text((130, y), ln, font=f, fill=fg)
        y += 64
    d.text((130, y + 30), "9:41 AM \u00b7 Mar 3", font=font("Inter-Regular", 32), fill=grey)
    return im


def g_list_card():
    W, H = P45
    im = Image.new("RGB", P45, hexc("#ffe66d"))
    d = ImageDraw.Draw(im)
    d.text((90, 110), "Small things that made", font=font("ComicNeue-Bold", 64), fill=hexc("#222222"))
    d.text((90, 185), "me happy this week", font=font("ComicNeue-Bold", 64), fill=hexc("#222222"))
    items = ["fresh bread from the corner bakery", "a long call with my sister", "finally fixing the bike",
             "rain on the window while reading", "the first tomatoes from the balcony"]
    y = 340
    for i, t in enumerate(items, 1):
        d.ellipse((90, y, 160, y + 70), fill=hexc("#ff6b6b"))
        d.text((125 - d.textlength(str(i), font=font("ComicNeue-Bold", 46)) / 2, y + 8), str(i),
               font=font("ComicNeue-Bold", 46), fill="white")
        y = draw_block(d, (190, y + 6), t, font("ComicNeue-Regular", 50), hexc("#222222"), W - 280) + 50
    d.text((90, H - 110), "what about yours?", font=font("ComicNeue-Italic", 40), fill=hexc("#444444"))
    return im


def g_script_card():
    im = Image.new("RGB", SQ, hexc("#dfe9d8"))
    d = ImageDraw.Draw(im)
    W, H = SQ
    fl = clipart("plants/flowers/daisy_jonathan_dietrich_01.png", height=260)
    paste_rgba(im, fl, ((W - fl.width) // 2, 120))
    f = font("DancingScript-Bold", 108)
    draw_block(d, (90, 430), "Grow through what you go through", f, hexc("#2f4f3a"), W - 180, align="center",
               spacing=1.05)
    fs = font("Quicksand-Bold", 32)
    t = "@greenthumb.diaries"
    d.text(((W - d.textlength(t, font=fs)) / 2, H - 120), t, font=fs, fill=hexc("#2f4f3a"))
    return im


def g_friday():
    im = gradient(SQ, hexc("#0b3d2e"), hexc("#14664d"), 45)
    d = ImageDraw.Draw(im)
    W, H = SQ
    for i in range(14):
        x = (i * 97) % W
        d.ellipse((x, (i * 173) % H, x + 30, (i * 173) % H + 30), outline=hexc("#f2c14e"), width=4)
    f = font("lobster", 170)
    t = "Happy Friday!"
    d.text(((W - d.textlength(t, font=f)) / 2, 360), t, font=f, fill=hexc("#f2c14e"))
    draw_block(d, (140, 610), "The shop is open until 8 pm tonight. Come say hi and grab a coffee on us.",
               font("Inter-Medium", 44), hexc("#ffffff"), W - 280, align="center")
    return im


def g_code_card():
    W, H = SQ
    im = Image.new("RGB", SQ, hexc("#7f5af0"))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle((70, 170, W - 70, H - 120), 28, fill=hexc("#16161a"))
    for i, c in enumerate(["#ff5f56", "#ffbd2e", "#27c93f"]):
        d.ellipse((110 + i * 50, 210, 140 + i * 50, 240), fill=hexc(c))
    d.text((70, 60), "Python tip #12: use enumerate()", font=font("Inter-Bold", 54), fill="white")
    code = [("for", "#ff8906"), (" i, name ", "#fffffe"), ("in", "#ff8906"), (" enumerate", "#2cb67d"),
            ("(names, start=1):", "#fffffe")]
    fc = font("FiraCode-Regular", 35)
    y = 300
    x = 110
    for t, c in code:
        d.text((x, y), t, font=fc, fill=hexc(c))
        x += d.textlength(t, font=fc)
    lines = [('    print(f"{i}. {name}")', "#fffffe"), ("", "#ffffff"), ("# instead of", "#72757e"),
             ("for i in range(len(names)):", "#72757e"), ("    print(i + 1, names[i])", "#72757e"),
             ("", "#ffffff"), ("# 1. Ada", "#2cb67d"), ("# 2. Grace", "#2cb67d"), ("# 3. Linus", "#2cb67d")]
    for t, c in lines:
        y += 62
        d.text((110, y), t, font=fc, fill=hexc(c))
    return im


# ---------------------------------------------------------------- photo + text
def g_photo_caption(photo, head, sub, fhead, fsub, size=P45, pos="bottom", focus=(0.5, 0.5), dark=0.55,
                    upper=False, color="#ffffff", pin=False):
    W, H = size
    im = cover(photo, size, focus)
    arr = np.asarray(im).astype(np.float32)
    t = np.linspace(0, 1, H)[:, None, None]
    if pos == "bottom":
        k = np.clip((t - 0.35) / 0.65, 0, 1) * dark
    elif pos == "top":
        k = np.clip((0.65 - t) / 0.65, 0, 1) * dark
    else:
        k = np.full_like(t, dark * 0.7)
    im = Image.fromarray((arr * (1 - k)).clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    txt = head.upper() if upper else head
    f = fit_font(d, txt, fhead, W - 160, H * 0.32, start=150, spacing=1.05)
    hh = block_height(d, txt, f, W - 160, spacing=1.05)
    fs = font(fsub, 40)
    if pos == "bottom":
        y = H - 140 - hh - 60
    elif pos == "top":
        y = 110
    else:
        y = (H - hh) / 2 - 30
    yb = draw_block(d, (80, y), txt, f, hexc(color), W - 160, align="center" if pos == "center" else "left",
                    spacing=1.05)
    sx = 80
    if pin:
        d.ellipse((80, yb + 22, 106, yb + 48), fill=hexc("#ff4d4d"))
        sx = 122
    if pos == "center":
        d.text(((W - d.textlength(sub, font=fs)) / 2, yb + 20), sub, font=fs, fill=hexc(color))
    else:
        d.text((sx, yb + 16), sub, font=fs, fill=hexc(color))
    return im


def g_carousel_cover(photo, title, n=5):
    W, H = P45
    im = cover(photo, (W, 760))
    base = Image.new("RGB", P45, hexc("#fffaf0"))
    base.paste(im, (0, 0))
    d = ImageDraw.Draw(base)
    d.rectangle((0, 700, W, 760), fill=hexc("#fffaf0"))
    f = fit_font(d, title, "RobotoSlab-Bold", W - 160, 380, start=90)
    draw_block(d, (80, 800), title, f, hexc("#1d3557"), W - 160)
    for i in range(n):
        d.ellipse((W / 2 - n * 20 + i * 40, H - 70, W / 2 - n * 20 + i * 40 + 16, H - 54),
                  fill=hexc("#1d3557" if i == 0 else "#c9c9c9"))
    d.text((W - 260, H - 90), "swipe \u2192", font=font("Inter-SemiBold", 40), fill=hexc("#e63946"))
    return base


# ---------------------------------------------------------------- posters / announcements
def g_grand_opening():
    W, H = P45
    im = Image.new("RGB", P45, hexc("#fdf0d5"))
    d = ImageDraw.Draw(im)
    d.rectangle((0, 0, W, 260), fill=hexc("#c1121f"))
    d.text((80, 70), "GRAND OPENING", font=font("BebasNeue-Bold", 150), fill=hexc("#fdf0d5"))
    items = ["food/breads_and_carbs/" + f for f in ("croissant_01.png", "bread_01.png", "muffin_3.png")]
    x = 90
    for it in items:
        c = clipart(it, height=230)
        if c.width > 300:
            c = clipart(it, width=300)
        paste_rgba(im, c, (x, 330))
        x += c.width + 40
    d.text((80, 620), "Bakery Luna", font=font("lobster", 130), fill=hexc("#780000"))
    draw_block(d, (80, 800), "Saturday 14 June \u00b7 8 am\nFree croissant for the first 50 guests\n"
               "12 Harbour Street", font("Inter-SemiBold", 52), hexc("#003049"), W - 160, spacing=1.4)
    d.rectangle((0, H - 120, W, H), fill=hexc("#003049"))
    d.text((80, H - 95), "see you there!", font=font("Inter-Bold", 56), fill=hexc("#fdf0d5"))
    return im


def g_live_music():
    W, H = P45
    im = gradient(P45, hexc("#240046"), hexc("#ff6d00"), 70)
    d = ImageDraw.Draw(im)
    for r in range(900, 100, -90):
        d.ellipse((W - r // 2 - 150, 200 - r // 2, W - 150 + r // 2, 200 + r // 2), outline=hexc("#ff9e00"),
                  width=3)
    d.text((70, 330), "LIVE", font=font("LeagueSpartan-Black", 260), fill="white")
    d.text((70, 580), "MUSIC", font=font("LeagueSpartan-Black", 260), fill="white")
    y = 880
    for t in ["THE NIGHT OWLS", "MARA & THE TIDES", "DJ KOVA"]:
        d.text((76, y), t, font=font("LeagueSpartan-Bold", 62), fill=hexc("#ffd60a"))
        y += 82
    d.text((76, H - 110), "FRI 21.03 \u00b7 DOORS 20:00 \u00b7 THE DOCK", font=font("LeagueSpartan-Medium", 44),
           fill="white")
    return im


def g_new_member(portrait, name, role):
    W, H = SQ
    im = Image.new("RGB", SQ, hexc("#e0f2f1"))
    d = ImageDraw.Draw(im)
    d.text((80, 70), "Meet the team", font=font("Inter-Black", 86), fill=hexc("#004d40"))
    p = cover(portrait, (460, 460))
    m = Image.new("L", (460, 460), 0)
    ImageDraw.Draw(m).ellipse((0, 0, 459, 459), fill=255)
    d.ellipse((300, 225, 780, 705), fill=hexc("#26a69a"))
    im.paste(p, (310, 235), m)
    d.text(((W - d.textlength(name, font=font("Inter-Bold", 70))) / 2, 740), name, font=font("Inter-Bold", 70),
           fill=hexc("#004d40"))
    d.text(((W - d.textlength(role, font=font("Inter-Regular", 44))) / 2, 830), role,
           font=font("Inter-Regular", 44), fill=hexc("#00695c"))
    t = "Welcome aboard! Say hello in the comments."
    d.text(((W - d.textlength(t, font=font("Inter-Medium", 36))) / 2, 950), t, font=font("Inter-Medium", 36),
           fill=hexc("#004d40"))
    return im


def g_workshop():
    W, H = SQ
    im = Image.new("RGB", SQ, hexc("#ffffff"))
    d = ImageDraw.Draw(im)
    for i, c in enumerate(["#a8dadc", "#f1faee", "#e63946", "#457b9d", "#ffb703"]):
        d.ellipse((W - 380 + (i % 2) * 90, -120 + i * 110, W + 40 + (i % 2) * 90, 300 + i * 110), fill=hexc(c))
    im2 = im.filter(ImageFilter.GaussianBlur(40))
    d = ImageDraw.Draw(im2)
    d.text((80, 120), "Watercolor", font=font("Vollkorn-Bold", 120), fill=hexc("#1d3557"))
    d.text((80, 250), "for beginners", font=font("Vollkorn-Italic", 96), fill=hexc("#1d3557"))
    br = clipart("recreation/arts/" + sorted(os.listdir(os.path.join(OCA, "recreation/arts")))[0], height=230) \
        if os.path.isdir(os.path.join(OCA, "recreation/arts")) else None
    if br:
        paste_rgba(im2, br, (W - br.width - 100, 420))
    draw_block(d, (80, 470), "2-hour workshop\nall materials included\nmax. 10 people",
               font("Quicksand-Medium", 52), hexc("#333333"), 560, spacing=1.45)
    d.rounded_rectangle((80, 820, 620, 940), 60, fill=hexc("#e63946"))
    d.text((125, 845), "Sun 6 April \u00b7 \u20ac35", font=font("Quicksand-Bold", 56), fill="white")
    return im2


def g_closed_notice():
    W, H = P45
    im = Image.new("RGB", P45, hexc("#f8f9fa"))
    d = ImageDraw.Draw(im)
    d.rectangle((50, 50, W - 50, H - 50), outline=hexc("#212529"), width=6)
    d.rectangle((70, 70, W - 70, H - 70), outline=hexc("#212529"), width=2)
    d.text((W / 2 - d.textlength("NOTICE", font=font("Vollkorn-Black", 120)) / 2, 170), "NOTICE",
           font=font("Vollkorn-Black", 120), fill=hexc("#212529"))
    draw_block(d, (140, 400), "Our studio will be closed from 23 December to 2 January.\n\n"
               "Orders placed during the holidays will ship on 3 January.\n\nThank you for a wonderful year "
               "and see you soon!", font("Vollkorn-Regular", 56), hexc("#212529"), W - 280, align="center")
    d.text((W / 2 - d.textlength("\u2014 The Paper Studio team", font=font("Vollkorn-Italic", 44)) / 2, H - 200),
           "\u2014 The Paper Studio team", font=font("Vollkorn-Italic", 44), fill=hexc("#495057"))
    return im


def g_save_the_date():
    W, H = P45
    im = Image.new("RGB", P45, hexc("#fbf8f3"))
    d = ImageDraw.Draw(im)
    fl = clipart("plants/flowers/bouquet_of_flowers_01.png", height=300)
    paste_rgba(im, fl, ((W - fl.width) // 2, 90))
    for t, f, y, c in [("Save the Date", font("DancingScript-Bold", 130), 440, "#8d6e63"),
                       ("ANNA & TOMAS", font("EBGaramond12-Regular", 86), 640, "#4e342e"),
                       ("are getting married", font("EBGaramond12-Italic", 58), 760, "#6d4c41"),
                       ("12 . 09 . 2026", font("EBGaramond12-Regular", 90), 900, "#4e342e"),
                       ("Villa Rosa, Lake Como", font("EBGaramond12-Regular", 50), 1040, "#6d4c41")]:
        d.text(((W - d.textlength(t, font=f)) / 2, y), t, font=f, fill=hexc(c))
    d.line((340, 1160, W - 340, 1160), fill=hexc("#bcaaa4"), width=3)
    return im


def g_menu_board():
    W, H = P45
    im = Image.new("RGB", P45, hexc("#2b2d2f"))
    noise = np.random.RandomState(3).normal(0, 9, (H, W, 1)).repeat(3, 2)
    im = Image.fromarray((np.asarray(im).astype(np.float32) + noise).clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    d.rectangle((30, 30, W - 30, H - 30), outline=hexc("#8d6e63"), width=26)
    t = "Today's menu"
    d.text(((W - d.textlength(t, font=font("KleeOne-SemiBold", 100))) / 2, 100), t,
           font=font("KleeOne-SemiBold", 100), fill="white")
    y = 300
    for dish, price in [("Pumpkin soup", "6.50"), ("Lentil salad, feta", "9.00"), ("Mushroom risotto", "13.50"),
                        ("Grilled halloumi wrap", "10.00"), ("Lemon tart", "5.00"), ("Flat white", "3.20")]:
        d.text((120, y), dish, font=font("KleeOne-Regular", 62), fill=hexc("#f1f1f1"))
        d.text((W - 120 - d.textlength(price, font=font("KleeOne-Regular", 62)), y), price,
               font=font("KleeOne-Regular", 62), fill=hexc("#ffd166"))
        y += 130
    d.text((120, H - 190), "ask us about vegan options!", font=font("KleeOne-Regular", 46), fill=hexc("#bdbdbd"))
    return im


# ---------------------------------------------------------------- shop / product
def g_sale(photo, head, badge, colors=("#ffffff", "#d62828", "#003049"), size=P45, price=None):
    W, H = size
    bg, accent, ink = (hexc(c) for c in colors)
    im = Image.new("RGB", size, bg)
    s = min((W - 160) / photo.width, (H - 420) / photo.height)
    p = photo.resize((round(photo.width * s), round(photo.height * s)), Image.LANCZOS)
    im.paste(p, ((W - p.width) // 2, 260))
    d = ImageDraw.Draw(im)
    f = fit_font(d, head, "BebasNeue-Bold", W - 160, 200, start=160)
    d.text((80, 60), head, font=f, fill=ink)
    r = 150
    cx, cy = W - 200, 330
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=accent)
    fb = font("LeagueSpartan-Black", 86)
    d.text((cx - d.textlength(badge, font=fb) / 2, cy - 50), badge, font=fb, fill="white")
    if price:
        fp = font("Inter-Bold", 70)
        d.rounded_rectangle((80, H - 170, 120 + d.textlength(price, font=fp), H - 70), 20, fill=ink)
        d.text((100, H - 160), price, font=fp, fill=bg)
    d.text((W - 430, H - 130), "shop \u2192 link in bio", font=font("Inter-Medium", 40), fill=ink)
    return im


def g_price_tag(photo, name, price):
    W, H = SQ
    im = cover(photo, SQ)
    tag = Image.new("RGBA", (520, 260), (0, 0, 0, 0))
    td = ImageDraw.Draw(tag)
    td.rounded_rectangle((0, 0, 519, 259), 30, fill=(255, 255, 255, 235))
    td.text((40, 30), name, font=font("Inter-SemiBold", 46), fill=hexc("#222222"))
    td.text((40, 110), price, font=font("Inter-Black", 100), fill=hexc("#2a9d8f"))
    tag = tag.rotate(-6, expand=True, resample=Image.BICUBIC)
    im.paste(tag, (W - tag.width - 60, H - tag.height - 80), tag)
    return im


def g_product_grid(items):
    W, H = SQ
    im = Image.new("RGB", SQ, hexc("#f4f1ec"))
    d = ImageDraw.Draw(im)
    d.text((60, 40), "NEW IN THIS WEEK", font=font("BebasNeue-Bold", 96), fill=hexc("#222222"))
    cw, ch = 450, 400
    for i, (photo, price) in enumerate(items):
        x, y = 60 + (i % 2) * (cw + 60), 170 + (i // 2) * (ch + 50)
        tile = cover(photo, (cw, ch - 60))
        im.paste(tile, (x, y))
        d.text((x, y + ch - 52), price, font=font("Inter-Bold", 40), fill=hexc("#222222"))
    return im


def g_bogo(photo):
    W, H = P45
    im = cover(photo, P45)
    d = ImageDraw.Draw(im)
    d.rectangle((0, 540, W, 800), fill=hexc("#111111"))
    t = "BUY 2 GET 1 FREE"
    f = fit_font(d, t, "LeagueSpartan-Black", W - 120, 200, start=150)
    d.text(((W - d.textlength(t, font=f)) / 2, 590), t, font=f, fill=hexc("#ffd60a"))
    s = "all t-shirts \u00b7 this weekend only"
    d.text(((W - d.textlength(s, font=font("Inter-Medium", 44))) / 2, 720), s, font=font("Inter-Medium", 44),
           fill="white")
    return im


# ---------------------------------------------------------------- memes
def g_meme(photo, top, bottom, size=SQ, focus=(0.5, 0.5)):
    W, H = size
    im = cover(photo, size, focus)
    d = ImageDraw.Draw(im)
    for text, ytop in ((top, True), (bottom, False)):
        if not text:
            continue
        t = text.upper()
        f = fit_font(d, t, "LeagueSpartan-Black", W - 80, 230, start=110, spacing=1.0)
        h = block_height(d, t, f, W - 80, spacing=1.0)
        y = 30 if ytop else H - h - 40
        draw_block(d, (40, y), t, f, "white", W - 80, align="center", spacing=1.0, stroke=6, stroke_fill="black")
    return im


def g_meme_caption(photo, caption, size=(1080, 1200)):
    W, H = size
    band = 330
    im = Image.new("RGB", size, "white")
    im.paste(cover(photo, (W, H - band)), (0, band))
    d = ImageDraw.Draw(im)
    draw_block(d, (60, 60), caption, font("Inter-Regular", 56), hexc("#111111"), W - 120, spacing=1.25)
    return im


# ---------------------------------------------------------------- charts (matplotlib)
def mpl_fig(size=SQ):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager
    for n in ["Inter-Regular", "Inter-Bold", "Inter-SemiBold"]:
        font_manager.fontManager.addfont(font_path(n))
    plt.rcParams.update({"font.family": "Inter", "font.size": 22})
    fig = plt.figure(figsize=(size[0] / 100, size[1] / 100), dpi=100)
    return plt, fig


def mpl_image(plt, fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def g_bar_year():
    plt, fig = mpl_fig()
    fig.patch.set_facecolor("#0d1b2a")
    ax = fig.add_axes([0.1, 0.16, 0.82, 0.56])
    ax.set_facecolor("#0d1b2a")
    vals = [128, 342, 57, 1890]
    labs = ["trees\nplanted", "volunteers", "workshops", "kg of litter\ncollected"]
    bars = ax.bar(labs, [v / max(vals) for v in vals], color=["#e0e1dd", "#778da9", "#415a77", "#ffb703"])
    for b, v in zip(bars, vals, strict=True):
        ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 0.02, f"{v:,}", ha="center", color="white",
                fontsize=30, fontweight="bold")
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    ax.tick_params(colors="white", labelsize=20)
    fig.text(0.1, 0.86, "2025 in numbers", color="white", fontsize=64, fontweight="bold")
    fig.text(0.1, 0.8, "thank you to everyone who joined us!", color="#e0e1dd", fontsize=28)
    return mpl_image(plt, fig)


def g_donut():
    plt, fig = mpl_fig(P45)
    fig.patch.set_facecolor("#fff8f0")
    ax = fig.add_axes([0.1, 0.22, 0.8, 0.55])
    vals = [42, 23, 15, 12, 8]
    labs = ["Rent", "Food", "Transport", "Savings", "Fun"]
    cols = ["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51"]
    ax.pie(vals, colors=cols, startangle=90, wedgeprops=dict(width=0.38, edgecolor="#fff8f0", linewidth=4))
    ax.text(0, 0, "\u20ac2,150\n/month", ha="center", va="center", fontsize=40, fontweight="bold", color="#264653")
    fig.text(0.08, 0.9, "Where my money goes", fontsize=58, fontweight="bold", color="#264653")
    for i, (lab, v, c) in enumerate(zip(labs, vals, cols, strict=True)):
        fig.text(0.08 + (i % 3) * 0.3, 0.14 - (i // 3) * 0.06, f"\u25cf {lab} {v}%", color=c, fontsize=27,
                 fontweight="bold")
    return mpl_image(plt, fig)


def g_line_growth():
    plt, fig = mpl_fig()
    fig.patch.set_facecolor("white")
    ax = fig.add_axes([0.12, 0.14, 0.8, 0.6])
    m = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    v = [1.2, 1.5, 1.9, 2.1, 2.8, 3.9, 4.4, 4.6, 5.8, 7.2, 8.1, 10.0]
    ax.plot(m, v, color="#d6336c", lw=6, marker="o", ms=12)
    ax.fill_between(range(12), v, color="#d6336c", alpha=0.12)
    ax.set_ylabel("followers (thousands)", fontsize=22)
    ax.grid(axis="y", alpha=0.3)
    for s in ["top", "right"]:
        ax.spines[s].set_visible(False)
    ax.tick_params(labelsize=18)
    ax.annotate("first reel\nwent viral", xy=(5, 3.9), xytext=(1.2, 6.5), fontsize=22,
                arrowprops=dict(arrowstyle="->", lw=2))
    fig.text(0.08, 0.86, "10K! thank you \u2665", fontsize=66, fontweight="bold", color="#212529")
    fig.text(0.08, 0.8, "one year of posting every week", fontsize=28, color="#495057")
    return mpl_image(plt, fig)


def g_poll():
    W, H = (1080, 1920)
    im = gradient((W, H), hexc("#8e2de2"), hexc("#4a00e0"), 100)
    d = ImageDraw.Draw(im)
    d.rounded_rectangle((90, 500, W - 90, 1400), 50, fill="white")
    d.text((150, 560), "Pineapple on pizza?", font=font("Inter-Bold", 70), fill=hexc("#222222"))
    y = 720
    for lab, pct in [("yes, always", 38), ("no, never", 47), ("only on Fridays", 15)]:
        d.rounded_rectangle((150, y, W - 150, y + 130), 65, fill=hexc("#eeeeee"))
        d.rounded_rectangle((150, y, 150 + (W - 300) * pct / 100, y + 130), 65, fill=hexc("#a78bfa"))
        d.text((200, y + 35), lab, font=font("Inter-SemiBold", 50), fill=hexc("#222222"))
        d.text((W - 300, y + 35), f"{pct}%", font=font("Inter-Bold", 50), fill=hexc("#222222"))
        y += 180
    d.text((150, 1300), "2,481 votes", font=font("Inter-Regular", 40), fill=hexc("#777777"))
    d.text((90, 250), "results are in!", font=font("Inter-Black", 96), fill="white")
    return im


def g_tips():
    W, H = P45
    im = Image.new("RGB", P45, hexc("#0b132b"))
    d = ImageDraw.Draw(im)
    d.text((80, 70), "5 tips for", font=font("Quicksand-Bold", 90), fill=hexc("#6fffe9"))
    d.text((80, 170), "better sleep", font=font("Quicksand-Bold", 110), fill="white")
    icons = ["signs_and_symbols/weather/" + f for f in
             sorted(os.listdir(os.path.join(OCA, "signs_and_symbols/weather"))) if f.endswith(".png")]
    tips = ["Same bedtime, even on weekends", "No screens 30 min before bed", "Keep the room cool and dark",
            "Coffee only before noon", "Write tomorrow's to-do list"]
    y = 380
    for i, t in enumerate(tips):
        d.ellipse((80, y, 190, y + 110), fill=hexc("#5bc0be"))
        fi = font("Quicksand-Bold", 64)
        d.text((135 - d.textlength(str(i + 1), font=fi) / 2, y + 14), str(i + 1), font=fi, fill=hexc("#0b132b"))
        draw_block(d, (230, y + 20), t, font("Quicksand-Medium", 52), "white", W - 320)
        y += 170
    ic = clipart(icons[0], height=160)
    paste_rgba(im, ic, (W - ic.width - 80, 90))
    return im


def g_did_you_know():
    W, H = SQ
    im = Image.new("RGB", SQ, hexc("#ffd6a5"))
    d = ImageDraw.Draw(im)
    d.text((80, 80), "DID YOU KNOW?", font=font("LeagueSpartan-Bold", 80), fill=hexc("#9d0208"))
    d.text((60, 220), "71%", font=font("LeagueSpartan-Black", 330), fill=hexc("#370617"))
    draw_block(d, (80, 600), "of the Earth's surface is covered by water, but only about 3% of all water "
               "is fresh water.", font("Inter-Medium", 54), hexc("#370617"), W - 160, spacing=1.3)
    cx, cy, r = W - 230, 420, 120  # a big water drop
    d.polygon([(cx, cy - 2.3 * r), (cx - r * 0.93, cy - r * 0.37), (cx + r * 0.93, cy - r * 0.37)],
              fill=hexc("#219ebc"))
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=hexc("#219ebc"))
    d.ellipse((cx - r * 0.55, cy - r * 0.35, cx - r * 0.25, cy + r * 0.05), fill=hexc("#8ecae6"))
    return im


# ---------------------------------------------------------------- illustrations (clipart scenes)
def g_birthday():
    W, H = SQ
    im = gradient(SQ, hexc("#ffafcc"), hexc("#bde0fe"), 90)
    d = ImageDraw.Draw(im)
    for i, c in enumerate(["balloon-red-aj.png", "balloon-blue-aj.png", "balloon-yellow-aj.png",
                           "balloon-green-aj.png"]):
        b = clipart("recreation/party/" + c, height=330)
        paste_rgba(im, b, (40 + i * 260, 60 + (i % 2) * 60))
    cake = clipart("recreation/holiday/birthday_cake.png", height=330)
    paste_rgba(im, cake, ((W - cake.width) // 2, H - cake.height - 60))
    f = font("lobster", 120)
    t = "Happy Birthday, Mia!"
    f = fit_font(d, t, "lobster", W - 120, 150, start=130)
    d.text(((W - d.textlength(t, font=f)) / 2, 450), t, font=f, fill=hexc("#6a0572"), stroke_width=4,
           stroke_fill="white")
    return im


def g_clipart_scene():
    W, H = SQ
    im = Image.new("RGB", SQ, hexc("#a0d8ef"))
    d = ImageDraw.Draw(im)
    d.rectangle((0, 700, W, H), fill=hexc("#7bc96f"))
    d.ellipse((760, 80, 960, 280), fill=hexc("#ffd23f"))
    tree = clipart("plants/flowers/cartoon_tree_01.png", height=520)
    paste_rgba(im, tree, (80, 300))
    homes = sorted(f for f in os.listdir(os.path.join(OCA, "buildings/homes")) if f.endswith(".png"))
    h = clipart("buildings/homes/" + homes[0], height=380)
    paste_rgba(im, h, (520, 440))
    for i, f in enumerate(["cloud.png", "cloudy01.png"]):
        c = clipart("signs_and_symbols/weather/" + f, width=260)
        paste_rgba(im, c, (120 + i * 380, 80 + i * 40))
    return im


def g_breathe():
    W, H = P45
    im = Image.new("RGB", P45, hexc("#e9f5db"))
    d = ImageDraw.Draw(im)
    f = font("BebasNeue-Bold", 330)
    for i, (t, c) in enumerate([("BREATHE", "#344e41"), ("IN.", "#588157"), ("BREATHE", "#344e41"),
                                ("OUT.", "#a3b18a")]):
        d.text((70, 40 + i * 300), t, font=f, fill=hexc(c))
    return im


def g_stickers():
    W, H = SQ
    im = Image.new("RGB", SQ, hexc("#fefae0"))
    d = ImageDraw.Draw(im)
    picks = [("food/fruit/banana.png", "go bananas"), ("food/fruit/apple.png", "stay fresh"),
             ("animals/mammals/bunny_01.png", "hop to it"), ("animals/mammals/a_simple_pig_01.png", "oink!")]
    for i, (p, cap) in enumerate(picks):
        x, y = 60 + (i % 2) * 500, 60 + (i // 2) * 500
        c = clipart(p, height=330)
        if c.width > 400:
            c = clipart(p, width=400)
        big = Image.new("L", (c.width + 40, c.height + 40), 0)
        big.paste(c.getchannel("A"), (20, 20))
        pad = Image.new("RGBA", big.size, (0, 0, 0, 0))
        pad.paste((255, 255, 255, 255), (0, 0), big.filter(ImageFilter.MaxFilter(21)))  # white sticker edge
        pad.alpha_composite(c, (20, 20))
        im.paste(pad, (x + (440 - pad.width) // 2, y), pad)
        fc = font("ComicNeue-Bold", 52)
        d.text((x + (440 - d.textlength(cap, font=fc)) / 2, y + 390), cap, font=fc, fill=hexc("#bc6c25"))
    return im


def g_note_paper():
    W, H = P45
    im = Image.new("RGB", P45, hexc("#fffdf5"))
    d = ImageDraw.Draw(im)
    for y in range(260, H, 80):
        d.line((0, y, W, y), fill=hexc("#b8d8f0"), width=3)
    d.line((150, 0, 150, H), fill=hexc("#f4a6a6"), width=4)
    d.text((190, 150), "note to self:", font=font("TomsonTalks", 84), fill=hexc("#1b3a6b"))
    y = 265
    for line in ["- drink more water", "- call grandma on sunday", "- you don't have to reply",
                 "  to everything right away", "- go outside before noon", "- be proud of small wins",
                 "- sleep. seriously."]:
        d.text((190, y), line, font=font("TomsonTalks", 62), fill=hexc("#1b3a6b"))
        y += 160
    return im


def g_collage(photos, layout):
    W, H = SQ if layout == "grid" else (1080, 720)
    im = Image.new("RGB", (W, H), "white")
    gap = 12
    if layout == "grid":
        cw, ch = (W - 3 * gap) // 2, (H - 3 * gap) // 2
        for i, p in enumerate(photos):
            im.paste(cover(p, (cw, ch)), (gap + (i % 2) * (cw + gap), gap + (i // 2) * (ch + gap)))
    else:
        n = len(photos)
        cw, ch = (W - (n + 1) * gap) // n, H - 2 * gap
        for i, p in enumerate(photos):
            im.paste(cover(p, (cw, ch)), (gap + i * (cw + gap), gap))
    return im


# ---------------------------------------------------------------- screenshots (headless chromium)
def chromium_shot(html_text, size=(1080, 1350), scale=1):
    tmp = tempfile.mkdtemp(prefix="feed_shot_")
    try:
        p = os.path.join(tmp, "page.html")
        faces = "\n".join(
            f"@font-face {{ font-family: '{fam}'; src: url('file://{font_path(fn)}'); font-weight: {wt}; }}"
            for fam, fn, wt in [("Inter", "Inter-Regular", 400), ("Inter", "Inter-SemiBold", 600),
                                ("Inter", "Inter-Bold", 700), ("Slab", "RobotoSlab-Bold", 700),
                                ("Garamond", "EBGaramond12-Regular", 400), ("Mono", "FiraCode-Regular", 400)])
        open(p, "w", encoding="utf-8").write(f"<html><head><meta charset='utf-8'><style>{faces}</style></head>"
                                             f"{html_text}</html>")
        out = os.path.join(tmp, "shot.png")
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--hide-scrollbars", "--allow-file-access-from-files",
                        f"--force-device-scale-factor={scale}", f"--window-size={size[0]},{size[1]}",
                        f"--screenshot={out}", "file://" + p],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        return Image.open(out).convert("RGB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


STATUS = ("<div style='display:flex;justify-content:space-between;padding:18px 40px;font:600 30px Inter;"
          "color:{c}'><span>9:41</span><span>\u25cf\u25cf\u25cf\u25cf &nbsp;100%</span></div>")


def s_chat():
    msgs = [("them", "are you still coming tonight?"), ("me", "yes!! running 10 min late sorry"),
            ("them", "no worries, we got a table by the window"), ("me", "perfect. order me the mushroom one"),
            ("them", "already did :)"), ("me", "this is why you're my favourite person"),
            ("them", "I know"), ("me", "omw")]
    bubbles = ""
    for who, t in msgs:
        if who == "me":
            bubbles += (f"<div style='align-self:flex-end;background:#0b84ff;color:white;padding:22px 30px;"
                        f"border-radius:36px;max-width:70%;margin:8px 0'>{html.escape(t)}</div>")
        else:
            bubbles += (f"<div style='align-self:flex-start;background:#e9e9eb;color:black;padding:22px 30px;"
                        f"border-radius:36px;max-width:70%;margin:8px 0'>{html.escape(t)}</div>")
    body = (f"<body style='margin:0;background:white;font:400 40px Inter'>{STATUS.format(c='black')}"
            "<div style='text-align:center;padding:10px 0 30px;border-bottom:1px solid #ddd'>"
            "<div style='width:110px;height:110px;border-radius:55px;background:#9aa5b1;margin:0 auto;"
            "color:white;font:700 50px Inter;line-height:110px'>JO</div><div style='font:600 32px Inter;"
            "margin-top:10px'>Jo \u203a</div></div><div style='display:flex;flex-direction:column;padding:30px 40px'>"
            f"{bubbles}<div style='align-self:flex-end;color:#8e8e93;font-size:26px'>Delivered</div></div></body>")
    return chromium_shot(body, (1080, 1350))


def s_notes():
    text = ("Hi everyone,<br><br>I've been quiet here for a few weeks and wanted to explain why. "
            "Work got intense, I moved flats, and honestly I needed a break from posting.<br><br>"
            "I'm back now, with a new plan: fewer posts, but better ones. Expect more behind-the-scenes, "
            "more recipes and fewer ads.<br><br>Thank you for sticking around and for all your messages. "
            "They meant a lot.<br><br>\u2014 M.")
    body = (f"<body style='margin:0;background:#fdfcf8;font:400 44px Inter;color:#1c1c1e'>{STATUS.format(c='black')}"
            "<div style='color:#e0a500;font:600 36px Inter;padding:10px 40px'>\u2039 Notes</div>"
            "<div style='padding:20px 60px'><div style='font:700 64px Inter;margin-bottom:10px'>A little update</div>"
            "<div style='color:#8e8e93;font-size:28px;margin-bottom:40px'>14 March 2026 at 21:07</div>"
            f"<div style='line-height:1.45'>{text}</div></div></body>")
    return chromium_shot(body, (1080, 1350))


def s_article(photo_path):
    body = ("<body style='margin:0;background:white;font:400 34px Garamond;color:#111'>"
            "<div style='display:flex;justify-content:space-between;align-items:center;padding:26px 50px;"
            "border-bottom:2px solid #111'><span style='font:700 46px Slab'>The Daily Ledger</span>"
            "<span style='font:600 26px Inter;color:#555'>Subscribe</span></div>"
            "<div style='padding:40px 60px'><div style='font:600 24px Inter;color:#b00020;letter-spacing:2px'>TRAVEL</div>"
            "<h1 style='font:700 64px Slab;margin:16px 0'>Crowds return to Europe's castles as summer "
            "season opens early</h1><div style='font:400 26px Inter;color:#666;margin-bottom:26px'>By Lena Ortiz "
            "\u00b7 6 min read</div>"
            f"<img src='file://{photo_path}' style='width:100%;height:420px;object-fit:cover'>"
            "<p style='font-size:36px;line-height:1.5'>Visitor numbers at several of the continent's best-known "
            "castles rose sharply in May, operators said, as travellers booked trips earlier than in previous "
            "years and many sites extended their opening hours...</p></div></body>")
    return chromium_shot(body, (1080, 1350))


def s_recipe():
    ing = ["200 g rolled oats", "2 ripe bananas", "1 tsp cinnamon", "a pinch of salt", "250 ml oat milk",
           "handful of blueberries"]
    lis = "".join(f"<li style='margin:10px 0'>{html.escape(i)}</li>" for i in ing)
    body = ("<body style='margin:0;background:#fff7ed;font:400 40px Inter;color:#3b2f2f'>"
            "<div style='background:#f97316;color:white;padding:60px 60px 40px'><div style='font:600 30px Inter'>"
            "RECIPE \u00b7 10 MIN</div><div style='font:700 84px Slab;margin-top:10px'>Banana oat pancakes</div>"
            "</div><div style='padding:40px 60px'><div style='font:700 44px Inter;margin-bottom:10px'>"
            "Ingredients</div><ul style='padding-left:40px;line-height:1.3'>" + lis + "</ul>"
            "<div style='font:700 44px Inter;margin:30px 0 10px'>Method</div><ol style='padding-left:40px;"
            "line-height:1.35'><li>Blend everything except the berries.</li><li>Rest 5 minutes.</li>"
            "<li>Fry small pancakes, 2 min per side.</li></ol></div></body>")
    return chromium_shot(body, (1080, 1350))


def s_dashboard():
    def ring(pct, col, lab, val):
        return (f"<div style='text-align:center'><div style='width:260px;height:260px;border-radius:50%;"
                f"background:conic-gradient({col} {pct * 3.6}deg,#2c2c2e 0);display:flex;align-items:center;"
                f"justify-content:center'><div style='width:190px;height:190px;border-radius:50%;background:#000;"
                f"display:flex;align-items:center;justify-content:center;font:700 52px Inter;color:white'>{pct}%"
                f"</div></div><div style='font:600 32px Inter;color:{col};margin-top:16px'>{lab}</div>"
                f"<div style='font:400 28px Inter;color:#aaa'>{val}</div></div>")
    body = (f"<body style='margin:0;background:#000;color:white;font:400 36px Inter'>{STATUS.format(c='white')}"
            "<div style='padding:20px 50px'><div style='font:700 72px Inter'>Summary</div>"
            "<div style='color:#8e8e93;font-size:30px;margin-bottom:40px'>Sunday, 9 March</div>"
            "<div style='display:flex;justify-content:space-between'>"
            + ring(86, "#fa114f", "Move", "516/600 kcal") + ring(100, "#a6ff00", "Exercise", "42/30 min")
            + ring(67, "#00d8ff", "Stand", "8/12 h") + "</div>"
            "<div style='display:grid;grid-template-columns:1fr 1fr;gap:30px;margin-top:60px'>"
            "<div style='background:#1c1c1e;border-radius:30px;padding:34px'><div style='color:#8e8e93;"
            "font-size:28px'>Steps</div><div style='font:700 64px Inter'>11,482</div></div>"
            "<div style='background:#1c1c1e;border-radius:30px;padding:34px'><div style='color:#8e8e93;"
            "font-size:28px'>Distance</div><div style='font:700 64px Inter'>8.3 km</div></div>"
            "<div style='background:#1c1c1e;border-radius:30px;padding:34px'><div style='color:#8e8e93;"
            "font-size:28px'>Resting HR</div><div style='font:700 64px Inter'>58 bpm</div></div>"
            "<div style='background:#1c1c1e;border-radius:30px;padding:34px'><div style='color:#8e8e93;"
            "font-size:28px'>Sleep</div><div style='font:700 64px Inter'>7 h 21 m</div></div></div></div></body>")
    return chromium_shot(body, (1080, 1350))


def s_post_thread():
    posts = [("Why I stopped chasing the algorithm (a short thread)", "1/4"),
             ("I posted daily for 6 months. Reach went up, but I was burned out and my work got worse.", "2/4"),
             ("Now I post twice a week and spend the rest of the time making things I'm proud of.", "3/4"),
             ("Fewer posts, more saves, more real conversations. Would do it again.", "4/4")]
    items = "".join(
        "<div style='display:flex;gap:26px;padding:30px 40px;border-bottom:1px solid #2f3336'>"
        "<div style='min-width:90px;height:90px;border-radius:45px;background:#7856ff;color:white;"
        "font:700 40px Inter;display:flex;align-items:center;justify-content:center'>RK</div><div>"
        "<div><b>Rui K.</b> <span style='color:#71767b'>@ruimakes \u00b7 2h</span></div>"
        f"<div style='margin-top:8px;line-height:1.35'>{html.escape(t)} <span style='color:#71767b'>{n}</span></div>"
        "</div></div>" for t, n in posts)
    body = f"<body style='margin:0;background:#000;color:#e7e9ea;font:400 46px Inter'>{items}</body>"
    return chromium_shot(body, (1080, 1350))


def s_calendar():
    ev = [("08:30", "Gym with Lea", "#34c759"), ("10:00", "Team stand-up", "#0a84ff"),
          ("12:30", "Lunch \u2014 Noodle Bar", "#ff9f0a"), ("15:00", "Dentist", "#ff375f"),
          ("19:30", "Book club: chapter 7", "#bf5af2")]
    rows = "".join(f"<div style='display:flex;gap:30px;margin:26px 0;align-items:stretch'><div style='width:140px;"
                   f"color:#8e8e93'>{t}</div><div style='flex:1;border-left:10px solid {c};background:{c}22;"
                   f"padding:22px 26px;border-radius:14px;font-weight:600'>{html.escape(n)}</div></div>"
                   for t, n, c in ev)
    body = (f"<body style='margin:0;background:white;font:400 40px Inter;color:#1c1c1e'>{STATUS.format(c='black')}"
            "<div style='padding:10px 50px'><div style='color:#ff3b30;font:600 34px Inter'>\u2039 March</div>"
            "<div style='font:700 76px Inter;margin:10px 0 30px'>Thursday 12</div>" + rows + "</div></body>")
    return chromium_shot(body, (1080, 1350))


def s_playlist():
    songs = [("Morning Light", "The Lanterns", "3:41"), ("Slow River", "Ana Ferreira", "4:12"),
             ("Paper Planes", "North Atlas", "2:58"), ("Golden Hour", "Mira Sol", "3:27"),
             ("Late Trains", "The Night Owls", "5:03"), ("Salt & Honey", "Kova", "3:09")]
    cols = ["#f94144", "#f3722c", "#90be6d", "#577590", "#f9c74f", "#43aa8b"]
    rows = "".join(f"<div style='display:flex;align-items:center;gap:30px;margin:26px 0'><div style='width:110px;"
                   f"height:110px;border-radius:12px;background:{c}'></div><div style='flex:1'><div style='font-weight:"
                   f"600'>{html.escape(t)}</div><div style='color:#b3b3b3;font-size:32px'>{html.escape(a)}</div></div>"
                   f"<div style='color:#b3b3b3;font-size:32px'>{d}</div></div>" for (t, a, d), c in zip(songs, cols, strict=True))
    body = (f"<body style='margin:0;background:linear-gradient(#3a1c71,#121212 45%);color:white;font:400 40px Inter'>"
            f"{STATUS.format(c='white')}<div style='padding:20px 50px'><div style='width:420px;height:420px;"
            "margin:20px auto 30px;background:linear-gradient(135deg,#ffaf7b,#d76d77,#3a1c71);border-radius:8px;"
            "box-shadow:0 20px 60px #0008'></div><div style='font:700 62px Inter'>sunday reset \u2600</div>"
            "<div style='color:#b3b3b3;font-size:32px;margin-bottom:20px'>playlist \u00b7 24 songs, 1 h 32 min</div>"
            + rows + "</div></body>")
    return chromium_shot(body, (1080, 1350))


def s_spreadsheet():
    rows = [("Week", "Posts", "Reach", "Saves", "Follows"), ("1", "3", "4,210", "85", "31"),
            ("2", "2", "3,980", "102", "27"), ("3", "4", "7,455", "240", "88"), ("4", "3", "6,120", "198", "64"),
            ("5", "2", "5,030", "176", "41"), ("6", "3", "9,870", "410", "133"), ("Total", "17", "36,665",
                                                                                    "1,211", "384")]
    tr = ""
    for i, r in enumerate(rows):
        style = "background:#e8f0fe;font-weight:700" if i in (0, len(rows) - 1) else ""
        tr += "<tr>" + "".join(f"<td style='border:1px solid #dadce0;padding:16px 20px;{style}'>{c}</td>"
                               for c in r) + "</tr>"
    body = ("<body style='margin:0;background:white;font:400 36px Inter;color:#202124'>"
            "<div style='background:#0f9d58;color:white;padding:24px 40px;font:700 40px Inter'>Content tracker "
            "2026</div><div style='padding:16px 40px;color:#5f6368;font-size:24px;border-bottom:1px solid #dadce0'>"
            "File &nbsp; Edit &nbsp; View &nbsp; Insert &nbsp; Format &nbsp; Data</div>"
            "<div style='padding:30px 40px'><table style='border-collapse:collapse;width:100%'>" + tr +
            "</table><div style='margin-top:40px;font:600 34px Inter'>Best week: #6 (carousel + reel)</div>"
            "</div></body>")
    return chromium_shot(body, (1080, 1080))


# ---------------------------------------------------------------- registry
def register_graphics():
    INTER = "Inter (fonts-inter)"

    def g(key, fn, what, fonts=(INTER,), inputs=(), license=MADE, base="", attribution=""):
        add(key, fn, made_src(what, fonts, inputs), license, base=base, attribution=attribution)

    # text cards
    g("q_slow", lambda: g_quote_plain("#f5efe6", "#3d3027", "EBGaramond12-Italic",
                                        "Slow mornings, strong coffee, and no plans before ten.",
                                        "@slowmornings.club", accent="#c9a27e"),
      "quote card", ("EB Garamond (fonts-ebgaramond)", INTER))
    g("q_done", lambda: g_quote_gradient("#ff5f6d", "#ffc371", 45, "BebasNeue-Bold",
                                           "Done is better than perfect", "a reminder for Monday"),
      "quote card (gradient)", ("Bebas Neue (fonts-bebas-neue)", "Quicksand (fonts-quicksand)"))
    g("q_rest", lambda: g_quote_plain("#111111", "#ffffff", "Inter-Bold",
                                        "Your reminder that rest is productive too.", "@mindful.notes",
                                        size=P45, align="left"), "quote card (4:5)")
    g("q_grow", g_script_card, "script quote card with clipart",
      ("Dancing Script (fonts-dancingscript)", "Quicksand (fonts-quicksand)"),
      inputs=("deb:openclipart-png plants/flowers/daisy_jonathan_dietrich_01.png (public domain)",))
    g("q_climb", lambda: g_quote_plain("#1d3557", "#f1faee", "RobotoSlab-Bold",
                                         "The best view comes after the hardest climb.", "\u2014 old hiking proverb",
                                         accent="#e63946"), "quote card",
      ("Roboto Slab (fonts-roboto-slab)", "EB Garamond", INTER))
    g("q_tweetcard", lambda: g_tweet_card("Nora Beck", "@norabeck",
                                            "Unpopular opinion: the best part of any trip is the first coffee in a "
                                            "new city, before you know where anything is."),
      "text post styled as a micro-blog card (drawn with Pillow)")
    g("q_tweetcard_dark", lambda: g_tweet_card("Sam Ode", "@samode", "Reminder: you can just do things. "
                                                 "Start the project. Send the email. Book the ticket.", dark=True),
      "text post styled as a micro-blog card, dark")
    g("q_happy_list", g_list_card, "list text post", ("Comic Neue (fonts-comic-neue)",))
    g("q_friday", g_friday, "announcement card", ("Lobster (fonts-lobster)", INTER))
    g("q_code", g_code_card, "code tip card", ("Fira Code (fonts-firacode)", INTER))
    g("q_did_you_know", g_did_you_know, "fact card", ("League Spartan (fonts-league-spartan)", INTER))
    g("q_breathe", g_breathe, "typographic poster", ("Bebas Neue (fonts-bebas-neue)", INTER))
    g("i_stickers", g_stickers, "sticker-sheet illustration with captions", ("Comic Neue (fonts-comic-neue)",),
      inputs=("deb:openclipart-png animals/mammals/*, food/fruit/* (public domain)",))
    g("x_calendar", s_calendar, "calendar app screenshot (chromium)", ("Inter",))
    g("x_playlist", s_playlist, "music app screenshot (chromium)", ("Inter",))
    g("q_note", g_note_paper, "handwritten-style note", ("Tomson Talks (fonts-tomsontalks)",))
    # collages of separate CC0 portraits ("photo dump" posts); not real group photos
    for key, nums, layout in [("col_strip", ["074", "076", "080"], "strip"),
                              ("col_grid", ["082", "085", "089", "090"], "grid")]:
        g(key, (lambda nums=nums, layout=layout: g_collage([iface(n) for n in nums], layout)),
          "collage of separate CC0 portraits", (), inputs=tuple(f"local:interfaces_cc0/{n}.jpg (CC0-1.0)"
                                                                 for n in nums), license="CC0-1.0")

    # photo + text overlays (photos not otherwise in the set, or a 2nd variant)
    EM = "explore_monuments/resource/"
    for key, rel, args in [
        ("o_rocamadour", EM + "france/rocamadour.webp",
         dict(head="Weekend in the Dordogne", sub="Rocamadour, France", fhead="Vollkorn-Bold", fsub="Inter-Medium",
              pin=True)),
        ("o_chambord", EM + "france/chateaudeChambord.webp",
         dict(head="10 castles you can visit by train", sub="save this for your next trip \u2192",
              fhead="LeagueSpartan-Black", fsub="Inter-SemiBold", upper=True, pos="top")),
        ("o_berlin", EM + "germany/berlinCathedral.webp",
         dict(head="Berlin on a budget", sub="free museums, cheap eats, best views",
              fhead="BebasNeue-Bold", fsub="Inter-Medium", pos="center", upper=True)),
    ]:
        src, lic = gc_src(rel)
        g(key, (lambda rel=rel, args=args: g_photo_caption(gc_photo(rel), **args)), "photo with text overlay",
          inputs=(src,), license=lic if lic != "Public domain" else "Public domain (photo) / CC0-1.0 (text)",
          base="gc:" + rel)
    for key, name, args in [
        ("o_foggy", "Foggy-Trees", dict(head="Some days the fog is the view.", sub="#mondaymood",
                                        fhead="Vollkorn-Italic", fsub="Inter-Regular", pos="center", dark=0.2)),
        ("o_maple", "Green-Maple", dict(head="Start small.\nStart today.", sub="monday motivation",
                                        fhead="DancingScript-Bold", fsub="Quicksand-Bold", pos="bottom")),
        ("o_spruce", "Spruce-Needles", dict(head="Guided meditation tonight, 8 pm", sub="link in bio",
                                            fhead="Quicksand-Bold", fsub="Quicksand-Medium", pos="top",
                                            size=SQ)),
    ]:
        g(key, (lambda name=name, args=args: g_photo_caption(edj_image(name), **args)), "photo with text overlay",
          inputs=(f"deb:enlightenment-data backgrounds/{name}.edj (BSD-2-Clause)",),
          license="BSD-2-Clause (photo) / CC0-1.0 (text)", base="e:" + name,
          attribution=f"Enlightenment wallpaper {name}, (c) Carsten Haitzler and contributors, BSD-2-Clause")
    rel = EM + "india/konarkSunTemple.webp"
    src, lic = gc_src(rel)
    g("o_carousel_konark", lambda rel=rel: g_carousel_cover(gc_photo(rel), "What nobody tells you about travelling "
                                                    "in India in July"), "carousel cover",
      ("Roboto Slab (fonts-roboto-slab)", INTER), inputs=(src,), license="Public domain (photo) / CC0-1.0 (text)",
      base="gc:" + rel)

    # posters and announcements
    g("p_opening", g_grand_opening, "poster", ("Bebas Neue", "Lobster", INTER),
      inputs=("deb:openclipart-png food/breads_and_carbs/{croissant_01,bread_01,muffin_3}.png (public domain)",))
    g("p_live", g_live_music, "event poster", ("League Spartan (fonts-league-spartan)",))
    g("p_team", lambda: g_new_member(iface("071"), "Daniel Mensah", "Community manager"),
      "announcement with a portrait", inputs=("local:interfaces_cc0/071.jpg (CC0-1.0)",), license="CC0-1.0",
      base="iface:071")
    g("p_workshop", g_workshop, "workshop poster", ("Vollkorn (fonts-vollkorn)", "Quicksand (fonts-quicksand)"),
      inputs=("deb:openclipart-png recreation/arts/* (public domain)",))
    g("p_closed", g_closed_notice, "notice", ("Vollkorn (fonts-vollkorn)",))
    g("p_save_date", g_save_the_date, "invitation card", ("EB Garamond", "Dancing Script"),
      inputs=("deb:openclipart-png plants/flowers/bouquet_of_flowers_01.png (public domain)",))
    g("p_menu", g_menu_board, "chalkboard menu", ("Klee One (fonts-klee)",))

    # shop
    for key, cls, idx, head, badge, price, colors in [
        ("s_dress", "dress", 1, "SUMMER SALE", "-30%", "\u20ac27.90", ("#ffffff", "#d62828", "#003049")),
        ("s_shoes", "shoes", 3, "NEW ARRIVALS", "NEW", "\u20ac49.90", ("#f1f1f1", "#2a9d8f", "#222222")),
        ("s_hat", "hat", 2, "LAST CHANCE", "3 LEFT", None, ("#fff3e0", "#ef6c00", "#3e2723")),
        ("s_skirt", "skirt", 1, "MID-SEASON SALE", "-50%", "\u20ac19.00", ("#fce4ec", "#ad1457", "#311b92")),
    ]:
        def mk(cls=cls, idx=idx, head=head, badge=badge, price=price, colors=colors):
            return g_sale(garment(cls, idx)[0], head, badge, colors, price=price)
        _, gsrc, gbase = garment(cls, idx)
        g(key, mk, "sale banner over a product photo", ("Bebas Neue", "League Spartan", INTER), inputs=(gsrc,),
          base=gbase)
    for key, cls, idx, name, price in [("s_tag_shorts", "shorts", 2, "Linen shorts", "\u20ac24"),
                                       ("s_tag_tshirt", "t-shirt", 4, "Organic tee", "$18")]:
        _, gsrc, gbase = garment(cls, idx)
        g(key, (lambda cls=cls, idx=idx, name=name, price=price: g_price_tag(garment(cls, idx)[0], name, price)),
          "product photo with price tag", inputs=(gsrc,), base=gbase)
    grid = [("pants", 0), ("longsleeve", 0), ("outwear", 0), ("shirt", 0)]
    g("s_grid", lambda: g_product_grid([(garment(c, i)[0], p) for (c, i), p in
                                        zip(grid, ["\u20ac39", "\u20ac29", "\u20ac89", "\u20ac35"], strict=True)]),
      "product grid", ("Bebas Neue", INTER), inputs=tuple(garment(c, i)[1] for c, i in grid))
    _, gsrc, gbase = garment("t-shirt", 7)
    g("s_bogo", lambda: g_bogo(garment("t-shirt", 7)[0]), "promo banner over a product photo",
      ("League Spartan", INTER), inputs=(gsrc,), base=gbase)
    rel = "categorization/resource/images/others/cup.webp"
    src, lic = gc_src(rel)
    g("s_cup", lambda rel=rel: g_price_tag(gc_photo(rel), "Handmade cup", "\u20ac22"), "product photo with price tag",
      inputs=(src,), license="CC0-1.0" if lic == "CC0-1.0" else "Public domain (photo) / CC0-1.0 (text)",
      base="gc:" + rel)

    # memes (2nd variant of an animal photo that is also in the set, or a new one)
    g("m_raccoon", lambda: g_meme(scipy_face(), "when you hear a snack bag", "from three rooms away"),
      "meme", ("League Spartan",), inputs=("pypi:scipy 1.9.3 scipy/misc/face.dat (public domain)",),
      license="Public domain (photo) / CC0-1.0 (text)", base="raccoon")
    for key, rel, top, bottom in [
        ("m_cow", "explore_farm_animals/resource/animals/cow.webp", "me on monday", "pretending to work"),
        ("m_pig", "explore_farm_animals/resource/animals/pig.webp", "I'll start the diet", "tomorrow"),
    ]:
        src, lic = gc_src(rel)
        g(key, (lambda rel=rel, top=top, bottom=bottom: g_meme(gc_photo(rel), top, bottom)), "meme",
          ("League Spartan",), inputs=(src,), license="Public domain (photo) / CC0-1.0 (text)"
          if lic == "Public domain" else lic, base="gc:" + rel)
    rel = "explore_farm_animals/resource/animals/dog.webp"
    src, lic = gc_src(rel)
    g("m_dog_caption", lambda rel=rel: g_meme_caption(gc_photo(rel), "nobody:\nmy dog at 6 am when I say the word "
                                              "\"walk\" in my sleep:"), "caption meme", inputs=(src,),
      license="Public domain (photo) / CC0-1.0 (text)", base="gc:" + rel)

    # charts / infographics
    g("c_year", g_bar_year, "bar chart (matplotlib)")
    g("c_donut", g_donut, "donut chart (matplotlib)")
    g("c_growth", g_line_growth, "line chart (matplotlib)")
    g("c_poll", g_poll, "story poll result (9:16)")
    g("c_tips", g_tips, "numbered tips infographic", ("Quicksand (fonts-quicksand)",),
      inputs=("deb:openclipart-png signs_and_symbols/weather/* (public domain)",))

    # illustrations
    rel = "details/resource/image/Eglise_dAuvers-sur-Oise_background.webp"
    src, lic = gc_src(rel)
    g("i_vangogh", lambda rel=rel: gc_photo(rel), "painting (Vincent van Gogh, 1890)", (), inputs=(src,), license=lic,
      base="gc:" + rel)
    for name in ["Dunes", "Sunset-Hills"]:
        g("i_" + name.lower(), (lambda name=name: edj_image(name)), "vector-style wallpaper illustration", (),
          inputs=(f"deb:enlightenment-data backgrounds/{name}.edj (BSD-2-Clause)",), license="BSD-2-Clause",
          base="e:" + name,
          attribution=f"Enlightenment wallpaper {name}, (c) Carsten Haitzler and contributors, BSD-2-Clause")
    g("i_birthday", g_birthday, "clipart greeting card", ("Lobster (fonts-lobster)",),
      inputs=("deb:openclipart-png recreation/party/balloon-*-aj.png, recreation/holiday/birthday_cake.png "
              "(public domain)",))
    g("i_scene", g_clipart_scene, "clipart illustration", (),
      inputs=("deb:openclipart-png plants/flowers/cartoon_tree_01.png, buildings/homes/*, weather clouds "
              "(public domain)",))

    # screenshots rendered by headless chromium
    CH = ("Inter", "Roboto Slab", "EB Garamond")
    g("x_chat", s_chat, "messaging app screenshot (chromium)", CH)
    g("x_notes", s_notes, "notes app screenshot (chromium)", CH)
    rel = EM + "germany/schwerinPalace.webp"
    src, lic = gc_src(rel)
    g("x_article", lambda rel=rel: s_article(os.path.join(GC, "gcompris", "src", "activities", rel)),
      "news article screenshot with a photo (chromium)", CH, inputs=(src,),
      license="CC0-1.0" if lic == "CC0-1.0" else "Public domain (photo) / CC0-1.0 (page)", base="gc:" + rel)
    g("x_recipe", s_recipe, "recipe page screenshot (chromium)", CH)
    g("x_dashboard", s_dashboard, "fitness app screenshot (chromium)", CH)
    g("x_thread", s_post_thread, "micro-blog thread screenshot (chromium)", CH)
    g("x_sheet", s_spreadsheet, "spreadsheet screenshot (chromium)", CH)

# GRAPHICS_END


# --------------------------------------------------------------------------------------------
# labels (by eye)
# --------------------------------------------------------------------------------------------
LABELS = {
# LABELS_START
    # key: (photo_type, n_faces, has_text, revealing, note) -- assigned by eye on contact sheets
    # ---- portraits (CC0 interfaces, NASA astronaut, GCompris crop)
    "iface_002": ("portrait", 1, False, False, "young man in cap looking down, b/w; face visible but lowered"),
    "iface_003": ("portrait", 1, False, False, "woman in red beanie holding a camera to her face; face partly occluded"),
    "iface_005": ("portrait", 1, False, False, "smiling woman in grey turtleneck"),
    "iface_006": ("portrait", 1, False, False, "man in front of graffiti (no legible text)"),
    "iface_012": ("portrait", 1, False, False, "man with hat and bow tie, profile"),
    "iface_013": ("portrait", 1, False, False, "woman in sleeveless red top, white background"),
    "iface_015": ("portrait", 1, False, False, "woman with sunglasses making a peace sign, waist-up"),
    "iface_016": ("portrait", 1, False, False, "man with glasses, close-up"),
    "iface_017": ("portrait", 1, False, False, "woman taking a phone photo, face in profile"),
    "iface_018": ("portrait", 1, False, False, "young man with backpack looking sideways"),
    "iface_019": ("portrait", 1, False, False, "woman looking down, upper face hidden by hat brim; face partly visible"),
    "iface_023": ("portrait", 1, False, False, "woman with glasses drinking through a straw"),
    "iface_024": ("portrait", 0, True, False, "man looking down, face hidden under a cap (no visible face); blurred 'welcome' sign behind; ambiguous: portrait vs other"),
    "iface_025": ("portrait", 1, False, False, "woman leaning on her arms"),
    "iface_026": ("portrait", 1, False, False, "man with sunglasses, colour-powder look"),
    "iface_027": ("portrait", 1, False, False, "woman with red lipstick among flowers"),
    "iface_028": ("portrait", 1, False, False, "elderly man"),
    "iface_035": ("portrait", 1, False, False, "blonde woman"),
    "iface_037": ("portrait", 1, False, False, "smiling man in fur hat"),
    "iface_038": ("portrait", 1, False, False, "smiling woman in round sunglasses"),
    "iface_039": ("portrait", 1, False, False, "woman with sunglasses on her head"),
    "iface_040": ("portrait", 1, False, False, "man in checked shirt, profile"),
    "iface_070": ("portrait", 1, False, False, "blonde woman, b/w"),
    "iface_071": ("portrait", 1, False, False, "smiling bearded man"),
    "iface_073": ("portrait", 1, False, False, "young man in striped top"),
    "iface_075": ("portrait", 1, False, False, "woman with mirrored sunglasses"),
    "iface_077": ("portrait", 1, False, False, "man with dreadlocks"),
    "iface_078": ("portrait", 1, False, False, "smiling woman outdoors"),
    "iface_079": ("portrait", 1, False, False, "laughing young man with earphones"),
    "iface_081": ("portrait", 1, False, False, "smiling woman in white hoodie"),
    "iface_083": ("portrait", 1, False, False, "red-haired woman"),
    "iface_084": ("portrait", 1, False, False, "man in waistcoat and orange tie"),
    "iface_087": ("portrait", 1, False, False, "man on black background"),
    "iface_088": ("portrait", 1, False, False, "smiling woman, white background"),
    "iface_093": ("portrait", 1, False, False, "woman in headwrap and scarf"),
    "iface_095": ("portrait", 1, False, False, "man in grey sweater"),
    "iface_097": ("portrait", 1, False, False, "smiling man in denim shirt"),
    "iface_099": ("portrait", 1, False, False, "older man with white beard, sunglasses and hat"),
    "astronaut": ("portrait", 1, False, False, "astronaut Eileen Collins in orange suit, flag behind"),
    "gc_australia_crop": ("portrait", 1, False, True, "head-to-waist crop: shirtless performer with body paint playing a didgeridoo; traditional dress, not suggestive; ambiguous: portrait vs full_body"),
    # ---- full body
    "gc_australia": ("full_body", 1, False, True, "seated performer, shirtless with body paint and a fibre skirt, playing a didgeridoo; revealing by skin exposure, not suggestive (traditional dress)"),
    "coco785": ("full_body", 1, False, False, "skier on a slope; face small (~20 px) with hat and glasses"),
    "coco785_crop": ("full_body", 1, False, False, "skier, cropped 4:5"),
    "cameraman": ("full_body", 1, False, False, "man with a camera on a tripod, b/w; face in profile behind the camera"),
    "cameraman_pad": ("full_body", 1, False, False, "mirrored and padded to 4:5"),
    "gc_ireland_crop": ("full_body", 2, False, False, "two seated musicians on stage (fiddle, pipes)"),
    "ascent": ("full_body", 0, False, False, "two people on an outdoor staircase, b/w, faces not visible; ambiguous: full_body vs scenery"),
    "ascent_crop": ("full_body", 0, False, False, "person climbing stairs seen from below, b/w; ambiguous: full_body vs scenery"),
    # ---- groups
    "gc_ireland": ("group", 4, False, False, "four folk musicians seated on a dark stage; faces ~25 px"),
    "gc_italy": ("group", 4, False, False, "theatre scene, many people in costume; 4 clear faces, 5 more hidden by gold masks (not counted)"),
    "gc_italy_crop": ("group", 4, False, False, "crop of the theatre scene; masked faces not counted"),
    "gc_mexico": ("group", 5, False, False, "mariachi band playing, guitar neck in the foreground; 2 small background faces not counted"),
    "gc_mexico_crop": ("group", 3, False, False, "three mariachi musicians laughing; one small background face not counted"),
    "gc_orchestra": ("group", 0, False, False, "symphony orchestra on stage, faces too small (<20 px); ambiguous: group vs scenery"),
    "col_strip": ("group", 3, False, False, "COMPOSITE: three separate portraits side by side (collage post); ambiguous: group vs graphic"),
    "col_grid": ("group", 4, False, False, "COMPOSITE: 2x2 collage of four separate portraits; ambiguous: group vs graphic"),
    # ---- scenery
    "gc_japan": ("scenery", 0, False, "", "night festival square with drums and lanterns, many small people; ambiguous: scenery vs group"),
    "gc_eiffel": ("scenery", 0, False, "", "Eiffel Tower and park"),
    "gc_greatwall": ("scenery", 0, False, "", "Great Wall over green hills"),
    "gc_machupicchu": ("scenery", 0, False, "", "Machu Picchu"),
    "gc_petra": ("scenery", 0, False, "", "Petra treasury facade"),
    "gc_colosseum": ("scenery", 0, False, "", "Colosseum"),
    "gc_goldentemple": ("scenery", 0, False, "", "Golden Temple over water"),
    "gc_hawamahal": ("scenery", 0, False, "", "Hawa Mahal facade"),
    "gc_gatewayindia": ("scenery", 0, False, "", "Gateway of India at dusk, small people"),
    "gc_victoria": ("scenery", 0, False, "", "Victoria Memorial, wide"),
    "gc_chenonceau": ("scenery", 0, False, "", "Chateau de Chenonceau"),
    "gc_montstmichel": ("scenery", 0, False, "", "Mont-Saint-Michel"),
    "gc_pontdugard": ("scenery", 0, False, "", "Pont du Gard"),
    "gc_carcassonne": ("scenery", 0, False, "", "Carcassonne walls"),
    "gc_neuschwanstein": ("scenery", 0, False, "", "Neuschwanstein castle"),
    "gc_brandenburg": ("scenery", 0, False, "", "Brandenburg Gate at dusk, tiny people"),
    "gc_canyondechelly": ("scenery", 0, False, "", "canyon and river"),
    "gc_lincoln": ("scenery", 0, False, "", "Lincoln Memorial at night"),
    "gc_liberty": ("scenery", 0, False, "", "Statue of Liberty (statue face not counted)"),
    "gc_rushmore": ("scenery", 0, False, "", "Mount Rushmore: four carved stone faces (not counted as human faces; a face-detector trap)"),
    "gc_navajo": ("scenery", 0, False, "", "cliff dwellings in a canyon wall"),
    "gc_pyramid": ("scenery", 0, False, "", "Great Pyramid"),
    "gc_charminar": ("scenery", 0, False, "", "Charminar, portrait orientation"),
    "gc_stupa": ("scenery", 0, False, "", "Great Stupa at Sanchi"),
    "lomiri_aitzgorri": ("scenery", 0, False, "", "mountain, meadow and autumn forest"),
    "lomiri_life": ("scenery", 0, False, "", "forest stream"),
    "lomiri_picosdeeuropa": ("scenery", 0, False, "", "mountain path"),
    "lomiri_sunset": ("scenery", 0, False, "", "sunset over hills"),
    "e_god-rays": ("scenery", 0, False, "", "sun rays through clouds"),
    "e_mountain": ("scenery", 0, False, "", "dark mountain peaks"),
    "e_sunset-clouds": ("scenery", 0, False, "", "sunset clouds"),
    "e_snow-trees": ("scenery", 0, False, "", "snowy slope with bare trees, from above"),
    "e_peaks": ("scenery", 0, False, "", "very dark mountain silhouette"),
    "china": ("scenery", 0, False, "", "pagoda above a lake"),
    "wesat_lake": ("scenery", 0, False, "", "rock, lake and hills"),
    # ---- other
    "gc_america": ("other", 0, False, "", "drum kit and electric guitar"),
    "gc_middleeast": ("other", 0, False, "", "long-necked lute on grey"),
    "gc_polarbear": ("other", 0, False, "", "polar bear"),
    "gc_macaw": ("other", 0, False, "", "scarlet macaw"),
    "gc_koala": ("other", 0, False, "", "koala in a tree"),
    "gc_panda": ("other", 0, False, "", "giant panda"),
    "gc_hedgehog": ("other", 0, False, "", "hedgehog in grass"),
    "gc_jaguar": ("other", 0, False, "", "two jaguars on rocks"),
    "gc_dog": ("other", 0, False, "", "German shepherd"),
    "gc_cow": ("other", 0, False, "", "cows in a field"),
    "gc_horse": ("other", 0, False, "", "horses on a meadow"),
    "gc_sheep": ("other", 0, False, "", "sheep"),
    "gc_kitten": ("other", 0, False, "", "ginger kitten"),
    "gc_kingfisher": ("other", 0, False, "", "kingfisher on a branch"),
    "gc_crab": ("other", 0, False, "", "red crab on sand"),
    "gc_redpanda": ("other", 0, False, "", "red panda"),
    "gc_giraffe": ("other", 0, False, "", "giraffe head and neck, close-up"),
    "gc_bee": ("other", 0, False, "", "bee and orange flowers"),
    "lomiri_picture_0b": ("other", 0, False, "", "halved fig in a red bowl (food)"),
    "lomiri_picture_1a": ("other", 0, False, "", "paint brushes"),
    "lomiri_wine": ("other", 0, False, "", "interior: drum, table, wine bottle"),
    "lomiri_friends": ("other", 0, False, "", "two dogs looking out of a window"),
    "lomiri_seeding": ("other", 0, False, "", "dandelion clocks at sunset; ambiguous: other vs scenery"),
    "e_yellow-flower": ("other", 0, False, "", "yellow flower"),
    "e_red-maple": ("other", 0, False, "", "red maple leaves"),
    "e_bamboo": ("other", 0, False, "", "bamboo stems"),
    "e_sea-of-lanterns": ("other", 0, False, "", "field of paper lanterns (texture-like)"),
    "sk_flower": ("other", 0, False, "", "orange dahlia"),
    "jxl_flower": ("other", 0, False, "", "pink daisies"),
    "wesat_tulips": ("other", 0, False, "", "pink tulips"),
    "wesat_blossom": ("other", 0, False, "", "cherry blossom branch"),
    "raccoon": ("other", 0, False, "", "raccoon"),
    "coins": ("other", 0, False, "", "ancient coins, greyscale"),
    "garment_hat": ("other", 0, False, "", "knitted beret on a table (product photo, no text)"),
    "garment_shoes": ("other", 0, False, "", "black shoes on green plastic (product photo, no text)"),
    # ---- graphic
    "q_slow": ("graphic", 0, True, "", "quote card, serif italic on cream"),
    "q_done": ("graphic", 0, True, "", "quote card, condensed caps on gradient"),
    "q_rest": ("graphic", 0, True, "", "quote card, white on black (4:5)"),
    "q_grow": ("graphic", 0, True, "", "script quote card with a flower clipart"),
    "q_climb": ("graphic", 0, True, "", "quote card, slab serif on navy"),
    "q_tweetcard": ("graphic", 0, True, "", "text post styled as a micro-blog card"),
    "q_tweetcard_dark": ("graphic", 0, True, "", "text post styled as a micro-blog card, dark"),
    "q_happy_list": ("graphic", 0, True, "", "numbered list text post on yellow"),
    "q_friday": ("graphic", 0, True, "", "'Happy Friday!' shop announcement"),
    "q_code": ("graphic", 0, True, "", "code tip card"),
    "q_did_you_know": ("graphic", 0, True, "", "fact card with big number and a drop"),
    "q_breathe": ("graphic", 0, True, "", "typographic poster"),
    "q_note": ("graphic", 0, True, "", "handwritten-style note on lined paper"),
    "o_rocamadour": ("graphic", 0, True, "", "travel photo with big headline and location"),
    "o_chambord": ("graphic", 0, True, "", "castle photo with big caps headline"),
    "o_berlin": ("graphic", 0, True, "", "cathedral photo with centred caps headline"),
    "o_foggy": ("graphic", 0, True, "", "very dark foggy-forest photo with a centred quote"),
    "o_maple": ("graphic", 0, True, "", "leaves photo with script motivation text"),
    "o_spruce": ("graphic", 0, True, "", "spruce photo with event text"),
    "o_carousel_konark": ("graphic", 0, True, "", "carousel cover: temple photo on top, headline below, swipe dots"),
    "p_opening": ("graphic", 0, True, "", "bakery grand-opening poster with bread clipart"),
    "p_live": ("graphic", 0, True, "", "live-music event poster"),
    "p_team": ("graphic", 1, True, "", "'meet the team' announcement with a round portrait (face ~400 px)"),
    "p_workshop": ("graphic", 0, True, "", "workshop poster with blurred colour shapes"),
    "p_closed": ("graphic", 0, True, "", "holiday closure notice"),
    "p_save_date": ("graphic", 0, True, "", "wedding save-the-date card"),
    "p_menu": ("graphic", 0, True, "", "chalkboard menu"),
    "s_dress": ("graphic", 0, True, "", "product shot (dress) with sale badge and price"),
    "s_shoes": ("graphic", 0, True, "", "product shot (sneakers) with 'new arrivals' and price"),
    "s_hat": ("graphic", 0, True, "", "product shot (hat) with 'last chance' badge"),
    "s_skirt": ("graphic", 0, True, "", "product shot with sale badge and price"),
    "s_tag_shorts": ("graphic", 0, True, "", "garment photo with a price tag; ambiguous: graphic vs other"),
    "s_tag_tshirt": ("graphic", 0, True, "", "printed t-shirt with a price tag (the print is a drawing, no photo face); ambiguous: graphic vs other"),
    "s_grid": ("graphic", 0, True, "", "2x2 product grid with prices"),
    "s_bogo": ("graphic", 0, True, "", "t-shirt photo with a promo band"),
    "s_cup": ("graphic", 0, True, "", "cup photo with a price tag; ambiguous: graphic vs other"),
    "m_raccoon": ("graphic", 0, True, "", "meme: raccoon with top/bottom caption"),
    "m_cow": ("graphic", 0, True, "", "meme: cows with top/bottom caption"),
    "m_pig": ("graphic", 0, True, "", "meme: piglet with top/bottom caption"),
    "m_dog_caption": ("graphic", 0, True, "", "caption-above meme with a dog photo"),
    "c_year": ("graphic", 0, True, "", "bar chart 'year in numbers'"),
    "c_donut": ("graphic", 0, True, "", "donut chart budget"),
    "c_growth": ("graphic", 0, True, "", "line chart follower growth"),
    "c_poll": ("graphic", 0, True, "", "story-format poll result (9:16)"),
    "c_tips": ("graphic", 0, True, "", "numbered tips infographic"),
    "i_vangogh": ("graphic", 0, False, "", "painting (van Gogh, church at Auvers); illustration/art, no text"),
    "i_dunes": ("graphic", 0, False, "", "flat vector illustration of dunes, no text; ambiguous: graphic vs scenery"),
    "i_sunset-hills": ("graphic", 0, False, "", "flat illustration of layered hills at sunset, no text; ambiguous: graphic vs scenery"),
    "i_scene": ("graphic", 0, False, "", "clipart scene (tree, house, sun, clouds), no text"),
    "i_birthday": ("graphic", 0, True, "", "birthday card: balloons, cake, greeting"),
    "i_stickers": ("graphic", 0, True, "", "sticker sheet: four clipart stickers with captions"),
    "x_chat": ("graphic", 0, True, "", "messaging app screenshot"),
    "x_notes": ("graphic", 0, True, "", "notes app screenshot (statement post)"),
    "x_article": ("graphic", 0, True, "", "news article screenshot with a castle photo"),
    "x_recipe": ("graphic", 0, True, "", "recipe page screenshot"),
    "x_dashboard": ("graphic", 0, True, "", "fitness app screenshot, dark"),
    "x_thread": ("graphic", 0, True, "", "micro-blog thread screenshot, dark"),
    "x_sheet": ("graphic", 0, True, "", "spreadsheet screenshot"),
    "x_calendar": ("graphic", 0, True, "", "calendar app screenshot"),
    "x_playlist": ("graphic", 0, True, "", "music app playlist screenshot"),
# LABELS_END
}


def main():
    prepare()
    real_photos()
    register_graphics()
    out = ARGS.out
    os.makedirs(out, exist_ok=True)
    for f in glob.glob(os.path.join(out, "*.jpg")):
        os.remove(f)
    # variants rule
    from collections import Counter
    c = Counter(i.base for i in ITEMS if i.base)
    bad = {k: v for k, v in c.items() if v > 2}
    assert not bad, f"more than 2 variants of: {bad}"
    for i in ITEMS:
        assert any(i.license.startswith(a) for a in ALLOWED), (i.key, i.license)
    rng = random.Random(16)
    order = list(ITEMS)
    rng.shuffle(order)
    rows = []
    missing = []
    for n, it in enumerate(order, 1):
        if ARGS.only and not re.search(ARGS.only, it.key):
            continue
        fname = f"feed_{n:03d}.jpg"
        im = it.make()
        im = fit_max(im.convert("RGB"))
        im.save(os.path.join(out, fname), "JPEG", quality=JPEG_Q, optimize=True, progressive=True)
        lab = LABELS.get(it.key)
        if lab is None:
            missing.append(it.key)
            lab = ("?", "", "", "", "")
        ptype, nf, txt, rev, note = lab
        variants = [j.key for j in ITEMS if j.base and j.base == it.base and j.key != it.key]
        if variants:
            vfiles = [f"feed_{order.index(j) + 1:03d}.jpg" for j in ITEMS if j.key in variants]
            note = (note + "; " if note else "") + "variant of " + ", ".join(vfiles) + " (same source photo)"
        def tf(v):
            return str(v).lower() if isinstance(v, bool) else v

        rows.append(dict(file=fname, photo_type=ptype, n_faces=nf, has_text=tf(txt), revealing=tf(rev),
                         source=it.source, license=it.license, note=f"[{it.key}] {note}".strip(),
                         _attribution=it.attribution, _key=it.key, _w=im.width, _h=im.height))
        print(fname, it.key, im.size, flush=True)
    cols = ["file", "photo_type", "n_faces", "has_text", "revealing", "source", "license", "note"]
    with open(os.path.join(out, "labels.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(WORK, "build_rows.json"), "w") as f:
        json.dump(rows, f, indent=1)
    if missing:
        print("NO LABEL YET:", " ".join(missing))
    if ARGS.sheets:
        sheets(out, rows, ARGS.sheets)


def sheets(out, rows, dst, tile=256, cols=4):
    os.makedirs(dst, exist_ok=True)
    fnt = font("DejaVuSans-Bold", 13)
    per = cols * cols
    for s in range(0, len(rows), per):
        chunk = rows[s:s + per]
        sheet = Image.new("RGB", (cols * tile, cols * (tile + 18)), "white")
        d = ImageDraw.Draw(sheet)
        for i, r in enumerate(chunk):
            im = Image.open(os.path.join(out, r["file"]))
            im.thumbnail((tile, tile))
            x, y = (i % cols) * tile, (i // cols) * (tile + 18)
            sheet.paste(im, (x + (tile - im.width) // 2, y + 18 + (tile - im.height) // 2))
            d.text((x + 2, y + 1), f"{r['file'][5:8]} {r['_key'][:26]}", fill="black", font=fnt)
        sheet.save(os.path.join(dst, f"sheet_{s // per:02d}.png"))


if __name__ == "__main__":
    main()
