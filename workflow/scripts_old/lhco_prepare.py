#!/usr/bin/env python
"""Turn an LHCO source (features file, reclustered excerpt or CATHODE .npy)
into the anomaly-detection table resources/lhco/events.h5."""
import argparse

from colliderflow.cli import run
from colliderflow.data import lhco
from colliderflow.io import write_table


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--format", required=True, choices=sorted(lhco.READERS))
    ap.add_argument("--out", required=True)
    ap.add_argument("inputs", nargs="+")
    a = ap.parse_args()
    df = lhco.read_ad_table(a.format, a.inputs)
    write_table(a.out, df, attrs={"format": a.format, "sources": a.inputs, "units": "TeV",
                                  "columns": lhco.AD_COLUMNS, "n_signal": int(df["label"].sum())})
    print(f"{len(df)} events ({int(df['label'].sum())} labelled signal) -> {a.out}")


if __name__ == "__main__":
    run(main)
