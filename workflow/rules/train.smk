# One training job and one scoring job per dataset x variant x split x seed, then one aggregate
# per dataset. A job reruns when the settings it depends on change (params digests below).

RUN = RESULTS + "/{dataset}/{variant}/{split}/seed{seed}"


rule train:
    input:
        f"{DATA}/prepared/{{dataset}}/summary.json",
    output:
        model=f"{RUN}/model.pt",
        log=f"{RUN}/train_log.json",
    params:
        settings=train_digest,
        out=RUN,
    log:
        "logs/{dataset}/{variant}/{split}/seed{seed}/train.log",
    threads: 1
    shell:
        "memae train {wildcards.dataset} --prepared {DATA}/prepared/{wildcards.dataset}"
        " --variant {wildcards.variant} --split {wildcards.split} --seed {wildcards.seed}"
        " --out {params.out} --profile {PROFILE} --threads {threads} 2> {log}"


rule evaluate:
    input:
        model=f"{RUN}/model.pt",
        summary=f"{DATA}/prepared/{{dataset}}/summary.json",
    output:
        metrics=f"{RUN}/metrics.json",
        scores=f"{RUN}/scores.npz",
    params:
        settings=eval_digest,
        run=RUN,
    log:
        "logs/{dataset}/{variant}/{split}/seed{seed}/evaluate.log",
    threads: 1
    shell:
        "memae evaluate {wildcards.dataset} --prepared {DATA}/prepared/{wildcards.dataset}"
        " --run {params.run} --profile {PROFILE} --threads {threads} 2> {log}"


rule aggregate:
    input:
        lambda w: run_files(w.dataset, "metrics.json"),
    output:
        f"{RESULTS}/{{dataset}}/metrics.json",
    params:
        settings=lambda w: digest(PARAMS[w.dataset]),
    log:
        "logs/{dataset}/aggregate.log",
    threads: 1
    shell:
        "memae aggregate {wildcards.dataset} --results {RESULTS} --out {output}"
        " --profile {PROFILE} 2> {log}"
