"""The update's guardrail stages: the evidence check before training, the comparison
after it, and the verdict.

    evaluation slice --(evidence_stage)--> too little evidence: refused, nothing trained
                     --(guardrail_stage)--> candidate and published version, same slice
    either summary --(decide)--> `Decision` (publish or refuse, and why)

`evidence_stage` counts what the guardrail would evaluate before any candidate exists;
`guardrail_stage` scores both models through the same `rank` function
(`pipeline.guardrail`) with a paired bootstrap interval per guarded metric; `decide`
reads either summary. The feedback update and the erasure share them.

Example:

>>> config = UpdateConfig(min_eval_rows=20, min_eval_users=5)
>>> counts = {"test_rows": 40, "users": 8}
>>> decide({"published_version": None, "candidate": {"rmse": 0.9, "ndcg@10": 0.1},
...         "published": None, "counts": counts}, config).reason
'no published version yet: the candidate becomes version 1'
>>> worse = decide({"published_version": 1, "candidate": {"rmse": 0.95, "ndcg@10": 0.09},
...                 "published": {"rmse": 0.94, "ndcg@10": 0.10}, "counts": counts}, config)
>>> worse.publish, [c.passed for c in worse.checks], worse.reason
(False, [True, False], 'worse than version 1 beyond the tolerance 0.02 on ndcg@10')
>>> thin = decide({"published_version": 1, "candidate": None, "published": None,
...                "counts": {"test_rows": 3, "users": 2}}, config)
>>> thin.publish, thin.evidence["enough"], thin.reason.split(":")[0]
(False, False, 'too little evidence')
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from tfrec_sentiment.data.splits import Split
from tfrec_sentiment.evaluation.evaluate import EvalResult, evaluate, evaluated_counts
from tfrec_sentiment.evaluation.stats import paired_bootstrap
from tfrec_sentiment.export.versions import latest_version
from tfrec_sentiment.pipeline.config import UpdateConfig
from tfrec_sentiment.pipeline.guardrail import Check, RankRecommender, judge, load_published
from tfrec_sentiment.pipeline.stages import write_json
from tfrec_sentiment.pipeline.update_records import Decision
from tfrec_sentiment.recsys.trained import TrainedRecommender

log = logging.getLogger(__name__)


def evidence_stage(split: Split, model_dir: Path, config: UpdateConfig,
                   run_dir: Path) -> dict | None:
    """Refuses before training when the evaluation slice alone decides it.

    The slice is fixed by the data stage, so the rows and users the guardrail would
    evaluate (test rows whose item is in the training catalogue, and their users:
    `evaluation.evaluated_counts`, the selection `evaluate` makes) are known before
    any candidate exists. Without `force`, a slice with no such row, or one below
    `min_eval_rows` / `min_eval_users` while a published version exists, is
    refused whatever the candidate would score; training it would only cost time.

    Returns:
        None: train and judge (enough evidence, no published version, or `force`).
        Else the guardrail summary `decide` reads, as `guardrail_stage`'s with
        "candidate" / "published" None and "counts" the evaluated counts, also
        written to `evaluation/update.json`.
    """
    if config.force:
        return None
    try:
        counts = (evaluated_counts(split.train, split.test) if len(split.test)
                  else {"test_rows": 0, "users": 0})
    except ValueError:  # no training item at all: the full path reports it
        return None
    version = latest_version(model_dir)
    enough = (counts["test_rows"] >= config.min_eval_rows
              and counts["users"] >= config.min_eval_users)
    if counts["test_rows"] > 0 and (enough or version is None):
        return None
    summary = {"slice": split.summary()["test"], "published_version": version,
               "metrics": config.metric_keys(), "candidate": None, "published": None,
               "difference": {}, "counts": counts}
    write_json(run_dir / "evaluation" / "update.json", summary)
    log.info("refusing before training: the evaluation slice holds %s evaluated rows and %s "
             "users", counts["test_rows"], counts["users"])
    return summary


def guardrail_stage(candidate: TrainedRecommender, split: Split, model_dir: Path,
                    config: UpdateConfig, run_dir: Path) -> dict:
    """Scores the candidate and the published version on the evaluation slice.

    Returns (and writes to `evaluation/update.json`): {"slice": rows/users/items,
    "published_version": int | None, "candidate": metrics, "published": metrics,
    "difference": per guarded metric, candidate - published with a 95% paired
    bootstrap interval over users}. Metrics are None when the slice is empty.
    """
    version = latest_version(model_dir)
    summary = {"slice": split.summary()["test"], "published_version": version,
               "metrics": config.metric_keys(), "candidate": None, "published": None,
               "difference": {}, "counts": None}
    model = RankRecommender(candidate.serving.rank, candidate.config.score_mode,
                            candidate.config.score_blend, score=candidate.serving.score_items)
    results = {"candidate": _evaluate(model, split, config)}
    if version is not None and results["candidate"] is not None:
        results["published"] = _evaluate(load_published(model_dir / str(version)), split,
                                         config)
    for name, result in results.items():
        summary[name] = result.metrics if result is not None else None
        summary["counts"] = result.counts if result is not None else summary["counts"]
    if summary["published"] is not None:
        summary["difference"] = _differences(results["candidate"], results["published"],
                                             config.metric_keys())
    write_json(run_dir / "evaluation" / "update.json", summary)
    return summary


def decide(evaluation: dict, config: UpdateConfig) -> Decision:
    """The guardrail's decision from `guardrail_stage`'s summary.

    Refuses (unless `config.force`) an empty slice, a slice below the minimum of
    evidence (`min_eval_rows` rows, `min_eval_users` users, counted as evaluated:
    `evaluation["counts"]`), and a candidate worse beyond the tolerance. With no
    published version there is nothing to guard: the candidate is published.
    `evaluation` may also be `evidence_stage`'s summary (no candidate metrics: the
    too-little-evidence refusal then has no checks).
    """
    version = evaluation["published_version"]
    counts = evaluation.get("counts") or {}
    rows, users = int(counts.get("test_rows", 0)), int(counts.get("users", 0))
    evidence = {"rows": rows, "users": users, "min_rows": config.min_eval_rows,
                "min_users": config.min_eval_users,
                "enough": rows >= config.min_eval_rows and users >= config.min_eval_users}

    def verdict(publish: bool, reason: str, checks: list[Check] | None = None) -> Decision:
        if config.force and not publish:
            publish, reason = True, f"forced (the guardrail alone would refuse: {reason})"
        return Decision(publish, reason, config.force, config.tolerance, version,
                        checks or [], evidence=evidence)

    evaluated = evaluation["candidate"] is not None
    if not evaluated and (rows == 0 or version is None or evidence["enough"]):
        return verdict(False, "the evaluation slice is empty (no new review of a known "
                              "item): the candidate cannot be checked")
    if version is None:
        return verdict(True, "no published version yet: the candidate becomes version 1")
    # Not evaluated here: `evidence_stage` refused on the slice's counts before training.
    checks = judge(evaluation["candidate"], evaluation["published"], config.metric_keys(),
                   config.tolerance) if evaluated else []
    if not evidence["enough"]:
        return verdict(False, f"too little evidence: the evaluation slice has "
                              f"{_count(evidence['rows'], 'row')} and "
                              f"{_count(evidence['users'], 'user')}, the guardrail needs at "
                              f"least {evidence['min_rows']} rows and {evidence['min_users']} "
                              f"users (min_eval_rows, min_eval_users) to compare with version "
                              f"{version}; --force publishes anyway", checks)
    failed = [c.metric for c in checks if not c.passed]
    if failed:
        return verdict(False, f"worse than version {version} beyond the tolerance "
                              f"{config.tolerance:g} on {', '.join(failed)}", checks)
    return verdict(True, f"not worse than version {version} beyond the tolerance "
                         f"{config.tolerance:g} on {', '.join(c.metric for c in checks)}",
                   checks)


def _evaluate(model: RankRecommender, split: Split, config: UpdateConfig) -> EvalResult | None:
    if len(split.test) == 0:
        return None
    try:
        return evaluate(model, split.train, split.test, seen=(split.validation,), k=config.k)
    except ValueError as error:  # every slice item unknown to the catalogue
        log.warning("evaluation slice unusable: %s", error)
        return None


def _differences(candidate: EvalResult, published: EvalResult,
                 metrics: Sequence[str]) -> dict[str, dict]:
    out = {}
    for metric in metrics:
        diff = paired_bootstrap(candidate.per_user.statistic(metric),
                                published.per_user.statistic(metric),
                                len(candidate.per_user.user_ids), metric=metric,
                                names=("candidate", "published"), n_resamples=1000)
        out[metric] = {"difference": diff.difference, "low": diff.low, "high": diff.high}
    return out


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
