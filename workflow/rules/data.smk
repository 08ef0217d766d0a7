# fetch (download or copy from $MEMAE_MIRROR, verify) -> data/raw/<dataset>/
# prepare (decode once into compact arrays)           -> data/prepared/<dataset>/


for _ds in DATASETS:

    rule:
        name:
            f"fetch_{_ds}"
        output:
            [f"{DATA}/raw/{_ds}/{rf.name}" for rf in SOURCES[_ds]],
        params:
            dataset=_ds,
            synthetic=SYNTHETIC,
        log:
            f"logs/fetch_{_ds}.log",
        threads: 1
        shell:
            "memae fetch {params.dataset} --dest {DATA}/raw/{params.dataset} {params.synthetic}"
            " --profile {PROFILE} 2> {log}"


rule prepare:
    input:
        lambda w: [f"{DATA}/raw/{w.dataset}/{rf.name}" for rf in SOURCES[w.dataset]],
    output:
        f"{DATA}/prepared/{{dataset}}/summary.json",
    log:
        "logs/prepare_{dataset}.log",
    threads: 4
    shell:
        "memae prepare {wildcards.dataset} --raw {DATA}/raw/{wildcards.dataset}"
        " --out {DATA}/prepared/{wildcards.dataset} --profile {PROFILE} --threads {threads} 2> {log}"
