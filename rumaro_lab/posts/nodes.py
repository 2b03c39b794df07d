"""Read instaloader's saved metadata (``.json`` / ``.json.xz``) into posts-table rows, offline.

instaloader's `Post` object fetches any field missing from the saved node from Instagram (for
example ``accessibility_caption`` or ``location``). An import must never touch the network, so
this module reads the saved node dict itself and never imports instaloader: what is not in the
file is unknown (null), never fetched.

Both node shapes instaloader has written are understood: the legacy GraphQL node (4.x up to
4.10: ``edge_media_preview_like``, ``taken_at_timestamp``...) and the newer normalised
web-info item (4.11+: ``like_count``, ``taken_at``, ``carousel_media``...).

>>> node = {"id": "1", "shortcode": "Ab", "__typename": "GraphImage", "taken_at_timestamp": 0,
...         "edge_media_preview_like": {"count": -1}, "edge_media_to_comment": {"count": 3},
...         "edge_media_to_caption": {"edges": [{"node": {"text": "hi #Sun @Bob"}}]}}
>>> row = node_to_row(node)
>>> row["likes"], row["comments"], row["hashtags"], row["mentions"], row["media_type"]
(None, 3, ['sun'], ['bob'], 'image')
"""

from __future__ import annotations

import json
import lzma
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import MetadataError

#: instaloader's __typename / iPhone media_type -> the posts table's media_type
_TYPENAMES = {"GraphImage": "image", "GraphSidecar": "sidecar", "GraphVideo": "video"}
_MEDIA_TYPES = {1: "image", 8: "sidecar", 2: "video"}

# Same idea as instaloader's caption_hashtags / caption_mentions: a tag is '#' + word characters
# (not an HTML entity like '&#39;'); a mention is '@' + an Instagram user name, not inside an
# e-mail address.
_HASHTAG_RE = re.compile(r"(?<![&\w])#(\w+)")
_MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_](?:[A-Za-z0-9_]|\.(?!\.)){0,28}[A-Za-z0-9_]?)")




def load_json_file(path: str | Path) -> dict[str, Any]:
    """Load a ``.json`` or ``.json.xz`` file; corrupt or truncated files raise `MetadataError`."""
    path = Path(path)
    try:
        if path.name.endswith(".xz"):
            with lzma.open(path, "rt", encoding="utf-8") as handle:
                data = json.load(handle)
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
    except (lzma.LZMAError, EOFError) as exc:
        raise MetadataError(f"corrupt or truncated xz file ({exc or 'unexpected end of data'})") from exc
    except json.JSONDecodeError as exc:
        raise MetadataError(f"invalid or truncated JSON ({exc.msg} at line {exc.lineno})") from exc
    except UnicodeDecodeError as exc:
        raise MetadataError(f"not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise MetadataError(f"unreadable ({exc.strerror or exc})") from exc
    if not isinstance(data, dict):
        raise MetadataError("not an instaloader metadata object (top level is not a JSON object)")
    return data


def node_type(data: dict[str, Any]) -> str | None:
    """instaloader's structure type of a saved file: 'Post', 'Profile', ... (None if unknown)."""
    info = data.get("instaloader")
    if isinstance(info, dict) and info.get("node_type"):
        return str(info["node_type"])
    node = data.get("node", data)
    if isinstance(node, dict) and ("shortcode" in node or "code" in node):
        return "Post"
    return None


def _get(d: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _count(value: Any) -> int | None:
    """A count from the node; negative (instaloader's -1 for hidden) or missing -> None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def caption_of(node: dict[str, Any]) -> str | None:
    edges = _get(node, "edge_media_to_caption", "edges")
    if edges:
        return _get(edges[0], "node", "text")
    caption = node.get("caption")
    if isinstance(caption, dict):
        return caption.get("text")
    return caption if isinstance(caption, str) else None


def hashtags(caption: str | None) -> list[str]:
    """Lower-case hashtags of a caption, in order, without repeats."""
    return list(dict.fromkeys(t.lower() for t in _HASHTAG_RE.findall(caption or "")))


def mentions(caption: str | None) -> list[str]:
    """Lower-case mentioned user names of a caption, in order, without repeats."""
    return list(dict.fromkeys(m.lower().rstrip(".") for m in _MENTION_RE.findall(caption or "")))


def sidecar_children(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The slides of a sidecar (empty for other posts); instaloader saves one .jpg per slide."""
    edges = _get(node, "edge_sidecar_to_children", "edges")
    if edges:
        return [e.get("node", e) for e in edges]
    return list(node.get("carousel_media") or [])


def media_type_of(node: dict[str, Any]) -> str:
    typename = node.get("__typename")
    if typename in _TYPENAMES:
        return _TYPENAMES[typename]
    if node.get("media_type") in _MEDIA_TYPES:
        return _MEDIA_TYPES[node["media_type"]]
    if node.get("edge_sidecar_to_children") or node.get("carousel_media"):
        return "sidecar"
    return "video" if node.get("is_video") else "image"


def taken_at_of(node: dict[str, Any]) -> datetime | None:
    stamp = _first(node.get("taken_at_timestamp"), node.get("taken_at"), node.get("date"))
    if stamp is None or isinstance(stamp, bool):
        return None
    try:
        return datetime.fromtimestamp(float(stamp), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def likes_of(node: dict[str, Any]) -> int | None:
    iphone = node.get("iphone_struct") or {}
    # Hidden like counts: -1 in the saved node, or the owner's "hide likes" switch, under which
    # newer instaloader versions store 0 (``like_count or 0``): both are unknown, not zero.
    if node.get("like_and_view_counts_disabled") or iphone.get("like_and_view_counts_disabled"):
        return None
    return _count(_first(
        _get(node, "edge_media_preview_like", "count"),
        _get(node, "edge_liked_by", "count"),
        node.get("like_count"),
        iphone.get("like_count"),
    ))


def comments_of(node: dict[str, Any]) -> int | None:
    if node.get("comments_disabled") is True and _get(node, "edge_media_to_comment", "count") is None:
        return None
    return _count(_first(
        _get(node, "edge_media_to_comment", "count"),
        _get(node, "edge_media_to_parent_comment", "count"),
        node.get("comment_count"),
        node.get("comments") if not isinstance(node.get("comments"), list) else None,
        _get(node, "iphone_struct", "comment_count"),
    ))


def followers_of(node: dict[str, Any]) -> int | None:
    """The owner's follower count when the saved node carries it (instaloader's owner node)."""
    owner = node.get("owner") or node.get("user") or {}
    return _count(_first(_get(owner, "edge_followed_by", "count"), owner.get("follower_count")))


def profile_followers(data: dict[str, Any]) -> int | None:
    """Followers of a saved Profile structure (``USERNAME_ID.json.xz``)."""
    node = data.get("node", data)
    return _count(_first(_get(node, "edge_followed_by", "count"), node.get("follower_count")))


def is_pinned_of(node: dict[str, Any]) -> bool | None:
    """Pinned to the profile grid; None when the node does not say (older instaloader files)."""
    keys = ("pinned_for_users", "timeline_pinned_user_ids")
    present = [node[k] for k in keys if k in node]
    if not present:
        return None
    return any(bool(v) for v in present)


def is_sponsored_of(node: dict[str, Any]) -> bool | None:
    sponsors = _get(node, "edge_media_to_sponsor_user", "edges")
    paid = _first(node.get("is_paid_partnership"), _get(node, "iphone_struct", "is_paid_partnership"))
    if sponsors is None and paid is None:
        return None
    return bool(sponsors) or bool(paid)


def location_of(node: dict[str, Any]) -> str | None:
    location = node.get("location")
    if isinstance(location, dict):
        return location.get("name") or None
    return None


def owner_username(node: dict[str, Any]) -> str | None:
    owner = node.get("owner") or node.get("user") or {}
    return owner.get("username") or None


def node_to_row(node: dict[str, Any]) -> dict[str, Any]:
    """The posts-table fields that the saved node itself holds (no media paths, no account)."""
    caption = caption_of(node)
    media_type = media_type_of(node)
    views = _first(node.get("video_view_count"), node.get("view_count"), node.get("play_count"))
    post_id = _first(node.get("id"), node.get("pk"))
    return {
        "post_id": None if post_id is None else str(post_id).split("_")[0],
        "shortcode": _first(node.get("shortcode"), node.get("code")),
        "taken_at": taken_at_of(node),
        "likes": likes_of(node),
        "comments": comments_of(node),
        "views": _count(views) if media_type == "video" else None,
        "caption": caption,
        "accessibility_caption": node.get("accessibility_caption") or None,
        "hashtags": hashtags(caption),
        "mentions": mentions(caption),
        "media_type": media_type,
        "followers": followers_of(node),
        "location": location_of(node),
        "is_sponsored": is_sponsored_of(node),
        "is_pinned": is_pinned_of(node),
    }
