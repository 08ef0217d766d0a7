"""One registry (memae/datasets.py) from which every list of datasets derives, and one torch-free
layout (memae/layout.py) that the workflow reads at parse time."""
import ast
import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import memae
from memae import cli, datasets, dvcgen, layout
from memae.data import sources, synthetic

from .conftest import REPO, venv_bin

PACKAGE = Path(memae.__file__).resolve().parent


# --- the registry ---------------------------------------------------------------------------------

def test_every_params_file_is_a_registered_dataset_and_back():
    files = {p.stem for p in (REPO / "params").glob("*.yaml")} - {"pipeline", "reported"}
    assert files == set(datasets.WORKFLOW_DATASETS)
    assert "imagefolder" in datasets.SPECS and "imagefolder" not in datasets.WORKFLOW_DATASETS


def test_the_paper_tables_name_the_datasets_whose_spec_names_them():
    reported = yaml.safe_load((REPO / "params/reported.yaml").read_text())
    by_table = {t["id"]: set(t["datasets"]) for t in reported["tables"]}
    from_specs: dict[str, set] = {}
    for name, s in datasets.SPECS.items():
        for t in s.tables:
            from_specs.setdefault(t, set()).add(name)
    assert from_specs == by_table


def test_what_used_to_be_separate_lists_comes_from_the_specs():
    assert datasets.primary_metric("kddcup99") == "f1" and datasets.primary_metric("mnist") == "auc"
    assert datasets.stand_in("cifar10") == "cifar10_jpeg" and datasets.stand_in("mnist") is None
    assert [n for n, s in datasets.SPECS.items() if s.paper_sweep] == ["ped2"]
    assert set(datasets.of_kind("video")) == {"ped2", "avenue", "shanghaitech"}
    assert datasets.figure_kinds("ped2") == ("roc", "loss", "regularity")
    assert datasets.figure_kinds("cifar10_jpeg") == ("roc", "loss", "prototypes")
    assert datasets.figure_kinds("kddcup99") == ("roc", "loss")


def test_files_synthetic_generators_and_cli_choices_derive_from_the_registry():
    assert sources.SOURCES == {n: s.files for n, s in datasets.SPECS.items() if s.files}
    assert sources.SOURCES["mnist"][0].name == "train-images-idx3-ubyte.gz"
    for name in datasets.synthetic_names():
        assert inspect.isfunction(datasets.spec(name).generator()), name
    assert datasets.spec("mnist").content_hash and not datasets.spec("kddcup99").content_hash
    assert not hasattr(synthetic, "GENERATORS")
    with pytest.raises(ValueError, match="no synthetic generator for 'imagefolder'"):
        synthetic.make_mirror("imagefolder", Path("unused"), {})
    assert cli.DATASETS == tuple(datasets.SPECS)
    assert set(cli.FETCHED) == set(sources.SOURCES)


def test_every_archive_a_dataset_downloads_has_its_cap_beside_its_checksum():
    from memae.data import archive
    archives = [rf for s in datasets.SPECS.values() for rf in s.files if rf.name.endswith((".tar.gz", ".zip"))]
    assert len(archives) == 6
    for rf in archives:
        assert rf.max_unpacked_gib, rf.name
        assert archive.limits_for(Path(rf.name)).max_total == rf.max_unpacked_gib * archive.GIB


def test_no_module_keeps_its_own_list_of_dataset_names():
    # a tuple, list or set literal of two or more registered names outside the registry is a list
    names = set(datasets.SPECS)
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "datasets.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                strs = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
                if len(strs & names) >= 2:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                if len(keys & names) >= 1 and len(keys) == len(node.keys) and keys <= names:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    smk = [f"{p.name}:{i}" for p in (REPO / "workflow").rglob("*.smk")
           for i, line in enumerate(p.read_text().splitlines(), 1)
           if len(set(re.findall(r"\"(\w+)\"", line)) & names) >= 2]
    assert not found and not smk, found + smk


def test_summarise_has_one_meaning_per_name():
    # over seeds (aggregate.mean_std), verdict counts (report.count_verdicts), the studies' summary
    # file (studies.summarise_studies): no bare `summarise` left meaning either
    defined = [f"{p.relative_to(PACKAGE)}" for p in PACKAGE.rglob("*.py")
               for node in ast.parse(p.read_text()).body
               if isinstance(node, ast.FunctionDef) and node.name == "summarise"]
    assert defined == []
    from memae import aggregate, report
    assert aggregate.mean_std([1.0, 3.0])["mean"] == 2.0
    assert callable(report.count_verdicts)


# --- the layout -----------------------------------------------------------------------------------

def test_layout_paths_are_the_pipeline_s_paths():
    assert layout.run_dir("results", "mnist", "memae", "class3", 2) == Path("results/mnist/memae/class3/seed2")
    assert (layout.run_dir("results", "kddcup99", "ae", "all", 0, "code256")
            == Path("results/kddcup99/studies/code256/ae/all/seed0"))
    assert layout.run_pattern("results") == "results/{dataset}/{variant}/{split}/seed{seed}"
    assert layout.stamp_name("kddcup.data_10_percent.gz") == ".kddcup.data_10_percent.gz.verified"
    assert layout.fetch_stamps("data", "avenue") == ["data/raw/avenue/.Avenue_Dataset.zip.verified",
                                                     "data/raw/avenue/.ground_truth_demo.zip.verified"]
    assert layout.study_path("results", "mnist") == Path("results/mnist/studies/metrics.json")
    assert layout.sweep_name("memae", 500) == "memae_n500"


def test_fetch_writes_the_stamp_the_workflow_waits_for(tmp_path):
    from memae.data import fetch
    table = synthetic.make_mirror("kddcup99", tmp_path / "mirror", {"records": 50})
    fetch.fetch("kddcup99", layout.raw_dir(tmp_path, "kddcup99"), files=table, mirror=tmp_path / "mirror" / "kddcup99")
    expected = layout.fetch_stamps(tmp_path, "kddcup99")
    assert [Path(p).exists() for p in expected] == [True]


def _top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_layout_names_are_imported_from_the_layout_not_through_the_training_stack():
    # memae.train is the training stack (it imports torch): a layout name taken from it would load
    # torch for a name that lives in the torch-free memae.layout, and keep a re-export alive
    from_layout = _top_level_names(PACKAGE / "layout.py")
    assert {"run_config", "resolve_variant", "sweep_points", "RUNTIME_KEYS"} <= from_layout
    found = []
    for path in sorted([*PACKAGE.rglob("*.py"), *(REPO / "tests").rglob("*.py"), *(REPO / "benchmarks").rglob("*.py")]):
        in_package = PACKAGE in path.parents
        for node in ast.walk(ast.parse(path.read_text())):
            names: set[str] = set()
            if isinstance(node, ast.ImportFrom) and (
                    node.module == "memae.train" or (in_package and node.level == 1 and node.module == "train")):
                names = {a.name for a in node.names} & from_layout
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id in ("train", "train_mod") and node.attr in from_layout):
                names = {node.attr}
            found += [f"{path.relative_to(REPO)}:{node.lineno} {n}" for n in sorted(names)]
    assert not found, found
    train_py = (PACKAGE / "train.py").read_text()
    assert "F401" not in train_py   # no re-export kept for old importers


# The workflow's modules at parse time and in its run blocks, found in its sources
WORKFLOW_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(memae(?:\.\w+)*)[ \t]+import[ \t]+(\([^)]*\)|[\w \t,]+)"
                             r"|import[ \t]+(memae(?:\.\w+)*))", re.M)


def _workflow_modules() -> set[str]:
    mods = set()
    for path in [REPO / "workflow/Snakefile", *(REPO / "workflow").rglob("*.smk")]:
        for base, names, plain in WORKFLOW_IMPORT.findall(path.read_text()):
            if plain:
                mods.add(plain)
                continue
            mods.add(base)   # `from memae import estimate as e`: memae.estimate, a module of its own
            for part in names.replace("(", " ").replace(")", " ").split(","):
                name = part.split()[0] if part.split() else ""
                if (PACKAGE.parent / base.replace(".", "/") / f"{name}.py").is_file():
                    mods.add(f"{base}.{name}")
    return mods


def test_the_modules_the_workflow_and_the_report_load_import_without_torch():
    # torch fails on import (a meta path finder ahead of every other): the workflow's modules, the
    # aggregation, provenance and the report still import, so planning and reporting need no torch
    mods = sorted(_workflow_modules() | {"memae.aggregate", "memae.provenance", "memae.report", "memae.dvcgen"})
    assert {"memae.datasets", "memae.config", "memae.layout", "memae.studies", "memae.results",
            "memae.estimate", "memae.missing", "memae.overrides", "memae.data.arrays"} <= set(mods), mods
    code = (
        "import importlib, importlib.abc, sys\n"
        "class NoTorch(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('torch is not installed here: ' + name)\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "try:\n"
        "    import torch\n"
        "    sys.exit('torch was not blocked')\n"
        "except ImportError:\n"
        "    pass\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "assert not [k for k in sys.modules if k == 'torch' or k.startswith('torch.')]\n"
        "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0 and r.stdout.startswith("ok"), (r.stdout + r.stderr)[-3000:]


# --- the workflow at parse time -------------------------------------------------------------------

def _copy_workflow(root: Path) -> None:
    for rel in ("workflow", "params", "memae/templates"):
        shutil.copytree(REPO / rel, root / rel)


def _dry_run(root: Path, *args: str, poison: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{venv_bin()}:{os.environ['PATH']}"}
    env.pop("MEMAE_MIRROR", None)
    if poison is not None:   # torch and matplotlib that fail on import, first on the path
        for mod in ("torch", "matplotlib"):
            (poison / mod).mkdir(parents=True, exist_ok=True)
            (poison / mod / "__init__.py").write_text(f"raise ImportError('{mod} imported at parse time')\n")
        env["PYTHONPATH"] = os.pathsep.join([str(poison), str(REPO)])
    return subprocess.run(["snakemake", "-n", "--cores", "2", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)


# the rules that train or score: one run, a chunk of runs (main or a study arm's), or every run of a
# dataset
GPU_RULES = (r"train|evaluate|(?:train|evaluate)_group_\w+|(?:train|evaluate)_study_group_\w+"
             r"|train_dataset_\w+|evaluate_dataset_\w+")


def test_the_workflow_plans_without_torch_or_matplotlib_and_takes_the_gpu_from_the_profile(tmp_path):
    _copy_workflow(tmp_path)
    config = ["--config", "profile=smoke", "datasets=[kddcup99,mnist]", "studies=[]"]
    r = _dry_run(tmp_path, *config, poison=tmp_path / "poison")
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    jobs = re.findall(rf"rule ({GPU_RULES}):.*?resources: ([^\n]*)", r.stdout, re.S)
    assert jobs and all("gpu=0" in res for _, res in jobs)          # the default profile: no GPU
    r = _dry_run(tmp_path, "--workflow-profile", "workflow/profiles/gpu", *config, poison=tmp_path / "poison")
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    jobs = re.findall(rf"rule ({GPU_RULES}):.*?resources: ([^\n]*)", r.stdout, re.S)
    assert jobs and all("gpu=1" in res for _, res in jobs)          # the gpu profile declares one


def test_small_models_share_the_gpu_in_slots_a_video_job_takes_them_all(tmp_path):
    """workflow/profiles/gpu: `gpu` is the number of slots the GPU is shared in. With 3 slots a
    MNIST or KDD job (train, grouped train, evaluate) takes one, so three run side by side; a Ped2
    job takes all three, so it runs alone."""
    _copy_workflow(tmp_path)
    config = ["--config", "profile=smoke", "datasets=[kddcup99,mnist,ped2]", "studies=[]"]
    r = _dry_run(tmp_path, "--workflow-profile", "workflow/profiles/gpu", "--resources", "gpu=3", *config)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    slots = {}
    for block in re.split(r"\n(?=rule )", r.stdout):   # one job each
        rule = re.match(rf"rule ({GPU_RULES}):", block)
        if rule:
            ds = re.search(r"wildcards: .*?dataset=(\w+)", block)
            slots.setdefault(ds.group(1) if ds else rule.group(1), set()).add(re.search(r"\bgpu=(\d+)", block).group(1))
    # the smoke profile trains and scores KDDCUP99 and Ped2 in one job each (one_job_per_dataset),
    # MNIST its classes in chunks (train.group_splits)
    assert slots == {"train_group_mnist_0": {"1"}, "evaluate_group_mnist_0": {"1"},
                     "train_dataset_kddcup99": {"1"}, "evaluate_dataset_kddcup99": {"1"},
                     "train_dataset_ped2": {"3"}, "evaluate_dataset_ped2": {"3"}}, slots


def test_grouped_jobs_take_what_the_command_line_gives_train_and_evaluate(tmp_path):
    """A cluster profile names train, evaluate, train_study and evaluate_study (README, "On a SLURM
    cluster"); the jobs that do their work for several runs at once (train_group_*, ...) take the
    same threads and resources, and what is given to one of them by name wins."""
    _copy_workflow(tmp_path)
    r = _dry_run(tmp_path, "--cores", "8", "--config", "profile=paper", "datasets=[mnist,kddcup99]",
                 "studies=[mnist:code256]", "--set-threads", "train=4", "evaluate=3", "train_study=5",
                 "--set-resources", "train:slurm_partition=gpu", "evaluate:mem_mb=1234", "train:runtime=60",
                 "train_study:slurm_partition=gq", "train_group_kddcup99_1:slurm_partition=big",
                 "train_group_kddcup99_2:runtime=7")
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    seen, runtimes = {}, {}
    for block in re.split(r"\n(?=rule )", r.stdout):
        name = re.match(rf"rule ({GPU_RULES}):", block)
        if name:
            res = re.search(r"resources: ([^\n]*)", block).group(1)
            kind = re.sub(r"_(mnist|kddcup99)_\d+$", "", name.group(1))
            part = re.search(r"slurm_partition=(\w+)", res)
            mem = re.search(r"\bmem_mb=(\d+)", res).group(1)
            threads = re.search(r"threads: (\d+)", block)   # not printed for one thread
            seen.setdefault(kind, set()).add((threads.group(1) if threads else "1",
                                              part.group(1) if part else None, mem, name.group(1)[-1]))
            if kind == "train_group":
                runtimes[name.group(1)] = int(re.search(r"\bruntime=(\d+)", res).group(1))
    assert set(seen) == {"train_group", "evaluate_group", "train_study_group", "evaluate_study_group"}, seen
    assert {(t, p) for t, p, _, _ in seen["train_group"]} == {("4", "gpu"), ("4", "big")}   # big: by name
    assert {(t, m) for t, _, m, _ in seen["evaluate_group"]} == {("3", "1234")}
    assert {(t, p) for t, p, _, _ in seen["train_study_group"]} == {("5", "gq")}
    assert {(t, p) for t, p, _, _ in seen["evaluate_study_group"]} == {("1", None)}   # nothing given
    # train:runtime=60 is per run: a job of MNIST's 10 classes (a seed each) asks 600 min, one of
    # KDDCUP99's 5 seeds 300; given to a job by name, 7, it wins
    assert {v for k, v in runtimes.items() if k.startswith("train_group_mnist_")} == {600}
    assert runtimes["train_group_kddcup99_0"] == 300 and runtimes["train_group_kddcup99_2"] == 7


def test_a_registered_dataset_without_params_file_stops_the_workflow_naming_it(tmp_path):
    _copy_workflow(tmp_path)
    (tmp_path / "params/avenue.yaml").unlink()
    r = _dry_run(tmp_path, "--config", "profile=smoke", "datasets=[kddcup99]")
    assert r.returncode != 0
    assert "params/avenue.yaml" in r.stderr and "memae/datasets.py" in r.stderr, r.stderr[-2000:]


def test_a_target_of_a_dataset_the_profile_does_not_run_says_how_to_select_it(tmp_path):
    # quick runs mnist and kddcup99 only: a cifar10_jpeg run has no fetch rule under it
    _copy_workflow(tmp_path)
    r = _dry_run(tmp_path, "results/cifar10_jpeg/ae/class0/seed0/metrics.json", "--config", "profile=quick")
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "profile 'quick' does not run" in out and "--config 'datasets=[cifar10_jpeg]'" in out, out[-3000:]
    r = _dry_run(tmp_path, "results/mnsit/ae/class0/seed0/metrics.json", "--config", "profile=quick")
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "'mnsit', which does not exist" in out and "mnist" in out, out[-3000:]
    r = _dry_run(tmp_path, "results/cifar10_jpeg/ae/class0/seed0/metrics.json", "--config", "profile=quick",
                 "datasets=[cifar10_jpeg]", "studies=[]")
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]


def test_a_study_target_the_run_does_not_select_says_how_to_select_it(tmp_path):
    # a study's summary target: its rule's input named the study's runs through a KeyError or a
    # StopIteration when the study was not selected
    _copy_workflow(tmp_path)
    cases = [
        (["results/mnist/studies/code256/metrics.json", "--config", "profile=quick"],   # quick: no study
         ["study 'code256' of mnist is not selected", "--config 'studies=[mnist:code256]'"]),
        (["results/mnist/studies/gcn/metrics.json", "--config", "profile=quick", "studies=[mnist:code256]"],
         ["study 'gcn' of mnist is not selected", "selects: code256", "'studies=[mnist:gcn]'"]),
        (["results/mnist/studies/nosuch/metrics.json", "--config", "profile=quick", "studies=[mnist:code256]"],
         ["params/mnist.yaml declares no study 'nosuch'", "code1024"]),
        (["results/mnist/studies/code256/metrics.json", "--config", "profile=quick", "datasets=[kddcup99]"],
         ["profile 'quick' does not run", "--config 'datasets=[mnist]' 'studies=[mnist:code256]'"]),
        (["results/mnsit/studies/code256/metrics.json", "--config", "profile=quick"],
         ["'mnsit', which does not exist"]),
    ]
    for args, says in cases:
        r = _dry_run(tmp_path, *args)
        out = r.stdout + r.stderr
        assert r.returncode != 0, out[-3000:]
        for s in says:
            assert s in out, (s, out[-3000:])
        assert "KeyError" not in out and "StopIteration" not in out
    r = _dry_run(tmp_path, "results/mnist/studies/code256/metrics.json", "--config", "profile=quick",
                 "studies=[mnist:code256]")
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]


# --- dvc.yaml -------------------------------------------------------------------------------------

def test_the_committed_dvc_yaml_is_the_one_make_dvc_writes():
    # DVC cannot read Python: dvc.yaml is generated from the registry and the params files
    # (memae/dvcgen.py); adding a dataset, a study or a main variant means running `make dvc`
    assert (REPO / "dvc.yaml").read_text() == dvcgen.render(REPO / "params"), \
        "dvc.yaml differs from what `make dvc` (python -m memae.dvcgen) writes: run `make dvc`"
    r = subprocess.run([sys.executable, "-m", "memae.dvcgen", "--check"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_dvc_stages_are_one_foreach_over_the_registry_s_datasets():
    doc = yaml.safe_load(dvcgen.render(REPO / "params"))
    stages = doc["stages"]
    items = stages["dataset"]["foreach"]
    assert list(items) == list(datasets.WORKFLOW_DATASETS)
    for ds, item in items.items():   # the file a dataset's params start from is tracked too
        like = yaml.safe_load((REPO / "params" / f"{ds}.yaml").read_text()).get("like", ds)
        assert item == {"like": like}, ds
    # no stage copied per dataset: only the foreach stages and the report
    assert set(stages) == {"dataset", "studies", "report"}
    # the datasets with studies as the workflow reads them (`like:` followed: cifar10_jpeg has
    # cifar10's), each tracking the file its studies come from
    from memae.config import load_studies
    with_studies = {ds for ds in datasets.WORKFLOW_DATASETS if load_studies(ds, REPO / "params")}
    assert {"mnist", "kddcup99", "cifar10", "cifar10_jpeg"} <= with_studies
    assert set(stages["studies"]["foreach"]) == with_studies
    assert stages["studies"]["foreach"]["cifar10_jpeg"] == {"like": "cifar10"}
    assert "params/${item.like}.yaml" in stages["studies"]["do"]["params"][2]
    deps = set(stages["report"]["deps"])
    assert {f"results/{ds}/metrics.json" for ds in datasets.WORKFLOW_DATASETS} <= deps
    assert {f"results/{ds}/studies/metrics.json" for ds in with_studies} <= deps


def test_a_dataset_added_to_the_registry_reaches_every_list_of_dvc_yaml(tmp_path, monkeypatch):
    # a new dataset: its params file (here a copy of KDD's) and its registry line; `make dvc` then
    # adds its stage, its studies stage, the report's deps and its ROC plot
    params = tmp_path / "params"
    shutil.copytree(REPO / "params", params)
    (params / "svhn.yaml").write_text("like: kddcup99\n")
    monkeypatch.setattr(dvcgen, "WORKFLOW_DATASETS", (*datasets.WORKFLOW_DATASETS, "svhn"))
    monkeypatch.setitem(dvcgen.SPECS, "svhn", datasets.SPECS["kddcup99"])
    doc = yaml.safe_load(dvcgen.render(params))
    assert doc["stages"]["dataset"]["foreach"]["svhn"] == {"like": "kddcup99"}
    assert doc["stages"]["studies"]["foreach"]["svhn"] == {"like": "kddcup99"}
    assert {"results/svhn/metrics.json", "results/svhn/studies/metrics.json"} <= set(doc["stages"]["report"]["deps"])
    roc = next(e["roc_svhn"] for e in doc["plots"] if isinstance(e, dict) and "roc_svhn" in e)
    assert roc["y"] == {f"results/svhn/roc/{v}.json": "tpr" for v in ("ae", "memae_nonspar", "memae")}
    # and the committed file no longer matches until `make dvc` writes it
    assert dvcgen.render(params) != (REPO / "dvc.yaml").read_text()
    out = tmp_path / "dvc.yaml"
    assert dvcgen.main(["--params", str(params), "--out", str(out)]) == 0
    assert dvcgen.main(["--params", str(params), "--out", str(out), "--check"]) == 0


def test_dvc_yaml_refuses_a_like_chain_whose_end_its_stage_would_not_track(tmp_path):
    # memae.config follows like: to the end (avenue -> shanghaitech -> ped2 here), but a stage tracks
    # its own file and one like: step: params/ped2.yaml would be a setting no stage depends on
    pdir = tmp_path / "params"
    shutil.copytree(REPO / "params", pdir)
    doc = yaml.safe_load((pdir / "avenue.yaml").read_text())
    assert doc["like"] == "ped2" and yaml.safe_load((pdir / "shanghaitech.yaml").read_text())["like"] == "ped2"
    doc["like"] = "shanghaitech"
    (pdir / "avenue.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ValueError, match=r"avenue.yaml is like: shanghaitech, which is like: ped2"):
        dvcgen.render(pdir)
