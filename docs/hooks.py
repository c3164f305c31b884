"""mkdocs hook: the scene previews (scenes/previews/*.png, kept once in the repository) become
site files under previews/, so pages show them without a copy in docs/."""

from pathlib import Path

from mkdocs.structure.files import File

PREVIEWS = Path(__file__).resolve().parents[1] / "scenes" / "previews"


def on_files(files, config):
    for picture in sorted(PREVIEWS.glob("*.png")):
        files.append(File(f"previews/{picture.name}", str(PREVIEWS.parent), config["site_dir"], config["use_directory_urls"]))
    return files
