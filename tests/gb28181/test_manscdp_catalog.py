"""Multi-message lists: a device splits its catalog (and recordings) into datagram-sized answers; the platform
collects them back, whatever order, duplication or SumNum confusion the network and firmware add."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from tianyan.gb28181.manscdp import message
from tianyan.gb28181.manscdp.catalog import CatalogCollector, CatalogItem, CatalogResponse, split_catalog
from tianyan.gb28181.manscdp.multi_response import DEFAULT_MAX_BODY_BYTES
from tianyan.gb28181.manscdp.record_info import RecordInfoCollector, RecordInfoResponse, RecordItem, split_records
from tianyan.gb28181.manscdp.xml import ManscdpError

NVR = "34020000001110000001"


def channels(count: int) -> list[CatalogItem]:
    return [
        CatalogItem(
            device_id=f"3402000000132{n:07d}",
            name=f"惠城区{n}号路口球机",
            manufacturer="Hikvision",
            model="DS-2DE4425IW-DE",
            owner="惠州市公安局",
            civil_code="441302",
            address=f"江北街道{n}号",
            parental=0,
            parent_id=NVR,
            register_way=1,
            secrecy=0,
            status="ON" if n % 7 else "OFF",
            longitude=114.0 + n / 100_000,
            latitude=23.0 + n / 100_000,
            ptz_type=1 + n % 3,
        )
        for n in range(count)
    ]


@pytest.mark.parametrize("count", [500, 2000])
@pytest.mark.parametrize("charset", ["GB2312", "UTF-8"])
def test_split_shuffle_duplicate_collect(count: int, charset: str) -> None:
    items = channels(count)
    bodies = [m.build(charset=charset) for m in split_catalog(NVR, 4711, items, charset=charset)]
    assert len(bodies) > 1
    assert all(len(b) <= DEFAULT_MAX_BODY_BYTES for b in bodies)
    rng = random.Random(count)
    wire = bodies + rng.sample(bodies, len(bodies) // 3)  # retransmissions
    rng.shuffle(wire)
    collector = CatalogCollector()
    collector.expect(NVR, 4711, deadline_s=30.0)
    finished = [done for b in wire if (done := collector.feed(message.parse(b), now_s=1.0))]  # type: ignore[arg-type]
    assert len(finished) == 1
    (result,) = finished
    assert result.complete and result.problem is None and result.sum_num == count
    assert sorted(result.items, key=lambda i: i.device_id) == items
    assert collector.pending == 0
    assert collector.expire(now_s=100.0) == []


def test_every_message_repeats_sn_and_sum_num_and_items_are_not_lost() -> None:
    items = channels(120)
    messages = split_catalog(NVR, 9, items, items_per_message=8)
    assert {(m.sn, m.sum_num, m.device_id) for m in messages} == {(9, 120, NVR)}
    assert [len(m.items) for m in messages] == [8] * 15
    assert [i for m in messages for i in m.items] == items


def test_size_limit_governs_and_an_oversized_item_goes_alone() -> None:
    items = channels(30)
    giant = CatalogItem("34020000001329999999", name="长" * 3000)
    messages = split_catalog(NVR, 1, [*items[:10], giant, *items[10:]], max_body_bytes=2000)
    sizes = [len(m.build()) for m in messages]
    alone = [m for m in messages if giant in m.items]
    assert len(alone) == 1 and alone[0].items == (giant,)
    assert all(size <= 2000 for m, size in zip(messages, sizes, strict=True) if m is not alone[0])


def test_empty_catalog_is_one_message_and_completes_at_once() -> None:
    (only,) = split_catalog(NVR, 2, [])
    assert only == CatalogResponse(2, NVR, 0, ())
    done = CatalogCollector().feed(CatalogResponse.parse(only.build()), now_s=0.0)
    assert done is not None and done.complete and done.items == ()


def test_incomplete_is_reported_after_the_deadline_given_by_the_caller() -> None:
    messages = split_catalog(NVR, 3, channels(50), items_per_message=10)
    collector = CatalogCollector()
    collector.expect(NVR, 3, deadline_s=10.0)
    for m in messages[:-1]:
        assert collector.feed(m, now_s=1.0) is None
    assert collector.expire(now_s=9.9) == []
    (gave_up,) = collector.expire(now_s=10.0)
    assert not gave_up.complete and len(gave_up.items) == 40 and gave_up.sum_num == 50
    assert gave_up.problem == "deadline passed with 40 of 50 items"
    assert collector.feed(messages[-1], now_s=11.0) is None  # too late: the list is closed
    assert collector.pending == 0


def test_a_query_never_answered_expires_too() -> None:
    collector = CatalogCollector()
    collector.expect(NVR, 77, deadline_s=5.0)
    (gave_up,) = collector.expire(now_s=6.0)
    assert (gave_up.sn, gave_up.sum_num, gave_up.items, gave_up.complete) == (77, None, (), False)
    assert gave_up.problem == "deadline passed with 0 of ? items"


def test_unsolicited_lists_use_the_window() -> None:
    collector = CatalogCollector(window_s=20.0)
    collector.feed(CatalogResponse(5, NVR, 2, channels(1)), now_s=100.0)
    assert collector.expire(now_s=119.0) == []
    assert len(collector.expire(now_s=120.0)) == 1


def test_duplicates_by_device_id_are_merged_latest_wins() -> None:
    first, second = channels(2)
    renamed = CatalogItem(first.device_id, name="改名后")
    collector = CatalogCollector()
    assert collector.feed(CatalogResponse(1, NVR, 2, (first, first)), now_s=0) is None
    done = collector.feed(CatalogResponse(1, NVR, 2, (renamed, second)), now_s=0)
    assert done is not None and done.complete and done.items == (renamed, second)


def test_sum_num_that_changes_half_way_is_waited_for_at_its_largest() -> None:
    items = channels(6)
    collector = CatalogCollector()
    assert collector.feed(CatalogResponse(1, NVR, 5, tuple(items[:3])), now_s=0) is None
    assert collector.feed(CatalogResponse(1, NVR, 6, tuple(items[3:5])), now_s=0) is None  # a channel came online
    done = collector.feed(CatalogResponse(1, NVR, 5, tuple(items[5:])), now_s=0)
    assert done is not None and done.complete and done.sum_num == 6 and len(done.items) == 6
    assert done.problem == "SumNum changed between messages: [5, 6]"


def test_item_count_is_bounded() -> None:
    collector = CatalogCollector(max_items=100)
    messages = split_catalog(NVR, 8, channels(300), items_per_message=40)
    results = [r for m in messages if (r := collector.feed(m, now_s=0))]
    (stopped,) = results
    assert not stopped.complete and len(stopped.items) == 100
    assert stopped.problem == "more than 100 items; kept the first 100"
    assert collector.pending == 0


def test_a_lying_sum_num_cannot_make_the_collector_grow() -> None:
    collector = CatalogCollector(max_items=10)
    collector.feed(CatalogResponse(1, NVR, 10_000_000, tuple(channels(5))), now_s=0)
    assert collector.feed(CatalogResponse(1, NVR, 10_000_000, tuple(channels(20)[5:])), now_s=0) is not None


def test_pending_lists_are_bounded_and_the_oldest_is_given_up() -> None:
    collector = CatalogCollector(max_pending=3)
    for sn in range(5):
        collector.feed(CatalogResponse(sn, NVR, 2, tuple(channels(1))), now_s=float(sn))
    assert collector.pending == 3
    gone = collector.expire(now_s=0.0)
    assert [(g.sn, g.problem) for g in gone] == [(0, "given up: too many lists in progress"),
                                                 (1, "given up: too many lists in progress")]  # fmt: skip


def test_lists_are_kept_apart_by_device_and_sn() -> None:
    a, b = channels(2)
    collector = CatalogCollector()
    assert collector.feed(CatalogResponse(1, NVR, 2, (a,)), now_s=0) is None
    assert collector.feed(CatalogResponse(2, NVR, 2, (b,)), now_s=0) is None
    assert collector.feed(CatalogResponse(1, "34020000001110000002", 2, (b,)), now_s=0) is None
    done = collector.feed(CatalogResponse(1, NVR, 2, (b,)), now_s=0)
    assert done is not None and done.items == (a, b)
    assert collector.pending == 2


def test_split_rejects_nonsense_chunking() -> None:
    with pytest.raises(ManscdpError, match="at least 1"):
        split_catalog(NVR, 1, channels(2), items_per_message=0)


def test_record_info_shares_the_split_and_the_collector() -> None:
    start = datetime(2026, 11, 21)
    records = [
        RecordItem(
            "34020000001320000001", start + timedelta(minutes=30 * n), start + timedelta(minutes=30 * (n + 1)),
            name="北京路", file_path=f"/rec/{n}.mp4", type="time", file_size=n * 1000,
        )
        for n in range(300)
    ]  # fmt: skip
    messages = split_records("34020000001320000001", 55, records, name="北京路")
    assert len(messages) > 1 and all(len(m.build()) <= DEFAULT_MAX_BODY_BYTES for m in messages)
    wire = [m.build() for m in messages] * 2
    random.Random(3).shuffle(wire)
    collector = RecordInfoCollector()
    collector.expect("34020000001320000001", 55, deadline_s=60.0)
    results = [r for b in wire if (r := collector.feed(RecordInfoResponse.parse(b), now_s=1.0))]
    (done,) = results
    assert done.complete and sorted(done.items, key=lambda r: r.start_time) == records
