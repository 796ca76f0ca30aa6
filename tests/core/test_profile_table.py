"""benchmarks/pipeline_timing.py --profile: py-spy's raw stacks sorted into where the CPU goes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pt():
    spec = importlib.util.spec_from_file_location("pipeline_timing", REPO / "benchmarks" / "pipeline_timing.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SNAKE = 'process 10:"/x/python -m snakemake -s /r/Snakefile -d /w --cores 2"'
JOB = 'process 11:"/x/python /w/.snakemake/scripts/tmp1.step.py"'
STEP = "<module> (tmp1.step.py:19);run_job (colliderflow/study.py:592)"


def test_stacks_are_sorted_by_category_study_and_waits(pt, tmp_path):
    raw = tmp_path / "p.pyspy.txt"
    raw.write_text("\n".join([
        # a job importing torch inside a study's step: imports, counted to the study
        f"{SNAKE};{JOB};{STEP};scan (colliderflow/studies/ranode/steps.py:40);"
        "_find_and_load (<frozen importlib._bootstrap>:1176);<module> (torch/__init__.py:1) 40",
        # its training: backward beats the loop frame above it, the optimizer has its own row
        f"{SNAKE};{JOB};{STEP};fit (colliderflow/nn/train.py:200);backward (torch/_tensor.py:600) 100",
        f"{SNAKE};{JOB};{STEP};fit (colliderflow/nn/train.py:210);step (torch/optim/adamw.py:90) 20",
        f"{SNAKE};{JOB};{STEP};train_flow (colliderflow/studies/unfolding/nets.py:10);"
        "forward (zuko/flows/core.py:50) 60",
        # evaluation outside a training loop: other
        f"{SNAKE};{JOB};{STEP};sample (colliderflow/nn/flows.py:80) 10",
        # snakemake's scheduler waiting (py-spy's non-blocking sampling counts it): left out, as is a bare stack
        f"{SNAKE};execute (snakemake/workflow.py:1);Condition.wait (threading.py:320) 200",
        f"{SNAKE};{JOB} 4",
        # snakemake doing work: counted to snakemake
        f"{SNAKE};schedule (snakemake/scheduler.py:5);update (snakemake/dag.py:9) 6",
    ]) + "\n")
    cats, studies, idle = pt.profile_table(raw, rate=20)
    assert cats == pytest.approx({"imports (python modules, torch, torch._dynamo)": 2.0, "training: backward": 5.0,
                                  "training: optimizer step": 1.0, "training: forward and loop": 3.0,
                                  "other": 0.8})
    assert studies == pytest.approx({"ranode": 2.0, "unfolding": 3.0, "other": 6.5, "snakemake": 0.3})
    assert idle == pytest.approx(10.2)
    text = "\n".join(pt.profile_lines(raw, cpu=12.0))
    assert "| training: backward | 5 | 42% |" in text and "10 s of threads waiting" in text
