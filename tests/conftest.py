import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "datasets"


@pytest.fixture
def shared_datasets() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"real data not available: {SHARED} is missing (it sits beside the project on "
                    "the development machines only)")
    return SHARED


@pytest.fixture
def params_dir() -> Path:
    return REPO / "params"


@pytest.fixture(autouse=True)
def _no_mirror(monkeypatch):
    monkeypatch.delenv("MEMAE_MIRROR", raising=False)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")


def venv_bin() -> str:
    """Folder of the executables (snakemake, dvc, memae) of the running interpreter."""
    import sys
    return str(Path(sys.executable).parent)


GIT_USER = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t"}


def git_copy(root: Path, files: tuple[str, ...]) -> dict:
    """A clone-like copy of the project in `root`: its files (tracked, and untracked ones git does
    not ignore) whose paths start with one of `files`, as a fresh git repo with one commit. Returns
    the environment to run git, dvc and snakemake there (the venv's executables first, no DVC
    analytics, outside any DVC experiment)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=REPO, capture_output=True, check=True).stdout
    for rel in filter(None, out.decode().split("\0")):
        if rel.startswith(files) and (REPO / rel).is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, root / rel)
    env = {**os.environ, **GIT_USER, "PATH": f"{venv_bin()}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    env.pop("DVC_EXP_BASELINE_REV", None)
    subprocess.run("git init -q && git add -A && git commit -qm init", cwd=root, env=env, shell=True, check=True)
    return env
