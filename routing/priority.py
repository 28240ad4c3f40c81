"""Priority with ageing, and the starvation bound it gives.

A waiting call's effective priority grows linearly with its wait::

    effective(t) = base + rate * (t - enqueued_at)

``base`` is in points: the higher of the priority the IVR supplied and the default for the
call's risk (automation may only raise priority). ``rate`` is the queue's ageing in points per
second (default 1, so a point is a second of head start).

Because every call ages at the same rate, ordering by effective priority at any instant is the
same as ordering by the *virtual arrival time*::

    virtual = enqueued_at - base / rate        (smaller is served first)

which never changes while the call waits. That is what the queues store as the sorted-set score,
so ageing costs nothing at run time and two processes can never disagree about the order.

Starvation bound. A call L with base ``p_low`` is ahead of a later call H with base ``p_high``
exactly when H arrives more than ``(p_high - p_low) / rate`` seconds after L. So once L has
waited ``delta = (p_max - p_low) / rate`` (``p_max`` the highest base any caller can have), no
newly arriving call overtakes it, whatever its risk. Only the calls already ahead of L when it
arrived (``q0``) and the arrivals during ``delta`` (at most ``arrival_rate * delta`` on average)
can be answered first; with answering capacity ``service_rate`` calls per second,
L waits at most about ``(q0 + arrival_rate * delta + 1) / service_rate``. With the default
table ``delta`` is 600 s from the lowest risk to *extremo*: a severe caller is only ever queued
behind calls that have already waited ten minutes, which at a hotline held to a 20-second
service level means "never, unless the centre is overwhelmed" (and she also rings the urgent
team's ladder).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from store.vocabulary import RiskLevel

DEFAULT_PRIORITY_BY_RISK: Mapping[RiskLevel, int] = MappingProxyType(
    {
        RiskLevel.NO_APRECIADO: 0,
        RiskLevel.BAJO: 60,
        RiskLevel.MEDIO: 180,
        RiskLevel.ALTO: 360,
        RiskLevel.EXTREMO: 600,
    }
)


def base_priority(risk: RiskLevel, supplied: int | None, by_risk: Mapping[RiskLevel, int]) -> int:
    """The priority a call queues with: never below what its risk warrants."""
    from_risk = by_risk[risk]
    return from_risk if supplied is None else max(supplied, from_risk)


def virtual_arrival(enqueued_at: float, base: float, rate: float) -> float:
    """The sorted-set score: earlier virtual arrival is answered first."""
    return enqueued_at - base / rate


def effective_priority(base: float, waited: float, rate: float) -> float:
    return base + rate * waited


def overtaking_window(p_low: float, p_high: float, rate: float) -> float:
    """Seconds after which a call of base ``p_low`` is ahead of every new call up to ``p_high``."""
    return max(0.0, (p_high - p_low) / rate)


def wait_bound(
    *,
    queued_ahead: int,
    arrival_rate: float,
    service_rate: float,
    p_low: float,
    p_max: float,
    rate: float,
) -> float:
    """Upper bound (in the mean-rate sense) on a call's wait at a given load, see module doc."""
    if service_rate <= 0:
        return float("inf")
    delta = overtaking_window(p_low, p_max, rate)
    return (queued_ahead + arrival_rate * delta + 1) / service_rate
