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


def unselected_dataset(ds, also=""):
    """Why a target of dataset `ds` cannot run (it does not exist, or this run does not select it),
    and how to select it (`also`: more --config to give with it); None when it runs."""
    if ds not in ALL_DATASETS:
        return (f"a target names dataset {ds!r}, which does not exist: the datasets are"
                f" {', '.join(ALL_DATASETS)} (memae/datasets.py)")
    if ds not in DATASETS:
        return (f"a target needs dataset {ds!r}, which profile {PROFILE!r} does not run: select it with"
                f" --config 'datasets=[{ds}]'{also} (or params/pipeline.yaml `datasets`); this profile"
                f" runs {', '.join(DATASETS)}")
    return None


def selected_stamps(w):
    """prepare's inputs; a run asked for of a dataset this profile does not select has no fetch
    rule: say so and how to select it, instead of Snakemake's missing-input error."""
    why = unselected_dataset(w.dataset)
    if why:
        raise ValueError(why)
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
