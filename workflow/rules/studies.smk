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
    wildcard_constraints:
        dataset=none_of(GROUPED),
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
            Path(log[0]).write_text(copy_trained_run(params.reused, output.model, output.log))
        else:
            shell("memae train {wildcards.dataset} --prepared {DATA:q}/prepared/{wildcards.dataset}"
                  " --variant {wildcards.variant} --split {wildcards.split} --seed {wildcards.seed}"
                  " --study {wildcards.tag} --out {params.out:q} --profile {PROFILE:q} --threads {threads}"
                  " 2> {log:q}")


rule evaluate_study:
    wildcard_constraints:
        dataset=none_of(GROUPED),
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


# Grouped datasets (train.group_seeds / train.group_splits, train.smk) train and score a study
# arm's runs in chunks too, one job per chunk x variant x arm: the rules below take precedence over
# train_study and evaluate_study, which remain for the datasets that are not grouped. One rule per
# distinct chunk of a dataset, shared by every arm (study or shortened baseline) whose runs have
# that chunk ({tag} limited to those arms).
def arm_tags(ds):
    """The arms of a dataset with runs of their own: its selected studies, and the shortened
    baselines (base_<digest>) that train."""
    tags = list(STUDIES.get(ds, []))
    for name in STUDIES.get(ds, []):
        tag = base_tag(STUDY_SPECS[ds][name], PARAMS[ds])
        if tag is not None and tag not in tags:
            tags.append(tag)
    return tags


def study_chunks(ds):
    """[(chunk, tags)]: each distinct chunk (splits, seeds) of the dataset's arms, and the arms
    that have it."""
    by = {}
    for tag in arm_tags(ds):
        for splits, seeds in run_chunks(ds, tag_params(ds, tag)["protocol"]):
            by.setdefault((tuple(splits), tuple(seeds)), []).append(tag)
    return [((list(sp), list(se)), tags) for (sp, se), tags in by.items()]


STUDY_CHUNKS = {ds: study_chunks(ds) for ds in GROUPED if ds in STUDIES}


def chunk_sources(ds, chunk, tag, variant):
    """The baseline run each study run of a chunk copies (see reused_training), or None when the
    chunk trains: its arm does not train as its baseline, or lists a run the baseline lacks."""
    runs = [_reused_run(ds, tag, variant, s, k) for s in chunk[0] for k in chunk[1]]
    return runs if arm_trains_as_baseline(ds, tag) and all(runs) else None


def chunk_reused(ds, chunk, w):
    """The baseline model files a chunk's study runs copy (none when it trains)."""
    return [f"{d}/{n}" for d in chunk_sources(ds, chunk, w.tag, w.variant) or [] for n in ("model.pt", "train_log.json")]


for _ds, _chunks in STUDY_CHUNKS.items():
    for _j, (_chunk, _tags) in enumerate(_chunks):

        rule:
            name:
                f"train_study_group_{_ds}_{_j}"
            wildcard_constraints:
                tag="|".join(_tags),
            input:
                summary=str(prepared_summary(DATA, _ds)),
                reused=lambda w, _ds=_ds, _chunk=_chunk: chunk_reused(_ds, _chunk, w),
            output:
                chunk_runs(_ds, _chunk, "{variant}", "model.pt", "{tag}")
                + chunk_runs(_ds, _chunk, "{variant}", "train_log.json", "{tag}"),
            params:
                settings=chunk_digest(_ds, _chunk, lambda w, _ds=_ds: tag_params(_ds, w.tag)),
                dataset=_ds,
                splits=" ".join(_chunk[0]),
                seeds=" ".join(str(k) for k in _chunk[1]),
            log:
                f"logs/{_ds}/studies/{{tag}}/{{variant}}/train_group_{_j}.log",
            benchmark:
                f"logs/benchmarks/train_study_group/{_ds}/{{tag}}/{{variant}}/{_j}.tsv"
            threads: 1
            resources:   # copies (see reused_training) need no GPU and little time or memory
                gpu=lambda w, _ds=_ds, _c=_chunk: 0 if chunk_sources(_ds, _c, w.tag, w.variant) else gpus(w, _ds),
                runtime=lambda w, _ds=_ds, _c=_chunk: (5 if chunk_sources(_ds, _c, w.tag, w.variant)
                                                       else 720 * len(_c[0]) * len(_c[1])),
                mem_mb=lambda w, _ds=_ds, _c=_chunk: (1000 if chunk_sources(_ds, _c, w.tag, w.variant)
                                                      else 32000 if _ds in VIDEO_DATASETS else 8000),
            run:
                # (a run block sees the loop's variables at run time, not at parse time: params)
                ds, splits, seeds = params.dataset, params.splits.split(), [int(k) for k in params.seeds.split()]
                sources = chunk_sources(ds, (splits, seeds), wildcards.tag, wildcards.variant)
                if sources:   # see reused_training; one log line per copied run
                    outs = [run_dir(RESULTS, ds, wildcards.variant, s, k, wildcards.tag) for s in splits for k in seeds]
                    Path(log[0]).write_text("".join(copy_trained_run(src, out / "model.pt", out / "train_log.json")
                                                    for src, out in zip(sources, outs)))
                else:
                    shell("memae train-group {params.dataset} --prepared {DATA:q}/prepared/{params.dataset}"
                          " --variant {wildcards.variant} --splits {params.splits} --seeds {params.seeds}"
                          " --study {wildcards.tag} --results {RESULTS:q} --profile {PROFILE:q}"
                          " --threads {threads} 2> {log:q}")

        rule:
            name:
                f"evaluate_study_group_{_ds}_{_j}"
            wildcard_constraints:
                tag="|".join(_tags),
            input:
                models=chunk_runs(_ds, _chunk, "{variant}", "model.pt", "{tag}"),
                summary=str(prepared_summary(DATA, _ds)),
            output:
                chunk_runs(_ds, _chunk, "{variant}", "metrics.json", "{tag}")
                + chunk_runs(_ds, _chunk, "{variant}", "scores.npz", "{tag}"),
            params:
                settings=chunk_digest(_ds, _chunk, lambda w, _ds=_ds: tag_params(_ds, w.tag), scoring=True),
                dataset=_ds,
                # Snakemake fills in {tag} and {variant}
                runs=" ".join(shlex.quote(str(Path(f).parent))
                              for f in chunk_runs(_ds, _chunk, "{variant}", "model.pt", "{tag}")),
            log:
                f"logs/{_ds}/studies/{{tag}}/{{variant}}/evaluate_group_{_j}.log",
            benchmark:
                f"logs/benchmarks/evaluate_study_group/{_ds}/{{tag}}/{{variant}}/{_j}.tsv"
            threads: 1
            resources:
                gpu=lambda w, _ds=_ds: gpus(w, _ds),
                runtime=120 * len(_chunk[0]) * len(_chunk[1]),
                mem_mb=16000 if _ds in VIDEO_DATASETS else 8000,
            shell:
                "memae evaluate-group {params.dataset} --prepared {DATA:q}/prepared/{params.dataset}"
                " --run {params.runs} --study {wildcards.tag} --profile {PROFILE:q} --threads {threads}"
                " 2> {log:q}"

        workflow.ruleorder(f"train_study_group_{_ds}_{_j}", "train_study")
        workflow.ruleorder(f"evaluate_study_group_{_ds}_{_j}", "evaluate_study")
        like(f"train_study_group_{_ds}_{_j}", "train_study", len(_chunk[0]) * len(_chunk[1]))
        like(f"evaluate_study_group_{_ds}_{_j}", "evaluate_study", len(_chunk[0]) * len(_chunk[1]))


def selected_study(ds, study):
    """`study`, when it is a selected study of a dataset the run selects; else an error that says
    what to select (Snakemake shows it under the target's rule) instead of a KeyError."""
    if study in STUDIES.get(ds, []):
        return study
    where = study_path(RESULTS, ds, study)
    why = unselected_dataset(ds, f" 'studies=[{ds}:{study}]'")   # data.smk
    if why:
        raise ValueError(f"{where}: {why}")
    declared = load_studies(ds)
    if study not in declared:
        raise ValueError(f"{where}: params/{ds}.yaml declares no study {study!r} (declared: "
                         f"{', '.join(declared) or 'none'})")
    raise ValueError(f"{where}: study {study!r} of {ds} is not selected (profile {PROFILE!r} selects: "
                     f"{', '.join(STUDIES.get(ds, [])) or 'none'}): select it with --config "
                     f"'studies=[{ds}:{study}]' (or params/pipeline.yaml `studies`)")


rule study:
    input:
        study=lambda w: tag_runs(w.dataset, selected_study(w.dataset, w.study), "metrics.json"),
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
