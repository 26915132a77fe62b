"""The benchmark suite runs (at a tiny size) and prints every row; its figures are not judged here."""

import subprocess
import sys


def test_the_benchmark_runs_and_prints_every_row():
    done = subprocess.run([sys.executable, "benchmarks/run.py", "--quick"], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("convsim benchmarks: ")
    for c in (10, 50, 200):
        assert any(line.startswith(f"M/M/c c={c},") for line in lines)
        assert any(line.startswith(f"M/M/c+M c={c},") for line in lines)
    assert sum("ours / bare SimPy" in line for line in lines) == 6
    assert sum("ours / Ciw" in line for line in lines) == 6
    assert any("event log off" in line for line in lines) and any("event log streamed" in line for line in lines)
    assert sum("peak resident memory" in line for line in lines) == 4
    assert sum("peak resident memory" in line and "< 600 MB" in line for line in lines) == 3
    assert any(line.startswith("trace replay from Parquet") for line in lines)
    assert any(line.startswith("30-day month") for line in lines)
    assert any("speed-up, 2 workers / 1" in line for line in lines)
    assert any(line.startswith("trace load") and "csv" in line for line in lines)
    assert any(line.startswith("trace load") and "parquet" in line for line in lines)
    assert any(line.startswith("staffing study, default day") and "days/s" in line for line in lines)
