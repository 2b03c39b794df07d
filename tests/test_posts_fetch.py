"""`fetch_account` against recorded Instagram exchanges: no test reaches the network.

The exchanges are shaped on real ones:
- the post items (``xdt_api__v1__media__shortcode__web_info.items[0]``) ARE the real ``iphone_struct``
  media items that instaloader saved for @spacex in ../shared/data/spacex_instaloader (same keys
  and values: pk, code, taken_at, media_type, like_count, comment_count, caption, user,
  image_versions2, carousel_media), with only the CDN URLs shortened;
- the profile page embeds its data the way www.instagram.com does and instaloader 4.16 parses it
  (``<script type="application/json">`` with ``__bbox.result.data.xig_user_by_username`` and its
  ``polaris_ordered_timeline_connection``); the start page carries the LSD token the web app sends;
- the images served are the real downloaded jpgs. The follower count is a fixture value.

`responses` answers every HTTP request; any unregistered URL raises, and a socket guard makes
sure nothing else could connect.
"""

from __future__ import annotations

import json
import lzma
import socket
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
import responses

from rumaro_lab.errors import AccountNotFound, MissingInputError
from rumaro_lab.posts.fetch import fetch_account, make_loader
from rumaro_lab.posts.schema import read_posts

WWW = "https://www.instagram.com"
CDN = "https://instagram.fath2-1.fna.fbcdn.net/v/t51.2885-15/e35"
FOLLOWERS = 12_500_000  # fixture value (the real files don't record followers)
# spacex posts saved by instaloader 4.7.5: three single images and the 2-image sidecar
OLD = ["2021-08-31_23-14-07_UTC", "2021-07-20_00-59-46_UTC", "2021-06-21_17-24-03_UTC"]
NEW = "2021-09-15_23-10-17_UTC"


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def spacex(shared_data):
    """Real items and image bytes of the spacex posts, keyed by file base name."""
    folder = shared_data / "spacex_instaloader" / "spacex"
    posts = {}
    for base in [*OLD, NEW]:
        with lzma.open(folder / f"{base}.json.xz", "rt") as handle:
            item = json.load(handle)["node"]["iphone_struct"]
        images = sorted(folder.glob(f"{base}*.jpg"))
        urls = []
        for i, media in enumerate(item.get("carousel_media") or [item], start=1):
            url = f"{CDN}/{item['code']}_{i}_n.jpg"
            media["image_versions2"]["candidates"][0]["url"] = url
            urls.append(url)
        posts[base] = {"item": item, "urls": urls, "images": [p.read_bytes() for p in images]}
    return posts


def _page(data: dict) -> str:
    payload = {"require": [["ScheduledServerJS", "handle", None, [{"__bbox": {"require": [[
        "RelayPrefetchedStreamCache", "next", [],
        ["adp_PolarisProfilePageContentQueryRelayPreloader_1",
         {"__bbox": {"complete": True, "result": {"data": data, "extensions": {"is_final": True}}}}],
    ]]}}]]]}
    return (f'<!DOCTYPE html><html><head><script type="application/json" data-sjs>{json.dumps(payload)}'
            "</script></head><body></body></html>")


def _profile_data(codes: list[str]) -> dict:
    return {"xig_user_by_username": {
        "pk": "20311520", "id": "17841400000000000", "username": "spacex", "full_name": "SpaceX",
        "is_private": False, "is_verified": True, "follower_count": FOLLOWERS, "following_count": 0,
        "all_media_count": len(codes), "profile_pic_url": f"{CDN}/profile.jpg",
        "polaris_ordered_timeline_connection": {
            "edges": [{"node": {"code": c, "__typename": "XDTMediaDict"}} for c in codes],
            "page_info": {"has_next_page": False, "end_cursor": None},
        },
    }}


class Instagram:
    """A recorded Instagram: the profile shows `shown` posts (newest first); optional failures."""

    def __init__(self, rsps, spacex, shown, fail_graphql_after=None, status=429):
        self.items = {spacex[b]["item"]["code"]: spacex[b]["item"] for b in shown}
        self.graphql_calls = 0
        rsps.add(responses.GET, f"{WWW}/spacex/", body=_page(_profile_data(list(self.items))),
                 content_type="text/html")
        rsps.add(responses.GET, f"{WWW}/", content_type="text/html",
                 body='<html><script>["LSD",[],{"token":"AVqLsdToken"},323],"IG_USER_EIMU":"0"</script></html>')
        rsps.add_callback(responses.POST, f"{WWW}/api/graphql", callback=self._graphql)
        for base in shown:
            for url, data in zip(spacex[base]["urls"], spacex[base]["images"], strict=True):
                rsps.add(responses.GET, url, body=data, content_type="image/jpeg")
        self.fail_after, self.status = fail_graphql_after, status

    def _graphql(self, request):
        form = urllib.parse.parse_qs(request.body)
        assert form["lsd"] == ["AVqLsdToken"]  # the web app's token from the start page
        self.graphql_calls += 1
        if self.fail_after is not None and self.graphql_calls > self.fail_after:
            return self.status, {"Content-Type": "application/json"}, json.dumps(
                {"message": "Please wait a few minutes before you try again.", "status": "fail"})
        code = json.loads(form["variables"][0])["shortcode"]
        body = {"data": {"xdt_api__v1__media__shortcode__web_info": {"items": [self.items[code]]}},
                "extensions": {"is_final": True}}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)


def _cdn_gets(rsps, url):
    return sum(1 for call in rsps.calls if call.request.url == url)


def test_fetch_downloads_in_instaloader_layout_then_resumes_with_only_new_posts(settings, spacex):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        Instagram(rsps, spacex, OLD)
        first = fetch_account("spacex", settings, sleep=False)
    raw = settings.raw_dir("spacex")
    assert not first.stopped and first.n_new == 3
    for base in OLD:
        assert (raw / f"{base}.jpg").is_file() and (raw / f"{base}.json.xz").is_file()
        assert (raw / f"{base}.jpg").read_bytes() == spacex[base]["images"][0]
    assert list(raw.glob("spacex_20311520.json.xz")), "the profile metadata is saved as instaloader names it"
    posts = read_posts(settings.posts_path("spacex"))
    assert len(posts) == 3 and first.imported.n_posts == 3
    row = posts.set_index("shortcode").loc["CTQb9apFWBX"]
    assert (row["likes"], row["comments"]) == (292245, 707)  # the real item's like/comment counts
    assert row["taken_at"] == datetime(2021, 8, 31, 23, 14, 7, tzinfo=UTC)
    assert (posts["followers"] == FOLLOWERS).all()  # from the saved profile

    # Second run: one new post (a sidecar) on top of the three already downloaded.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        Instagram(rsps, spacex, [NEW, *OLD])
        second = fetch_account("spacex", settings, sleep=False)
        assert all(_cdn_gets(rsps, spacex[b]["urls"][0]) == 0 for b in OLD), "old images fetched again"
        assert all(_cdn_gets(rsps, u) == 1 for u in spacex[NEW]["urls"])
    assert second.n_new == 1 and not second.stopped
    assert (raw / f"{NEW}_1.jpg").is_file() and (raw / f"{NEW}_2.jpg").is_file()
    posts = read_posts(settings.posts_path("spacex"))
    assert len(posts) == 4
    sidecar = posts.set_index("shortcode").loc["CT3DcbYFmHS"]
    assert sidecar["media_type"] == "sidecar" and len(sidecar["media"]) == 2
    assert sidecar["likes"] == 428433


def test_fetch_respects_max_posts(settings, spacex):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        Instagram(rsps, spacex, OLD)
        summary = fetch_account("spacex", settings, max_posts=2, sleep=False)
    assert summary.n_new == 2
    assert len(read_posts(settings.posts_path("spacex"))) == 2


def test_fetch_since_skips_older_posts(settings, spacex):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        Instagram(rsps, spacex, OLD)
        summary = fetch_account("spacex", settings, since="2021-07-01", sleep=False)
    posts = read_posts(settings.posts_path("spacex"))
    assert summary.n_new == 2
    assert (posts["taken_at"] >= datetime(2021, 7, 1, tzinfo=UTC)).all()


@pytest.mark.parametrize("status", [429, 401, 403])
def test_refusal_mid_run_stops_cleanly_keeps_downloads_and_says_when_to_retry(settings, spacex, status):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = Instagram(rsps, spacex, OLD, fail_graphql_after=1, status=status)
        summary = fetch_account("spacex", settings, sleep=False)
    assert fake.graphql_calls == 2, "it must stop at the first refusal, not go on hammering"
    assert summary.stopped and summary.status == status
    assert str(status) in summary.reason
    expected_wait = timedelta(minutes=30) if status == 429 else timedelta(hours=12)
    assert summary.retry_after - datetime.now(UTC) == pytest.approx(expected_wait, abs=timedelta(minutes=1))
    assert "retry after" in str(summary)
    # the post downloaded before the refusal is kept and normalised
    assert summary.n_new == 1
    posts = read_posts(settings.posts_path("spacex"))
    assert list(posts["shortcode"]) == ["CTQb9apFWBX"]


def test_refused_profile_page_stops_before_anything_is_written(settings, spacex):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, f"{WWW}/spacex/", status=429, body="Too Many Requests")
        summary = fetch_account("spacex", settings, sleep=False)
    assert summary.stopped and summary.status == 429 and summary.n_new == 0
    assert summary.imported is None
    assert not settings.posts_path("spacex").exists()


def test_unknown_account_is_an_actionable_error(settings):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, f"{WWW}/nosuchaccount/", status=404, body="")
        with pytest.raises(AccountNotFound) as info:
            fetch_account("nosuchaccount", settings, sleep=False)
    assert info.value.hint


def test_login_only_through_a_session_file(settings, tmp_path):
    import instaloader

    saver = instaloader.Instaloader(quiet=True)
    saver.context._session.cookies.set("sessionid", "s3cr3t-session", domain=".instagram.com")
    saver.context._session.cookies.set("csrftoken", "tok", domain=".instagram.com")
    saver.context.username = "researcher"  # what `instaloader --login researcher` leaves behind
    path = tmp_path / "session-researcher"
    saver.save_session_to_file(str(path))

    loader = make_loader(settings, tmp_path / "raw", session_file=path, sleep=False)
    assert loader.context.is_logged_in and loader.context.username == "researcher"
    assert loader.context._session.cookies.get("sessionid") == "s3cr3t-session"
    with pytest.raises(MissingInputError):
        make_loader(settings, tmp_path / "raw", session_file=tmp_path / "absent")
    import inspect

    assert not any("pass" in p for p in inspect.signature(fetch_account).parameters)


def test_invalid_account_is_refused_before_any_request(settings):
    from rumaro_lab.errors import InvalidAccountName

    with responses.RequestsMock() as rsps, pytest.raises(InvalidAccountName):
        fetch_account("../etc", settings, sleep=False)
    assert len(rsps.calls) == 0


def test_cli_fetch_reports_the_stop_and_exits_3(settings, capsys, monkeypatch):
    import instaloader

    from rumaro_lab.cli import main

    # the CLI keeps instaloader's polite random pauses; a test need not wait for them
    monkeypatch.setattr(instaloader.InstaloaderContext, "do_sleep", lambda self: None)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, f"{WWW}/spacex/", status=429, body="Too Many Requests")
        code = main(["--data-dir", str(settings.data_dir), "fetch", "spacex"])
    out = capsys.readouterr().out
    assert code == 3
    assert "stopped early" in out and "429" in out and "retry after" in out


def test_a_run_stopped_by_429_resumes_where_it_stopped(settings, spacex):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        Instagram(rsps, spacex, OLD, fail_graphql_after=1)
        first = fetch_account("spacex", settings, sleep=False)
    assert first.stopped and first.n_new == 1
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        Instagram(rsps, spacex, OLD)
        second = fetch_account("spacex", settings, sleep=False)
        assert _cdn_gets(rsps, spacex[OLD[0]]["urls"][0]) == 0, "the post kept from the first run was fetched again"
    assert not second.stopped and second.n_new == 2
    posts = read_posts(settings.posts_path("spacex"))
    assert sorted(posts["shortcode"]) == sorted(spacex[b]["item"]["code"] for b in OLD)


def test_update_all_reaches_older_posts_and_refreshes_counts(settings, spacex):
    import copy

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        Instagram(rsps, spacex, OLD)
        assert fetch_account("spacex", settings, max_posts=1, sleep=False).n_new == 1
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        Instagram(rsps, spacex, OLD)
        assert fetch_account("spacex", settings, sleep=False).n_new == 0  # resumes: nothing newer
    later = copy.deepcopy(spacex)
    later[OLD[0]]["item"]["like_count"] = 300_001  # the newest post gained likes since
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        Instagram(rsps, later, OLD)
        summary = fetch_account("spacex", settings, sleep=False, update_all=True)
        assert _cdn_gets(rsps, spacex[OLD[0]]["urls"][0]) == 0, "an image on disk was downloaded again"
    assert summary.n_new == 2
    posts = read_posts(settings.posts_path("spacex")).set_index("shortcode")
    assert len(posts) == 3 and posts.loc["CTQb9apFWBX", "likes"] == 300_001
