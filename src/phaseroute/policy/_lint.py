"""Cross-checks of a validated policy: references, tiers, cycles, overrides, prices, keys.

The schema has checked shapes and types; this pass checks what refers to what. It collects
every problem (each naming file, line, column, dotted path and a fix) before failing, so a
user sees all their mistakes at once. It also runs on what can still be read of a policy
whose schema pass failed (see `_partial`): names in `unreadable` belong to entries that were
dropped there, so references to them are not reported a second time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from phaseroute.errors import PolicyError, Problem
from phaseroute.policy._loader import LoadedPolicy, SourceMap
from phaseroute.policy._schema import CatastrophicError, PhaseConfig, WorkflowConfig
from phaseroute.policy._tier_prices import tier_price_problems


@dataclass(frozen=True)
class Tiers:
    """The policy's tier order and what rules 2-5 mean by strong and cheap."""

    names: tuple[str, ...]
    strong: str
    cheap: str

    def rank(self, tier: str) -> int:
        return self.names.index(tier)

    @property
    def top(self) -> str:
        return self.names[-1]


@dataclass(frozen=True)
class LintResult:
    """What the cross-checks found: errors (the policy does not compile) and warnings."""

    tiers: Tiers
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]


def by_line(problems: Iterable[Problem]) -> list[Problem]:
    """Problems in the order they appear in the file (unlocated ones first)."""
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0))


class _Linter:
    def __init__(self, loaded: LoadedPolicy, unreadable: frozenset[str] = frozenset()) -> None:
        self.loaded = loaded
        self.policy = loaded.policy
        self.src: SourceMap = loaded.source
        self.unreadable = unreadable
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, path: tuple[str | int, ...], message: str, fix: str) -> None:
        self.problems.append(self.src.problem(path, message, fix))

    def warn(self, path: tuple[str | int, ...], message: str, fix: str) -> None:
        self.warnings.append(self.src.problem(path, message, fix))

    def dropped(self, name: str | None) -> bool:
        """True for a name whose entry could not be read: a reference to it is not an error
        of its own (the entry's schema problem is reported)."""
        return name is not None and name in self.unreadable

    def check_tiers(self) -> Tiers:
        p = self.policy
        seen: set[str] = set()
        for i, tier in enumerate(p.tiers):
            if tier in seen:
                self.error(
                    ("tiers", i),
                    f"tiers do not order: {tier!r} appears twice",
                    "list each tier once, cheapest first",
                )
            seen.add(tier)
        names = tuple(dict.fromkeys(p.tiers))
        for key in ("strong_tier", "cheap_tier"):
            value = getattr(p.routing, key)
            if value is not None and value not in names:
                self.error(
                    ("routing", key),
                    f"unknown tier {value!r}",
                    f"use one of the tiers: {', '.join(names)}",
                )
        strong = p.routing.strong_tier or names[-1]
        cheap = p.routing.cheap_tier or names[0]
        strong = strong if strong in names else names[-1]
        cheap = cheap if cheap in names else names[0]
        if names.index(cheap) > names.index(strong):
            self.error(
                ("routing", "cheap_tier"),
                f"cheap tier {cheap!r} is above strong tier {strong!r}",
                "tiers are listed cheapest first; pick a cheap tier at or below the strong one",
            )
        return Tiers(names, strong, cheap)

    def check_models(self, tiers: Tiers) -> None:
        p = self.policy
        for name, model in p.models.items():
            if model.provider not in p.providers and not self.dropped(model.provider):
                self.error(
                    ("models", name, "provider"),
                    f"unknown provider {model.provider!r}",
                    f"use one of: {', '.join(p.providers)} or add it under providers",
                )
            if model.tier not in tiers.names and not self.dropped(model.tier):
                self.error(
                    ("models", name, "tier"),
                    f"unknown tier {model.tier!r}",
                    f"use one of the tiers: {', '.join(tiers.names)}",
                )
        used = {m.tier for m in p.models.values()}
        if not used <= set(tiers.names) or self.unreadable:
            # a mistyped tier above, or a model that could not be read, would also leave
            # its tier empty: report it once
            return
        for i, tier in enumerate(tiers.names):
            if tier not in used:
                self.error(
                    ("tiers", i),
                    f"tier {tier!r} has no model",
                    "add a model with this tier under models, or remove the tier",
                )

    def check_workflow(self, wf_name: str, wf: WorkflowConfig, tiers: Tiers) -> None:
        p = self.policy
        for name in wf.phases:
            if name in p.controls:
                self.error(
                    ("workflows", wf_name, "phases", name),
                    f"duplicate name: {name!r} is both a phase and a control, so caught_by "
                    "would be ambiguous",
                    "rename the phase or the control",
                )
        for name, ph in wf.phases.items():
            base = ("workflows", wf_name, "phases", name)
            seen: set[str] = set()
            for i, target in enumerate(ph.feeds):
                if self.dropped(target):
                    continue
                if target not in wf.phases:
                    self.error(
                        (*base, "feeds", i),
                        f"unknown phase {target!r}",
                        f"feeds names phases of workflow {wf_name!r}: {', '.join(wf.phases)}",
                    )
                elif target == name:
                    self.error((*base, "feeds", i), "a phase cannot feed itself", "remove it")
                if target in seen:
                    self.error(
                        (*base, "feeds", i),
                        f"duplicate name: {target!r} is listed twice",
                        "list it once",
                    )
                seen.add(target)
            if ph.caught_by is not None:
                if ph.caught_by == name:
                    self.error(
                        (*base, "caught_by"),
                        "a phase cannot catch its own errors",
                        "name a downstream phase or a control",
                    )
                elif (
                    ph.caught_by not in wf.phases
                    and ph.caught_by not in p.controls
                    and not self.dropped(ph.caught_by)
                ):
                    known = [*wf.phases, *p.controls]
                    self.error(
                        (*base, "caught_by"),
                        f"caught_by names nothing: {ph.caught_by!r} is neither a phase of "
                        f"{wf_name!r} nor a control",
                        f"name one of: {', '.join(known)}, or declare it under controls",
                    )
            self.check_route(base, ph, tiers)
            if ph.on_unavailable == "degrade" and ph.audit:
                self.error(
                    (*base, "on_unavailable"),
                    "an audit phase may never be served below its tier",
                    "remove on_unavailable: degrade (audit phases fail loudly)",
                )
        self.check_cycles(wf_name, wf)
        self.check_pool(wf_name, wf)

    def check_route(self, base: tuple[str, ...], ph: PhaseConfig, tiers: Tiers) -> None:
        route = ph.route
        if route is None:
            return
        p = self.policy
        if route.per_item is not None:
            self.check_per_item(base, ph)
            if route.tier is None and route.model is None and route.justification is None:
                return
        if route.tier is None and route.model is None:
            self.error((*base, "route"), "a route needs a tier or a model", "add tier: or model:")
        if route.model is not None and not (route.model in p.models or self.dropped(route.model)):
            self.error(
                (*base, "route", "model"),
                f"unknown model {route.model!r}",
                f"use one of: {', '.join(p.models)}",
            )
        if route.tier is not None and not (route.tier in tiers.names or self.dropped(route.tier)):
            self.error(
                (*base, "route", "tier"),
                f"unknown tier {route.tier!r}",
                f"use one of the tiers: {', '.join(tiers.names)}",
            )
        if (
            route.model in p.models
            and route.tier is not None
            and p.models[route.model].tier != route.tier
        ):
            self.error(
                (*base, "route"),
                f"model {route.model!r} is in tier {p.models[route.model].tier!r}, "
                f"not {route.tier!r}",
                "give only the model, or a model of that tier",
            )
        if not route.justification:
            target = route.tier or (p.models[route.model].tier if route.model in p.models else None)
            if ph.audit and target is not None and target != tiers.top:
                self.error(
                    (*base, "route"),
                    f"audit phase routed below the top tier ({tiers.top!r}) without a "
                    "justified override",
                    "add route.justification explaining why this exception is acceptable, "
                    "or remove the route",
                )
            else:
                self.error(
                    (*base, "route", "justification"),
                    "a route override needs a justification",
                    "add justification: a sentence a reviewer can accept",
                )

    def check_per_item(self, base: tuple[str, ...], ph: PhaseConfig) -> None:
        """Per-item routing: throughput phases; missed_risk only on recall; never audit."""
        where = (*base, "route", "per_item")
        route = ph.route
        assert route is not None
        if ph.audit:
            self.error(
                where,
                "per-item routing is never allowed for an audit phase (rule 1: audit phases "
                "stay on the top tier)",
                "remove route.per_item, or set audit: false if this phase is not audited",
            )
        elif (
            ph.catastrophic_error is CatastrophicError.missed_risk and ph.quality.metric != "recall"
        ):
            self.error(
                where,
                "per-item routing of a missed_risk phase needs its loss measured as recall on "
                f"positives, not {ph.quality.metric}",
                "set quality.metric: recall (with quality.positive_label), or remove "
                "route.per_item",
            )
        if route.tier is not None or route.model is not None:
            self.error(
                where,
                "per-item routing cannot be combined with a hand-chosen tier or model",
                "keep either route.per_item or route.tier/model with a justification",
            )

    def check_pool(self, wf_name: str, wf: WorkflowConfig) -> None:
        """The phases with ``per_item.certify: workflow`` share one certificate: one ε, one δ,
        one window, and one kind of loss (recall on positives does not pool with a mean over
        all calls)."""
        members = [
            (name, ph, ph.route.per_item)
            for name, ph in wf.phases.items()
            if ph.route is not None
            and ph.route.per_item is not None
            and ph.route.per_item.certify == "workflow"
        ]
        if len(members) < 2:
            return
        first, _, shared = members[0]
        for name, _, settings in members[1:]:
            where = ("workflows", wf_name, "phases", name, "route", "per_item")
            for key, symbol in (("max_loss", "ε"), ("delta", "δ"), ("window", "window")):
                mine, theirs = getattr(settings, key), getattr(shared, key)
                if mine != theirs:
                    self.error(
                        (*where, key),
                        f"phase {name!r} is certified with workflow {wf_name!r}'s pool, whose "
                        f"{symbol} is {_shown(theirs)} (set by phase {first!r}), not "
                        f"{_shown(mine)}: one pool has one {symbol}",
                        f"set {key}: {_shown(theirs)} here (or in every phase of the pool), or "
                        "certify: phase to certify this phase on its own",
                    )
        recall = [name for name, ph, _ in members if ph.quality.metric == "recall"]
        if recall and len(recall) < len(members):
            others = ", ".join(name for name, _, _ in members if name not in recall)
            for name in recall:
                self.error(
                    ("workflows", wf_name, "phases", name, "route", "per_item", "certify"),
                    f"phase {name!r} measures its loss as recall on positives, but the pool of "
                    f"workflow {wf_name!r} also holds {others}, measured on all their items: a "
                    "pool's loss is one mean over its calls",
                    "certify: phase here, or pool only phases measured on recall",
                )

    def check_budgets(self) -> None:
        p = self.policy
        for wf_name, budget in p.budgets.items():
            base: tuple[str, ...] = ("budgets", wf_name)
            if wf_name not in p.workflows:
                self.error(
                    base,
                    f"unknown workflow {wf_name!r}",
                    f"budgets are keyed by workflow: {', '.join(p.workflows)}",
                )
                continue
            if (
                budget.daily_usd is None
                and budget.monthly_usd is None
                and not budget.phases
                and not self._limit_written(base)  # a bad written key is a schema error
            ):
                self.error(base, "a budget sets no limit", "give daily_usd, monthly_usd or phases")
            phases = p.workflows[wf_name].phases
            for ph_name, limit in budget.phases.items():
                where = (*base, "phases", ph_name)
                if ph_name not in phases:
                    self.error(
                        where,
                        f"unknown phase {ph_name!r} of workflow {wf_name!r}",
                        f"use one of: {', '.join(phases)}",
                    )
                elif (
                    limit.daily_usd is None
                    and limit.monthly_usd is None
                    and not self._limit_written(where)
                ):
                    self.error(where, "a budget sets no limit", "give daily_usd or monthly_usd")

    def _limit_written(self, base: tuple[str, ...]) -> bool:
        """Whether the file writes any key (a limit, or a misspelt one the schema pass has
        reported) under the budget at `base`."""
        n = len(base)
        return any(
            len(path) == n + 1 and path[:n] == base and path[n] != "phases"
            for path in self.src.positions
        )

    def check_cycles(self, wf_name: str, wf: WorkflowConfig) -> None:
        state: dict[str, int] = {}  # 1 = on the stack, 2 = done
        stack: list[str] = []
        reported: set[frozenset[str]] = set()

        def visit(node: str) -> None:
            state[node] = 1
            stack.append(node)
            for nxt in wf.phases[node].feeds:
                if nxt not in wf.phases or nxt == node:
                    continue
                if state.get(nxt) == 1:
                    cycle = [*stack[stack.index(nxt) :], nxt]
                    members = frozenset(cycle)
                    if members not in reported:
                        reported.add(members)
                        self.error(
                            ("workflows", wf_name, "phases", cycle[0], "feeds"),
                            f"cycle in feeds: {' → '.join(cycle)}",
                            "feeds must flow one way; remove one of these edges",
                        )
                elif nxt not in state:
                    visit(nxt)
            stack.pop()
            state[node] = 2

        for name in wf.phases:
            if name not in state:
                visit(name)

    def check_audit_key(self) -> None:
        """Recorded calls need a signing key: without one no checkpoint is signed, and
        `audit verify` cannot tell an untouched trail from a tampered one."""
        p = self.policy
        if p.audit.signing_key is not None:
            return
        recorded: list[tuple[str | int, ...]] = []
        for wf_name, wf in p.workflows.items():
            for name, ph in wf.phases.items():
                base = ("workflows", wf_name, "phases", name)
                if ph.audit:
                    recorded.append((*base, "audit"))
                elif ph.record:
                    recorded.append((*base, "record"))
        if p.audit.record_all_phases:
            recorded.insert(0, ("audit", "record_all_phases"))
        if not recorded:
            return
        names = [str(path[3]) if path[0] == "workflows" else "every phase" for path in recorded]
        policy_file = self.src.file if self.loaded.path is not None else "POLICY"
        self.error(
            recorded[0],
            f"{', '.join(dict.fromkeys(names))} must be audit-recorded, but the policy has no "
            "audit.signing_key, so no checkpoint would be signed and `audit verify` could not "
            "tell this trail from a tampered one",
            f"run `phaseroute audit keygen --policy {policy_file}` and add the line it prints "
            "under a top-level `audit:` key (e.g. audit: {signing_key: file:keys/audit.key})",
        )

    def check_aliases(self) -> None:
        """Every gateway alias names a phase that exists."""
        p = self.policy
        for pattern, target in p.aliases.items():
            workflow, phase_name = target.split("/", 1)
            if workflow not in p.workflows:
                self.error(
                    ("aliases", pattern),
                    f"alias {pattern!r} routes to unknown workflow {workflow!r}",
                    f"use one of the workflows: {', '.join(p.workflows)}",
                )
            elif phase_name not in p.workflows[workflow].phases:
                phases = p.workflows[workflow].phases
                self.error(
                    ("aliases", pattern),
                    f"alias {pattern!r} routes to unknown phase {phase_name!r} of {workflow!r}",
                    f"use one of: {', '.join(f'{workflow}/{n}' for n in phases)}",
                )

    def check_metrics(self) -> None:
        """A missed_risk phase's evidence counts only on recall of positives (a warning:
        the phase is valid, it just stays on the strong tier whatever is measured)."""
        for wf_name, wf in self.policy.workflows.items():
            for name, ph in wf.phases.items():
                if ph.catastrophic_error is not CatastrophicError.missed_risk:
                    continue
                if ph.quality.metric == "recall" or ph.audit:
                    continue
                base = ("workflows", wf_name, "phases", name)
                path: tuple[str, ...] = (*base, "quality", "metric")
                if path not in self.src.positions:
                    path = (*base, "catastrophic_error")
                self.warn(
                    path,
                    f"a missed_risk phase measured on {ph.quality.metric} can never leave the "
                    "strong tier: only recall on positives counts as evidence for it",
                    "set quality: {metric: recall, positive_label: <the risk class>} to let "
                    "measurement decide, or keep it to pin the phase to the strong tier",
                )


def lint_policy(loaded: LoadedPolicy, unreadable: frozenset[str] = frozenset()) -> LintResult:
    """Every cross-check of `loaded`; `unreadable` names entries the schema pass dropped."""
    linter = _Linter(loaded, unreadable)
    tiers = linter.check_tiers()
    linter.check_models(tiers)
    for wf_name, wf in loaded.policy.workflows.items():
        linter.check_workflow(wf_name, wf, tiers)
    linter.check_aliases()
    linter.check_budgets()
    linter.check_audit_key()
    linter.check_metrics()
    if not linter.problems:
        # prices are compared only once every model and tier resolves
        linter.problems.extend(tier_price_problems(loaded, tiers.names))
    return LintResult(tiers, tuple(by_line(linter.problems)), tuple(by_line(linter.warnings)))


def lint(loaded: LoadedPolicy) -> LintResult:
    """The policy's tiers and warnings if it is consistent; else `PolicyError` with every
    problem, ordered by line."""
    result = lint_policy(loaded)
    if result.errors:
        raise PolicyError(result.errors)
    return result


def _shown(value: float | None) -> str:
    """A per-item setting as the policy spells it."""
    return "null" if value is None else f"{value:g}"
