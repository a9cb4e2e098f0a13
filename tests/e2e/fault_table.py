"""Prints the fault matrix's table from the JUnit XML of a run of test_fault_matrix.py:
one row per call or wait, one column per fault, then the other cells (SSH faults, the
SIGKILL stages), then the count. `make test-faults` runs it after the cells.

    python3 tests/e2e/fault_table.py build/test-faults.xml
"""
import re
import sys
import xml.etree.ElementTree as ET

FAULTS = ("throttle", "5xx", "reset", "drop", "slow", "cancel")
MARK = {"passed": "ok", "failed": "FAIL", "skipped": "skip"}


def outcomes(path):
    """test id -> passed / failed / skipped, in the run's order."""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            out[case.get("name")] = "failed"
        elif case.find("skipped") is not None:
            out[case.get("name")] = "skipped"
        else:
            out[case.get("name")] = "passed"
    return out


def main(path):
    results = outcomes(path)
    grid, rows, others = {}, [], []
    for name, outcome in results.items():
        m = re.fullmatch(r"test_cell\[(.+)-([a-z0-9]+)\]", name)
        if m and m[2] in FAULTS:
            if m[1] not in grid:
                rows.append(m[1])
            grid.setdefault(m[1], {})[m[2]] = outcome
        else:
            others.append((name, outcome))
    width = max([len(r) for r in rows] + [len("call / wait")])
    print(f"{'call / wait':<{width}}  " + "  ".join(f"{f:<8}" for f in FAULTS))
    for row in rows:
        print(f"{row:<{width}}  " + "  ".join(f"{MARK.get(grid[row].get(f), '-'):<8}" for f in FAULTS))
    for name, outcome in others:
        print(f"{MARK[outcome]:<4}  {name}")
    passed = sum(o == "passed" for o in results.values())
    print(f"fault matrix: {len(results)} cells, {passed} passed")
    return 0 if passed == len(results) and results else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
