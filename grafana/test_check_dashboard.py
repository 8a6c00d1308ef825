"""Tests for check_dashboard.py: run with `python3 -m unittest discover -s grafana -p 'test_*.py'`."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_dashboard as cd  # noqa: E402

METRICS_RS = '''
/// Counter, labels `camera`: frames decoded.
pub const FRAMES_DECODED: &str = "x_frames_decoded_total";
/// Gauge: clients.
pub const CLIENTS: &str = "x_clients";
/// Histogram, seconds, labels `device`: one call.
/// More prose on a second line.
pub const CALL_SECONDS: &str = "x_call_seconds";
'''


def dashboard(*exprs: str) -> dict:
    return {
        "panels": [
            {"type": "row", "id": 1, "title": "row", "panels": []},
            *[
                {"type": "timeseries", "id": i + 2, "title": f"p{i}", "datasource": {"uid": "prometheus"},
                 "targets": [{"expr": e, "refId": "A"}]}
                for i, e in enumerate(exprs)
            ],
        ]
    }


GOOD = dashboard(
    "sum by (camera) (rate(x_frames_decoded_total[5m]))",
    "sum(x_clients)",
    "histogram_quantile(0.99, sum by (le) (rate(x_call_seconds_bucket[5m])))",
)


class ParseMetrics(unittest.TestCase):
    def test_names_and_kinds_from_doc_comments(self):
        got = {(m.const, m.name, m.kind) for m in cd.parse_metrics(METRICS_RS)}
        self.assertEqual(
            got,
            {
                ("FRAMES_DECODED", "x_frames_decoded_total", "counter"),
                ("CLIENTS", "x_clients", "gauge"),
                ("CALL_SECONDS", "x_call_seconds", "histogram"),
            },
        )

    def test_the_real_metric_names_file_parses_with_known_kinds(self):
        source = cd.DEFAULT_METRICS.read_text(encoding="utf-8")
        metrics = cd.parse_metrics(source)
        # Every `pub const` line is a metric; none is left without a kind.
        self.assertEqual(len(metrics), source.count("pub const "))
        self.assertTrue(all(m.kind != "unknown" for m in metrics), metrics)
        by_const = {m.const: m for m in metrics}
        self.assertEqual(by_const["FRAMES_DECODED"].kind, "counter")
        self.assertEqual(by_const["BATCH_SIZE"].kind, "histogram")


class Check(unittest.TestCase):
    metrics = cd.parse_metrics(METRICS_RS)

    def test_complete_dashboard_passes(self):
        self.assertEqual(cd.check(self.metrics, GOOD), [])

    def test_missing_metric_is_named(self):
        d = copy.deepcopy(GOOD)
        del d["panels"][2]  # the x_clients panel
        problems = cd.check(self.metrics, d)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("missing: x_clients", problems[0])

    def test_panels_inside_collapsed_rows_count(self):
        d = copy.deepcopy(GOOD)
        clients = d["panels"].pop(2)
        d["panels"][0]["collapsed"] = True
        d["panels"][0]["panels"].append(clients)
        self.assertEqual(cd.check(self.metrics, d), [])

    def test_prefix_of_a_longer_name_does_not_count(self):
        d = dashboard(
            "rate(x_frames_decoded_total[5m])",
            "sum(x_clients_extra)",  # not x_clients
            "rate(x_call_seconds_count[5m])",
        )
        problems = cd.check(self.metrics, d)
        self.assertEqual([p for p in problems if p.startswith("missing")], [problems[0]])
        self.assertIn("x_clients ", problems[0])

    def test_bare_histogram_is_flagged(self):
        d = dashboard("rate(x_frames_decoded_total[5m])", "x_clients", "avg(x_call_seconds)")
        problems = cd.check(self.metrics, d)
        self.assertTrue(any("histogram x_call_seconds is queried bare" in p for p in problems), problems)

    def test_raw_counter_is_flagged(self):
        d = dashboard("sum(x_frames_decoded_total)", "x_clients", "rate(x_call_seconds_sum[5m])")
        problems = cd.check(self.metrics, d)
        self.assertTrue(any("counter x_frames_decoded_total is read raw" in p for p in problems), problems)

    def test_duplicate_panel_ids_are_flagged(self):
        d = copy.deepcopy(GOOD)
        d["panels"][2]["id"] = d["panels"][1]["id"]
        self.assertTrue(any("panel id" in p for p in cd.check(self.metrics, d)))


class Main(unittest.TestCase):
    def run_main(self, dash: dict) -> tuple[int, str]:
        with tempfile.TemporaryDirectory() as tmp:
            m = Path(tmp, "metric_names.rs")
            m.write_text(METRICS_RS)
            j = Path(tmp, "d.json")
            j.write_text(json.dumps(dash))
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                rc = cd.main(["--metrics", str(m), "--dashboard", str(j)])
            return rc, err.getvalue()

    def test_exit_codes(self):
        self.assertEqual(self.run_main(GOOD)[0], 0)
        rc, err = self.run_main(dashboard("sum(x_clients)"))
        self.assertEqual(rc, 1)
        self.assertIn("x_frames_decoded_total", err)
        self.assertIn("x_call_seconds", err)

    def test_the_shipped_dashboard_passes(self):
        with contextlib.redirect_stdout(io.StringIO()):
            self.assertEqual(cd.main([]), 0)


if __name__ == "__main__":
    unittest.main()
