"""Which bytes each row stands for: every post keeps its own image, and every result says which.

Three records of an image's identity, all sha256 of the file's bytes:

- ``posts.parquet`` ``media_sha256``: what the import copied into ``data/raw/ACCOUNT`` (one per
  ``media`` path; an empty list when a table was written without it);
- ``features.parquet`` ``image_sha256``: what the features of the row were computed from (the
  cache is keyed by it, so a changed file is a new key: it is computed again, never served from
  the entry of other bytes);
- the file on disk now (`rumaro_lab.images.file_sha256`).

`rumaro extract` says which images changed since their import (`warn_changed_media`);
`rumaro check` compares all three (`rumaro_lab.check`).

>>> import pandas as pd
>>> posts = pd.DataFrame({"post_id": ["1", "2"], "media": [["raw/a/x.jpg"], ["raw/a/x.jpg"]],
...                       "media_sha256": [["ab"], ["ab"]]})
>>> changed_media(posts, [[("raw/a/x.jpg", "ab")], [("raw/a/x.jpg", "cd")]])
['raw/a/x.jpg']
>>> shared_media(posts)
{'raw/a/x.jpg': ['1', '2']}
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

log = logging.getLogger(__name__)

#: (data-dir-relative path, sha256 of its bytes now or None when unreadable) per used image
Current = Sequence[Sequence[tuple[str, str | None]]]


def changed_media(posts: pd.DataFrame, current: Current) -> list[str]:
    """Paths whose bytes now differ from the sha256 the import recorded (same order as `posts`).

    `current` holds, per post, its used images in ``media`` order (the cover only, or all).
    """
    if "media_sha256" not in posts:
        return []
    changed = []
    for recorded, used in zip(posts["media_sha256"], current, strict=True):
        recorded = list(recorded) if recorded is not None else []
        for (label, now), then in zip(used, recorded, strict=False):
            if now is not None and now != then:
                changed.append(label)
    return changed


def warn_changed_media(posts: pd.DataFrame, current: Current) -> list[str]:
    """`changed_media`, logged once by name: their features come from the files as they are now."""
    changed = changed_media(posts, current)
    if changed:
        log.warning(
            "%d image(s) changed since they were imported; their features are computed from the "
            "files as they are now: %s%s (`rumaro check` lists them; import again to accept them)",
            len(changed), ", ".join(changed[:5]), " ..." if len(changed) > 5 else "",
        )
    return changed


def shared_media(posts: pd.DataFrame) -> dict[str, list[str]]:
    """Media paths that more than one post points at, with those posts' ids (should be none)."""
    owners: dict[str, list[str]] = {}
    for post_id, media in zip(posts["post_id"], posts["media"], strict=True):
        for path in dict.fromkeys(media if media is not None else []):
            owners.setdefault(str(path), []).append(str(post_id))
    return {path: ids for path, ids in owners.items() if len(ids) > 1}
