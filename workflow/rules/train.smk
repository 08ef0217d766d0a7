# One training job and one scoring job per dataset x variant x split x seed (or per group of runs:
# group_seeds, one_job_per_dataset), then one aggregate per dataset. A job reruns when the settings
# it depends on change (params digests below).
# Variants: params protocol.variants (Ped2 adds the ablation ones) and the memory-size sweep
# points memae_n<N> (protocol.sweep_num_items). results/<dataset>/metrics.json is a dataset's
# final target: it also waits for the sweep, so the dataset's DVC stage and the report cover it.
# train and evaluate hold a GPU where one is present (resources: gpu, capped in the profiles).

RUN = run_pattern(RESULTS)   # memae.layout: RESULTS/{dataset}/{variant}/{split}/seed{seed}


rule train:
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


# Datasets with train.group_seeds train several runs of a variant in one job, `memae train-group`,
# instead of one job per run: one process start instead of one per seed, the same run folders and
# bit-identical results (tests/test_ensemble.py). true: all seeds of a split in one job; N: N seeds
# per job (jobs enough to keep every core busy). Scoring stays one job per run. A job's settings
# digest covers every run's, so a change reruns the group.
# Datasets the profile names in one_job_per_dataset (params/pipeline.yaml; the smoke profile's tiny
# data) train every main run in one job instead (train_dataset_<ds> below).
ONE_JOB = [ds for ds in DATASETS if ds in (PIPE.get("one_job_per_dataset") or [])]
GROUPED = [ds for ds in DATASETS if ds not in ONE_JOB and PARAMS[ds]["train"].get("group_seeds")]


def seed_chunks(ds):
    """(split, seeds) of each training job of a grouped dataset."""
    p, n = PARAMS[ds]["protocol"], PARAMS[ds]["train"]["group_seeds"]
    size = len(p["seeds"]) if n is True else max(1, int(n))
    return [(s, p["seeds"][i:i + size]) for s in p["splits"] for i in range(0, len(p["seeds"]), size)]


def group_digest(ds, split, seeds):
    return lambda w: digest([digest(run_config(ds, w.variant, split, k, PARAMS[ds])) for k in seeds])


for _ds in GROUPED:
    for _i, (_split, _seeds) in enumerate(seed_chunks(_ds)):

        rule:
            name:
                f"train_group_{_ds}_{_i}"
            input:
                str(prepared_summary(DATA, _ds)),
            output:
                [str(run_dir(RESULTS, _ds, "{variant}", _split, k) / f) for k in _seeds
                 for f in ("model.pt", "train_log.json")],
            params:
                settings=group_digest(_ds, _split, _seeds),
                dataset=_ds,
                split=_split,
                seeds=" ".join(str(k) for k in _seeds),
            log:
                f"logs/{_ds}/{{variant}}/{_split}/train_group_{_i}.log",
            benchmark:
                f"logs/benchmarks/train_group/{_ds}/{{variant}}/{_split}/{_i}.tsv"
            threads: 1
            resources:
                gpu=lambda w, _ds=_ds: gpus(w, _ds),
                # a cluster job runs its seeds one after another: the runtime of train, per seed
                runtime=720 * len(_seeds),
                mem_mb=32000 if _ds in VIDEO_DATASETS else 8000,
            shell:
                "memae train-group {params.dataset} --prepared {DATA:q}/prepared/{params.dataset}"
                " --variant {wildcards.variant} --splits {params.split} --seeds {params.seeds}"
                " --results {RESULTS:q} --profile {PROFILE:q} --threads {threads} 2> {log:q}"

        workflow.ruleorder(f"train_group_{_ds}_{_i}", "train")


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


rule evaluate:
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
