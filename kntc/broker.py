"""The one place the Dramatiq broker is configured, and the small function that sends to it.

Production: Redis. Embedded (no ``REDIS_URL``): dramatiq's in-process StubBroker, with
workers started inside the same process by :mod:`kntc.embedded`.
"""

from __future__ import annotations

from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage
from dramatiq.rate_limits import RateLimiterBackend
from dramatiq.rate_limits.backends import RedisBackend, StubBackend

from kntc.send_batches import BatchSender
from kntc.settings import Settings

# Intake must answer even when Redis is down (the outbox keeps the message), so a call to
# Redis gives up quickly instead of holding a web worker.
REDIS_TIMEOUT_SECONDS = 2.0

_broker: dramatiq.Broker | None = None
_limiter_backend: RateLimiterBackend | None = None
_batches: BatchSender | None = None


def redis_client(settings: Settings) -> redis.Redis:
    assert settings.redis_url, "redis_client() is for the Redis deployment"
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


def setup_broker(settings: Settings) -> dramatiq.Broker:
    """Configure this process's broker once; later calls return the same one."""
    global _broker, _limiter_backend, _batches
    if _broker is not None:
        return _broker
    broker: dramatiq.Broker
    if settings.embedded:
        broker = StubBroker()
        _limiter_backend = StubBackend()
    else:
        client = redis_client(settings)
        broker = RedisBroker(client=client)
        _limiter_backend = RedisBackend(client=client)
        if settings.send_batch_ms > 0:
            _batches = BatchSender(broker, settings.send_batch_ms / 1000)
    broker.add_middleware(CurrentMessage())
    dramatiq.set_broker(broker)
    _broker = broker
    return broker


def limiter_backend() -> RateLimiterBackend:
    assert _limiter_backend is not None, "setup_broker() first"
    return _limiter_backend


def send(
    queue: str, actor: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None, *, delay_ms: int | None = None
) -> None:
    """Enqueue a message by actor name, so that senders need not import the actor's code."""
    assert _broker is not None, "setup_broker() first"
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue, actor_name=actor, args=args, kwargs=kwargs or {}, options={}
    )
    _broker.enqueue(message, delay=delay_ms)


def send_soon(queue: str, actor: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Send within ``KNTC_SEND_BATCH_MS``, batched with other requests' messages
    (kntc/send_batches.py); for senders whose messages the outbox relay also covers."""
    if _batches is None:
        send(queue, actor, args, kwargs)
    else:
        _batches.send(queue, actor, args, kwargs)


def flush_sends(timeout: float = 5.0) -> bool:
    """Wait until what :func:`send_soon` was handed in this process has left."""
    return _batches is None or _batches.flush(timeout)


def waiting(queue: str) -> int | None:
    """Messages of the queue waiting in Redis for a worker to fetch them (None: not on Redis).

    Fetched and running messages are not counted, nor those in the delay queue.
    """
    if not isinstance(_broker, RedisBroker):
        return None
    return int(_broker.client.llen(f"{_broker.namespace}:{queue}"))


def reset_for_tests() -> None:
    """Forget the configured broker (tests configure a fresh one per case)."""
    global _broker, _limiter_backend, _batches
    _broker = None
    _limiter_backend = None
    _batches = None
