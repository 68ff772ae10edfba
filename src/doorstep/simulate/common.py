"""Building blocks shared by the two simulated programmes.

This module owns the named random streams (one numpy ``Generator`` per purpose, derived from the
seed, so that adding a draw in one place never shifts another), the latent-to-ordinal item model,
the scoring of the simulated scales and the interview metadata (dates, times, devices, uuids).
"""

from __future__ import annotations

import datetime as dt
import uuid
import zlib

import numpy as np
import pandas as pd

from doorstep.simulate import people
from doorstep.simulate.instruments import ENUMERATORS, TOWNSHIPS

CHINA_TIME = dt.timezone(dt.timedelta(hours=8))
SDQ_REVERSED = (7, 11, 14, 21, 25)
SDQ_PROSOCIAL = (1, 4, 9, 17, 20)
SDQ_SUBSCALES = {
    "emotional": (3, 8, 13, 16, 24),
    "conduct": (5, 7, 12, 18, 22),
    "hyperactivity": (2, 10, 15, 21, 25),
    "peer": (6, 11, 14, 19, 23),
}


def stream(seed: int, name: str) -> np.random.Generator:
    """Return the random stream called ``name`` for a seed.

    Examples
    --------
    >>> float(stream(1, "a").random()) == float(stream(1, "a").random())
    True
    """
    return np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])


def ordinal(latent: np.ndarray, cuts) -> np.ndarray:
    """Number of thresholds each latent value exceeds (0 .. len(cuts)).

    Examples
    --------
    >>> ordinal(np.array([-1.0, 0.5, 2.0]), (0.0, 1.0)).tolist()
    [0, 1, 2]
    """
    result = np.zeros(np.shape(latent), dtype=np.int64)
    for cut in cuts:
        result += latent > cut
    return result


def sdq_items(difficulty: np.ndarray, prosocial: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """SDQ answers (0/1/2, questionnaire order) from latent difficulty and item noise.

    Difficulty items rise with ``difficulty``; reverse-worded items (7, 11, 14, 21, 25) are
    answered as ``2 - difficulty score``; prosocial items follow ``prosocial``.

    Examples
    --------
    >>> items = sdq_items(np.zeros(2), np.zeros(2), np.zeros((2, 25)))
    >>> items.shape
    (2, 25)
    """
    answers = np.zeros((len(difficulty), 25), dtype=np.int64)
    for item in range(1, 26):
        column = item - 1
        if item in SDQ_PROSOCIAL:
            answers[:, column] = ordinal(prosocial + noise[:, column], (-1.2, 0.2))
            continue
        score = ordinal(difficulty + noise[:, column], (0.1, 1.45))
        answers[:, column] = 2 - score if item in SDQ_REVERSED else score
    return answers


def sdq_total(items: np.ndarray) -> np.ndarray:
    """SDQ total difficulties (0-40) from answers in questionnaire order.

    Examples
    --------
    >>> int(sdq_total(np.full((1, 25), 2))[0])
    30
    """
    total = np.zeros(items.shape[0], dtype=np.int64)
    for numbers in SDQ_SUBSCALES.values():
        for item in numbers:
            answer = items[:, item - 1]
            total += 2 - answer if item in SDQ_REVERSED else answer
    return total


def interview_times(rng, dates, fabricated=None):
    """Start, end and submission times for interviews held on ``dates``.

    Durations are 30-60 minutes (5-10 minutes where ``fabricated``); submissions reach the
    server between 5 minutes and 30 hours after the end. Returns lists of aware datetimes
    (start, end) and naive UTC datetimes (submission).

    Examples
    --------
    >>> start, end, submitted = interview_times(np.random.default_rng(0), [dt.date(2024, 3, 5)])
    >>> 1800 <= (end[0] - start[0]).total_seconds() <= 3600
    True
    """
    count = len(dates)
    fabricated = np.zeros(count, dtype=bool) if fabricated is None else np.asarray(fabricated)
    start_seconds = rng.integers(8 * 3600, 18 * 3600, count)
    durations = np.where(fabricated, rng.integers(300, 601, count),
                         rng.integers(1800, 3601, count))
    delays = rng.integers(300, 30 * 3600, count)
    starts, ends, submissions = [], [], []
    for date, offset, duration, delay in zip(dates, start_seconds, durations, delays,
                                             strict=True):
        start = dt.datetime(date.year, date.month, date.day, tzinfo=CHINA_TIME) + dt.timedelta(
            seconds=int(offset), milliseconds=int(offset % 997)
        )
        end = start + dt.timedelta(seconds=int(duration))
        starts.append(start)
        ends.append(end)
        submitted = (end + dt.timedelta(seconds=int(delay))).astimezone(dt.UTC)
        submissions.append(submitted.replace(tzinfo=None))
    return starts, ends, submissions


def uuids(rng: np.random.Generator, count: int) -> list[str]:
    """Return ``count`` version-4 uuids drawn from ``rng``.

    Examples
    --------
    >>> len(uuids(np.random.default_rng(0), 2)[0])
    36
    """
    return [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(count)]


def device_ids(rng: np.random.Generator, enumerators) -> dict[str, str]:
    """Map each enumerator to a Collect device id.

    Examples
    --------
    >>> device_ids(np.random.default_rng(0), ["E01"])["E01"].startswith("collect:")
    True
    """
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return {
        enumerator: "collect:" + "".join(alphabet[i] for i in rng.integers(0, len(alphabet), 16))
        for enumerator in enumerators
    }


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years of age on ``day``.

    Examples
    --------
    >>> age_on(dt.date(1980, 5, 17), dt.date(2024, 5, 16))
    43
    """
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def village_dates(rng, village_codes, window_start: dt.date, window_days: int):
    """Assign each village an interview day inside a fieldwork window.

    Examples
    --------
    >>> days = village_dates(np.random.default_rng(0), ["010101"], dt.date(2024, 3, 4), 20)
    >>> days["010101"] >= dt.date(2024, 3, 4)
    True
    """
    offsets = rng.integers(0, window_days, len(village_codes))
    return {
        code: window_start + dt.timedelta(days=int(offset))
        for code, offset in zip(village_codes, offsets, strict=True)
    }


def stratified_labels(rng, strata, labels) -> np.ndarray:
    """Assign ``labels`` in equal shares within each stratum, at random.

    Labels are dealt in a cycle that continues across strata, so overall counts are balanced
    even when a stratum is smaller than the number of labels.

    Examples
    --------
    >>> stratified_labels(np.random.default_rng(0), ["a", "a", "b", "b"], ["x", "y"]).size
    4
    """
    strata = np.asarray(strata)
    result = np.empty(len(strata), dtype=object)
    position = int(rng.integers(0, len(labels)))
    for stratum in dict.fromkeys(strata.tolist()):
        indices = np.flatnonzero(strata == stratum)
        dealt = [labels[(position + step) % len(labels)] for step in range(len(indices))]
        position += len(indices)
        result[indices] = np.asarray(dealt, dtype=object)[rng.permutation(len(indices))]
    return result


def interview_header(rng: np.random.Generator, sub, unit_column: str, times, dates,
                     enumerators, devices) -> dict:
    """The columns every interview starts with: ids, times, device, enumerator, place.

    ``times`` is what :func:`interview_times` returned for ``dates``; the record's UUID is drawn
    here from ``rng``.
    """
    starts, ends, submitted = times
    return {
        "_unit": sub[unit_column].to_list(),
        "_submitted": submitted,
        "_uuid": uuids(rng, len(sub)),
        "start": starts,
        "end": ends,
        "today": dates,
        "deviceid": [devices[e] for e in enumerators],
        "username": enumerators,
        "enumerator": enumerators,
        "interview_date": dates,
        "township": sub["township"].to_list(),
        "village_code": sub["village_code"].to_list(),
        unit_column: sub[unit_column].to_list(),
    }


def village_frame(rng: np.random.Generator, n_townships: int, per_township: int
                  ) -> pd.DataFrame:
    """Villages of a simulated county: code (county 01, township, village), names, location.

    Examples
    --------
    >>> village_frame(np.random.default_rng(1), 2, 3)["village_code"].tolist()[:2]
    ['010101', '010102']
    """
    rows = []
    for township in range(1, n_townships + 1):
        names = people.village_names(rng, per_township)
        for village in range(1, per_township + 1):
            rows.append({
                "village_code": f"01{township:02d}{village:02d}",
                "township": f"{township:02d}",
                "township_name": TOWNSHIPS[township - 1][0],
                "village_name": names[village - 1],
                "latitude": 29.95 + rng.uniform(0, 0.12),
                "longitude": 122.05 + rng.uniform(0, 0.12),
            })
    return pd.DataFrame(rows)


def enumerator_per_village(rng: np.random.Generator, n_villages: int) -> list[str]:
    """One enumerator per village, in a random order that spreads them evenly."""
    n_enumerators = min(len(ENUMERATORS), n_villages)
    return [ENUMERATORS[position % n_enumerators] for position in rng.permutation(n_villages)]
