"""The recordings a simulated device claims to hold: hour-long files with the occasional gap, the same every time.

Whether an hour was recorded, and how much of it, is drawn from a generator seeded by the channel and the hour,
so a query answers the same list however often and in whatever pieces it is asked.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from tianyan.gb28181.manscdp.record_info import RecordItem, RecordType

HOUR = timedelta(hours=1)
MISSING_HOUR_CHANCE = 0.03  # the recorder was down for the whole hour
SHORT_FILE_CHANCE = 0.08  # the file starts late or stops early (a network drop, a reboot)
ALARM_CHANCE = 0.05
BITRATE_BPS = 2_000_000
MAX_RECORDS = 10_000
RETENTION_DAYS = 30


def recordings(
    channel_id: str,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    type_filter: RecordType | None = None,
    recorder_id: str | None = None,
    retention_days: int = RETENTION_DAYS,
    limit: int = MAX_RECORDS,
) -> list[RecordItem]:
    """Files overlapping [start, end), oldest first; nothing before the retention window or after `now`."""
    oldest = (now - timedelta(days=retention_days)).replace(minute=0, second=0, microsecond=0)
    hour = max(start, oldest).replace(minute=0, second=0, microsecond=0)
    found: list[RecordItem] = []
    while hour < min(end, now) and len(found) < limit:
        item = _hour_file(channel_id, hour, now, recorder_id)
        overlaps = item is not None and item.end_time > start and item.start_time < end
        if overlaps and item is not None and (type_filter in (None, "all") or item.type == type_filter):
            found.append(item)
        hour += HOUR
    return found


def _hour_file(channel_id: str, hour: datetime, now: datetime, recorder_id: str | None) -> RecordItem | None:
    rng = random.Random(f"{channel_id}/{hour.isoformat()}")
    if rng.random() < MISSING_HOUR_CHANCE:
        return None
    file_start, file_end = hour, hour + HOUR
    if rng.random() < SHORT_FILE_CHANCE:
        if rng.random() < 0.5:
            file_start += timedelta(minutes=rng.randint(1, 40))
        else:
            file_end -= timedelta(minutes=rng.randint(1, 40))
    record_type: RecordType = "alarm" if rng.random() < ALARM_CHANCE else "time"
    # The hour being recorded right now is a file still growing.
    file_end = min(file_end, now)
    if file_end <= file_start:
        return None
    seconds = (file_end - file_start).total_seconds()
    return RecordItem(
        device_id=channel_id,
        start_time=file_start,
        end_time=file_end,
        name=f"{channel_id}-{file_start:%Y%m%d%H%M%S}",
        file_path=f"/record/{channel_id}/{file_start:%Y%m%d}/{file_start:%H%M%S}.ps",
        address="本地",
        secrecy=0,
        type=record_type,
        recorder_id=recorder_id or channel_id,
        file_size=int(seconds * BITRATE_BPS / 8),
    )
