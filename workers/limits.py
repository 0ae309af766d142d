"""Rate limits shared by every worker process and host, and deferral that spends no retry.

Stock dramatiq raises ``RateLimitExceeded`` and the Retries middleware counts each one
as a failed attempt (dramatiq issue #257), so a busy deadline night would exhaust the
retries of healthy messages. Here a full limiter puts the message back on its queue with
a short, jittered delay and its options (retry count included) untouched.

On Redis both limiters (the unit's and the global one) are taken in one Lua script and
given back in another: one round trip each, where dramatiq's ``ConcurrentRateLimiter``
takes up to four per limiter (SET NX, then WATCH/GET/MULTI-SET-EXEC, retried on every
conflict, and the global key is contended by every worker thread). The scripts keep
dramatiq's data layout: one string key per limiter (``unit:<id>``, ``db-jobs``) holding
the number of holders, its TTL refreshed on every change. So a ``ConcurrentRateLimiter``
on the same key (:func:`unit_limiter`, :func:`db_limiter`) and the scripts see each
other's slots. (Redis Cluster would need both keys in one hash slot; KNTC uses one Redis.)
"""

from __future__ import annotations

import random
import weakref
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import dramatiq
import redis
from dramatiq.middleware import CurrentMessage
from dramatiq.rate_limits import ConcurrentRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from kntc import metrics
from kntc.broker import limiter_backend
from kntc.settings import Settings

GLOBAL_KEY = "db-jobs"
DEFER_MIN_MS = 100
DEFER_MAX_MS = 500


def unit_limiter(settings: Settings, unit_id: int) -> ConcurrentRateLimiter:
    """One submission at a time per unit, so its versions are processed in order."""
    return ConcurrentRateLimiter(
        limiter_backend(), f"unit:{unit_id}", limit=settings.unit_concurrency, ttl=settings.limiter_ttl_ms
    )


def db_limiter(settings: Settings) -> ConcurrentRateLimiter:
    """A ceiling on database-heavy jobs at once, across all processes and hosts."""
    return ConcurrentRateLimiter(
        limiter_backend(), GLOBAL_KEY, limit=settings.db_job_concurrency, ttl=settings.limiter_ttl_ms
    )


# KEYS: the limiters' keys; ARGV: their limits in the same order, then the TTL in ms.
# Returns 0 when every slot was taken, else the position (1-based) of the first full one.
_ACQUIRE = """
local ttl = ARGV[#KEYS + 1]
local held = {}
for i, key in ipairs(KEYS) do
    held[i] = tonumber(redis.call('GET', key) or '0')
    if held[i] + 1 > tonumber(ARGV[i]) then
        return i
    end
end
for i, key in ipairs(KEYS) do
    redis.call('SET', key, held[i] + 1, 'PX', ttl)
end
return 0
"""
# KEYS: the limiters' keys; ARGV: the TTL in ms. Never below 0 (as dramatiq's decr).
_RELEASE = """
for _, key in ipairs(KEYS) do
    local held = tonumber(redis.call('GET', key) or '0')
    if held >= 1 then
        redis.call('SET', key, held - 1, 'PX', ARGV[1])
    end
end
return 0
"""


class Scripts:
    """The acquire and release scripts on one Redis client, called by SHA.

    ``execute_command("EVALSHA", ...)`` directly: redis-py's ``Script.__call__`` costs half
    as much again per call (measured 194 against 127 us of CPU for the pair), and a worker
    makes two calls per message. A Redis that lost its script cache gets it again.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._sha = {_ACQUIRE: client.script_load(_ACQUIRE), _RELEASE: client.script_load(_RELEASE)}

    def call(self, script: str, keys: list[str], args: list[int]) -> int:
        try:
            return int(self._client.execute_command("EVALSHA", self._sha[script], len(keys), *keys, *args))
        except redis.exceptions.NoScriptError:
            self._sha[script] = self._client.script_load(script)
            return int(self._client.execute_command("EVALSHA", self._sha[script], len(keys), *keys, *args))


_scripts: weakref.WeakKeyDictionary[RedisBackend, Scripts] = weakref.WeakKeyDictionary()


@contextmanager
def unit_and_global_slots(settings: Settings, unit_id: int) -> Iterator[str | None]:
    """Hold the unit's slot and a global one; yields None when both were taken, else the full one's name."""
    backend = limiter_backend()
    if not isinstance(backend, RedisBackend):  # the embedded StubBackend: dramatiq's limiters
        with slots({"unit": unit_limiter(settings, unit_id), "global": db_limiter(settings)}) as full:
            yield full
        return
    scripts = _scripts.get(backend) or _scripts.setdefault(backend, Scripts(backend.client))
    keys = [f"unit:{unit_id}", GLOBAL_KEY]
    limits = [settings.unit_concurrency, settings.db_job_concurrency]
    first_full = scripts.call(_ACQUIRE, keys, [*limits, settings.limiter_ttl_ms])
    if first_full:
        yield ("unit", "global")[first_full - 1]
        return
    try:
        yield None
    finally:
        scripts.call(_RELEASE, keys, [settings.limiter_ttl_ms])


@contextmanager
def slots(limiters: dict[str, ConcurrentRateLimiter]) -> Iterator[str | None]:
    """Hold every limiter's slot; yields None when all were taken, else the name of the full one."""
    with ExitStack() as stack:
        for name, limiter in limiters.items():
            if not stack.enter_context(limiter.acquire(raise_on_failure=False)):
                yield name
                return
        yield None


def defer_current_message(limiter: str) -> None:
    """Put the message being handled back on its queue for a moment, retries untouched."""
    message = CurrentMessage.get_current_message()
    assert message is not None, "defer_current_message() outside an actor"
    metrics.rate_limit_deferrals.labels(limiter=limiter).inc()
    dramatiq.get_broker().enqueue(message.copy(), delay=random.randint(DEFER_MIN_MS, DEFER_MAX_MS))
