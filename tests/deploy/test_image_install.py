"""The Dockerfile's install steps, run as written (no Docker engine needed): the build stage's
COPY and `pip wheel`, then the final stage's venv and offline `pip install`, into a directory
that stands for the image's file system; then `mailpoll --help` and `mailpoll db upgrade` from
the installed venv, with the image's environment.

Offline: pip finds the dependencies' wheels in the wheelhouse that scripts/bootstrap.sh fills
(`.venv/wheelhouse`, the same `pip wheel` with the network), never on an index.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.dockerfile import Stage, stages

ROOT = Path(__file__).parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
WHEELHOUSE = Path(os.environ.get("MAILPOLL_TEST_WHEELHOUSE", ROOT / ".venv" / "wheelhouse"))
# RUN lines the test does not run, and why: they change the machine, not the install.
NOT_RUN = {"groupadd": "creates the image's user and directories (root only)"}


def image_path(root: Path, text: str) -> str:
    """`text` with the image's absolute paths moved under `root`."""
    return re.sub(r"(?<![\w./$-])/(?=(wheels|opt|src|var|data)\b)", f"{root}/", text)


def clean_env(root: Path, stage: Stage, base_path: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILPOLL_", "PIP_"))}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(WHEELHOUSE), PIP_CONFIG_FILE=os.devnull)
    env["PATH"] = base_path
    for key, value in stage.env().items():
        env[key] = image_path(root, value).replace("$PATH", env["PATH"])
    return env


def run(command: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(  # noqa: S602  (a RUN line is a shell command, as in the image)
        command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=540,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether Docker leaves `relative` out of the build context (the forms mailpoll uses:
    a name or path, `*` globs, a leading `**/`)."""
    parts = relative.split("/")
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch.fnmatch("/".join(parts[:n]), pattern) for n in range(1, len(parts) + 1)):
            return True
    return False


def copy(root: Path, stage: Stage, workdir: Path) -> None:
    """The stage's COPY instructions, from the build context: the repository less what
    .dockerignore leaves out."""
    patterns = dockerignore()
    for rest in stage.all("COPY"):
        *sources, dest = shlex.split(rest)
        assert not any(s.startswith("--") for s in sources), f"COPY {rest}: flags not expected"
        target = workdir / dest
        for source in sources:
            destination = target / Path(source).name if dest.endswith("/") else target
            files = [ROOT / source] if (ROOT / source).is_file() else (ROOT / source).rglob("*")
            for path in files:
                relative = path.relative_to(ROOT).as_posix()
                if path.is_dir() or ignored(relative, patterns):
                    continue
                inside = path.relative_to(ROOT / source) if path != ROOT / source else Path()
                (destination / inside).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination / inside)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], list[str]]:
    """Root of the installed image, its environment and its entrypoint."""
    if not any(WHEELHOUSE.glob("*.whl")):
        pytest.fail(f"no wheelhouse at {WHEELHOUSE}: scripts/bootstrap.sh (test.sh) fills it")
    root = tmp_path_factory.mktemp("image")
    # A Python of its own, like the image's base: a fresh virtualenv.
    subprocess.run([sys.executable, "-m", "venv", root / "python"], check=True)
    base_path = f"{root / 'python' / 'bin'}:/usr/bin:/bin"
    build, final = stages(DOCKERFILE)
    assert build.name == "build"
    assert final.base == build.base
    workdir = Path(image_path(root, build.all("WORKDIR")[-1]))
    workdir.mkdir(parents=True)
    copy(root, build, workdir)
    for command in build.all("RUN"):
        run(image_path(root, command), workdir, clean_env(root, build, base_path))
    for command in final.all("RUN"):
        if any(word in command for word in NOT_RUN):
            continue
        mounts = re.findall(r"--mount=(\S+)\s+", command)
        assert mounts == ["type=bind,from=build,source=/wheels,target=/wheels"], mounts
        command = re.sub(r"--mount=\S+\s+", "", command)
        run(image_path(root, command), root, clean_env(root, final, base_path))
    env = clean_env(root, final, base_path)
    for key in ("MAILPOLL_DATA_DIR", "MAILPOLL_UPLOAD_DIR"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)  # useradd --create-home, install -d
    return root, env, final.entrypoint()


@pytest.mark.timeout(600)
def test_the_installed_image_runs_help_and_upgrades_the_database(
    image: tuple[Path, dict[str, str], list[str]],
) -> None:
    root, env, entrypoint = image
    home = Path(env["MAILPOLL_DATA_DIR"])
    assert shutil.which(entrypoint[0], path=env["PATH"]) == str(
        root / "opt" / "mailpoll" / "bin" / "mailpoll"
    )
    assert "accounts" in run(shlex.join([*entrypoint, "--help"]), home, env)
    assert re.match(
        r"schema at revision \d+", run(shlex.join([*entrypoint, "db", "upgrade"]), home, env)
    )
    assert (home / "mailpoll.db").exists()


@pytest.mark.timeout(600)
def test_the_image_holds_every_file_of_every_package(
    image: tuple[Path, dict[str, str], list[str]],
) -> None:
    """Templates, static files and migrations included: a package the Dockerfile does not copy,
    or data that the wheel leaves out, is missing here."""
    root, _, _ = image
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    packages = [ROOT / pattern.rstrip("*") for pattern in include]
    sources = [
        path.relative_to(ROOT)
        for package in packages
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert sources, f"no files under {packages}"
    site = next((root / "opt" / "mailpoll" / "lib").glob("python3*/site-packages"))
    missing = [str(path) for path in sources if not (site / path).exists()]
    assert not missing, f"not in the image: {missing}"


def test_the_build_context_leaves_out_what_the_image_does_not_need() -> None:
    patterns = dockerignore()
    for unwanted in (".git", ".venv", "tests", "mailpoll-data", "shared/__pycache__/x.pyc"):
        assert ignored(unwanted, patterns), unwanted
    for wanted in ("pyproject.toml", "README.md", "web/console/templates/accounts.html"):
        assert not ignored(wanted, patterns), wanted
