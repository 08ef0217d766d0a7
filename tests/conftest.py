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
