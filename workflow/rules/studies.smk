# Studies: what moves each number (params/<dataset>.yaml `studies:`; memae/studies.py says how a
# study and its baseline are laid out). Which studies run: params/pipeline.yaml `studies` (per
# profile), or on the command line:
#   snakemake --cores all --config profile=quick 'studies=[mnist:code256,kddcup99:all]'
# A study's runs train and score like the main ones (same memae commands, with --study TAG), so a
# study reruns exactly when its own settings change. results/<ds>/studies/metrics.json summarises
# the dataset's selected studies (a "not run" file when none is), so each DVC stage has its metrics.
import functools

from memae.config import load_studies, study_params
from memae.layout import base_tag
from memae.studies import (copy_trained_run, reused_training as reused_study_training, select as select_studies,
                           trains_as_baseline)

try:
    _spec = config.get("studies", PIPE.get("studies") or [])
    STUDIES = select_studies(_spec if isinstance(_spec, list) else [_spec], DATASETS)
    STUDY_SPECS = {ds: load_studies(ds) for ds in STUDIES}
except ParamsError as e:
    sys.exit(f"params error: {e}")

wildcard_constraints:
    study="[a-z0-9_]+",
    tag="[a-z0-9_]+",

STUDY_RUN = run_pattern(RESULTS, "{tag}")   # memae.layout: RESULTS/{dataset}/studies/{tag}/{variant}/{split}/seed{seed}


@functools.cache   # one merge per arm, not one per job (read only by the callers)
def tag_params(ds, tag):
    """The settings of the runs under results/<ds>/studies/<tag>: a study arm or a shared
    shortened baseline."""
    specs = STUDY_SPECS[ds]
    if tag in specs:
        return study_params(PARAMS[ds], specs[tag], "study")
    return next(study_params(PARAMS[ds], s, "base") for s in specs.values()
                if base_tag(s, PARAMS[ds]) == tag)


def tag_runs(ds, tag, name):
    """Files `name` of every run of one arm (a study arm or a shortened baseline)."""
    p = tag_params(ds, tag)["protocol"]
    return [str(run_dir(RESULTS, ds, v, s, k, tag) / name)
            for v in p["variants"] for s in p["splits"] for k in p["seeds"]]


def base_runs(ds, study, name):
    """Files `name` of a study's baseline runs: main runs (only the seeds a shortening keeps) or
    the runs of its shortened baseline."""
    spec = STUDY_SPECS[ds][study]
    tag = base_tag(spec, PARAMS[ds])
    if tag is not None:
        return tag_runs(ds, tag, name)
    p = study_params(PARAMS[ds], spec, "base")["protocol"]
    return [str(run_dir(RESULTS, ds, v, s, k) / name)
            for v in p["variants"] for s in p["splits"] for k in p["seeds"]]


@functools.cache   # once per arm: the jobs of an arm ask several times each (input, params, resources)
def arm_trains_as_baseline(ds, tag):
    spec = STUDY_SPECS[ds].get(tag)   # None: a shortened baseline's own runs
    return spec is not None and trains_as_baseline(PARAMS[ds], spec)


def reused_training(w) -> str:
    """The baseline run whose model a study run copies instead of training it again ("" for none):
    a study that changes only scoring settings (memae.studies.reused_training)."""
    return _reused_run(w.dataset, w.tag, w.variant, w.split, int(w.seed))


@functools.cache
def _reused_run(ds, tag, variant, split, seed) -> str:
    if not arm_trains_as_baseline(ds, tag):
        return ""
    run = reused_study_training(RESULTS, ds, PARAMS[ds], STUDY_SPECS[ds][tag], variant, split, seed)
    return str(run) if run else ""


def study_train_digest(w):
    return digest(run_config(w.dataset, w.variant, w.split, int(w.seed), tag_params(w.dataset, w.tag)))


def study_eval_digest(w):
    return digest([study_train_digest(w), tag_params(w.dataset, w.tag)["eval"]])


rule train_study:
    input:
        summary=str(prepared_summary(DATA, "{dataset}")),
        reused=lambda w: [f"{d}/{n}" for d in [reused_training(w)] if d for n in ("model.pt", "train_log.json")],
    output:
        model=f"{STUDY_RUN}/model.pt",
        log=f"{STUDY_RUN}/train_log.json",
    params:
        settings=study_train_digest,
        out=STUDY_RUN,
        reused=reused_training,
    log:
        "logs/{dataset}/studies/{tag}/{variant}/{split}/seed{seed}/train.log",
    threads: 1
    resources:   # a copy (see reused_training) needs no GPU and little time or memory
        gpu=lambda w: 0 if reused_training(w) else gpus(w),
        runtime=lambda w: 5 if reused_training(w) else 720,
        mem_mb=lambda w: 1000 if reused_training(w) else 32000 if w.dataset in VIDEO_DATASETS else 8000,
    run:
        if params.reused:   # see reused_training
            copy_trained_run(params.reused, output.model, output.log, log[0])
        else:
            shell("memae train {wildcards.dataset} --prepared {DATA:q}/prepared/{wildcards.dataset}"
                  " --variant {wildcards.variant} --split {wildcards.split} --seed {wildcards.seed}"
                  " --study {wildcards.tag} --out {params.out:q} --profile {PROFILE:q} --threads {threads}"
                  " 2> {log:q}")


rule evaluate_study:
    input:
        model=f"{STUDY_RUN}/model.pt",
        summary=str(prepared_summary(DATA, "{dataset}")),
    output:
        metrics=f"{STUDY_RUN}/metrics.json",
        scores=f"{STUDY_RUN}/scores.npz",
    params:
        settings=study_eval_digest,
        run=STUDY_RUN,
    log:
        "logs/{dataset}/studies/{tag}/{variant}/{split}/seed{seed}/evaluate.log",
    threads: 1
    resources:
        gpu=gpus,
        runtime=120,
        mem_mb=lambda w: 16000 if w.dataset in VIDEO_DATASETS else 8000,
    shell:
        "memae evaluate {wildcards.dataset} --prepared {DATA:q}/prepared/{wildcards.dataset}"
        " --run {params.run:q} --study {wildcards.tag} --profile {PROFILE:q} --threads {threads}"
        " 2> {log:q}"


rule study:
    input:
        study=lambda w: tag_runs(w.dataset, w.study, "metrics.json"),
        base=lambda w: base_runs(w.dataset, w.study, "metrics.json"),
    output:
        str(study_path(RESULTS, "{dataset}", "{study}")),
    params:
        settings=lambda w: digest([STUDY_SPECS[w.dataset][w.study], PARAMS[w.dataset]]),
    log:
        "logs/{dataset}/studies/{study}.log",
    threads: 1
    shell:
        "memae study {wildcards.dataset} {wildcards.study} --results {RESULTS:q} --out {output:q}"
        " --profile {PROFILE:q} 2> {log:q}"


rule studies:
    input:
        lambda w: [str(study_path(RESULTS, w.dataset, s)) for s in STUDIES.get(w.dataset, [])],
    output:
        str(study_path(RESULTS, "{dataset}")),
    params:
        names=lambda w: " ".join(STUDIES.get(w.dataset, [])),
        settings=lambda w: digest([STUDIES.get(w.dataset, []), PROFILE]),
    log:
        "logs/{dataset}/studies.log",
    threads: 1
    shell:
        "memae study {wildcards.dataset} --summary {params.names} --results {RESULTS:q}"
        " --out {output:q} --profile {PROFILE:q} 2> {log:q}"
