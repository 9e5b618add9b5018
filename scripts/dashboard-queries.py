#!/usr/bin/env python3
"""Checks the Grafana dashboard deploy/grafana/pricepipe.json and prints its PromQL queries.

  scripts/dashboard-queries.py [DASHBOARD]             check the structure (the default)
  scripts/dashboard-queries.py [DASHBOARD] --print     check, then print every query
        [--instance REGEX] [--rate-interval DURATION] [--range DURATION] [--json]
  scripts/dashboard-queries.py [DASHBOARD] --prometheus URL
                                                      check, then send every query to the
                                                      Prometheus at URL (/api/v1/query)
  scripts/dashboard-queries.py [DASHBOARD] --start-prometheus [--prometheus-binary PATH]
                                                      the same against a throwaway Prometheus
                                                      started here (no scrape jobs, a temporary
                                                      TSDB, 127.0.0.1) and stopped at the end;
                                                      exit 77 (CTest's skip) when there is none
  scripts/dashboard-queries.py [DASHBOARD] --self-test
                                                      break copies of the dashboard in memory
                                                      and fail unless each breakage is caught

DASHBOARD defaults to deploy/grafana/pricepipe.json next to this script's directory. The
dashboard uses the Grafana variable `datasource` (type datasource, query prometheus) for every
panel and target, not an __inputs entry, so that it imports and provisions alike. The check
fails (exit 1, one "dashboard-queries: PROBLEM" line on stderr per problem) unless:
  - the file is valid JSON holding a dashboard (title, uid, schemaVersion, a panels list);
  - the templating variables exist: `datasource` of type datasource with query prometheus,
    and `instance` (type query, on that datasource, multi, includeAll, allValue ".*");
  - panel ids are unique (rows and the panels inside collapsed rows included), every panel
    has a title, and every panel but a row has at least one target with a non-empty expr;
  - every panel's and target's datasource is {"type": "prometheus", "uid": "${datasource}"};
  - target refIds are unique within a panel;
  - gridPos lies inside the 24-column grid and no two panels overlap (the panels inside a
    collapsed row are checked among themselves);
  - every pricepipe_ series selector in an expr carries instance=~"$instance", every range
    is $__rate_interval or $__range, and an expr uses no variable but those and $instance;
  - each panel type is listed in __requires.

Output of --print: one line per target, in panel order (rows skipped, panels inside collapsed
rows in place), as
    PANEL_TITLE<TAB>EXPR
with the Grafana variables substituted: $instance (${instance}, [[instance]]) by --instance
(default ".*", what "All" gives), $__rate_interval by --rate-interval (default "1m"), $__range
by --range (default "1h"), $__interval by --rate-interval too. Newlines and runs of blanks in
an expr become one space (PromQL treats them alike; no expr here has them inside a string), so
an expr never holds a tab or a newline. Titles hold neither either (checked). With --json,
each line is instead a JSON object:
    {"panel": TITLE, "panel_id": ID, "ref_id": REFID, "instant": BOOL, "expr": EXPR}
where "instant" says the panel asks for an instant query (stat, table) rather than a range.

With --prometheus/--start-prometheus, every substituted expr goes to /api/v1/query; a parse or
type error comes back as status "error" and fails the run, naming the panel and the error.
"""
import argparse
import copy
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
INSTANCE_MATCHER = 'instance=~"$instance"'
GRID_COLUMNS = 24
# A series selector: a pricepipe_ metric name, optionally followed by its label matchers.
SELECTOR = re.compile(r'\b(pricepipe_[A-Za-z0-9_:]*)\s*(\{[^}]*\})?')
RANGE = re.compile(r'\[([^\]]*)\]')
VARIABLE = re.compile(r'\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)')
ALLOWED_VARIABLES = {"instance", "__rate_interval", "__range", "__interval"}
ALLOWED_RANGES = {"$__rate_interval", "${__rate_interval}", "$__range", "${__range}"}
EXIT_SKIP = 77


def default_dashboard():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "deploy", "grafana",
                        "pricepipe.json")


def walk_panels(panels):
    """Every panel in order, the panels of collapsed rows right after their row."""
    for panel in panels:
        yield panel
        if isinstance(panel, dict) and panel.get("type") == "row":
            yield from walk_panels(panel.get("panels") or [])


def label(panel):
    if not isinstance(panel, dict):
        return "panel %r" % (panel,)
    return "panel %s %r" % (panel.get("id"), panel.get("title"))


def check_grid(panels, where, problems):
    """gridPos inside the grid, no two panels of this list overlapping."""
    boxes = []
    for panel in panels:
        if not isinstance(panel, dict):
            continue
        grid = panel.get("gridPos")
        if not isinstance(grid, dict):
            problems.append("%s has no gridPos" % label(panel))
            continue
        values = [grid.get(k) for k in ("x", "y", "w", "h")]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            problems.append("%s: gridPos %s needs integer x, y, w and h" % (label(panel), grid))
            continue
        x, y, w, h = values
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > GRID_COLUMNS:
            problems.append("%s: gridPos %s is outside the %d-column grid or empty"
                            % (label(panel), grid, GRID_COLUMNS))
            continue
        for other, (ox, oy, ow, oh) in boxes:
            if x < ox + ow and ox < x + w and y < oy + oh and oy < y + h:
                problems.append("%s overlaps %s%s (gridPos %s)"
                                % (label(panel), label(other), where, grid))
        boxes.append((panel, (x, y, w, h)))
        if panel.get("type") == "row" and panel.get("collapsed") and panel.get("panels"):
            check_grid(panel["panels"], " inside collapsed %s" % label(panel), problems)


def check_variables(dashboard, problems):
    templating = dashboard.get("templating")
    variables = templating.get("list") if isinstance(templating, dict) else None
    if not isinstance(variables, list):
        problems.append("no templating.list: the variables datasource and instance are missing")
        return
    by_name = {v.get("name"): v for v in variables if isinstance(v, dict)}
    ds = by_name.get("datasource")
    if ds is None:
        problems.append("no templating variable `datasource`")
    elif ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("variable `datasource` must be of type datasource with query prometheus, "
                        "not type %r query %r" % (ds.get("type"), ds.get("query")))
    inst = by_name.get("instance")
    if inst is None:
        problems.append("no templating variable `instance`")
        return
    query = inst.get("query")
    if isinstance(query, dict):
        query = query.get("query")
    wanted = {"type": "query", "multi": True, "includeAll": True, "allValue": ".*"}
    for key, value in wanted.items():
        if inst.get(key) != value:
            problems.append("variable `instance`: %s is %r, should be %r" % (key, inst.get(key), value))
    if inst.get("datasource") != DATASOURCE:
        problems.append("variable `instance`: datasource is %r, should be %r"
                        % (inst.get("datasource"), DATASOURCE))
    if not isinstance(query, str) or not re.fullmatch(
            r'\s*label_values\(\s*pricepipe_\w+\s*,\s*instance\s*\)\s*', query):
        problems.append("variable `instance`: query %r is not label_values(pricepipe_..., instance)"
                        % (query,))


def check_expr(panel, target, expr, problems):
    where = "%s target %s" % (label(panel), target.get("refId"))
    selectors = list(SELECTOR.finditer(expr))
    if not selectors:
        problems.append("%s: expr %r reads no pricepipe_ metric" % (where, expr))
    for match in selectors:
        matchers = match.group(2) or ""
        if INSTANCE_MATCHER not in matchers:
            problems.append("%s: selector %r lacks %s" % (where, match.group(0), INSTANCE_MATCHER))
    for match in RANGE.finditer(expr):
        if match.group(1).strip() not in ALLOWED_RANGES:
            problems.append("%s: range [%s] should be $__rate_interval (or $__range)"
                            % (where, match.group(1)))
    for match in VARIABLE.finditer(expr):
        name = next(g for g in match.groups() if g)
        if name not in ALLOWED_VARIABLES:
            problems.append("%s: expr uses the unknown variable $%s" % (where, name))


def check(dashboard):
    """The list of problems with the dashboard, empty when it is fine."""
    problems = []
    if not isinstance(dashboard, dict):
        return ["the file does not hold a JSON object"]
    for key in ("title", "uid"):
        if not isinstance(dashboard.get(key), str) or not dashboard.get(key):
            problems.append("dashboard has no %s" % key)
    if not isinstance(dashboard.get("schemaVersion"), int):
        problems.append("dashboard has no schemaVersion")
    panels = dashboard.get("panels")
    if not isinstance(panels, list) or not panels:
        problems.append("dashboard has no panels")
        return problems
    check_variables(dashboard, problems)

    required = {r.get("id") for r in dashboard.get("__requires") or [] if isinstance(r, dict)
                and r.get("type") == "panel"}
    seen_ids = {}
    for panel in walk_panels(panels):
        if not isinstance(panel, dict):
            problems.append("%s is not an object" % label(panel))
            continue
        pid = panel.get("id")
        if not isinstance(pid, int) or isinstance(pid, bool):
            problems.append("%s has no integer id" % label(panel))
        elif pid in seen_ids:
            problems.append("panel id %d is used twice: %r and %r"
                            % (pid, seen_ids[pid], panel.get("title")))
        else:
            seen_ids[pid] = panel.get("title")
        title = panel.get("title")
        if not isinstance(title, str) or not title.strip():
            problems.append("%s has no title" % label(panel))
        elif "\t" in title or "\n" in title:
            problems.append("%s: the title holds a tab or a newline" % label(panel))
        if "datasource" in panel and panel["datasource"] != DATASOURCE:
            problems.append("%s: datasource is %r, should be the variable %r"
                            % (label(panel), panel["datasource"], DATASOURCE))
        kind = panel.get("type")
        if kind == "row":
            continue
        if kind not in required:
            problems.append("%s: panel type %r is not in __requires" % (label(panel), kind))
        if panel.get("datasource") != DATASOURCE:
            problems.append("%s: datasource is %r, should be the variable %r"
                            % (label(panel), panel.get("datasource"), DATASOURCE))
        targets = panel.get("targets")
        if not isinstance(targets, list):
            targets = []
        with_expr = 0
        ref_ids = set()
        for target in targets:
            if not isinstance(target, dict):
                problems.append("%s: a target is not an object" % label(panel))
                continue
            ref = target.get("refId")
            if ref in ref_ids:
                problems.append("%s: refId %r is used twice" % (label(panel), ref))
            ref_ids.add(ref)
            if target.get("datasource") != DATASOURCE:
                problems.append("%s target %s: datasource is %r, should be the variable %r"
                                % (label(panel), ref, target.get("datasource"), DATASOURCE))
            expr = target.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                problems.append("%s target %s has no expr" % (label(panel), ref))
                continue
            with_expr += 1
            check_expr(panel, target, expr, problems)
        if with_expr == 0:
            problems.append("%s has no target with an expr" % label(panel))
    check_grid(panels, "", problems)
    return problems


def substitute(expr, values):
    """expr with the Grafana variables replaced; values maps a name to its text."""
    def replace(match):
        name = next(g for g in match.groups() if g)
        if name not in values:
            raise ValueError("unknown variable $%s in %r" % (name, expr))
        return values[name]
    return " ".join(VARIABLE.sub(replace, expr).split())


def queries(dashboard, values):
    """(panel, target, substituted expr, instant) for every target with an expr."""
    out = []
    for panel in walk_panels(dashboard["panels"]):
        if panel.get("type") == "row":
            continue
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if isinstance(expr, str) and expr.strip():
                instant = bool(target.get("instant")) and not target.get("range", False)
                out.append((panel, target, substitute(expr, values), instant))
    return out


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        sys.exit("dashboard-queries: cannot read %s: %s" % (path, e.strerror))
    except json.JSONDecodeError as e:
        sys.exit("dashboard-queries: %s is not valid JSON: %s" % (path, e))


def ask_prometheus(url, items):
    """Sends every query to the Prometheus API at url; the list of failures."""
    failures = []
    for panel, target, expr, _ in items:
        query = urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen("%s/api/v1/query?%s" % (url.rstrip("/"), query),
                                        timeout=30) as response:
                body = json.load(response)
        except urllib.error.HTTPError as e:
            try:
                body = json.load(e)
            except ValueError:
                body = {"status": "error", "error": "HTTP %d" % e.code}
        except (urllib.error.URLError, OSError, ValueError) as e:
            failures.append("%s target %s: no answer from %s: %s"
                            % (label(panel), target.get("refId"), url, e))
            continue
        if body.get("status") != "success":
            failures.append("%s target %s: Prometheus rejects %r: %s: %s"
                            % (label(panel), target.get("refId"), expr, body.get("errorType"),
                               body.get("error")))
    return failures


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_throwaway_prometheus(binary, run):
    """Starts Prometheus (no scrape job, temporary TSDB), calls run(url), stops it."""
    work = tempfile.mkdtemp(prefix="dashboard-queries-")
    process = None
    try:
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
        for attempt in range(3):
            port = free_port()
            url = "http://127.0.0.1:%d" % port
            log = open(os.path.join(work, "prometheus.log"), "w")
            process = subprocess.Popen(
                [binary, "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(work, "data"),
                 "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            log.close()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    with urllib.request.urlopen(url + "/-/ready", timeout=2) as r:
                        if r.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.2)
            else:
                with open(os.path.join(work, "prometheus.log")) as f:
                    tail = f.read()[-2000:]
                stop(process)
                process = None
                if attempt < 2 and "address already in use" in tail:
                    continue
                sys.exit("dashboard-queries: the throwaway Prometheus did not get ready:\n" + tail)
            return run(url)
    finally:
        if process is not None:
            stop(process)
        shutil.rmtree(work, ignore_errors=True)


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def self_test(dashboard):
    """Breaks copies of the dashboard; fails unless the check catches each."""
    problems = check(dashboard)
    if problems:
        print("dashboard-queries: self-test needs a dashboard that passes; it does not:",
              file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1

    def plain(d):
        return [p for p in d["panels"] if p.get("type") != "row"]

    def duplicate_id(d):
        plain(d)[1]["id"] = plain(d)[0]["id"]

    def missing_expr(d):
        plain(d)[0]["targets"][0]["expr"] = ""
        del plain(d)[0]["targets"][1:]

    def no_targets(d):
        plain(d)[-1]["targets"] = []

    def hard_coded_target_uid(d):
        plain(d)[2]["targets"][0]["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}

    def hard_coded_panel_uid(d):
        plain(d)[3]["datasource"] = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}

    def overlap(d):
        a, b = plain(d)[3], plain(d)[4]
        b["gridPos"] = dict(a["gridPos"], x=a["gridPos"]["x"] + 1, y=a["gridPos"]["y"] + 1)

    def off_grid(d):
        plain(d)[0]["gridPos"]["w"] = GRID_COLUMNS + 1

    def no_title(d):
        plain(d)[2]["title"] = ""

    def no_instance_variable(d):
        d["templating"]["list"] = [v for v in d["templating"]["list"] if v["name"] != "instance"]

    def no_datasource_variable(d):
        d["templating"]["list"] = [v for v in d["templating"]["list"] if v["name"] != "datasource"]

    def instance_not_multi(d):
        for v in d["templating"]["list"]:
            if v["name"] == "instance":
                v["multi"] = False

    def no_instance_matcher(d):
        t = plain(d)[4]["targets"][0]
        t["expr"] = t["expr"].replace(INSTANCE_MATCHER, 'job="pricepipe"')

    def fixed_range(d):
        t = plain(d)[4]["targets"][0]
        t["expr"] = t["expr"].replace("$__rate_interval", "5m")

    def unknown_variable(d):
        t = plain(d)[4]["targets"][0]
        t["expr"] = t["expr"].replace("$instance", "$pod")

    def untitled_type(d):
        plain(d)[0]["type"] = "piechart"

    cases = [
        ("duplicate id", duplicate_id, "is used twice"),
        ("missing expr", missing_expr, "has no expr"),
        ("no targets", no_targets, "has no target with an expr"),
        ("hard-coded datasource uid in a target", hard_coded_target_uid, "should be the variable"),
        ("hard-coded datasource uid in a panel", hard_coded_panel_uid, "should be the variable"),
        ("overlapping gridPos", overlap, "overlaps"),
        ("gridPos wider than the grid", off_grid, "outside the"),
        ("missing title", no_title, "has no title"),
        ("no instance variable", no_instance_variable, "no templating variable `instance`"),
        ("no datasource variable", no_datasource_variable, "no templating variable `datasource`"),
        ("instance variable not multi", instance_not_multi, "multi is False"),
        ("query without the instance matcher", no_instance_matcher, "lacks"),
        ("fixed range instead of $__rate_interval", fixed_range, "should be $__rate_interval"),
        ("unknown variable", unknown_variable, "unknown variable $pod"),
        ("panel type missing from __requires", untitled_type, "not in __requires"),
    ]
    failed = 0
    for name, breakage, wanted in cases:
        broken = copy.deepcopy(dashboard)
        breakage(broken)
        found = check(broken)
        if any(wanted in p for p in found):
            print("self-test: %s: caught" % name)
        else:
            failed += 1
            print("dashboard-queries: self-test: %s not caught (wanted a problem with %r, got %s)"
                  % (name, wanted, found or "none"), file=sys.stderr)
    # Not JSON at all: load() must refuse it with a message.
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write('{"panels": [')
        f.flush()
        result = subprocess.run([sys.executable, os.path.abspath(__file__), f.name],
                                capture_output=True, text=True)
        if result.returncode != 0 and "not valid JSON" in result.stderr:
            print("self-test: invalid JSON: caught")
        else:
            failed += 1
            print("dashboard-queries: self-test: invalid JSON not caught (exit %d, %r)"
                  % (result.returncode, result.stderr), file=sys.stderr)
    # Substitution leaves no variable behind.
    values = {"instance": "a|b", "__rate_interval": "2m", "__range": "3h", "__interval": "2m"}
    for _, _, expr, _ in queries(dashboard, values):
        if "$" in expr or "[[" in expr:
            failed += 1
            print("dashboard-queries: self-test: a variable survives substitution: %r" % expr,
                  file=sys.stderr)
    if failed:
        print("dashboard-queries: self-test: %d breakage(s) not caught" % failed, file=sys.stderr)
        return 1
    print("self-test: all %d breakages caught" % (len(cases) + 1))
    return 0


def main():
    parser = argparse.ArgumentParser(
        description="Check the pricepipe Grafana dashboard and print its queries.")
    parser.add_argument("dashboard", nargs="?", default=default_dashboard())
    parser.add_argument("--print", action="store_true", dest="print_queries",
                        help="print PANEL_TITLE<TAB>EXPR per target, variables substituted")
    parser.add_argument("--json", action="store_true", help="with --print: JSON lines instead")
    parser.add_argument("--instance", default=".*", help='value of $instance (default ".*")')
    parser.add_argument("--rate-interval", default="1m", help="value of $__rate_interval (default 1m)")
    parser.add_argument("--range", default="1h", dest="range_", help="value of $__range (default 1h)")
    parser.add_argument("--prometheus", metavar="URL",
                        help="send every substituted query to this Prometheus's /api/v1/query")
    parser.add_argument("--start-prometheus", action="store_true",
                        help="the same against a throwaway Prometheus; exit 77 if none is installed")
    parser.add_argument("--prometheus-binary", default="prometheus",
                        help="the Prometheus binary for --start-prometheus (default: from PATH)")
    parser.add_argument("--self-test", action="store_true",
                        help="break copies of the dashboard and fail unless each is caught")
    args = parser.parse_args()

    dashboard = load(args.dashboard)
    if args.self_test:
        return self_test(dashboard)
    problems = check(dashboard)
    if problems:
        for p in problems:
            print("dashboard-queries: %s: %s" % (args.dashboard, p), file=sys.stderr)
        return 1

    values = {"instance": args.instance, "__rate_interval": args.rate_interval,
              "__range": args.range_, "__interval": args.rate_interval}
    items = queries(dashboard, values)
    if args.print_queries:
        for panel, target, expr, instant in items:
            if args.json:
                print(json.dumps({"panel": panel["title"], "panel_id": panel["id"],
                                  "ref_id": target.get("refId"), "instant": instant,
                                  "expr": expr}))
            else:
                print("%s\t%s" % (panel["title"], expr))

    failures = []
    if args.prometheus:
        failures = ask_prometheus(args.prometheus, items)
    elif args.start_prometheus:
        binary = shutil.which(args.prometheus_binary)
        if binary is None:
            print("dashboard-queries: no %s binary: skipped the check against Prometheus"
                  % args.prometheus_binary, file=sys.stderr)
            return EXIT_SKIP
        failures = with_throwaway_prometheus(binary, lambda url: ask_prometheus(url, items))
    if failures:
        for f in failures:
            print("dashboard-queries: %s" % f, file=sys.stderr)
        return 1
    if args.prometheus or args.start_prometheus:
        print("dashboard-queries: Prometheus accepts all %d queries" % len(items), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
