#!/usr/bin/env python
"""Run every benchmark in this folder (`make bench`)."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for script in ("nanoaod_ingest.py", "pipeline_timing.py"):
    print(f"== {script}")
    subprocess.run([sys.executable, str(HERE / script)], check=True)
