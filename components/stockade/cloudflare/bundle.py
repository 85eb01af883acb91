"""The customer's built Worker bundle: find it, check it is there, fingerprint it.

Stockade never builds the Cloudflare template. It uploads files that already exist,
so a missing build must stop the program with the path it looked for and how to
produce it, not surface later as a provider error.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from stockade.settings.provider_cloudflare import WorkerBundle, module_content_type

_BUILD_HINT = (
    "build the Cloudflare template first (for example `npx wrangler deploy --dry-run --outdir "
    "build/worker` in your fork of cloudflare/claude-managed-agents); Stockade uploads the built "
    "files and never builds them"
)


class BundleError(FileNotFoundError):
    """A bundle file or directory named in the settings is not on disk."""


@dataclass(frozen=True)
class BundleFile:
    """One uploaded part: its name in the upload, where it is, and its content hash."""

    part_name: str
    path: str
    """As handed to the provider: relative to the project directory when inside it."""
    sha256: str
    content_type: str


@dataclass(frozen=True)
class LoadedBundle:
    main: BundleFile
    modules: tuple[BundleFile, ...]
    assets_directory: str | None


def project_root(start: Path | None = None) -> Path:
    """Where relative bundle paths start: the directory holding Pulumi.yaml.

    Pulumi reports it under the real engine. The offline engine runs the project's
    `__main__.py` without telling the runtime where it is, so next comes the running
    program's own directory, and last the nearest Pulumi.yaml above the working directory.
    """
    import pulumi

    configured = pulumi.runtime.get_root_directory()
    if configured:
        return Path(configured)
    program = getattr(sys.modules.get("__main__"), "__file__", None)
    if program and (Path(program).parent / "Pulumi.yaml").is_file():
        return Path(program).parent.resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    return here


def _shown(path: Path, root: Path) -> str:
    # Relative paths keep synth output identical across checkouts; the engine runs
    # providers from the project directory, where they resolve the same way.
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _file(part_name: str, setting_key: str, given: str, root: Path) -> BundleFile:
    path = Path(given) if Path(given).is_absolute() else root / given
    if not path.is_file():
        raise BundleError(
            f"stockade:sandboxes.cloudflare.bundle.{setting_key} = '{given}': no such file "
            f"(looked for {path}); {_BUILD_HINT}"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return BundleFile(part_name, _shown(path, root), digest, module_content_type(given))


def load_bundle(bundle: WorkerBundle, root: Path) -> LoadedBundle:
    """Resolve and hash every bundle file; raise BundleError naming the first missing one."""
    base = bundle.main_module.rsplit("/", 1)[0] + "/" if "/" in bundle.main_module else ""
    main = _file(bundle.main_module.rsplit("/", 1)[-1], "mainModule", bundle.main_module, root)
    modules = tuple(
        _file(module[len(base) :], f"modules[{index}]", module, root)
        for index, module in enumerate(bundle.modules)
    )
    assets: str | None = None
    if bundle.assets_directory is not None:
        directory = Path(bundle.assets_directory)
        directory = directory if directory.is_absolute() else root / directory
        if not directory.is_dir():
            raise BundleError(
                f"stockade:sandboxes.cloudflare.bundle.assetsDirectory = '{bundle.assets_directory}': "
                f"no such directory (looked for {directory}); {_BUILD_HINT}"
            )
        assets = _shown(directory, root)
    return LoadedBundle(main=main, modules=modules, assets_directory=assets)
