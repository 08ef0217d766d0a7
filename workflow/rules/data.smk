# fetch (download or copy from $MEMAE_MIRROR, verify) -> data/raw/<dataset>/
# prepare (decode once into compact arrays)           -> data/prepared/<dataset>/
# A fetch job's outputs are the `.<file>.verified` stamps (memae.layout.stamp_name) that memae fetch writes beside each
# verified file, not the files themselves: Snakemake deletes a job's outputs before it runs and
# when it fails, and a good raw file (downloaded, or placed by hand) must never be deleted.


def verified_stamps(ds):
    return fetch_stamps(DATA, ds)   # memae.layout: the stamp names, from the registry's files


for _ds in DATASETS:

    rule:
        name:
            f"fetch_{_ds}"
        output:
            verified_stamps(_ds),
        params:
            dataset=_ds,
            synthetic=SYNTHETIC,
        log:
            f"logs/fetch_{_ds}.log",
        benchmark:
            f"logs/benchmarks/fetch/{_ds}.tsv"
        threads: 1
        shell:
            "memae fetch {params.dataset} --dest {DATA:q}/raw/{params.dataset} {params.synthetic}"
            " --profile {PROFILE:q} 2> {log:q}"


def selected_stamps(w):
    """prepare's inputs; a run asked for of a dataset this profile does not select has no fetch
    rule: say so and how to select it, instead of Snakemake's missing-input error."""
    if w.dataset not in ALL_DATASETS:
        raise ValueError(f"a target names dataset {w.dataset!r}, which does not exist: the datasets are"
                         f" {', '.join(ALL_DATASETS)} (memae/datasets.py)")
    if w.dataset not in DATASETS:
        raise ValueError(f"a target needs dataset {w.dataset!r}, which profile {PROFILE!r} does not run:"
                         f" select it with --config 'datasets=[{w.dataset}]' (or params/pipeline.yaml"
                         f" `datasets`); this profile runs {', '.join(DATASETS)}")
    return verified_stamps(w.dataset)


rule prepare:
    input:
        selected_stamps,
    output:
        str(prepared_summary(DATA, "{dataset}")),
    params:
        settings=lambda w: digest(PARAMS[w.dataset]["data"]),  # e.g. frame_size: re-prepare
    log:
        "logs/prepare_{dataset}.log",
    benchmark:
        "logs/benchmarks/prepare/{dataset}.tsv"
    threads: 4
    resources:
        runtime=120,
        mem_mb=8000,
    shell:
        "memae prepare {wildcards.dataset} --raw {DATA:q}/raw/{wildcards.dataset}"
        " --out {DATA:q}/prepared/{wildcards.dataset} --profile {PROFILE:q} --threads {threads} 2> {log:q}"
