"""Run the demo build and take a screenshot of its report for the README.

    .venv/bin/python scripts/report_screenshot.py            # writes docs/report-demo.png
    .venv/bin/python scripts/report_screenshot.py --html docs/report-demo.html --full-page

The demo (examples/demo) is copied to a temporary folder and built there with the real `br`,
then `br report` writes its page and Debian's Chromium (installed by .ci/tools/chromium.sh),
driven by Playwright (the dev extra), renders it at 1280 px and saves the PNG. Nothing here is
drawn by hand: run it again after a change to the report and commit the new picture.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.telemetry.browser import CHROMIUM_ARGS  # noqa: E402  (the flags this machine needs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "docs" / "report-demo.png",
        help="the PNG to write (default: docs/report-demo.png)",
    )
    parser.add_argument("--html", type=Path, help="also keep the report's HTML here")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1150, help="viewport height (px)")
    parser.add_argument("--full-page", action="store_true", help="the whole page, not the top")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("chromium is not installed: run `make tools` (.ci/tools/chromium.sh)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sys.exit("playwright is not installed: run `make dev` (it is in the dev extra)")

    with tempfile.TemporaryDirectory(prefix="br-demo-") as folder:
        demo = Path(folder) / "demo"
        shutil.copytree(
            ROOT / "examples" / "demo",
            demo,
            ignore=shutil.ignore_patterns(".buildrunner", "build", "__pycache__"),
        )
        env = {**os.environ, "BR_PROJECT_DIR": str(demo)}
        br = [sys.executable, "-m", "buildrunner"]
        build = subprocess.run(
            [*br, "run", "plan.yaml", "--workers", str(args.workers)],
            cwd=demo,
            env=env,
            capture_output=True,
            text=True,
        )
        if build.returncode not in (0, 1):
            sys.exit(f"the demo build did not run:\n{build.stderr}")
        report = demo / "report.html"
        written = subprocess.run(
            [*br, "report", "-o", str(report)], cwd=demo, env=env, capture_output=True, text=True
        )
        if written.returncode != 0:
            sys.exit(f"br report failed:\n{written.stderr}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.goto(report.as_uri())
            page.wait_for_function("document.documentElement.dataset.ready === '1'")
            args.output.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.output), full_page=args.full_page)
            browser.close()
        if args.html:
            shutil.copyfile(report, args.html)
    print(f"wrote {args.output}" + (f" and {args.html}" if args.html else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
