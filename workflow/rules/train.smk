# One training job and one scoring job per dataset x variant x split x seed (or per group of runs:
# group_seeds, one_job_per_dataset), then one aggregate per dataset. A job reruns when the settings
# it depends on change (params digests below).
# Variants: params protocol.variants (Ped2 adds the ablation ones) and the memory-size sweep
# points memae_n<N> (protocol.sweep_num_items). results/<dataset>/metrics.json is a dataset's
# final target: it also waits for the sweep, so the dataset's DVC stage and the report cover it.
# train and evaluate hold a GPU where one is present (resources: gpu, capped in the profiles).

RUN = run_pattern(RESULTS)   # memae.layout: RESULTS/{dataset}/{variant}/{split}/seed{seed}


# Datasets with train.group_seeds or train.group_splits train several runs of a variant in one
# job, `memae train-group`, and score them in one, `memae evaluate-group`, instead of one job each
# per run: one process start instead of one per run, and a DAG of tens of jobs instead of hundreds
# (Snakemake spends a few ms per job on every call, `snakemake -n` included). The same run
# folders and bit-identical results (tests/test_ensemble.py, tests/test_group_jobs.py). A job holds
# the runs of a chunk of splits x a chunk of seeds (true: all of them; N: N per job; false: one), of
# one variant. A job's settings digest covers every run's, so a change of one run reruns its chunk.
# Datasets the profile names in one_job_per_dataset (params/pipeline.yaml; the smoke profile's tiny
# data) train every main run in one job instead (train_dataset_<ds> below).
ONE_JOB = [ds for ds in DATASETS if ds in (PIPE.get("one_job_per_dataset") or [])]
GROUPED = [ds for ds in DATASETS if ds not in ONE_JOB
           and (PARAMS[ds]["train"].get("group_seeds") or PARAMS[ds]["train"].get("group_splits"))]


# The one-job-per-run rules (train, evaluate; train_study, evaluate_study) do not match the
# selected datasets whose runs other rules make: a rule that could also make a grouped run's files
# would have Snakemake weigh both producers for every such file (ruleorder decides, but only after
# both were built), which cost more than the DAG's own jobs. They still match the datasets a
# profile does not select, so that such a target gets prepare's message saying how to select it.
def none_of(names):
    """A wildcard constraint for a path segment (followed by /) that is none of these names."""
    return f"(?!(?:{'|'.join(names)})/)[a-z0-9_]+" if names else "[a-z0-9_]+"


def _chunked(items, n):
    size = len(items) if n is True else max(1, int(n or 1))
    return [items[i:i + size] for i in range(0, len(items), size)]


def run_chunks(ds, protocol):
    """(splits, seeds) of each job of a grouped dataset, for the runs `protocol` lists (the main
    runs', or a study arm's)."""
    t = PARAMS[ds]["train"]
    return [(sp, se) for sp in _chunked(list(protocol["splits"]), t.get("group_splits"))
            for se in _chunked(list(protocol["seeds"]), t.get("group_seeds"))]


def chunk_runs(ds, chunk, variant, name, tag=None):
    """Files `name` of the runs of one chunk of one variant (a main or a study arm's)."""
    splits, seeds = chunk
    return [str(run_dir(RESULTS, ds, variant, s, k, tag) / name) for s in splits for k in seeds]


def chunk_digest(ds, chunk, settings, scoring=False):
    """A chunk job's settings digest: every run's config (and the scoring settings, when it scores);
    `settings(w)` gives the params the chunk's runs use."""
    def f(w):
        p = settings(w)
        runs = [digest(run_config(ds, w.variant, s, k, p)) for s in chunk[0] for k in chunk[1]]
        return digest(runs + [p["eval"]] if scoring else runs)
    return f


rule train:
    wildcard_constraints:
        dataset=none_of(GROUPED + ONE_JOB),
    input:
        str(prepared_summary(DATA, "{dataset}")),
    output:
        model=f"{RUN}/model.pt",
        log=f"{RUN}/train_log.json",
    params:
        settings=train_digest,
        out=RUN,
    log:
        "logs/{dataset}/{variant}/{split}/seed{seed}/train.log",
    benchmark:
        "logs/benchmarks/train/{dataset}/{variant}/{split}/seed{seed}.tsv"
    threads: 1
    resources:
        gpu=gpus,
        # What a cluster job asks for (minutes, MB); local runs are not limited by them.
        runtime=720,
        mem_mb=lambda w: 32000 if w.dataset in VIDEO_DATASETS else 8000,
    shell:
        "memae train {wildcards.dataset} --prepared {DATA:q}/prepared/{wildcards.dataset}"
        " --variant {wildcards.variant} --split {wildcards.split} --seed {wildcards.seed}"
        " --out {params.out:q} --profile {PROFILE:q} --threads {threads} 2> {log:q}"


# The chunk jobs of grouped datasets (see GROUPED above).
for _ds in GROUPED:
    for _i, _chunk in enumerate(run_chunks(_ds, PARAMS[_ds]["protocol"])):

        rule:
            name:
                f"train_group_{_ds}_{_i}"
            input:
                str(prepared_summary(DATA, _ds)),
            output:
                chunk_runs(_ds, _chunk, "{variant}", "model.pt") + chunk_runs(_ds, _chunk, "{variant}", "train_log.json"),
            params:
                settings=chunk_digest(_ds, _chunk, lambda w, _ds=_ds: PARAMS[_ds]),
                dataset=_ds,
                splits=" ".join(_chunk[0]),
                seeds=" ".join(str(k) for k in _chunk[1]),
            log:
                f"logs/{_ds}/{{variant}}/train_group_{_i}.log",
            benchmark:
                f"logs/benchmarks/train_group/{_ds}/{{variant}}/{_i}.tsv"
            threads: 1
            resources:
                gpu=lambda w, _ds=_ds: gpus(w, _ds),
                # a cluster job trains its runs one after another: the runtime of train, per run
                runtime=720 * len(_chunk[0]) * len(_chunk[1]),
                mem_mb=32000 if _ds in VIDEO_DATASETS else 8000,
            shell:
                "memae train-group {params.dataset} --prepared {DATA:q}/prepared/{params.dataset}"
                " --variant {wildcards.variant} --splits {params.splits} --seeds {params.seeds}"
                " --results {RESULTS:q} --profile {PROFILE:q} --threads {threads} 2> {log:q}"

        rule:
            name:
                f"evaluate_group_{_ds}_{_i}"
            input:
                models=chunk_runs(_ds, _chunk, "{variant}", "model.pt"),
                summary=str(prepared_summary(DATA, _ds)),
            output:
                chunk_runs(_ds, _chunk, "{variant}", "metrics.json") + chunk_runs(_ds, _chunk, "{variant}", "scores.npz"),
            params:
                settings=chunk_digest(_ds, _chunk, lambda w, _ds=_ds: PARAMS[_ds], scoring=True),
                dataset=_ds,
                # Snakemake fills in {variant}
                runs=" ".join(shlex.quote(str(Path(f).parent)) for f in chunk_runs(_ds, _chunk, "{variant}", "model.pt")),
            log:
                f"logs/{_ds}/{{variant}}/evaluate_group_{_i}.log",
            benchmark:
                f"logs/benchmarks/evaluate_group/{_ds}/{{variant}}/{_i}.tsv"
            threads: 1
            resources:
                gpu=lambda w, _ds=_ds: gpus(w, _ds),
                runtime=120 * len(_chunk[0]) * len(_chunk[1]),
                mem_mb=16000 if _ds in VIDEO_DATASETS else 8000,
            shell:
                "memae evaluate-group {params.dataset} --prepared {DATA:q}/prepared/{params.dataset}"
                " --run {params.runs} --profile {PROFILE:q} --threads {threads} 2> {log:q}"

        workflow.ruleorder(f"train_group_{_ds}_{_i}", "train")
        workflow.ruleorder(f"evaluate_group_{_ds}_{_i}", "evaluate")
        like(f"train_group_{_ds}_{_i}", "train", len(_chunk[0]) * len(_chunk[1]))
        like(f"evaluate_group_{_ds}_{_i}", "evaluate", len(_chunk[0]) * len(_chunk[1]))


# one_job_per_dataset: every main run of the dataset (variants x splits x seeds, the sweep points
# included) trained in one `memae train-group` job and scored in one `memae evaluate-group` job: one
# Python and torch start each instead of one per run, the same run folders and results (training and
# scoring each run in its own process or one after another in one give the same files:
# tests/test_ensemble.py, tests/test_cli.py). A change of one run's settings reruns them all.
def dataset_runs(ds):
    """(variants, splits, seeds) of a dataset's main runs: runs(ds) is their product."""
    p = PARAMS[ds]["protocol"]
    variants = list(dict.fromkeys(v for v, _, _ in runs(ds)))
    return variants, list(p["splits"]), list(p["seeds"])


for _ds in ONE_JOB:
    _v, _s, _k = dataset_runs(_ds)

    rule:
        name:
            f"train_dataset_{_ds}"
        input:
            str(prepared_summary(DATA, _ds)),
        output:
            run_files(_ds, "model.pt") + run_files(_ds, "train_log.json"),
        params:
            settings=digest([digest(run_config(_ds, v, s, k, PARAMS[_ds])) for v, s, k in runs(_ds)]),
            dataset=_ds,
            variants=" ".join(_v),
            splits=" ".join(_s),
            seeds=" ".join(str(k) for k in _k),
        log:
            f"logs/{_ds}/train_dataset.log",
        benchmark:
            f"logs/benchmarks/train_dataset/{_ds}.tsv"
        threads: 1
        resources:
            gpu=lambda w, _ds=_ds: gpus(w, _ds),
            runtime=720 * len(runs(_ds)),
            mem_mb=32000 if _ds in VIDEO_DATASETS else 8000,
        shell:
            "memae train-group {params.dataset} --prepared {DATA:q}/prepared/{params.dataset}"
            " --variant {params.variants} --splits {params.splits} --seeds {params.seeds}"
            " --results {RESULTS:q} --profile {PROFILE:q} --threads {threads} 2> {log:q}"

    rule:
        name:
            f"evaluate_dataset_{_ds}"
        input:
            models=run_files(_ds, "model.pt"),
            summary=str(prepared_summary(DATA, _ds)),
        output:
            run_files(_ds, "metrics.json") + run_files(_ds, "scores.npz"),
        params:
            settings=digest([digest(run_config(_ds, v, s, k, PARAMS[_ds])) for v, s, k in runs(_ds)]
                            + [PARAMS[_ds]["eval"]]),
            dataset=_ds,
            runs=" ".join(shlex.quote(str(run_dir(RESULTS, _ds, v, s, k))) for v, s, k in runs(_ds)),
        log:
            f"logs/{_ds}/evaluate_dataset.log",
        benchmark:
            f"logs/benchmarks/evaluate_dataset/{_ds}.tsv"
        threads: 1
        resources:
            gpu=lambda w, _ds=_ds: gpus(w, _ds),
            runtime=120 * len(runs(_ds)),
            mem_mb=16000 if _ds in VIDEO_DATASETS else 8000,
        shell:
            "memae evaluate-group {params.dataset} --prepared {DATA:q}/prepared/{params.dataset}"
            " --run {params.runs} --profile {PROFILE:q} --threads {threads} 2> {log:q}"

    workflow.ruleorder(f"train_dataset_{_ds}", "train")
    workflow.ruleorder(f"evaluate_dataset_{_ds}", "evaluate")
    like(f"train_dataset_{_ds}", "train", len(runs(_ds)))
    like(f"evaluate_dataset_{_ds}", "evaluate", len(runs(_ds)))


rule evaluate:
    wildcard_constraints:
        dataset=none_of(GROUPED + ONE_JOB),
    input:
        model=f"{RUN}/model.pt",
        summary=str(prepared_summary(DATA, "{dataset}")),
    output:
        metrics=f"{RUN}/metrics.json",
        scores=f"{RUN}/scores.npz",
    params:
        settings=eval_digest,
        run=RUN,
    log:
        "logs/{dataset}/{variant}/{split}/seed{seed}/evaluate.log",
    benchmark:
        "logs/benchmarks/evaluate/{dataset}/{variant}/{split}/seed{seed}.tsv"
    threads: 1
    resources:
        gpu=gpus,
        runtime=120,
        mem_mb=lambda w: 16000 if w.dataset in VIDEO_DATASETS else 8000,
    shell:
        "memae evaluate {wildcards.dataset} --prepared {DATA:q}/prepared/{wildcards.dataset}"
        " --run {params.run:q} --profile {PROFILE:q} --threads {threads} 2> {log:q}"


rule aggregate:
    wildcard_constraints:
        dataset="|".join(DATASETS),
    input:
        runs=lambda w: run_files(w.dataset, "metrics.json"),
        sweep=lambda w: sweep_target(w.dataset),
    output:
        metrics=str(metrics_path(RESULTS, "{dataset}")),
        # The settings that ran (the profile's overlay applied), beside the metrics: dvc exp show
        # and dvc metrics diff show them next to the numbers they produced.
        settings=str(settings_path(RESULTS, "{dataset}")),
    params:
        settings=lambda w: digest(PARAMS[w.dataset]),
    log:
        "logs/{dataset}/aggregate.log",
    benchmark:
        "logs/benchmarks/aggregate/{dataset}.tsv"
    threads: 1
    shell:
        "(memae aggregate {wildcards.dataset} --results {RESULTS:q} --out {output.metrics:q}"
        " --profile {PROFILE:q} && memae params {wildcards.dataset} --profile {PROFILE:q} --format json"
        " > {output.settings:q}) 2> {log:q}"


rule sweep:
    input:
        lambda w: run_files(w.dataset, "metrics.json"),
    output:
        str(sweep_path(RESULTS, "{dataset}")),
    params:
        settings=lambda w: digest(PARAMS[w.dataset]),
    log:
        "logs/{dataset}/sweep.log",
    benchmark:
        "logs/benchmarks/sweep/{dataset}.tsv"
    threads: 1
    shell:
        "memae aggregate {wildcards.dataset} --sweep --results {RESULTS:q} --out {output:q}"
        " --profile {PROFILE:q} 2> {log:q}"


if UNSELECTED:

    rule not_selected:
        wildcard_constraints:
            dataset="|".join(UNSELECTED),
        output:
            str(metrics_path(RESULTS, "{dataset}")),
            str(settings_path(RESULTS, "{dataset}")),
        params:
            profile=PROFILE,
        run:
            # the one writer of metrics files (memae.results), which checks their shape
            from memae import results
            from memae.data.arrays import write_json

            results.write(output[0], results.not_run(
                wildcards.dataset, PROFILE, f"not selected for profile {PROFILE} (params/pipeline.yaml datasets)"))
            write_json(output[1], {"dataset": wildcards.dataset, "profile": PROFILE, "status": "not run"})
