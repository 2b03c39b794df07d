"""Acquisition: fetch with instaloader, import instaloader folders and tables, the posts schema."""

from .schema import POSTS_COLUMNS, POSTS_SCHEMA, coerce_posts, read_posts, write_posts

__all__ = ["POSTS_COLUMNS", "POSTS_SCHEMA", "coerce_posts", "read_posts", "write_posts"]
