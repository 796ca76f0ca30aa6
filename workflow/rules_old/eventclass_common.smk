# Helpers of the NanoAOD toy and event-classification rules (issue 6).


def nanoaod_toy_files(processes=None):
    procs = processes or config["data"]["nanoaod"]["toy"]["processes"]
    return [f"resources/nanoaod/toy/{p}.root" for p in procs]


def eventclass_inputs(wildcards, input):
    """`process=path` pairs for the scripts' --inputs flag."""
    return " ".join(f"{os.path.basename(p)[:-5]}={p}" for p in input.toy)


def eventclass_encoder(study):
    e = config["studies"][study]["encoder"]
    return f"--dim {e['dim']} --heads {e['heads']} --layers {e['layers']} --out-dim {e['out_dim']}"


def pretrain_inputs(wildcards):
    u = config["studies"]["pretraining"]["unlabelled"]
    return nanoaod_toy_files() if u["source"] == "toy" else u["files"]
