"""The documentation: the site builds strictly (broken links, anchors and pages left out of the nav
fail), the README stays short and its links lead somewhere."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_site_builds_strictly(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    site = tmp_path / "site"
    assert (site / "index.html").is_file() and (site / "previews" / "tabletop.png").is_file()
    reference = (site / "reference" / "index.html").read_text()
    assert "StreamingDataset" in reference and "override_value" in reference  # from the docstrings
    # the getting-started example is the file the newcomer test runs, included verbatim
    assert "fasterrcnn_mobilenet_v3_large_320_fpn" in (site / "getting-started" / "index.html").read_text()


def test_the_readme_is_short_and_its_links_resolve():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert local and [link for link in local if not (ROOT / link).exists()] == []
    # the two commands a newcomer runs
    assert "pip install . && synthgen generate" in text and "bash .ci/run" in text
