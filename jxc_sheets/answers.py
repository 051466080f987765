"""How a file's answer (an Outcome) is told: a few lines for the console and the
watcher's view, or one JSON object for scripts (`jxc run --json`)."""
from __future__ import annotations

from .records import Outcome

STATUS_WORDS = {
    "posted": "✔ 已过账 posted",
    "skipped": "= 已过账过, 跳过 already posted",
    "rejected": "✘ 已退回 rejected",
    "failed": "! 出错 failed",
    "dry-run": "· 试运行 would post",
    "gone": "- 已被取走 taken by another run",
    "retry": "↻ 系统错误, 稍后重试 will retry",
}


def describe(outcome: Outcome) -> str:
    parts = [f"{STATUS_WORDS.get(outcome.status, outcome.status)}  {outcome.file}"]
    if outcome.kind:
        parts.append(f"[{outcome.kind}]")
    if outcome.status in ("posted", "skipped", "dry-run"):
        parts.append(f"{outcome.documents} 单 documents, {outcome.lines} 行 lines")
    if outcome.moved_to:
        parts.append(f"→ {outcome.moved_to}")
    lines = [" ".join(parts)]
    lines += [f"    {p.render()}" for p in outcome.problems[:5]]
    if len(outcome.problems) > 5:
        lines.append(f"    … 共 {len(outcome.problems)} 个问题 / {len(outcome.problems)} problems in all")
    lines += [f"    {n}" for n in outcome.notes if outcome.status != "failed"]
    return "\n".join(lines)


def outcome_json(outcome: Outcome) -> dict:
    return {
        "file": outcome.file, "status": outcome.status, "kind": outcome.kind, "documents": outcome.documents,
        "lines": outcome.lines, "moved_to": outcome.moved_to, "notes": list(outcome.notes),
        "problems": [{"where": p.where, "code": p.code, "zh": p.zh, "en": p.en, "value": p.value} for p in outcome.problems],
    }
