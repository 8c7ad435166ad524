"""The three cost levers side by side: routing, prompt caching and batches.

Each lever is costed alone against uniform use of the top tier's model, and all three
together, per phase and per workflow, on the phase's token profile and daily volume:

- **routing**: the plan's model instead of the top model;
- **caching**: the phase's cacheable prefix (``tokens.cacheable``, a share of the input)
  is read from the prompt cache at the cache-read price; it is written at the cache-write
  price at most once per 5 minutes (the default cache lifetime), i.e. on at most 288 of the
  day's calls;
- **batches**: a phase that declares ``batch: true`` runs at batch prices — the catalogue's
  where genai-prices has them, else the provider's documented discount (50% unless the
  policy's ``providers.<name>.batch_discount`` says otherwise), named in `batch_sources`.

A phase that cannot be costed is left out of every total (never counted as zero).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from phaseroute.costs._pricing import PriceBook
from phaseroute.policy import PhaseDecision, RoutingPlan
from phaseroute.providers._base import Usage

# The default prompt-cache lifetime is 5 minutes: a busy phase writes its prefix at most
# this many times a day.
CACHE_WRITES_PER_DAY = 24 * 60 // 5
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class LeverCosts:
    """USD per day of one phase (or a sum of phases) under each lever and all together."""

    uniform_top: Decimal
    routing: Decimal  # the routing plan, called plainly
    caching: Decimal  # the top model, with prompt caching
    batch: Decimal  # the top model, through the batch API where the phase allows it
    together: Decimal  # the routing plan, with caching and batches

    def __add__(self, other: LeverCosts) -> LeverCosts:
        return LeverCosts(
            self.uniform_top + other.uniform_top,
            self.routing + other.routing,
            self.caching + other.caching,
            self.batch + other.batch,
            self.together + other.together,
        )

    def saving(self, lever: str) -> Decimal:
        """What `lever` (routing, caching, batch, together) saves against uniform top."""
        value: Decimal = getattr(self, lever)
        return self.uniform_top - value

    def saving_pct(self, lever: str) -> Decimal | None:
        if self.uniform_top == 0:
            return None
        return self.saving(lever) / self.uniform_top * _HUNDRED


LEVERS = ("routing", "caching", "batch", "together")
_ZERO = LeverCosts(Decimal(0), Decimal(0), Decimal(0), Decimal(0), Decimal(0))


@dataclass(frozen=True, slots=True)
class PhaseLevers:
    workflow: str
    phase: str
    model: str
    cacheable: float
    batch: bool
    daily: LeverCosts


@dataclass(frozen=True, slots=True)
class WorkflowLevers:
    workflow: str
    phases: tuple[PhaseLevers, ...]
    not_costed: tuple[str, ...]  # phase names

    @property
    def daily(self) -> LeverCosts:
        return sum((p.daily for p in self.phases), _ZERO)


@dataclass(frozen=True, slots=True)
class LeverProjection:
    top_model: str
    price_version: str
    workflows: tuple[WorkflowLevers, ...]
    batch_sources: Mapping[str, str]  # model -> where its batch price comes from

    @property
    def daily(self) -> LeverCosts:
        return sum((w.daily for w in self.workflows), _ZERO)


def _daily(
    book: PriceBook, model: str, d: PhaseDecision, cacheable: float, batch: bool
) -> Decimal | None:
    """USD per day of `d`'s volume on `model`, with caching of `cacheable` and/or batch."""
    assert d.tokens_in is not None
    assert d.tokens_out is not None
    prefix = round(d.tokens_in * cacheable)
    rest = d.tokens_in - prefix
    if prefix == 0:
        one = book.cost(model, Usage(d.tokens_in, d.tokens_out, batch=batch))
        return None if one is None else one * d.volume
    writes = min(d.volume, CACHE_WRITES_PER_DAY)
    read = book.cost(model, Usage(rest, d.tokens_out, cache_read_tokens=prefix, batch=batch))
    write = book.cost(model, Usage(rest, d.tokens_out, cache_write_tokens=prefix, batch=batch))
    if read is None or write is None:
        return None
    return read * (d.volume - writes) + write * writes


def project_levers(
    plan: RoutingPlan, book: PriceBook, workflow: str | None = None
) -> LeverProjection:
    """Routing, caching and batch savings of `plan` (or one `workflow`), alone and together."""
    top = plan.top_model().name
    decisions = plan.for_workflow(workflow) if workflow is not None else list(plan)
    grouped: dict[str, tuple[list[PhaseLevers], list[str]]] = {}
    sources: dict[str, str] = {}
    for d in decisions:
        costed, skipped = grouped.setdefault(d.workflow, ([], []))
        config = plan.policy.workflows[d.workflow].phases[d.phase]
        cacheable = config.tokens.cacheable if config.tokens is not None else 0.0
        batch = config.batch
        if d.tokens_in is None or d.tokens_out is None or d.volume <= 0:
            skipped.append(d.phase)
            continue
        values = (
            _daily(book, top, d, 0.0, False),
            _daily(book, d.model.name, d, 0.0, False),
            _daily(book, top, d, cacheable, False),
            _daily(book, top, d, 0.0, batch),
            _daily(book, d.model.name, d, cacheable, batch),
        )
        if any(v is None for v in values):
            skipped.append(d.phase)
            continue
        if batch:
            for model in (top, d.model.name):
                source = book.batch_price_source(model)
                if source is not None:
                    sources[model] = source
        costs = LeverCosts(*(v for v in values if v is not None))
        costed.append(PhaseLevers(d.workflow, d.phase, d.model.name, cacheable, batch, costs))
    return LeverProjection(
        top_model=top,
        price_version=book.version,
        workflows=tuple(
            WorkflowLevers(name, tuple(costed), tuple(skipped))
            for name, (costed, skipped) in grouped.items()
        ),
        batch_sources=sources,
    )
