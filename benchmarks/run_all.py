#!/usr/bin/env python
"""The nanoaod ingest benchmark and the smoke-tier timing (`make bench-all`; the default tier is `make bench`)."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for script, *args in (("nanoaod_ingest.py",), ("pipeline_timing.py", "--tier", "smoke")):
    print(f"== {script}")
    subprocess.run([sys.executable, str(HERE / script), *args], check=True)
