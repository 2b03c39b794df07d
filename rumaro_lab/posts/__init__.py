"""Acquisition: fetch with instaloader, import instaloader folders and tables, the posts schema.

`import_path` / `import_sample` (no network) and `rumaro_lab.posts.fetch.fetch_account`
(instaloader; imported lazily because it pulls in instaloader) write
data/interim/ACCOUNT/posts.parquet. See docs/posts.md.
"""

from .importing import ImportSummary, import_path, import_sample
from .schema import POSTS_COLUMNS, POSTS_SCHEMA, coerce_posts, read_posts, write_posts

__all__ = [
    "POSTS_COLUMNS",
    "POSTS_SCHEMA",
    "ImportSummary",
    "coerce_posts",
    "import_path",
    "import_sample",
    "read_posts",
    "write_posts",
]
