"""Hostile tables (exports of other platforms), made in code: BOM, ';' separators, quoted
newlines, Excel serial dates, date-only dates, duplicate ids, a missing required column, bytes
that are not UTF-8. Each problem is reported by row with a reason; every other row imports."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hostile import distinct_images

from rumaro_lab.cli import main
from rumaro_lab.errors import UnimportablePath
from rumaro_lab.posts.importing import import_path
from rumaro_lab.posts.schema import read_posts


@pytest.fixture()
def images(tmp_path):
    return distinct_images(tmp_path / "images", 6)


def _import(settings, path, **kw):
    summary = import_path(path, settings, account=kw.pop("account", "tables"), **kw)
    return summary, read_posts(summary.path).set_index("post_id")


def test_bom_and_semicolons_and_quoted_newlines(settings, tmp_path, images):
    text = (
        "post_id;taken_at;media;caption;likes\n"
        f'a1;2024-03-05T10:00:00Z;images/{images[0].name};"first line\nsecond, with a comma #Tag";5\n'
        f'a2;2024-03-06T10:00:00Z;images/{images[1].name};plain;7\n'
        f'a3;not a date;images/{images[2].name};bad date;1\n'
    )
    table = tmp_path / "export.csv"
    table.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    summary, posts = _import(settings, table)
    assert summary.n_posts == 2
    assert posts.loc["a1", "caption"] == "first line\nsecond, with a comma #Tag"
    assert posts.loc["a1", "hashtags"] == ["tag"] and posts.loc["a2", "likes"] == 7
    # row numbers count records as a spreadsheet shows them (header = row 1), newlines or not
    assert summary.skipped == [("export.csv row 4 (a3)", summary.skipped[0][1])]
    assert "'not a date'" in summary.skipped[0][1] and "ISO 8601" in summary.skipped[0][1]


def test_excel_serial_date_only_iso_and_unix_dates(settings, tmp_path, images):
    table = tmp_path / "dates.csv"
    pd.DataFrame({
        "id": ["excel", "day", "iso", "unix", "millis"],
        "timestamp": ["45356.5", "2024-03-05", "2024-03-05T14:30:00+02:00", "1709640000", "1709640000000"],
        "image": [f"images/{p.name}" for p in images[:5]],
    }).to_csv(table, index=False)
    _, posts = _import(settings, table)
    taken = posts["taken_at"]
    assert taken["excel"] == pd.Timestamp("2024-03-05 12:00", tz="UTC")
    assert taken["day"] == pd.Timestamp("2024-03-05 00:00", tz="UTC")
    assert taken["iso"] == pd.Timestamp("2024-03-05 12:30", tz="UTC")
    assert taken["unix"] == taken["millis"] == pd.Timestamp("2024-03-05 12:00", tz="UTC")
    assert str(taken.dtype) == "datetime64[ns, UTC]"


def test_duplicate_ids_keep_the_complete_row_and_name_both(settings, tmp_path, images):
    table = tmp_path / "dups.csv"
    pd.DataFrame({
        "post_id": ["p1", "p2", "p1", "p2"],
        "taken_at": ["2024-03-05"] * 4,
        "likes": [1, 2, 3, 4],
        "media": ["images/absent.png", f"images/{images[1].name}", f"images/{images[0].name}",
                  f"images/{images[2].name}"],
    }).to_csv(table, index=False)
    summary, posts = _import(settings, table)
    assert sorted(posts.index) == ["p1", "p2"] and summary.n_skipped == 0
    assert posts.loc["p1", "likes"] == 3  # the complete copy (row 4), though row 2 came first
    assert posts.loc["p2", "likes"] == 4  # both complete: the later row
    dups = dict(summary.duplicates)
    assert dups["dups.csv row 2 (p1)"].startswith("duplicate of dups.csv row 4 (p1)")
    assert "absent.png is missing" in dups["dups.csv row 2 (p1)"]
    assert dups["dups.csv row 3 (p2)"].startswith("duplicate of dups.csv row 5 (p2)")
    assert "duplicate of dups.csv row 4" in str(summary)


@pytest.mark.parametrize("drop", ["media", "taken_at", "post_id"])
def test_a_missing_required_column_is_named(settings, tmp_path, images, drop, capsys):
    columns = {"post_id": ["x"], "taken_at": ["2024-03-05"], "media": [f"images/{images[0].name}"]}
    del columns[drop]
    table = tmp_path / "short.csv"
    pd.DataFrame(columns).to_csv(table, index=False)
    with pytest.raises(UnimportablePath) as info:
        import_path(table, settings, account="tables")
    assert f"required column(s) {drop}" in str(info.value)
    code = main(["--data-dir", str(settings.data_dir), "import", str(table), "--account", "tables"])
    err = capsys.readouterr().err
    assert code == 1 and drop in err and "Traceback" not in err
    assert not settings.posts_path("tables").exists()


def test_bytes_that_are_not_utf8_are_read_as_cp1252_and_the_row_is_named(settings, tmp_path, images):
    rows = [
        "post_id,taken_at,media,caption",
        f"u1,2024-03-05,images/{images[0].name},caf\u00e9 in UTF-8",
    ]
    data = "\n".join(rows).encode("utf-8") + f"\nw1,2024-03-06,images/{images[1].name},".encode() + \
        "caf\u00e9 \u20ac5 in cp1252\n".encode("cp1252")
    table = tmp_path / "mixed.csv"
    table.write_bytes(data)
    summary, posts = _import(settings, table)
    assert posts.loc["u1", "caption"] == "caf\u00e9 in UTF-8"
    assert posts.loc["w1", "caption"] == "caf\u00e9 \u20ac5 in cp1252"
    assert [name for name, _ in summary.notes] == ["mixed.csv row 3 (w1)"]
    assert "not UTF-8" in str(summary)


def test_json_and_json_lines_tables_with_bad_bytes(settings, tmp_path, images):
    records = [{"shortcode": "J1", "taken_at": 1709640000, "images": [f"images/{images[0].name}"],
                "caption": "ol\u00e9"}]
    (tmp_path / "a.json").write_bytes(json.dumps({"posts": records}, ensure_ascii=False).encode("cp1252"))
    summary, posts = _import(settings, tmp_path / "a.json")
    assert posts.loc["J1", "caption"] == "ol\u00e9" and summary.notes
    lines = tmp_path / "b.jsonl"
    lines.write_text("\n".join(json.dumps({"id": f"L{i}", "date": "2024-03-05", "image": f"images/{p.name}"})
                               for i, p in enumerate(images[:3])) + "\n\n")
    summary, posts = _import(settings, lines, account="lines")
    assert summary.n_posts == 3 and len({m[0] for m in posts["media"]}) == 3
