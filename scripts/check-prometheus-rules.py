"""Checks the Prometheus alerting rules in deploy/prometheus/ (run by
scripts/check-prometheus-rules.sh, CTest deploy_prometheus_rules).

1. `promtool check rules pricepipe-rules.yml`: the file and every expr and template parse.
2. `promtool test rules pricepipe-rules.test.yml`: the unit tests over synthetic series pass.
3. What promtool does not require, asserted on the files: every rule is an alert named
   Pricepipe*, with a `for:` above 0, labels.severity critical, warning or info, and a non-empty
   annotations.summary and annotations.description; each duration a description names
   ("for 2 minutes", "in 15 minutes") is the rule's `for:` or a range of its expr; every alert
   has a test case that expects it firing, with its annotations, and one that expects it quiet;
   every alert a test names exists (a test of a renamed alert would pass unseen).

--self-test then breaks a copy of the files in known ways, one at a time, and fails unless each
breakage is reported: so the checks above cannot silently stop checking.

    python3 scripts/check-prometheus-rules.py [--promtool promtool] [--dir deploy/prometheus]
        [--self-test]
"""

import argparse
import os
import re
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutation_self_test  # noqa: E402

RULES = "pricepipe-rules.yml"
TESTS = "pricepipe-rules.test.yml"
SEVERITIES = {"critical", "warning", "info"}
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
WORDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def seconds(duration):
    """A Prometheus duration (1h30m, 5m, 0s) in seconds; None if it is not one."""
    parts = re.findall(r"(\d+)(ms|y|w|d|h|m|s)", str(duration))
    if not parts or "".join(n + u for n, u in parts) != str(duration):
        return None
    return sum(int(n) * UNITS[u] for n, u in parts)


class Checker:
    def __init__(self, directory, promtool):
        self.dir = directory
        self.promtool = promtool
        self.problems = []
        self.alerts = []

    def problem(self, text):
        self.problems.append(text)

    def promtool_run(self, *args):
        run = subprocess.run([self.promtool, *args], cwd=self.dir, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        if run.returncode != 0:
            lines = [line for line in run.stdout.splitlines() if line.strip()]
            self.problem(f"promtool {' '.join(args)} failed (exit {run.returncode}):\n  "
                         + "\n  ".join(lines[:40]))
        return run.returncode == 0

    def check(self):
        self.promtool_run("check", "rules", RULES)
        self.promtool_run("test", "rules", TESTS)
        try:
            with open(os.path.join(self.dir, RULES)) as f:
                rules = yaml.safe_load(f)
            with open(os.path.join(self.dir, TESTS)) as f:
                tests = yaml.safe_load(f)
        except yaml.YAMLError as e:
            self.problem(f"cannot read the rules or the tests: {e}")
            return
        self.check_rules(rules)
        self.check_tests(tests)

    def check_rules(self, rules):
        for group in (rules or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                name = rule.get("alert")
                if not name:
                    self.problem(f"group {group.get('name')}: rule {rule.get('record') or rule} is not an "
                                 "alert; recording rules are not expected here (add them to this check)")
                    continue
                self.alerts.append(name)
                if not name.startswith("Pricepipe"):
                    self.problem(f"{name}: alert names start with Pricepipe")
                duration = seconds(rule.get("for", ""))
                if not duration:
                    self.problem(f"{name}: has no `for:` above 0 (for: {rule.get('for')!r}): one bad "
                                 "evaluation would page")
                severity = (rule.get("labels") or {}).get("severity")
                if severity not in SEVERITIES:
                    self.problem(f"{name}: labels.severity is {severity!r}, not one of {sorted(SEVERITIES)}")
                annotations = rule.get("annotations") or {}
                for key in ("summary", "description"):
                    if not str(annotations.get(key, "")).strip():
                        self.problem(f"{name}: has no annotations.{key}")
                # Durations the description names must be the rule's own.
                allowed = {duration} | {seconds(r) for r in re.findall(r"\[(\w+)(?::\w*)?\]", str(rule.get("expr")))}
                for number, word in re.findall(r"(\d+) (second|minute|hour|day)s?\b",
                                               str(annotations.get("description", ""))):
                    if int(number) * WORDS[word] not in allowed:
                        self.problem(f"{name}: the description names {number} {word}s, which is neither "
                                     f"its for: ({rule.get('for')}) nor a range of its expr")
        if len(set(self.alerts)) != len(self.alerts):
            self.problem(f"alert names repeat: {sorted(a for a in set(self.alerts) if self.alerts.count(a) > 1)}")
        if not self.alerts:
            self.problem(f"{RULES} holds no alert")

    def check_tests(self, tests):
        tests = tests or {}
        if tests.get("rule_files") != [RULES]:
            self.problem(f"{TESTS}: rule_files is {tests.get('rule_files')}, not [{RULES}]")
        firing, quiet = set(), set()
        for test in tests.get("tests") or []:
            for case in test.get("alert_rule_test") or []:
                name = case.get("alertname")
                if name not in self.alerts:
                    self.problem(f"{TESTS}: test '{test.get('name')}' at {case.get('eval_time')} names "
                                 f"{name}, which {RULES} does not have")
                expected = case.get("exp_alerts") or []
                if not expected:
                    quiet.add(name)
                    continue
                firing.add(name)
                for alert in expected:
                    annotations = alert.get("exp_annotations") or {}
                    if not ("summary" in annotations and "description" in annotations):
                        self.problem(f"{TESTS}: test '{test.get('name')}' expects {name} at "
                                     f"{case.get('eval_time')} without its summary and description")
        for name in self.alerts:
            if name not in firing:
                self.problem(f"{name}: no test case in {TESTS} expects it firing")
            if name not in quiet:
                self.problem(f"{name}: no test case in {TESTS} expects it quiet (exp_alerts empty)")


# -- self-test: each breakage must be reported ---------------------------------------------

MUTATIONS = [
    # (what, file, old, new, expected substring of a problem)
    ("a syntax error in an expr", RULES, "expr: pricepipe_live == 0", "expr: pricepipe_live == (0",
     "promtool check rules"),
    ("an unknown field in a rule (a typo'd for:)", RULES, "      for: 5m\n", "      fro: 5m\n",
     "promtool check rules"),
    ("a template that does not parse", RULES, "{{ $labels.instance }} cannot be scraped",
     "{{ $labels.instance } cannot be scraped", "promtool check rules"),
    ("a threshold raised (PricepipeConsumerLagHigh)", RULES, "(pricepipe_consumer_lag) > 10000",
     "(pricepipe_consumer_lag) > 20000", "promtool test rules"),
    ("a threshold lowered (PricepipeOutputSlow)", RULES, "[5m]) > 0.5", "[5m]) > 0.3",
     "promtool test rules"),
    ("a comparison turned around (PricepipeDeliveriesStuck)", RULES, "undelivered_seconds > 60",
     "undelivered_seconds < 60", "promtool test rules"),
    ("a longer for: (PricepipeDown)", RULES, "== 0\n        for: 2m", "== 0\n        for: 10m",
     "promtool test rules"),
    ("a rule without for:", RULES, "        for: 1m\n", "", "has no `for:` above 0"),
    ("a severity that routes nowhere", RULES, "severity: critical", "severity: page", "labels.severity is 'page'"),
    ("a rule without a description", RULES, "          description: >-\n            Prometheus has failed",
     "          details: >-\n            Prometheus has failed", "has no annotations.description"),
    ("a description naming a window the rule does not have", RULES, "times in 15 minutes", "times in 30 minutes",
     "names 30 minutes"),
    ("a new alert without tests", RULES, "    rules:\n",
     "    rules:\n      - alert: PricepipeUntested\n        expr: pricepipe_live > 1\n        for: 1m\n"
     "        labels:\n          severity: info\n        annotations:\n          summary: s\n"
     "          description: d\n", "PricepipeUntested: no test case"),
    ("a test of an alert that no longer exists", TESTS, "alertname: PricepipeVersionMismatch\n",
     "alertname: PricepipeVersionMissmatch\n", "PricepipeVersionMissmatch, which"),
    ("a firing case that does not check the annotations", TESTS,
     "            exp_annotations:\n              summary: \"No pricepipe target is scraped\"",
     "            exp_comments:\n              summary: \"No pricepipe target is scraped\"",
     "without its summary and description"),
]


def self_test(args):
    def problems_of(copy, _tmp):
        checker = Checker(copy, args.promtool)
        checker.check()
        return checker.problems
    return mutation_self_test.run("check-prometheus-rules", args.dir, "prometheus", MUTATIONS, problems_of)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--promtool", default="promtool")
    parser.add_argument("--dir", default=os.path.join(root, "deploy", "prometheus"))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()

    checker = Checker(args.dir, args.promtool)
    checker.check()
    for p in checker.problems:
        print(f"check-prometheus-rules: {p}", file=sys.stderr)
    if checker.problems:
        return 1
    print(f"check-prometheus-rules: {len(checker.alerts)} alerts pass promtool check rules and their "
          f"unit tests ({TESTS}); each has for:, severity, summary and description, and a firing and "
          "a quiet test case", file=sys.stderr)
    if args.self_test:
        failures = self_test(args)
        if failures:
            print(f"check-prometheus-rules: self-test: {failures} of {len(MUTATIONS)} breakages not caught",
                  file=sys.stderr)
            return 1
        print(f"check-prometheus-rules: self-test: all {len(MUTATIONS)} breakages caught", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
