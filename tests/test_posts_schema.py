import pandas as pd
import pytest

from rumaro_lab.errors import MissingInputError, RumaroError
from rumaro_lab.posts.schema import POSTS_COLUMNS, coerce_posts, read_posts, write_posts


def test_roundtrip_keeps_contract_types(tmp_path):
    df = pd.DataFrame(
        {
            "account": ["a", "a"],
            "post_id": ["1", "2"],
            "taken_at": ["2021-06-01T12:00:00Z", "2021-06-02 08:00:00+02:00"],
            "likes": [10, -1],
            "hashtags": [["space"], None],
            "media_type": ["image", "sidecar"],
        }
    )
    path = write_posts(df, tmp_path / "posts.parquet")
    back = read_posts(path)
    assert tuple(back.columns[: len(POSTS_COLUMNS)]) == POSTS_COLUMNS
    assert str(back["likes"].dtype) == "Int64" and back["likes"].isna().tolist() == [False, True]
    assert str(back["taken_at"].dtype) == "datetime64[ns, UTC]"
    assert back["taken_at"][1] == pd.Timestamp("2021-06-02 06:00:00", tz="UTC")
    assert back["hashtags"].tolist() == [["space"], []]
    assert not list(tmp_path.glob("*.tmp"))


def test_unknown_media_type_is_refused():
    with pytest.raises(RumaroError, match="media_type"):
        coerce_posts(pd.DataFrame({"media_type": ["reel"]}))


def test_missing_table_says_what_to_do(tmp_path):
    with pytest.raises(MissingInputError, match="rumaro import"):
        read_posts(tmp_path / "nope.parquet")
