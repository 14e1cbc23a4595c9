"""Fault injection for the replica: the failures the real API has been seen to produce.

Off by default. A ``FaultConfig`` (frozen) describes what to inject; the server turns it into a
``FaultInjector`` that keeps the seeded random generator and the per-fault request counters,
and asks it for a ``Decision`` once per request.

Each request has a scope: ``queries`` (``/api/v2/data/...``) or ``files`` (file, model zip and
image downloads); ``all`` matches both, and other paths. A fault fires on a request in its scope
with its probability, optionally only among the first N requests in its scope, or only after
the first K (so a sync's preflight query can be let through and its crawl hit). When several
faults fire, the first listed wins. Latency and throttling apply to every request in scope.
The injector counts the faults it fired and the requests it slowed (``FaultInjector.injected``),
so a test can tell how many failures a sync came through.

Command-line specs (``ctmirror replica serve --fault SPEC``, repeatable), ``KIND=ARGS`` where
ARGS are colon-separated and may start with a scope (``queries:``, ``files:``, ``all:``)::

    latency=[SCOPE:]SECONDS            wait before answering
    throttle=[SCOPE:]BYTES_PER_SECOND  send bodies no faster than this
    status=[SCOPE:]CODE[:P]            answer HTTP CODE (e.g. 500, 503) with probability P (1)
    retry-after=[SCOPE:]CODE:P:SECONDS answer CODE (e.g. 429) with a Retry-After header
    drop=[SCOPE:]P                     send half the body, then reset the connection
    truncate=[SCOPE:]P                 send half the body under the full Content-Length, close
    html=P                             HTTP 200 with an HTML "site unavailable" page (queries)
    first=N                            faults fire only among the first N requests they match
    skip=K                             ... after letting the first K they match through
    seed=N                             seed of the random generator (default 0)

Example: ``--fault status=503:0.2 --fault truncate=files:0.1 --fault first=3 --fault seed=7``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, cast

from ctmirror.errors import ConfigError

Scope = Literal["queries", "files", "all"]
RequestScope = Literal["queries", "files"] | None
FaultKind = Literal["status", "drop", "truncate", "html"]

_SCOPES: tuple[Scope, ...] = ("queries", "files", "all")


@dataclass(frozen=True)
class Fault:
    """One failure mode. ``status`` and ``retry_after`` (whole seconds) apply to kind status."""

    kind: FaultKind
    probability: float = 1.0
    scope: Scope = "all"
    first: int | None = None
    skip: int = 0
    status: int = 503
    retry_after: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ConfigError(f"fault probability {self.probability} is not between 0 and 1")
        if self.first is not None and self.first < 0:
            raise ConfigError(f"fault 'first' count {self.first} is negative")
        if self.skip < 0:
            raise ConfigError(f"fault 'skip' count {self.skip} is negative")
        if self.kind == "status" and not 400 <= self.status <= 599:
            raise ConfigError(f"fault status {self.status} is not an HTTP error status (4xx/5xx)")
        if self.kind == "html" and self.scope == "files":
            raise ConfigError("the html outage page is a query fault; use scope queries or all")
        if self.retry_after is not None and self.retry_after < 0:
            raise ConfigError(f"Retry-After {self.retry_after} is negative")

    @property
    def label(self) -> str:
        """What the fault does, as counted: ``status 503``, ``retry-after 429``, ``drop``."""
        if self.kind != "status":
            return self.kind
        return f"{'status' if self.retry_after is None else 'retry-after'} {self.status}"

    def matches(self, scope: RequestScope) -> bool:
        if self.kind == "html":
            return scope == "queries"
        return self.scope == "all" or self.scope == scope


@dataclass(frozen=True)
class FaultConfig:
    latency_s: float = 0.0
    latency_scope: Scope = "all"
    throttle_bytes_per_s: int | None = None
    throttle_scope: Scope = "all"
    faults: tuple[Fault, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.latency_s < 0:
            raise ConfigError(f"latency {self.latency_s} s is negative")
        if self.throttle_bytes_per_s is not None and self.throttle_bytes_per_s <= 0:
            raise ConfigError(f"throttle {self.throttle_bytes_per_s} bytes/s must be positive")

    @classmethod
    def parse(cls, specs: Sequence[str]) -> FaultConfig:
        """A config from command-line specs (see the module docstring)."""
        config = cls()
        first: int | None = None
        skip = 0
        for spec in specs:
            kind, equals, args = spec.partition("=")
            kind = kind.strip().lower()
            if not equals or not args:
                raise ConfigError(f"fault spec {spec!r} is not KIND=ARGS, e.g. status=503:0.2")
            if kind == "first":
                first = _int(args, spec)
                continue
            if kind == "skip":
                skip = _int(args, spec)
                continue
            if kind == "seed":
                config = replace(config, seed=_int(args, spec))
                continue
            scope, values = _scoped(args)
            if kind == "latency":
                config = replace(config, latency_s=_float(_one(values, spec), spec),
                                 latency_scope=scope)
            elif kind == "throttle":
                config = replace(config, throttle_bytes_per_s=_int(_one(values, spec), spec),
                                 throttle_scope=scope)
            else:
                config = replace(config, faults=(*config.faults, _fault(kind, scope, values, spec)))
        if first is not None:
            faults = tuple(f if f.first is not None else replace(f, first=first)
                           for f in config.faults)
            config = replace(config, faults=faults)
        if skip:
            config = replace(config, faults=tuple(replace(f, skip=skip) for f in config.faults))
        return config


def _fault(kind: str, scope: Scope, values: list[str], spec: str) -> Fault:
    if kind == "status":
        if len(values) not in (1, 2):
            raise ConfigError(f"{spec!r}: write status=[SCOPE:]CODE[:P]")
        probability = _float(values[1], spec) if len(values) == 2 else 1.0
        return Fault("status", probability, scope, status=_int(values[0], spec))
    if kind == "retry-after":
        if len(values) != 3:
            raise ConfigError(f"{spec!r}: write retry-after=[SCOPE:]CODE:P:SECONDS")
        return Fault("status", _float(values[1], spec), scope, status=_int(values[0], spec),
                     retry_after=_int(values[2], spec))
    if kind in ("drop", "truncate", "html"):
        if kind == "html" and scope == "all":
            scope = "queries"
        return Fault(cast(FaultKind, kind), _float(_one(values, spec), spec), scope)
    raise ConfigError(f"unknown fault kind {kind!r} in {spec!r}; use latency, throttle, status, "
                      "retry-after, drop, truncate, html, first, skip or seed")


def _scoped(args: str) -> tuple[Scope, list[str]]:
    values = args.split(":")
    if values[0] in _SCOPES:
        return values[0], values[1:]
    return "all", values


def _one(values: list[str], spec: str) -> str:
    if len(values) != 1:
        raise ConfigError(f"fault spec {spec!r} takes one value after the scope")
    return values[0]


def _int(text: str, spec: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{text!r} in fault spec {spec!r} is not an integer") from None


def _float(text: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{text!r} in fault spec {spec!r} is not a number") from None


@dataclass(frozen=True)
class Decision:
    """What to do to one request."""

    latency_s: float = 0.0
    throttle_bytes_per_s: int | None = None
    fault: Fault | None = None


NO_FAULT = Decision()


@dataclass
class FaultInjector:
    """A config in action: thread-safe, reproducible for a given seed and request order."""

    config: FaultConfig
    _rng: random.Random = field(init=False)
    _seen: list[int] = field(init=False)
    _fired: dict[str, int] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed)
        self._seen = [0] * len(self.config.faults)

    def decide(self, scope: RequestScope) -> Decision:
        config = self.config
        latency = config.latency_s if _in_scope(config.latency_scope, scope) else 0.0
        throttle = (config.throttle_bytes_per_s
                    if _in_scope(config.throttle_scope, scope) else None)
        chosen: Fault | None = None
        with self._lock:
            for i, fault in enumerate(config.faults):
                if not fault.matches(scope):
                    continue
                self._seen[i] += 1
                order = self._seen[i] - fault.skip
                if order < 1 or (fault.first is not None and order > fault.first):
                    continue
                # Draw for every fault in scope, so one fault's outcome does not shift another's.
                fires = self._rng.random() < fault.probability
                if fires and chosen is None:
                    chosen = fault
            for label, applies in ((chosen.label if chosen else "", chosen is not None),
                                   ("latency", bool(latency)),
                                   ("throttle", throttle is not None)):
                if applies:
                    self._fired[label] = self._fired.get(label, 0) + 1
        if not latency and throttle is None and chosen is None:
            return NO_FAULT
        return Decision(latency, throttle, chosen)

    @property
    def injected(self) -> dict[str, int]:
        """How often each fault fired so far, by ``Fault.label``; ``latency`` and
        ``throttle`` count the requests they slowed."""
        with self._lock:
            return dict(self._fired)


def _in_scope(fault_scope: Scope, scope: RequestScope) -> bool:
    return fault_scope == "all" or fault_scope == scope


__all__ = ["NO_FAULT", "Decision", "Fault", "FaultConfig", "FaultInjector", "FaultKind", "Scope"]
