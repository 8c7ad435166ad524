"""The phase diagnostic: decides every phase's tier of a policy that passed the lint.

Rules, applied per phase in this order (DESIGN §3); each decision records why:

1. audit phases stay on the top tier (a cheaper route needs a justified override);
2. ``missed_risk`` needs the strong tier unless measured non-inferior on recall;
3. ``throughput`` with a valid catcher goes to the cheapest tier;
4. a phase feeding a rule-1/2 phase with no catcher in between inherits depth;
5. kind defaults decide what is still open;
6. measurement overrides rules 2-5 (never rule 1 silently).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import rfc8785

from phaseroute.errors import PolicyError
from phaseroute.policy._lint import Tiers, by_line, lint
from phaseroute.policy._loader import LoadedPolicy
from phaseroute.policy._lock import compared_models
from phaseroute.policy._plan import (
    Basis,
    ItemRouting,
    ModelChoice,
    PhaseDecision,
    PhaseEvidence,
    RoutingPlan,
)
from phaseroute.policy._schema import (
    DEEP_KINDS,
    CatastrophicError,
    PhaseConfig,
    Policy,
    WorkflowConfig,
)
from phaseroute.policy._tier_prices import budget_price_problems

INTUITION = "decided by intuition — measure it"


def policy_hash(policy: Policy) -> str:
    """SHA-256 over the RFC 8785 canonical JSON of the policy's meaning.

    Key order, comments and whitespace do not change it; ``feeds`` is a set, so its
    order does not either. Any change of a value does.
    """
    data = policy.model_dump(mode="json", by_alias=True)
    if not data.get("aliases"):
        data.pop("aliases", None)  # policies without gateway aliases keep their earlier hash
    for wf in data["workflows"].values():
        for phase in wf["phases"].values():
            phase["feeds"] = sorted(set(phase["feeds"]))
            per_item = (phase.get("route") or {}).get("per_item") or {}
            if per_item.get("certify") == "phase":
                del per_item["certify"]  # the default: per-item policies keep their earlier hash
            if per_item and per_item.get("window") is None:
                per_item.pop("window", None)  # likewise
    if not data.get("budgets"):
        data.pop("budgets", None)  # a policy without budgets keeps the hash it always had
    return hashlib.sha256(rfc8785.dumps(data)).hexdigest()


def evidence_hash(evidence: Mapping[tuple[str, str], PhaseEvidence]) -> str | None:
    if not evidence:
        return None
    rows = [
        [e.workflow, e.phase, e.metric, e.summary, e.model, e.stale, e.suspicious]
        for _, e in sorted(evidence.items())
    ]
    return hashlib.sha256(rfc8785.dumps(rows)).hexdigest()


class _Compiler:
    def __init__(self, loaded: LoadedPolicy, evidence: Mapping[tuple[str, str], PhaseEvidence]):
        self.loaded = loaded
        self.policy = loaded.policy
        self.evidence = evidence
        self.base_dir = loaded.path.resolve().parent if loaded.path else Path.cwd()

    def choices(self, tiers: Tiers) -> dict[str, ModelChoice]:
        return {
            name: ModelChoice(name, m.provider, m.id, m.tier, tiers.rank(m.tier))
            for name, m in self.policy.models.items()
        }

    def decide(
        self,
        wf_name: str,
        wf: WorkflowConfig,
        name: str,
        tiers: Tiers,
        models: dict[str, ModelChoice],
        depth_targets: dict[str, str],
    ) -> PhaseDecision:
        ph = wf.phases[name]
        p = self.policy
        reasons: list[str] = []
        warnings: list[str] = []
        rule_tier, rule, rule_reason = self.by_rules(wf_name, wf, name, tiers, depth_targets)
        reasons.append(rule_reason)
        tier, basis, model_name = rule_tier, Basis.rule, None
        if (
            not ph.audit
            and ph.catastrophic_error is CatastrophicError.throughput
            and ph.caught_by is None
        ):
            reasons.append(
                "Rule 3 did not apply: the catastrophic error is throughput, but no caught_by "
                "names what would catch this phase's mistakes."
            )

        ev = self.evidence.get((wf_name, name))
        if ev is not None and ev.phase_measured:
            measured = self.apply_evidence(ev, ph, rule, tiers, reasons, warnings)
            if measured is not None:
                model_name = measured
                tier = p.models[measured].tier
                basis = Basis.measured
                rule = "rule 6: measured"

        if ph.route is not None and ph.route.justification:
            tier = ph.route.tier or p.models[ph.route.model or ""].tier
            model_name = ph.route.model
            basis = Basis.override
            rule = "override"
            reasons.append(f"Override: routed by hand to {tier!r} — {ph.route.justification}")
            if ph.audit and tier != tiers.top:
                warnings.append(
                    f"policy exception: audit phase routed below the top tier ({tiers.top!r}) "
                    "by override; a reviewer must sign this off"
                )

        per_item = self.per_item(ph, ev, models, reasons, warnings)
        if per_item is not None:
            tier, basis, model_name = tiers.top, Basis.measured, per_item[0]
            rule = "per-item: certified"

        if basis is Basis.rule and tiers.rank(tier) < tiers.rank(tiers.top):
            warnings.append(
                f"{INTUITION}: the {tier!r} route rests on rules alone; measure this phase "
                "to show the cheaper tier holds its quality"
            )
        elif basis is Basis.rule and rule.startswith("rule 4"):
            warnings.append(
                f"{INTUITION}: depth was inherited from a downstream phase; measuring may "
                "show a cheaper tier is enough"
            )
        if ph.escalation is not None and tiers.rank(tier) == tiers.rank(tiers.top):
            warnings.append("escalation is declared but the phase is already on the top tier")

        in_tier = [m for m in models.values() if m.tier == tier]
        primary = models[model_name] if model_name else in_tier[0]
        rank = tiers.rank(tier)
        fallbacks = tuple(
            sorted(
                (m for m in models.values() if m.rank >= rank and m.name != primary.name),
                key=lambda m: m.rank,
            )
        )
        escalate_to = tuple(
            next(m for m in models.values() if m.tier == t) for t in tiers.names[rank + 1 :]
        )
        degrade_to: tuple[ModelChoice, ...] = ()
        if ph.on_unavailable == "degrade" and not ph.audit:
            degrade_to = tuple(
                sorted((m for m in models.values() if m.rank < rank), key=lambda m: -m.rank)
            )
        record = ph.audit or bool(ph.record) or p.audit.record_all_phases
        return PhaseDecision(
            workflow=wf_name,
            phase=name,
            kind=ph.kind,
            tier=tier,
            model=primary,
            basis=basis,
            rule=rule,
            reasons=tuple(reasons),
            warnings=tuple(warnings),
            fallbacks=fallbacks,
            degrade_to=degrade_to,
            escalate_to=escalate_to,
            escalation=ph.escalation,
            audit=ph.audit,
            record=record,
            redact=ph.redact if ph.redact is not None else p.audit.redact,
            volume=ph.volume,
            tokens_in=ph.tokens.input if ph.tokens else None,
            tokens_out=ph.tokens.output if ph.tokens else None,
            per_item=None if per_item is None else per_item[1],
        )

    def per_item(
        self,
        ph: PhaseConfig,
        ev: PhaseEvidence | None,
        models: dict[str, ModelChoice],
        reasons: list[str],
        warnings: list[str],
    ) -> tuple[str, ItemRouting] | None:
        """The reference model and the per-item routing, when the phase opted in and the
        lock holds a usable certificate; otherwise a warning and the rules stand."""
        if ph.route is None or ph.route.per_item is None or ph.audit:
            return None
        item = ev.per_item if ev is not None else None
        why: str | None = None
        if item is None:
            why = "no per-item certificate in the lock file — run `phaseroute measure`"
        elif item.stale:
            why = f"the per-item certificate is stale: {item.stale} — re-run measure"
        elif item.threshold is None:
            why = f"nothing was certified: {item.summary}"
        elif any(c not in models for c in item.candidates):
            why = "the certificate names a model that is not in the catalogue — re-run measure"
        if why is not None or item is None or item.threshold is None or item.predictor is None:
            warnings.append(f"per-item routing requested but not used: {why}")
            return None
        reference, _ = compared_models(self.policy)
        reasons.append(f"Per-item routing (certified): {item.summary}")
        routing = ItemRouting(
            threshold=item.threshold,
            predictor=item.predictor,
            candidates=tuple(models[c] for c in item.candidates),
            max_loss=item.max_loss,
            delta=item.delta,
        )
        return reference, routing

    def by_rules(
        self,
        wf_name: str,
        wf: WorkflowConfig,
        name: str,
        tiers: Tiers,
        depth_targets: dict[str, str],
    ) -> tuple[str, str, str]:
        ph = wf.phases[name]
        if ph.audit:
            return (
                tiers.top,
                "rule 1: audit",
                "Rule 1 (audit): this phase produces the audit trail a regulator scrutinises, "
                f"so it stays on the top tier ({tiers.top!r}); the saving on a cheaper model "
                "is smaller than one regulatory remediation.",
            )
        if ph.catastrophic_error is CatastrophicError.missed_risk:
            return (
                tiers.strong,
                "rule 2: missed risk",
                "Rule 2 (missed risk): a too-weak model here misses risk — a false negative "
                f"on a high-stakes judgment — so it gets the strong tier ({tiers.strong!r}) "
                "unless measurement shows a cheaper model non-inferior on recall of positives.",
            )
        if ph.catastrophic_error is CatastrophicError.throughput and ph.caught_by is not None:
            what = "phase" if ph.caught_by in wf.phases else "control"
            desc = self.policy.controls.get(ph.caught_by)
            detail = f" ({desc.description})" if desc and desc.description else ""
            return (
                tiers.cheap,
                "rule 3: throughput, caught",
                "Rule 3 (throughput, caught downstream): the cost of a too-weak model here is "
                f"throughput, and its mistakes are caught by {what} {ph.caught_by!r}{detail}, "
                f"so the cheapest tier ({tiers.cheap!r}) is enough.",
            )
        if name in depth_targets:
            return (
                tiers.strong,
                "rule 4: dependency",
                f"Rule 4 (dependency): its output feeds {depth_targets[name]} with nothing "
                "catching its mistakes in between, so it inherits the need for depth "
                f"({tiers.strong!r}) until measured.",
            )
        if ph.kind in DEEP_KINDS:
            return (
                tiers.strong,
                "rule 5: kind default",
                f"Rule 5 (kind default): {ph.kind.value} work needs reasoning depth, so it "
                f"defaults to the strong tier ({tiers.strong!r}).",
            )
        return (
            tiers.cheap,
            "rule 5: kind default",
            f"Rule 5 (kind default): {ph.kind.value} work defaults to the cheapest tier "
            f"({tiers.cheap!r}).",
        )

    def apply_evidence(
        self,
        ev: PhaseEvidence,
        ph: PhaseConfig,
        rule: str,
        tiers: Tiers,
        reasons: list[str],
        warnings: list[str],
    ) -> str | None:
        """Return the measured model to route to, or None if the evidence must not be used."""
        if ev.stale:
            warnings.append(f"evidence is stale and was not used: {ev.stale} — re-run measure")
            return None
        if ev.suspicious:
            warnings.append(
                f"measurement looks suspicious and was not used: {ev.suspicious} — check the "
                "scoring and the dataset"
            )
            return None
        if ev.model is None:
            reasons.append(f"Measurement was inconclusive, so the rules stand: {ev.summary}")
            return None
        if ev.model not in self.policy.models:
            warnings.append(
                f"evidence names model {ev.model!r}, which is not in the catalogue — re-run measure"
            )
            return None
        if rule.startswith("rule 1"):
            if self.policy.models[ev.model].tier != tiers.top:
                warnings.append(
                    f"measurement found {ev.model!r} non-inferior ({ev.summary}), but audit "
                    "phases stay on the top tier; a cheaper route needs a justified override"
                )
            else:
                reasons.append(f"Measurement agrees: {ev.summary}")
            return None
        if ph.catastrophic_error is CatastrophicError.missed_risk and ev.metric != "recall":
            warnings.append(
                f"evidence measured {ev.metric}, but a missed_risk phase must be measured on "
                "recall of positives (quality.metric: recall); evidence not used"
            )
            return None
        reasons.append(f"Rule 6 (measured): {ev.summary}")
        return ev.model

    # ------------------------------------------------------------------ whole policy

    def depth_targets(self, wf: WorkflowConfig) -> dict[str, str]:
        """Phases that inherit depth (rule 4) -> a description of the path to the target."""

        def needs_depth(name: str) -> bool:
            ph = wf.phases[name]
            return ph.audit or ph.catastrophic_error is CatastrophicError.missed_risk

        out: dict[str, str] = {}
        memo: dict[str, list[str] | None] = {}

        def path_to_deep(name: str, visiting: frozenset[str]) -> list[str] | None:
            if name in memo:
                return memo[name]
            found: list[str] | None = None
            for nxt in wf.phases[name].feeds:
                if nxt not in wf.phases or nxt in visiting:
                    continue
                if needs_depth(nxt):
                    found = [nxt]
                    break
                # propagation passes through a phase only if nothing catches its output
                if wf.phases[nxt].caught_by is None:
                    sub = path_to_deep(nxt, visiting | {nxt})
                    if sub is not None:
                        found = [nxt, *sub]
                        break
            memo[name] = found
            return found

        for name, ph in wf.phases.items():
            if needs_depth(name) or ph.caught_by is not None:
                continue
            path = path_to_deep(name, frozenset({name}))
            if path is not None:
                target = path[-1]
                why = "audit" if wf.phases[target].audit else "missed risk"
                via = f" via {' → '.join(path[:-1])}" if len(path) > 1 else ""
                out[name] = f"{target!r} (a {why} phase){via}"
        return out

    def run(self) -> RoutingPlan:
        linted = lint(self.loaded)
        tiers = linted.tiers
        models = self.choices(tiers)
        decisions: dict[tuple[str, str], PhaseDecision] = {}
        for wf_name, wf in self.policy.workflows.items():
            targets = self.depth_targets(wf)
            for name in wf.phases:
                decisions[(wf_name, name)] = self.decide(wf_name, wf, name, tiers, models, targets)
        budget_errors, budget_warnings = budget_price_problems(self.loaded, decisions)
        if budget_errors:
            raise PolicyError(tuple(by_line(budget_errors)))
        return RoutingPlan(
            policy=self.policy,
            policy_hash=policy_hash(self.policy),
            evidence_hash=evidence_hash(self.evidence),
            tiers=tiers.names,
            decisions=decisions,
            models=models,
            base_dir=self.base_dir,
            notices=tuple(by_line([*linted.warnings, *budget_warnings])),
        )


def compile_policy(
    loaded: LoadedPolicy, evidence: Mapping[tuple[str, str], PhaseEvidence] | None = None
) -> RoutingPlan:
    """Cross-check `loaded` and apply the diagnostic; raises `PolicyError` with every problem."""
    return _Compiler(loaded, evidence or {}).run()


def plan_summary(plan: RoutingPlan) -> list[dict[str, Any]]:
    """The plan as plain rows (for JSON output and reports)."""
    return [
        {
            "workflow": d.workflow,
            "phase": d.phase,
            "kind": d.kind.value,
            "tier": d.tier,
            "model": d.model.name,
            "model_id": d.model.model_id,
            "basis": d.basis.value,
            "rule": d.rule,
            "reasons": list(d.reasons),
            "warnings": list(d.warnings),
            "fallbacks": [m.name for m in d.fallbacks],
            "audit": d.audit,
        }
        for d in plan
    ]
