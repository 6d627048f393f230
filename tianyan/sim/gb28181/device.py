"""One simulated GB/T 28181 device (IPC, NVR or vehicle camera): it registers, keeps alive and answers the platform.

Its whole life is one task with one timer: register (with back-off while refused or unanswered), then sleep until
the next thing is due — keepalive, registration refresh, a random alarm, an unsolicited position — and do it.
Requests from the platform arrive through the switchboard and are handled as they come: queries get a 200 and
then their Response MESSAGEs, controls change the channel state, INVITEs and SUBSCRIBEs go to the media and
subscription parts, which exist only once used so that ten thousand idle devices stay small.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

from tianyan.gb28181.endpoint import SipEndpoint, SipTimeout
from tianyan.gb28181.manscdp.catalog import CatalogEvent, ChannelStatus
from tianyan.gb28181.manscdp.envelope import Body
from tianyan.gb28181.manscdp.keepalive import KeepaliveNotify
from tianyan.gb28181.sip.message import SipRequest, SipResponse, response_to
from tianyan.gb28181.sip.transaction import ServerTransaction
from tianyan.gb28181.transport import Peer
from tianyan.sim.gb28181.answers import DeviceView, position_notify
from tianyan.sim.gb28181.channels import item_of
from tianyan.sim.gb28181.controls import ChannelState, PtzArrival
from tianyan.sim.gb28181.events import (
    DeviceRegistered,
    DeviceStats,
    DeviceWentOffline,
    EventSink,
    RegistrationFailed,
    SimEvent,
    ignore,
)
from tianyan.sim.gb28181.inbox import on_message
from tianyan.sim.gb28181.media import MediaSessions
from tianyan.sim.gb28181.outbox import MOTION, VIDEO_ALARM, alarm_notify, platform_message, random_alarm
from tianyan.sim.gb28181.profile import Behaviour, DeviceSpec, PlatformAddress, VideoSettings, beijing_now
from tianyan.sim.gb28181.registration import RegisterOutcome, Registration
from tianyan.sim.gb28181.routes import Fix, fix_at
from tianyan.sim.gb28181.streamer import Streamer
from tianyan.sim.gb28181.subscriptions import Subscriptions
from tianyan.sim.gb28181.switchboard import Switchboard

log = logging.getLogger(__name__)
ALLOW = "INVITE, ACK, BYE, CANCEL, INFO, MESSAGE, SUBSCRIBE, NOTIFY, OPTIONS"
NEVER = float("inf")
_SHARED_RNG = random.Random()
_UNREGISTER_FLOOR_S = 2.0
# Response MESSAGEs of one multi-message answer in flight at once: a device does not wait for each 200.
SEND_WINDOW = 4


class SimDevice:
    """A device on a switchboard; `start()` sets it going, `stop()` unregisters and ends its sessions."""

    def __init__(
        self,
        spec: DeviceSpec,
        platform: PlatformAddress,
        board: Switchboard,
        *,
        behaviour: Behaviour | None = None,
        video: VideoSettings | None = None,
        streamer: Streamer | None = None,
        on_event: EventSink = ignore,
        rng: random.Random | None = None,
    ) -> None:
        self.spec = spec
        self.platform = platform
        self.board = board
        self.behaviour = behaviour or Behaviour()
        self.video = video or VideoSettings()
        self.stats = DeviceStats()
        self.on_event = on_event
        self.registered = False
        self._registering = False
        self.misses = 0
        self.last_outcome: RegisterOutcome | None = None
        self.clock_offset_s = 0.0  # platform time (Date of the 200) minus ours
        self._streamer = streamer
        self._owns_board = False
        # A Random holds 2.5 KB of state: devices share one rather than each carrying its own.
        self._rng = rng or _SHARED_RNG
        self._registration: Registration | None = None
        self._sn = 0
        self._cseq = 0
        self._epoch = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._rebooting = False
        self._next = {"refresh": NEVER, "keepalive": NEVER, "alarm": NEVER, "position": NEVER}
        self._states: dict[str, ChannelState] = {}
        self._statuses: dict[str, ChannelStatus] = {}
        self._media: MediaSessions | None = None
        self._subscriptions: Subscriptions | None = None
        self._alarm_waiters: dict[int, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[object]] = set()

    @classmethod
    async def standalone(
        cls, spec: DeviceSpec, platform: PlatformAddress, *, host: str = "127.0.0.1", transport: str = "UDP",
        behaviour: Behaviour | None = None, **options: object,
    ) -> SimDevice:  # fmt: skip
        """A device with a socket of its own, started."""
        behaviour = behaviour or Behaviour()
        board = Switchboard(host=host, transport="TCP" if transport.upper() == "TCP" else "UDP",
                            timers=behaviour.timers)  # fmt: skip
        await board.start()
        device = cls(spec, platform, board, behaviour=behaviour, **options)  # type: ignore[arg-type]
        device._owns_board = True
        await device.start()
        return device

    # ---- what the outside sees --------------------------------------------------------------------------------

    @property
    def device_id(self) -> str:
        return self.spec.device_id

    @property
    def online(self) -> bool:
        """Registered and its last keepalive answered: what the platform should be showing."""
        return self.registered and self.misses == 0

    @property
    def streamer(self) -> Streamer:
        if self._streamer is None:
            self._streamer = Streamer(workers=2)
        return self._streamer

    @property
    def media(self) -> MediaSessions:
        if self._media is None:
            self._media = MediaSessions(self)
        return self._media

    @property
    def subscriptions(self) -> Subscriptions:
        if self._subscriptions is None:
            self._subscriptions = Subscriptions(self)
        return self._subscriptions

    def channel_state(self, item_id: str) -> ChannelState:
        return self._states.setdefault(item_id, ChannelState())

    def ptz_log(self, channel_id: str) -> list[PtzArrival]:
        state = self._states.get(channel_id)
        return [] if state is None else list(state.ptz_log)

    def fix(self) -> Fix | None:
        """Where a vehicle is now on its route; None for a device that stands still."""
        if self.spec.kind != "vehicle":
            return None
        elapsed_s = time.monotonic() - self._epoch
        return fix_at(self.spec.route, elapsed_s, self.behaviour.vehicle_speed_kmh, self.spec.route_offset_m)

    def emit(self, event: SimEvent) -> None:
        try:
            self.on_event(event)
        except Exception:
            log.exception("sim: an event listener failed")

    def next_sn(self) -> int:
        self._sn += 1
        return self._sn

    @property
    def platform_peer(self) -> Peer:
        return Peer(self.board.transport_name, self.platform.host, self.platform.port)

    # ---- life ------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.board.attach([self.spec.device_id, *self.spec.channel_ids, *self.spec.alarm_input_ids], self.on_request)
        self._task = asyncio.get_running_loop().create_task(self._life(), name=f"sim:{self.spec.device_id}")

    async def stop(self, *, unregister: bool = True) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._media is not None:
            await self._media.end_all("the device stopped", send_bye=True)
        if self._subscriptions is not None:
            self._subscriptions.stop_all()
        for task in list(self._tasks):
            task.cancel()
        # A REGISTER cut short by the stop may have taken at the platform: unregister then as well.
        if unregister and (self.registered or self._registering) and self._registration is not None:
            # A platform that is gone would hold each unregister for timer F (32 s): give it a few T1 only,
            # but never less than a loaded machine needs to answer a whole fleet unregistering at once.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(8 * self.behaviour.timers.t1_s, _UNREGISTER_FLOOR_S)):
                    await self._registration.register(0)
        self.registered = False
        self.board.detach([self.spec.device_id, *self.spec.channel_ids, *self.spec.alarm_input_ids])
        if self._owns_board:
            await self.board.close()
            if self._streamer is not None:
                self._streamer.close()

    def reboot(self) -> None:
        """Drop off (no unregister, as a power cycle) and register afresh after `behaviour.reboot_s`."""
        self._rebooting = True
        self._wake.set()

    async def _sleep(self, delay_s: float) -> None:
        """Sleep, unless woken early by a reboot or a change of plan."""
        self._wake.clear()
        try:
            async with asyncio.timeout(max(0.0, delay_s)):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _life(self) -> None:
        behaviour = self.behaviour
        backoff_s = behaviour.retry_s
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            if self._rebooting:
                await self._power_cycle()
            if not self.registered:
                outcome = await self._register()
                if not self.registered:
                    failures += 1
                    delay_s = max(backoff_s * self._rng.uniform(0.8, 1.2), outcome.retry_after_s or 0.0)
                    backoff_s = min(backoff_s * 2, behaviour.retry_max_s)
                    self.emit(RegistrationFailed(self.device_id, outcome.status, outcome.reason, round(delay_s, 2)))
                    await self._sleep(delay_s)
                    continue
                self.emit(DeviceRegistered(self.device_id, outcome.expires_s, failures + 1))
                failures, backoff_s = 0, behaviour.retry_s
                self._schedule_after_register(loop.time(), outcome.expires_s)
                continue
            now = loop.time()
            task, due = min(self._next.items(), key=lambda item: item[1])
            if due > now:
                await self._sleep(due - now)
                continue
            if task == "refresh":
                outcome = await self._register()
                if self.registered:
                    self._next["refresh"] = loop.time() + _refresh_after_s(outcome.expires_s)
                else:
                    self._went_offline(f"registration refresh failed: {outcome.status or ''} {outcome.reason}".strip())
            elif task == "keepalive":
                self._next["keepalive"] = now + behaviour.keepalive_s
                await self._keepalive()
            elif task == "alarm":
                self._next["alarm"] = now + self._rng.expovariate(behaviour.alarm_rate_per_h / 3600)
                self._spawn(self.send_alarm(**random_alarm(self.spec, self._rng)))  # type: ignore[arg-type]
            elif task == "position":
                self._next["position"] = now + (behaviour.position_interval_s or NEVER)
                self._spawn(self.send_body(position_notify(self.spec, self.fix(), beijing_now(), self.next_sn())))

    def _schedule_after_register(self, now: float, expires_s: int) -> None:
        behaviour = self.behaviour
        self.misses = 0
        self._next["refresh"] = now + _refresh_after_s(expires_s)
        self._next["keepalive"] = now + behaviour.keepalive_s * behaviour.keepalive_spread * self._rng.random()
        if behaviour.alarm_rate_per_h > 0:
            self._next["alarm"] = now + self._rng.expovariate(behaviour.alarm_rate_per_h / 3600)
        if behaviour.position_interval_s and self.spec.kind == "vehicle":
            self._next["position"] = now + behaviour.position_interval_s

    async def _register(self) -> RegisterOutcome:
        """A REGISTER (first, again or refresh) with its digest round; `registered` says whether it took."""
        if self._registration is None:
            self._registration = Registration(self.device_id, self.spec.password, self.platform, self.board,
                                              qop=self.behaviour.digest_qop)  # fmt: skip
        self.stats.register_attempts += 1
        self._registering = True  # left set when the stop cancels us mid-REGISTER
        outcome = await self._registration.register(self.behaviour.expires_s)
        self._registering = False
        self.last_outcome = outcome
        self.registered = outcome.ok and outcome.expires_s > 0
        if not self.registered:
            self.stats.register_failures += 1
        elif outcome.server_date is not None:
            self.clock_offset_s = (outcome.server_date.replace(tzinfo=None) - beijing_now()).total_seconds()
        return outcome

    async def _keepalive(self) -> None:
        self.stats.keepalives_sent += 1
        response = await self.send_body(KeepaliveNotify(self.next_sn(), self.device_id, "OK"))
        if response is not None and 200 <= response.status < 300:
            self.misses = 0
            self.stats.keepalives_answered += 1
        elif response is not None and 400 <= response.status < 500 and response.status != 408:
            # The platform no longer knows us (it restarted, or our registration lapsed there): start again.
            self._went_offline(f"keepalive refused with {response.status}")
            self._registration = None
        else:
            # Unanswered, or a busy platform (5xx, 408): a miss; registering again would only add to its load.
            self.misses += 1
            if self.misses >= self.behaviour.keepalive_misses:
                self._went_offline(f"{self.misses} keepalives unanswered")

    def _went_offline(self, reason: str) -> None:
        self.registered = False
        for name in self._next:
            self._next[name] = NEVER
        self.emit(DeviceWentOffline(self.device_id, reason))

    async def _power_cycle(self) -> None:
        self._went_offline("rebooting")
        if self._media is not None:
            await self._media.end_all("the device rebooted", send_bye=False)
        if self._subscriptions is not None:
            self._subscriptions.stop_all()
        self._registration = None  # a rebooted device registers with a new Call-ID
        await asyncio.sleep(self.behaviour.reboot_s)
        self._rebooting = False

    def _spawn(self, work: object) -> None:
        assert asyncio.iscoroutine(work)
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- sending ---------------------------------------------------------------------------------------------

    async def send_body(self, body: Body) -> SipResponse | None:
        """One MANSCDP body in a MESSAGE to the platform; its final response, or None if none came."""
        self._cseq += 1
        payload = body.build(charset=self.behaviour.charset)
        request = platform_message(self.device_id, self.platform, self.board, self._cseq, payload)
        try:
            response = await self.board.endpoint.request(request, self.platform_peer)
        except SipTimeout:
            return None
        self.stats.messages_sent += 1
        return response

    async def send_all(self, bodies: list[Body]) -> None:
        """Several MESSAGEs (a multi-message answer), a few in flight at a time."""
        for start in range(0, len(bodies), SEND_WINDOW):
            await asyncio.gather(*(self.send_body(b) for b in bodies[start : start + SEND_WINDOW]))

    async def send_alarm(
        self,
        item_id: str | None = None,
        *,
        priority: int = 1,
        method: int = VIDEO_ALARM,
        alarm_type: int | None = MOTION,
        description: str | None = "运动目标检测",
        wait_ack_s: float | None = None,
    ) -> bool:
        """Send an Alarm Notify; True once the platform's 200 (and, with `wait_ack_s`, its Response) arrived.

        Defaults: video analysis (method 5), motion detection (type 2), on the first camera."""
        target = item_id or self.spec.channel_ids[0]
        sn = self.next_sn()
        body = alarm_notify(self.spec, sn, target, self.fix(), priority=priority, method=method,
                            alarm_type=alarm_type, description=description)  # fmt: skip
        waiter: asyncio.Future[None] | None = None
        if wait_ack_s is not None:
            waiter = self._alarm_waiters[sn] = asyncio.get_running_loop().create_future()
        self.stats.alarms_sent += 1
        if target in self.spec.alarm_input_ids:
            self.channel_state(target).alarming = True
        try:
            response = await self.send_body(body)
            if response is None or response.status >= 300:
                return False
            if waiter is not None:
                await asyncio.wait_for(waiter, wait_ack_s)
            return True
        except TimeoutError:
            return False
        finally:
            self._alarm_waiters.pop(sn, None)

    def change_status(self, item_id: str, status: ChannelStatus) -> None:
        """A channel goes ON or OFF; catalog subscribers get a NOTIFY with that event."""
        self._statuses[item_id] = status
        self.notify_catalog(item_id, status)

    def notify_catalog(self, item_id: str, event: CatalogEvent) -> None:
        if self._subscriptions is not None:
            item = item_of(self.spec, self.video, item_id, self._statuses.get(item_id, "ON"), event)
            self._subscriptions.catalog_changed(item)

    # ---- receiving -------------------------------------------------------------------------------------------

    async def on_request(self, request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        if self._rebooting or self._task is None:
            return  # a device that is off answers nothing
        method = request.method
        if method == "MESSAGE":
            if tx is not None:
                await on_message(self, request, tx)
        elif method == "INVITE":
            await self.media.on_invite(request, peer, tx)
        elif method == "ACK":
            if self._media is not None:
                self._media.on_ack(request)
        elif method == "BYE":
            await self.media.on_bye(request, tx)
        elif method == "INFO":
            await self.media.on_info(request, tx)
        elif method == "SUBSCRIBE":
            await self.subscriptions.on_subscribe(request, peer, tx)
        elif tx is not None:
            # CANCEL: INVITEs are answered within milliseconds, so a CANCEL finds nothing left to cancel and
            # gets its 200 while the INVITE keeps its own (RFC 3261 §9.2); OPTIONS: yes, we are here.
            status = 200 if method in ("OPTIONS", "CANCEL") else 405
            self.board.endpoint.respond(tx, response_to(request, status, headers=[("Allow", ALLOW)]))

    @property
    def endpoint(self) -> SipEndpoint:
        return self.board.endpoint

    def alarm_acknowledged(self, sn: int | None) -> None:
        self.stats.alarms_acknowledged += 1
        waiter = self._alarm_waiters.get(sn if sn is not None else -1)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def view(self) -> DeviceView:
        return DeviceView(self.spec, self.video, self.behaviour, self.platform, self._states, self._statuses,
                          beijing_now(), self.fix())  # fmt: skip


def _refresh_after_s(expires_s: int) -> float:
    """Refresh before the registration lapses: halfway through a short one, a minute early for a long one."""
    return max(0.5, expires_s - min(expires_s / 2, 60.0))
