"""Build the bundled sample account, data/sample/, from redistributable images in ../shared/data.

Deterministic: the same seed and the same source images give the same posts, dates, labels and
simulated engagement (see data/sample/README.md for the generative model). Run from the repo:

    .venv/bin/python tools/build_sample.py [--shared ../shared/data] [--seed 20230105]

Writes data/sample/sample/ (instaloader's layout: DATE_UTC.jpg / DATE_UTC_1.jpg, DATE_UTC.json.xz,
DATE_UTC.txt, the profile's sample_ID.json.xz and id), data/sample/truth.json (true labels and
parameters) and data/sample/LICENSES.md (every image's source and license). README.md is
hand-written and documents the model; keep its numbers in step with PARAMS below.
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import math
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "data" / "sample"
ACCOUNT = "sample"
OWNER_ID = "48151623420"
START = datetime(2023, 1, 5, tzinfo=UTC)
END = datetime(2024, 12, 20, tzinfo=UTC)
FETCHED = datetime(2025, 1, 2, 9, 0, tzinfo=UTC)
MAX_SIDE = 1080
JPEG_QUALITY = 84

#: The generative model of the simulated engagement (natural-log scale; reference = scenery).
PARAMS = {
    "intercept": math.log(150.0),        # mean likes of a scenery post at the start, weekday, daytime
    "trend_per_year": 0.35,              # account growth: x1.42 per year
    "photo_type": {                      # log rate ratios vs scenery
        "scenery": 0.0,
        "portrait": math.log(2.2),
        "group": math.log(1.9),
        "full_body": math.log(1.6),
        "other": math.log(0.75),
    },
    "smile": math.log(1.4),              # portraits whose subject smiles (hand-labelled)
    "weekend": 0.15,                     # Saturday/Sunday (UTC)
    "evening": 0.10,                     # posted 17:00-21:59 UTC
    "likes_alpha": 0.20,                 # NB2 dispersion: var = mu + alpha * mu^2
    "comments_per_like": 0.035,          # comments ~ NB(mean = 0.035 * likes, alpha = 0.5)
    "comments_alpha": 0.50,
    "followers_at_fetch": 8400,
}

# interfaces_cc0 portraits hand-labelled from a contact sheet: clearly smiling (teeth/open
# smile) vs clearly not. Ambiguous faces were left out rather than guessed.
SMILING = ["004", "009", "010", "014", "020", "022", "030", "031", "034", "036"]
NOT_SMILING = ["001", "007", "008", "011", "013", "021", "029", "032", "033"]
GROUP_SOURCES = [f"{i:03d}" for i in range(41, 69)]  # 28 portraits for 8 composites of 3-4 people
SIDECAR_SECOND = "069"
CLOTHING_CLASSES = ["dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt"]

LICENSE_CC0_INTERFACES = (
    "CC0 1.0 (github.com/cjdowner/interfaces @ 2166b22, `500 x 500/`; original stock page in its "
    "CREDITS.md)"
)
LICENSE_SKIMAGE = {
    "skimage_astronaut.png": "Public domain (NASA; 'No known copyright restrictions'), via scikit-image 0.26.0",
    "skimage_camera.png": "CC0 (photographer Lav Varshney), via scikit-image 0.26.0",
    "skimage_coffee.png": "CC0 (Rachel Michetti), via scikit-image 0.26.0",
    "skimage_chelsea.png": "CC0 (Stefan van der Walt), via scikit-image 0.26.0",
    "skimage_rocket.jpg": "Public domain (SpaceX DSCOVR launch, released by SpaceX in 2015), via scikit-image 0.26.0",
    "skimage_hubble_deep_field.jpg": "Public domain (NASA), via scikit-image 0.26.0",
    "skimage_brick.png": "CC0, via scikit-image 0.26.0",
    "skimage_grass.png": "CC0, via scikit-image 0.26.0",
}
LICENSE_SKIER = (
    "CC BY 2.0 - ATTRIBUTION REQUIRED: COCO 2017 image 000000000785, Flickr photo 6795644157 "
    "(http://farm8.staticflickr.com/7015/6795644157_f019453ae7_z.jpg; the photographer's name is "
    "not in COCO's metadata: credit 'Flickr photo 6795644157, CC BY 2.0'), copied from "
    "open-mmlab/mmpose tests/data/coco @ 759b39c. Changes: cropped/mirrored/resized."
)
LICENSE_CLOTHING = "CC0 1.0 (github.com/alexeygrigorev/clothing-dataset-small @ 1196151)"


@dataclass
class Photo:
    label: str  # portrait | full_body | group | scenery | other
    image: Image.Image
    sources: list[str]
    licenses: list[str]
    note: str = ""
    smiling: bool | None = None
    n_faces: int = 0
    extra: list[tuple[Image.Image, list[str], list[str], str]] = field(default_factory=list)


# -- image preparation ---------------------------------------------------------------------------
def _open(path: Path) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


def _fit(img: Image.Image) -> Image.Image:
    if max(img.size) > MAX_SIDE:
        img = img.copy()
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
    return img


def _pad_4x5(img: Image.Image) -> Image.Image:
    """Instagram's 4:5 portrait frame, the margins filled with a blurred copy (keeps the body whole)."""
    w, h = img.size
    target_w = max(w, int(h * 4 / 5))
    target_h = int(target_w * 5 / 4)
    back = img.resize((target_w, target_h)).filter(ImageFilter.GaussianBlur(24))
    back.paste(img, ((target_w - w) // 2, (target_h - h) // 2))
    return back


def _composite(paths: list[Path]) -> Image.Image:
    """Portraits side by side (3) or in a 2x2 grid (4): an honest stand-in for a group photo."""
    if len(paths) == 3:
        tile = 360
        canvas = Image.new("RGB", (3 * tile, tile))
        for i, p in enumerate(paths):
            canvas.paste(_open(p).resize((tile, tile), Image.LANCZOS), (i * tile, 0))
        return canvas
    tile = 540
    canvas = Image.new("RGB", (2 * tile, 2 * tile))
    for i, p in enumerate(paths):
        canvas.paste(_open(p).resize((tile, tile), Image.LANCZOS), ((i % 2) * tile, (i // 2) * tile))
    return canvas


def collect_photos(shared: Path) -> list[Photo]:
    faces = shared / "interfaces_cc0"
    pd_dir = shared / "pd_demo_images"
    photos: list[Photo] = []

    def portrait(code: str, smiling: bool) -> Photo:
        return Photo("portrait", _open(faces / f"{code}.jpg"), [f"interfaces_cc0/{code}.jpg"],
                     [LICENSE_CC0_INTERFACES], smiling=smiling, n_faces=1)

    photos += [portrait(c, True) for c in SMILING] + [portrait(c, False) for c in NOT_SMILING]
    photos.append(Photo("portrait", _open(pd_dir / "skimage_astronaut.png"), ["pd_demo_images/skimage_astronaut.png"],
                        [LICENSE_SKIMAGE["skimage_astronaut.png"]], smiling=True, n_faces=1))

    sizes = [4, 3, 4, 3, 4, 3, 4, 3]
    codes = iter(GROUP_SOURCES)
    for size in sizes:
        members = [next(codes) for _ in range(size)]
        photos.append(Photo(
            "group", _composite([faces / f"{c}.jpg" for c in members]),
            [f"interfaces_cc0/{c}.jpg" for c in members], [LICENSE_CC0_INTERFACES],
            note=f"composite of {size} separate CC0 portraits ({'side by side' if size == 3 else '2x2 grid'})",
            n_faces=size,
        ))

    camera = _open(pd_dir / "skimage_camera.png")
    skier = _open(shared / "mmpose_keypoints" / "coco" / "000000000785.jpg")
    # COCO person box of the skier: x 281, y 45, w 219, h 347 -> a crop with margin keeps the whole body
    skier_crop = skier.crop((200, 0, 600, 425))
    full_body = [
        (camera, "pd_demo_images/skimage_camera.png", "original"),
        (ImageOps.mirror(camera), "pd_demo_images/skimage_camera.png", "mirrored"),
        (_pad_4x5(camera), "pd_demo_images/skimage_camera.png", "padded to 4:5 with a blurred margin"),
        (_pad_4x5(ImageOps.mirror(camera)), "pd_demo_images/skimage_camera.png", "mirrored, padded to 4:5"),
        (skier, "mmpose_keypoints/coco/000000000785.jpg", "original"),
        (ImageOps.mirror(skier), "mmpose_keypoints/coco/000000000785.jpg", "mirrored"),
        (skier_crop, "mmpose_keypoints/coco/000000000785.jpg", "cropped around the skier"),
        (_pad_4x5(ImageOps.mirror(skier_crop)), "mmpose_keypoints/coco/000000000785.jpg", "cropped, mirrored, padded to 4:5"),
    ]
    for img, src, how in full_body:
        lic = LICENSE_SKIER if "000000000785" in src else LICENSE_SKIMAGE["skimage_camera.png"]
        photos.append(Photo("full_body", img, [src], [lic], note=how, n_faces=1))

    rocket = _open(pd_dir / "skimage_rocket.jpg")
    hubble = _open(pd_dir / "skimage_hubble_deep_field.jpg")
    scenery = [
        (rocket, "skimage_rocket.jpg", "original"),
        (rocket.crop((0, 0, 427, 427)), "skimage_rocket.jpg", "square crop, left"),
        (ImageOps.mirror(rocket.crop((213, 0, 640, 427))), "skimage_rocket.jpg", "square crop, right, mirrored"),
        (rocket.crop((100, 60, 580, 420)).resize((960, 720), Image.LANCZOS), "skimage_rocket.jpg", "crop, enlarged"),
        (hubble, "skimage_hubble_deep_field.jpg", "original"),
        (hubble.crop((0, 0, 600, 600)), "skimage_hubble_deep_field.jpg", "crop, top left"),
        (hubble.crop((400, 272, 1000, 872)), "skimage_hubble_deep_field.jpg", "crop, bottom right"),
        (ImageOps.flip(hubble.crop((200, 100, 900, 660))), "skimage_hubble_deep_field.jpg", "crop, flipped"),
        (hubble.crop((100, 300, 1000, 800)).resize((1080, 600), Image.LANCZOS), "skimage_hubble_deep_field.jpg", "wide crop, enlarged"),
        (ImageOps.mirror(rocket.crop((0, 100, 640, 427))), "skimage_rocket.jpg", "wide crop, mirrored"),
        (rocket.crop((0, 0, 640, 300)), "skimage_rocket.jpg", "crop, top (sky and tower)"),
        (hubble.crop((250, 200, 750, 700)), "skimage_hubble_deep_field.jpg", "crop, centre"),
    ]
    for img, name, how in scenery:
        photos.append(Photo("scenery", img, [f"pd_demo_images/{name}"], [LICENSE_SKIMAGE[name]], note=how))

    # grass and brick are close-up textures, not views: "other", like the cat, the coffee and garments
    for name in ("skimage_coffee.png", "skimage_chelsea.png", "skimage_brick.png", "skimage_grass.png"):
        photos.append(Photo("other", _open(pd_dir / name), [f"pd_demo_images/{name}"], [LICENSE_SKIMAGE[name]]))
    clothing = shared / "clothing_small_cc0"
    for cls in CLOTHING_CLASSES:
        first = sorted((clothing / "test" / cls).glob("*.jpg"))[0]
        photos.append(Photo("other", _open(first), [first.relative_to(shared).as_posix()], [LICENSE_CLOTHING],
                            note=f"garment ({cls})"))

    # One sidecar: the first smiling portrait gets a second slide (another CC0 portrait).
    photos[0].extra.append((_open(faces / f"{SIDECAR_SECOND}.jpg"), [f"interfaces_cc0/{SIDECAR_SECOND}.jpg"],
                            [LICENSE_CC0_INTERFACES], "second slide of a sidecar"))
    return photos


# -- posts and engagement ------------------------------------------------------------------------
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def mediaid_to_shortcode(mediaid: int) -> str:
    """Instagram's shortcode is the media id in URL-safe base 64 (as instaloader computes it)."""
    digits = ""
    while mediaid:
        mediaid, rest = divmod(mediaid, 64)
        digits = _ALPHABET[rest] + digits
    return digits


def _nb(rng: np.random.Generator, mean: float, alpha: float) -> int:
    """Negative binomial (NB2) draw with the given mean and dispersion (var = mu + alpha mu^2)."""
    n = 1.0 / alpha
    return int(rng.negative_binomial(n, n / (n + mean)))


CAPTIONS = {
    "portrait": ["Golden hour face #portrait #people", "New profile pic? #portrait", "Say hi to @friend.of.sample #portrait #smile",
                 "Close-up #portraitphotography", "Candid #portrait #faces"],
    "group": ["The whole crew #friends #group", "Team day! #team #people", "Together #friends"],
    "full_body": ["Out and about #streetstyle #fullbody", "On the move #outdoors", "Weekend mood #fullbody"],
    "scenery": ["Look up #sky #scenery", "Far away #space #view", "Green #nature", "What a view #landscape"],
    "other": ["New in #style", "Little things #stilllife", "Texture study #details", "Today's pick #fashion"],
}


def build(shared: Path, seed: int, out: Path = OUT) -> dict:
    rng = np.random.default_rng(seed)
    photos = collect_photos(shared)
    n = len(photos)
    order = rng.permutation(n)  # types shuffled over time: photo type is not confounded with the trend
    span = (END - START).total_seconds()
    seconds = np.sort(rng.uniform(0, span, n))
    hours = rng.choice(np.arange(6, 23), size=n)
    folder = out / ACCOUNT
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)

    specials = {"hidden_likes": None, "pinned": None, "video": None, "sidecar": None}
    posts_truth, license_rows = [], []
    for slot, index in enumerate(order):
        photo = photos[index]
        day = START + timedelta(seconds=float(seconds[slot]))
        taken = day.replace(hour=int(hours[slot]), minute=int(rng.integers(60)), second=int(rng.integers(60)),
                             microsecond=0)
        base = taken.strftime("%Y-%m-%d_%H-%M-%S_UTC")
        t_years = (taken - START).total_seconds() / (365.25 * 86400)
        weekend = taken.weekday() >= 5
        evening = 17 <= taken.hour <= 21
        log_mu = (PARAMS["intercept"] + PARAMS["trend_per_year"] * t_years + PARAMS["photo_type"][photo.label]
                  + PARAMS["smile"] * bool(photo.smiling) + PARAMS["weekend"] * weekend
                  + PARAMS["evening"] * evening)
        mu = math.exp(log_mu)
        likes = _nb(rng, mu, PARAMS["likes_alpha"])
        comments = _nb(rng, max(PARAMS["comments_per_like"] * likes, 0.05), PARAMS["comments_alpha"])
        mediaid = 3_000_000_000_000_000_000 + int(rng.integers(10**15)) * 1000 + slot
        shortcode = mediaid_to_shortcode(mediaid)

        typename = "GraphSidecar" if photo.extra else "GraphImage"
        if photo.label == "scenery" and specials["video"] is None:
            typename, specials["video"] = "GraphVideo", shortcode
        if photo.extra:
            specials["sidecar"] = shortcode
        hidden = photo.label == "other" and specials["hidden_likes"] is None
        if hidden:
            specials["hidden_likes"] = shortcode
        pinned = photo.label == "group" and specials["pinned"] is None
        if pinned:
            specials["pinned"] = shortcode

        images = [(_fit(photo.image), photo.sources, photo.licenses, photo.note)] + [
            (_fit(img), src, lic, note) for img, src, lic, note in photo.extra
        ]
        names = [f"{base}.jpg"] if len(images) == 1 else [f"{base}_{i}.jpg" for i in range(1, len(images) + 1)]
        for name, (img, src, lic, note) in zip(names, images, strict=True):
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True)
            (folder / name).write_bytes(buf.getvalue())
            os.utime(folder / name, (taken.timestamp(), taken.timestamp()))  # as instaloader does
            license_rows.append((name, photo.label, ", ".join(src), "; ".join(dict.fromkeys(lic)), note))

        caption = str(rng.choice(CAPTIONS[photo.label]))
        width, height = images[0][0].size
        node = {
            "__typename": typename,
            "id": str(mediaid),
            "shortcode": shortcode,
            "dimensions": {"height": height, "width": width},
            "display_url": None,  # no CDN address: the sample was never on Instagram
            "accessibility_caption": f"Photo by Rumaro Sample on {taken:%B} {taken.day}, {taken.year}.",
            "is_video": typename == "GraphVideo",
            "edge_media_to_tagged_user": {"edges": []},
            "edge_media_to_caption": {"edges": [{"node": {"text": caption}}]},
            "caption_is_edited": False,
            "comments_disabled": False,
            "edge_media_to_comment": {"count": comments, "page_info": {"has_next_page": False, "end_cursor": None}, "edges": []},
            "taken_at_timestamp": int(taken.timestamp()),
            "edge_media_preview_like": {"count": -1 if hidden else likes, "edges": []},
            "edge_media_to_sponsor_user": {"edges": []},
            "location": None,
            "owner": {
                "id": OWNER_ID,
                "username": ACCOUNT,
                "full_name": "Rumaro Sample (simulated engagement)",
                "is_private": False,
                "is_verified": False,
                "edge_followed_by": {"count": PARAMS["followers_at_fetch"]},
            },
            "is_ad": False,
            "pinned_for_users": [{"id": OWNER_ID, "username": ACCOUNT}] if pinned else [],
        }
        if typename == "GraphVideo":
            node["video_view_count"] = int(likes * 6 + rng.integers(50))
            node["video_duration"] = 14.5
        if typename == "GraphSidecar":
            node["edge_sidecar_to_children"] = {"edges": [
                {"node": {"__typename": "GraphImage", "display_url": None, "is_video": False,
                          "dimensions": {"width": img.size[0], "height": img.size[1]}}}
                for img, *_ in images
            ]}
        _write_xz(folder / f"{base}.json.xz", {"node": node, "instaloader": {"version": "4.16", "node_type": "Post"}})
        (folder / f"{base}.txt").write_text(caption + "\n", encoding="utf-8")
        posts_truth.append({
            "shortcode": shortcode, "post_id": str(mediaid), "base": base, "taken_at": taken.isoformat(),
            "label": photo.label, "smiling": photo.smiling, "n_faces": photo.n_faces,
            "has_face": photo.n_faces > 0, "weekend": weekend, "evening": evening,
            "t_years": round(t_years, 6), "mu_likes": round(mu, 3), "likes": likes,
            "likes_shown": None if hidden else likes, "comments": comments,
            "media_type": {"GraphImage": "image", "GraphSidecar": "sidecar", "GraphVideo": "video"}[typename],
            "is_pinned": pinned, "files": names, "sources": [s for _, src, _, _ in images for s in src],
        })

    profile = {
        "node": {"id": OWNER_ID, "username": ACCOUNT, "full_name": "Rumaro Sample (simulated engagement)",
                 "biography": "A bundled demo account: CC0/public-domain photos, SIMULATED likes.",
                 "is_private": False, "edge_followed_by": {"count": PARAMS["followers_at_fetch"]},
                 "edge_follow": {"count": 310}, "edge_owner_to_timeline_media": {"count": n}},
        "instaloader": {"version": "4.16", "node_type": "Profile"},
    }
    _write_xz(folder / f"{ACCOUNT}_{OWNER_ID}.json.xz", profile)
    (folder / "id").write_text(OWNER_ID, encoding="utf-8")

    labels = [p["label"] for p in posts_truth]
    weights = {"face": [p["mu_likes"] for p in posts_truth if p["has_face"]],
               "no_face": [p["mu_likes"] for p in posts_truth if not p["has_face"]]}
    truth = {
        "account": ACCOUNT,
        "seed": seed,
        "simulated": True,
        "model": {
            "likes": "NB2: likes ~ NegBin(mean mu, var mu + alpha mu^2); log mu = intercept + trend_per_year * t_years"
                     " + photo_type[label] + smile * smiling_portrait + weekend * is_weekend + evening * is_evening",
            "comments": "comments ~ NegBin(mean comments_per_like * likes, alpha comments_alpha)",
            "reference_photo_type": "scenery",
            "time_origin": START.isoformat(),
        },
        "parameters": PARAMS,
        "rate_ratios": {k: round(math.exp(v), 4) for k, v in PARAMS["photo_type"].items()}
        | {"smile": round(math.exp(PARAMS["smile"]), 4), "per_year": round(math.exp(PARAMS["trend_per_year"]), 4),
           "weekend": round(math.exp(PARAMS["weekend"]), 4), "evening": round(math.exp(PARAMS["evening"]), 4)},
        "face_note": "Faces are nested in photo type here (every portrait, group and full_body photo shows a face, no "
                     "scenery/other photo does), so the face effect is carried by the photo-type effects; "
                     "implied_face_rate_ratio is the ratio of mean simulated rates, face vs no face, in this sample.",
        "implied_face_rate_ratio": round(float(np.mean(weights["face"]) / np.mean(weights["no_face"])), 4),
        "counts": {label: labels.count(label) for label in PARAMS["photo_type"]},
        "specials": specials,
        "posts": posts_truth,
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    _write_licenses(out, license_rows)
    return truth


def _write_xz(path: Path, data: dict) -> None:
    # instaloader's own format: compact JSON in an xz container
    path.write_bytes(lzma.compress(json.dumps(data, separators=(",", ":")).encode("utf-8")))


def _write_licenses(out: Path, rows: list[tuple[str, str, str, str, str]]) -> None:
    lines = [
        "# Licenses of the images in data/sample/sample/",
        "",
        "Generated by `tools/build_sample.py`. Every image below may be redistributed: CC0 1.0, public",
        "domain, or (one source photo) CC BY 2.0, which requires attribution - given here and in",
        "data/sample/README.md. All images were re-encoded as JPEG (<= 1080 px). Group photos are",
        "COMPOSITES of separate CC0 portraits; several scenery and full-body images are crops, mirror",
        "images or padded variants of the same public-domain/CC0 photo (the 'change' column says which).",
        "Source paths are relative to ../shared/data (see its README.md for the upstream commits).",
        "",
        "The interfaces_cc0 portraits come with one request from their author: identifiable people",
        "must not be shown in a bad light or in a way they may find offensive. Respect it when you",
        "reuse them (for example, never as examples of 'racy' content).",
        "",
        "Attribution (CC BY 2.0): skier photo - COCO 2017 image 000000000785, Flickr photo 6795644157",
        "(http://farm8.staticflickr.com/7015/6795644157_f019453ae7_z.jpg), license",
        "https://creativecommons.org/licenses/by/2.0/ ; modified (cropped, mirrored, resized).",
        "",
        "| file | photo type | source | license | change |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {label} | {src} | {lic} | {note or '-'} |" for name, label, src, lic, note in rows]
    (out / "LICENSES.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--seed", type=int, default=20230105)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    truth = build(args.shared, args.seed, args.out)
    size = sum(p.stat().st_size for p in (args.out).rglob("*") if p.is_file())
    print(json.dumps({"posts": len(truth["posts"]), "counts": truth["counts"], "specials": truth["specials"],
                      "bytes": size}, indent=1))


if __name__ == "__main__":
    main()
