"""Asking devices: a query goes out as a MESSAGE, its answer comes back later in MESSAGEs matched by SN.

A device first answers the query MESSAGE with 200 OK, then sends the Response body in separate MESSAGEs of
its own (a catalog or recording list in as many as it needs, each carrying SumNum). Single answers resolve a
future keyed by (ID, CmdType, SN); lists are gathered by the collectors until complete or out of time.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from tianyan.core.errors import UpstreamError, UpstreamTimeout
from tianyan.gb28181.bindings import Binding
from tianyan.gb28181.context import SipCore
from tianyan.gb28181.endpoint import SipTimeout
from tianyan.gb28181.manscdp.catalog import CatalogCollector, CatalogItem, CatalogQuery, CatalogResponse
from tianyan.gb28181.manscdp.envelope import Body, Envelope
from tianyan.gb28181.manscdp.message import body_of
from tianyan.gb28181.manscdp.multi_response import Collected
from tianyan.gb28181.manscdp.record_info import RecordInfoCollector, RecordInfoResponse, RecordItem

log = logging.getLogger(__name__)
MANSCDP = "Application/MANSCDP+xml"
B = TypeVar("B", bound=Body)


class QueryManager:
    def __init__(self, core: SipCore) -> None:
        self.core = core
        # Start somewhere random so a restarted platform does not reuse the SNs a device just answered.
        self._sn = itertools.count(secrets.randbelow(1_000_000) + 1)
        self.catalogs = CatalogCollector()
        self.records = RecordInfoCollector()
        self._single: dict[tuple[str, str, int], asyncio.Future[Body]] = {}
        self._lists: dict[tuple[str, str, int], asyncio.Future[Collected[Any]]] = {}
        self.unsolicited_catalog: Callable[[str, Collected[CatalogItem]], None] | None = None

    def next_sn(self) -> int:
        return next(self._sn) % 1_000_000_000 + 1

    async def send(self, binding: Binding, body: Body, *, target_id: str | None = None) -> None:
        """Send one MANSCDP request body and wait for the device's 200; errors say what the device did."""
        core = self.core
        request = core.factory.request("MESSAGE", binding, target_id=target_id, body=body.build(), content_type=MANSCDP)
        try:
            response = await core.endpoint.request(request, binding.peer)
        except SipTimeout as exc:
            raise UpstreamTimeout(f"device {binding.gb_id} did not answer ({exc})") from None
        if not 200 <= response.status < 300:
            raise UpstreamError(f"device {binding.gb_id} answered {response.status} {response.reason}")

    async def single(self, binding: Binding, body: Body, answer: type[B], *, answer_id: str | None = None) -> B:
        """Send a Query and wait for its one Response (DeviceInfo, DeviceStatus, PresetQuery, ConfigDownload)."""
        assert body.sn is not None
        key = (answer_id or body.device_id, answer.CMD_TYPE, body.sn)
        future: asyncio.Future[Body] = asyncio.get_running_loop().create_future()
        self._single[key] = future
        try:
            await self.send(binding, body, target_id=answer_id)
            result = await asyncio.wait_for(future, self.core.config.query_timeout_s)
        except TimeoutError:
            raise UpstreamTimeout(f"device {binding.gb_id} sent no {answer.CMD_TYPE} answer in time") from None
        finally:
            self._single.pop(key, None)
        if not isinstance(result, answer):
            raise UpstreamError(f"device {binding.gb_id} answered with {type(result).__name__}")
        return result

    async def catalog(self, binding: Binding) -> Collected[CatalogItem]:
        sn = self.next_sn()
        return await self._list(binding, CatalogQuery(sn=sn, device_id=binding.gb_id), self.catalogs, binding.gb_id)

    async def record_list(self, binding: Binding, body: Body, channel_id: str) -> Collected[RecordItem]:
        return await self._list(binding, body, self.records, channel_id)

    async def _list(self, binding: Binding, body: Body, collector: Any, list_id: str) -> Collected[Any]:
        assert body.sn is not None
        timeout_s = self.core.config.query_timeout_s
        key = (list_id, body.CMD_TYPE, body.sn)
        future: asyncio.Future[Collected[Any]] = asyncio.get_running_loop().create_future()
        self._lists[key] = future
        collector.expect(list_id, body.sn, deadline_s=self.core.endpoint.now() + timeout_s)
        try:
            await self.send(binding, body, target_id=None if list_id == binding.gb_id else list_id)
            return await asyncio.wait_for(future, timeout_s + 2)
        except TimeoutError:
            raise UpstreamTimeout(f"device {binding.gb_id} sent no {body.CMD_TYPE} answer in time") from None
        finally:
            self._lists.pop(key, None)

    def on_response(self, envelope: Envelope) -> None:
        """A Response body arrived (the inbox has already answered its MESSAGE with 200)."""
        now_s = self.core.endpoint.now()
        body = body_of(envelope)
        if isinstance(body, CatalogResponse):
            self._collected("Catalog", self.catalogs.feed(body, now_s=now_s))
        elif isinstance(body, RecordInfoResponse):
            self._collected("RecordInfo", self.records.feed(body, now_s=now_s))
        elif envelope.sn is not None:
            future = self._single.get((envelope.device_id, envelope.cmd_type, envelope.sn))
            if future is not None and not future.done():
                future.set_result(body)

    def _collected(self, cmd_type: str, collected: Collected[Any] | None) -> None:
        if collected is None:
            return
        future = self._lists.get((collected.device_id, cmd_type, collected.sn or 0))
        if future is not None and not future.done():
            future.set_result(collected)
        elif cmd_type == "Catalog" and self.unsolicited_catalog is not None and collected.complete:
            # Devices often send their catalog unasked after registering; it is as good as an answer.
            self.unsolicited_catalog(collected.device_id, collected)

    def expire(self) -> None:
        """Lists out of time come back incomplete to whoever waits for them."""
        now_s = self.core.endpoint.now()
        for cmd_type, collector in (("Catalog", self.catalogs), ("RecordInfo", self.records)):
            for collected in collector.expire(now_s=now_s):
                future = self._lists.get((collected.device_id, cmd_type, collected.sn or 0))
                if future is not None and not future.done():
                    future.set_result(collected)
