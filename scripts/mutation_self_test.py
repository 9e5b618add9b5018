"""Self-tests by mutation, shared by the check scripts (check-kubernetes.py,
check-prometheus-rules.py): break a copy of the checked folder in known ways, one at a time,
and count the breakages the checker does not report."""
import os
import shutil
import sys
import tempfile


def run(prog, src_dir, copy_name, mutations, problems_of, replace_all=False):
    """Each mutation is (what, file, old, new, expected): `old` in `file` becomes `new` (its
    first occurrence, or all with replace_all), and a problem naming `expected` must follow.
    problems_of(copy_dir, tmp_dir) checks the broken copy and returns its problems (texts).
    Returns how many breakages went unnoticed; says what it saw on stderr as `prog`."""
    failures = 0
    for what, name, old, new, expected in mutations:
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, copy_name)
            shutil.copytree(src_dir, copy)
            path = os.path.join(copy, name)
            with open(path) as f:
                text = f.read()
            if old not in text:
                print(f"{prog}: self-test '{what}': {name} no longer holds {old!r}; update MUTATIONS",
                      file=sys.stderr)
                failures += 1
                continue
            with open(path, "w") as f:
                f.write(text.replace(old, new, -1 if replace_all else 1))
            problems = problems_of(copy, tmp)
            caught = [p for p in problems if expected in p]
            if caught:
                lines = [line.strip() for line in caught[0].splitlines() if line.strip()]
                print(f"{prog}: self-test: {what} ({name}) is caught: {lines[-1] if lines else ''}",
                      file=sys.stderr)
            else:
                print(f"{prog}: self-test: {what} ({name}) is NOT caught (expected '{expected}'); "
                      f"problems: {problems}", file=sys.stderr)
                failures += 1
    return failures
