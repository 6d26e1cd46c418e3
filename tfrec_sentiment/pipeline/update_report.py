"""`report.md` of an updated run: feedback, growth, guardrail checks, decision, timing.

Example:

>>> import shutil, tempfile, types
>>> from tfrec_sentiment.pipeline.update_records import Decision
>>> run_dir = Path(tempfile.mkdtemp()) / "shop-update-1"
>>> run_dir.mkdir()
>>> state = types.SimpleNamespace(
...     run_dir=run_dir, parent=Path("runs/shop"), candidate=None, version_dir=None,
...     feedback=types.SimpleNamespace(counts={"new": 3}),
...     evaluation={"slice": {"rows": 3, "users": 2}},
...     decision=Decision(False, "too little evidence", False, 0.02, 1, status="refused"))
>>> lines = write_update_report(state, {"seconds": {"data": 1.5}}).read_text().splitlines()
>>> lines[0], lines[-1]
('# Update `shop-update-1` of `shop`', '| data | 1.5 |')
>>> "Decision: **refused**: too little evidence" in lines
True
>>> shutil.rmtree(run_dir.parent)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tfrec_sentiment.pipeline.guardrail import Check
    from tfrec_sentiment.pipeline.update import UpdateState
    from tfrec_sentiment.pipeline.update_records import Decision


def guardrail_table(decision: Decision) -> list[str]:
    """Markdown lines of the guardrail's checks (candidate, published, limit, ok) and a
    blank line; none when nothing was checked. Shared by the update and erasure reports."""
    if not decision.checks:
        return []
    return [f"| metric | candidate | published v{decision.compared_version} | limit | ok |",
            "|---|---|---|---|---|",
            *(f"| {c.metric} | {c.candidate:.4f} | {c.published:.4f} | {c.limit:.4f} | "
              f"{'yes' if c.passed else 'NO'} |" for c in decision.checks), ""]


def check_line(check: Check) -> str:
    """One guardrail check as the update and forget tools print it.

    Example:
        >>> from tfrec_sentiment.pipeline.guardrail import Check
        >>> check_line(Check("ndcg@10", 0.05, 0.06, 0.0588, False, False))
        '  ndcg@10: candidate 0.0500, published 0.0600, limit 0.0588 WORSE'
    """
    return (f"  {check.metric}: candidate {check.candidate:.4f}, published "
            f"{check.published:.4f}, limit {check.limit:.4f} "
            f"{'ok' if check.passed else 'WORSE'}")


def write_update_report(state: UpdateState, timing: dict) -> Path:
    """`report.md` of the updated run: feedback, growth, guardrail, decision, timing."""
    decision, evaluation = state.decision, state.evaluation
    lines = [f"# Update `{state.run_dir.name}` of `{state.parent.name}`", "",
             "## Feedback", "", f"Reconciliation: {state.feedback.counts}", "",
             "Vocabulary growth: " + (str(state.candidate.metrics.get("growth"))
                                      if state.candidate is not None
                                      else "none (refused before training)"), "",
             "## Guardrail", "",
             f"Evaluation slice: {evaluation['slice']}", ""]
    lines += guardrail_table(decision)
    lines += [f"Decision: **{decision.status}**: {decision.reason}", ""]
    if state.version_dir is not None:
        lines += [f"Published `{state.version_dir}`; pruned versions {decision.pruned}", ""]
    lines += ["## Stage wall times", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {stage} | {seconds:.1f} |" for stage, seconds in timing["seconds"].items()]
    path = state.run_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
