#!/usr/bin/env python3
"""Check that the Grafana dashboard covers every metric the pipeline records.

Reads the metric constants in `actors/src/metric_names.rs` (each `pub const NAME: &str = "...";` with
a `/// Counter|Gauge|Histogram ...` doc comment) and every PromQL expression in the dashboard's panels
(rows and collapsed rows included), then checks:

- every metric is used by at least one panel expression;
- a histogram is queried through its `_bucket`, `_sum` or `_count` series (the bare name has no series);
- a counter's name ends in `_total` and is not read raw (it must sit inside rate/increase/irate);
- the dashboard has unique panel ids and every query panel has a datasource.

Exit status 0 when all hold; 1 with one line per problem otherwise; 2 when a file cannot be read.

Usage: python3 grafana/check_dashboard.py [--metrics actors/src/metric_names.rs]
                                          [--dashboard grafana/dashboards/panoptes.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_METRICS = ROOT / "actors" / "src" / "metric_names.rs"
DEFAULT_DASHBOARD = ROOT / "grafana" / "dashboards" / "panoptes.json"

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# A metric-name token in PromQL: not preceded or followed by a name character.
NAME_CHARS = "A-Za-z0-9_:"
CONST_RE = re.compile(r'pub\s+const\s+([A-Z0-9_]+)\s*:\s*&str\s*=\s*"([^"]+)"\s*;')
KIND_RE = re.compile(r"^\s*///\s*(Counter|Gauge|Histogram)\b")


@dataclass(frozen=True)
class Metric:
    const: str
    name: str
    kind: str  # "counter" | "gauge" | "histogram" | "unknown"


def parse_metrics(source: str) -> list[Metric]:
    """Metric constants with the kind named by the first line of their doc comment."""
    metrics: list[Metric] = []
    lines = source.splitlines()
    for i, line in enumerate(lines):
        m = CONST_RE.search(line)
        if not m:
            continue
        kind = "unknown"
        j = i - 1
        # Walk up the contiguous doc comment; its first line names the kind.
        while j >= 0 and lines[j].lstrip().startswith("///"):
            j -= 1
        if j + 1 < i:
            k = KIND_RE.match(lines[j + 1])
            if k:
                kind = k.group(1).lower()
        metrics.append(Metric(const=m.group(1), name=m.group(2), kind=kind))
    return metrics


def iter_panels(panels: list[dict]):
    """Every panel, descending into rows (collapsed rows keep their panels inside)."""
    for p in panels:
        yield p
        yield from iter_panels(p.get("panels", []) or [])


def panel_exprs(dashboard: dict) -> list[tuple[str, str]]:
    """(panel title, PromQL expression) for every target of every panel."""
    out = []
    for p in iter_panels(dashboard.get("panels", [])):
        for t in p.get("targets", []) or []:
            expr = t.get("expr")
            if isinstance(expr, str) and expr.strip():
                out.append((p.get("title", f"panel {p.get('id')}"), expr))
    return out


def uses(expr: str, name: str) -> list[str]:
    """The suffixes (``""`` for the bare name) under which `name` appears as a token in `expr`."""
    pattern = re.compile(rf"(?<![{NAME_CHARS}]){re.escape(name)}(_bucket|_sum|_count)?(?![{NAME_CHARS}])")
    return [m.group(1) or "" for m in pattern.finditer(expr)]


def counter_read_raw(expr: str, name: str) -> bool:
    """True when the counter appears outside a rate/irate/increase range function."""
    pattern = re.compile(rf"(?<![{NAME_CHARS}]){re.escape(name)}(?![{NAME_CHARS}])")
    for m in pattern.finditer(expr):
        before = expr[: m.start()]
        # The innermost unclosed function call around the match.
        depth, k = 0, len(before) - 1
        func = None
        while k >= 0:
            c = before[k]
            if c == ")":
                depth += 1
            elif c == "(":
                if depth == 0:
                    fm = re.search(r"([a-z_]+)\s*$", before[:k])
                    func = fm.group(1) if fm else ""
                    break
                depth -= 1
            k -= 1
        if func not in ("rate", "irate", "increase"):
            return True
    return False


def check(metrics: list[Metric], dashboard: dict) -> list[str]:
    problems: list[str] = []
    if not metrics:
        problems.append("no `pub const NAME: &str = \"...\";` metric constants found in metric_names.rs")
    exprs = panel_exprs(dashboard)
    if not exprs:
        problems.append("the dashboard has no panel expressions")

    for metric in metrics:
        found = [(title, expr, suffixes) for title, expr in exprs if (suffixes := uses(expr, metric.name))]
        if not found:
            problems.append(
                f"missing: {metric.name} ({metric.const}, {metric.kind}) is used by no panel; "
                f"add a panel for it to grafana/dashboards/panoptes.json"
            )
            continue
        if metric.kind == "unknown":
            problems.append(
                f"{metric.name} ({metric.const}): its doc comment does not start with Counter, Gauge or Histogram"
            )
        if metric.kind == "histogram":
            for title, _expr, suffixes in found:
                if "" in suffixes:
                    problems.append(
                        f"panel '{title}': histogram {metric.name} is queried bare; "
                        f"use {metric.name}_bucket / _sum / _count"
                    )
        else:
            for title, _expr, suffixes in found:
                bad = sorted(s for s in suffixes if s)
                if bad and not metric.name.endswith(tuple(bad)):
                    problems.append(
                        f"panel '{title}': {metric.kind} {metric.name} has no {'/'.join(bad)} series (not a histogram)"
                    )
        if metric.kind == "counter":
            if not metric.name.endswith("_total"):
                problems.append(f"counter {metric.name} ({metric.const}) should end in _total")
            for title, expr, _ in found:
                if counter_read_raw(expr, metric.name):
                    problems.append(f"panel '{title}': counter {metric.name} is read raw; wrap it in rate() or increase()")

    ids: dict[int, str] = {}
    for p in iter_panels(dashboard.get("panels", [])):
        pid = p.get("id")
        title = p.get("title", "?")
        if pid in ids:
            problems.append(f"panel id {pid} is used by both '{ids[pid]}' and '{title}'")
        ids[pid] = title
        if p.get("targets") and not p.get("datasource"):
            problems.append(f"panel '{title}' has queries but no datasource")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--metrics", type=Path, default=DEFAULT_METRICS, help="path to metric_names.rs")
    ap.add_argument("--dashboard", type=Path, default=DEFAULT_DASHBOARD, help="path to the dashboard JSON")
    args = ap.parse_args(argv)
    try:
        metrics = parse_metrics(args.metrics.read_text(encoding="utf-8"))
    except OSError as e:
        print(f"error: cannot read metric names {args.metrics}: {e}", file=sys.stderr)
        return 2
    try:
        dashboard = json.loads(args.dashboard.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        print(f"error: cannot read dashboard {args.dashboard}: {e}", file=sys.stderr)
        return 2

    problems = check(metrics, dashboard)
    if problems:
        print(f"{args.dashboard}: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print(f"ok: {len(metrics)} metrics, all used by {args.dashboard.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
