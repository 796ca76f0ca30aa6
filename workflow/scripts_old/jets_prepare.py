#!/usr/bin/env python
"""Convert a ParT-format excerpt folder (../shared/data/jets_part_samples/<name>) to colliderflow's jet format."""
import argparse

from colliderflow.cli import run
from colliderflow.data.jet_constituents import read_part_excerpt, write_jets


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-max", type=int, default=32)
    ap.add_argument("--class-names", nargs="+", required=True)
    ap.add_argument("--folder", required=True)
    a = ap.parse_args()
    write_jets(a.out, read_part_excerpt(a.folder, a.n_max, a.class_names), f"file:{a.folder}",
               {"folder": a.folder})


if __name__ == "__main__":
    run(main)
