"""Lists that span several messages (Catalog, RecordInfo): split one list into bodies, collect bodies into a list.

A device answers a long list as several Response messages sharing SN and SumNum, each small enough for a UDP
datagram; they arrive out of order, duplicated by retransmission, sometimes with SumNum changing half-way.
`split` is what the device side (our simulator) does; `ResponseCollector` is what the platform does. Both are
pure: the collector has no clock, the caller passes `now_s` (any monotonic seconds) and deadlines.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Final, Generic, Protocol, TypeVar

from tianyan.gb28181.manscdp.xml import ManscdpError, Node, encode_fragment

# A body plus ~1 KiB of SIP headers stays within an 8 KiB datagram.
DEFAULT_MAX_BODY_BYTES: Final = 7 * 1024
DEFAULT_MAX_ITEMS: Final = 100_000
DEFAULT_WINDOW_S: Final = 30.0
DEFAULT_MAX_PENDING: Final = 10_000
_FINISHED_MEMORY: Final = 4096

T = TypeVar("T")  # the item type of a list


class ListItem(Protocol):
    def to_node(self) -> Node: ...


class Buildable(Protocol):
    def build(self, *, charset: str = ...) -> bytes: ...


class ListBody(Protocol[T]):
    """What split produces and the collector consumes: one message of a multi-message list."""

    @property
    def sn(self) -> int | None: ...
    @property
    def device_id(self) -> str: ...
    @property
    def sum_num(self) -> int: ...
    @property
    def items(self) -> tuple[T, ...]: ...
    def build(self, *, charset: str = ...) -> bytes: ...


L = TypeVar("L", bound=ListItem)
B = TypeVar("B", bound=Buildable)


def split(
    items: Sequence[L],
    make: Callable[[tuple[L, ...]], B],
    *,
    items_per_message: int | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    charset: str = "GB2312",
) -> list[B]:
    """Cut `items` into messages built by `make(chunk)`, each at most `items_per_message` items and
    `max_body_bytes` bytes when built in `charset`; an item too large to fit alone still goes, alone.

    An empty list gives one message with no items, which is how a device with no channels answers.
    """
    if items_per_message is not None and items_per_message < 1:
        raise ManscdpError("items_per_message must be at least 1")
    # The empty message's size plus the list's own line break and the widest Num="…" it can get.
    overhead = len(make(()).build(charset=charset)) + 2 + len(str(len(items)))
    chunks: list[list[L]] = [[]]
    size = overhead
    for item in items:
        item_bytes = len(encode_fragment(item.to_node(), charset=charset))
        current = chunks[-1]
        full = items_per_message is not None and len(current) >= items_per_message
        if current and (full or size + item_bytes > max_body_bytes):
            chunks.append([])
            size = overhead
        chunks[-1].append(item)
        size += item_bytes
    return [make(tuple(chunk)) for chunk in chunks]


@dataclass(frozen=True)
class Collected(Generic[T]):
    """A finished collection: every item (complete) or what had arrived when it was given up on."""

    device_id: str
    sn: int | None
    sum_num: int | None
    items: tuple[T, ...]
    complete: bool
    problem: str | None = None


@dataclass
class _Pending(Generic[T]):
    deadline_s: float
    sum_num: int | None = None
    sum_nums: set[int] = field(default_factory=set)
    items: dict[Hashable, T] = field(default_factory=dict)
    truncated: bool = False


Key = tuple[str, int | None]


class ResponseCollector(Generic[T]):
    """Gathers the messages of multi-message lists by (device_id, SN) until SumNum distinct items arrived.

    - duplicates (same `item_key`) replace the earlier copy, so retransmissions and repeats are harmless;
    - a SumNum that changes between messages is waited for at its largest, and reported in `problem`;
    - at most `max_items` items are kept per list: beyond that the list is given up as incomplete;
    - `expect` registers a query with its deadline; unsolicited lists get `now_s + window_s`;
    - `expire(now_s)` hands back, as incomplete, every list whose deadline has passed;
    - a message for a list that already finished is ignored (a late retransmission must not start a new one).
    """

    def __init__(
        self,
        item_key: Callable[[T], Hashable],
        *,
        max_items: int = DEFAULT_MAX_ITEMS,
        window_s: float = DEFAULT_WINDOW_S,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        self._item_key = item_key
        self._max_items = max_items
        self._window_s = window_s
        self._max_pending = max_pending
        self._pending: dict[Key, _Pending[T]] = {}
        self._finished: OrderedDict[Key, None] = OrderedDict()
        self._evicted: list[Collected[T]] = []

    @property
    def pending(self) -> int:
        return len(self._pending)

    def expect(self, device_id: str, sn: int | None, *, deadline_s: float) -> None:
        """Start waiting for the answer to a query we sent (or move its deadline)."""
        key = (device_id, sn)
        self._finished.pop(key, None)
        if key in self._pending:
            self._pending[key].deadline_s = deadline_s
        else:
            self._admit(key, _Pending(deadline_s))

    def feed(self, response: ListBody[T], *, now_s: float) -> Collected[T] | None:
        """Add one message; the finished list when this message completes it, else None."""
        key = (response.device_id, response.sn)
        if key in self._finished:
            return None
        pending = self._pending.get(key)
        if pending is None:
            pending = _Pending(now_s + self._window_s)
            self._admit(key, pending)
        pending.sum_nums.add(response.sum_num)
        pending.sum_num = max(pending.sum_nums)
        for item in response.items:
            item_id = self._item_key(item)
            if item_id not in pending.items and len(pending.items) >= self._max_items:
                pending.truncated = True
                break
            pending.items[item_id] = item
        if pending.truncated:
            return self._finish(key, f"more than {self._max_items} items; kept the first {self._max_items}")
        if len(pending.items) >= pending.sum_num:
            return self._finish(key, None)
        return None

    def expire(self, *, now_s: float) -> list[Collected[T]]:
        """Give up on every list whose deadline has passed; each comes back incomplete with what it has."""
        gone, self._evicted = self._evicted, []
        for key in [k for k, p in self._pending.items() if p.deadline_s <= now_s]:
            pending = self._pending[key]
            wanted = "?" if pending.sum_num is None else pending.sum_num
            gone.append(self._finish(key, f"deadline passed with {len(pending.items)} of {wanted} items"))
        return gone

    def _admit(self, key: Key, pending: _Pending[T]) -> None:
        if len(self._pending) >= self._max_pending:
            # Bound memory under a flood of SNs: the list nearest its deadline is given up first.
            oldest = min(self._pending, key=lambda k: self._pending[k].deadline_s)
            self._evicted.append(self._finish(oldest, "given up: too many lists in progress"))
        self._pending[key] = pending

    def _finish(self, key: Key, problem: str | None) -> Collected[T]:
        pending = self._pending.pop(key)
        self._finished[key] = None
        while len(self._finished) > _FINISHED_MEMORY:
            self._finished.popitem(last=False)
        complete = problem is None
        if len(pending.sum_nums) > 1:
            changed = f"SumNum changed between messages: {sorted(pending.sum_nums)}"
            problem = changed if problem is None else f"{problem}; {changed}"
        return Collected(
            device_id=key[0],
            sn=key[1],
            sum_num=pending.sum_num,
            items=tuple(pending.items.values()),
            complete=complete,
            problem=problem,
        )
