"""The Function's files as pulumiverse-vercel's `Deployment` takes them, computed offline.

`vercel.Deployment(files=...)` wants what the provider's `getProjectDirectory` data source
returns: every file's path mapped to `<size>~<sha1>` (terraform-provider-vercel's format). The
provider reads the contents from those paths when it uploads. Stockade computes the map itself,
like the Cloudflare bundle's hashes, so synth stays offline and a changed source file shows in
a preview as exactly one changed entry. Build output and dependencies never go up: Vercel
installs the packages and builds the TypeScript from package.json and package-lock.json.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from stockade.cloudflare.bundle import project_root

EXCLUDED_DIRECTORIES = frozenset({"node_modules", "dist", ".vercel", ".git"})
MAX_FILES = 500


class FunctionDirectoryError(ValueError):
    """`vercel.functionDirectory` does not name a Function's sources."""


def function_files(directory: str, root: Path | None = None) -> dict[str, str]:
    """`{project-relative path: "<size>~<sha1>"}` for every source file under `directory`."""
    base = root or project_root()
    folder = base / directory
    key = f"stockade:sandboxes.vercel.functionDirectory = '{directory}'"
    if not (folder / "package.json").is_file():
        raise FunctionDirectoryError(
            f"{key}: no package.json there (looked in {folder}); point it at the Function's "
            "directory, e.g. providers/vercel-function"
        )
    files: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or EXCLUDED_DIRECTORIES & set(relative.parts[:-1]):
            continue
        content = path.read_bytes()
        # SHA-1 because the Vercel API addresses uploaded files by it; it is not a security check.
        digest = hashlib.sha1(content, usedforsecurity=False).hexdigest()
        files[path.relative_to(base).as_posix()] = f"{len(content)}~{digest}"
        if len(files) > MAX_FILES:
            raise FunctionDirectoryError(f"{key}: more than {MAX_FILES} files; is this the Function?")
    return files
