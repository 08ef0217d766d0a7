# The HTML report: the paper's tables, reported vs reproduced, with protocols, figures (drawn from
# each run's scores and training log, and the MemAE models of image datasets) and provenance.
# reports/reproduction/ holds the same file for `snakemake --report` (a directory with an htmlindex).
from memae import results as results_file


def per_run(name, datasets=None, variant=None):
    return [
        str(run_dir(RESULTS, ds, v, s, k) / name)
        for ds in (DATASETS if datasets is None else datasets)
        for v, s, k in runs(ds)
        if variant in (None, v)
    ]


def roc_path(ds, variant):
    """The ROC points of a dataset's variant for `dvc plots` (dvc.yaml plots:) and the report."""
    return str(results_file.roc_path(RESULTS, ds, variant))


# The ROC curve of each main variant of a dataset (params protocol.variants), as the report draws
# it (memae.roc: TPR averaged over the variant's runs at fixed FPRs), as points.
rule roc:
    wildcard_constraints:
        dataset="|".join(DATASETS),
    input:
        lambda w: per_run("scores.npz", [w.dataset], w.variant),
    output:
        roc_path("{dataset}", "{variant}"),
    log:
        "logs/{dataset}/roc_{variant}.log",
    benchmark:
        "logs/benchmarks/roc/{dataset}/{variant}.tsv"
    threads: 1
    shell:
        "python -m memae.roc {output:q} {input:q} 2> {log:q}"


rule report:
    input:
        metrics=expand(str(metrics_path(RESULTS, "{dataset}")), dataset=DATASETS),
        run_metrics=per_run("metrics.json"),
        scores=per_run("scores.npz"),
        train_logs=per_run("train_log.json"),
        prototypes=per_run(
            "model.pt", [ds for ds in DATASETS if "prototypes" in registry.figure_kinds(ds)], "memae"
        ),
        sweeps=[f for ds in DATASETS for f in sweep_target(ds)],
        studies=[str(study_path(RESULTS, ds, s)) for ds, names in STUDIES.items() for s in names],
        roc=[roc_path(ds, v) for ds in DATASETS for v in PARAMS[ds]["protocol"]["variants"]],
        params=expand("params/{dataset}.yaml", dataset=DATASETS),
        reported="params/reported.yaml",
        template="memae/templates/index.html.j2",
    output:
        html="reports/index.html",
        snakemake=report(
            directory("reports/reproduction"),
            htmlindex="index.html",
            category="Reproduction report",
        ),
    params:
        datasets=",".join(DATASETS),
    log:
        "logs/report.log",
    benchmark:
        "logs/benchmarks/report/report.tsv"
    threads: 1
    shell:
        "(memae report --results {RESULTS:q} --out {output.html:q} --profile {PROFILE:q} --datasets {params.datasets:q}"
        " && mkdir -p {output.snakemake:q} && cp {output.html:q} {output.snakemake:q}/index.html)"
        " 2> {log:q}"
