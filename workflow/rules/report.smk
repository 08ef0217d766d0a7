# The HTML report: the paper's tables, reported vs reproduced.


rule report:
    input:
        metrics=expand(f"{RESULTS}/{{dataset}}/metrics.json", dataset=DATASETS),
        reported="params/reported.yaml",
    output:
        "reports/index.html",
    log:
        "logs/report.log",
    threads: 1
    shell:
        "memae report --results {RESULTS} --out {output} --profile {PROFILE} 2> {log}"
