"""``genkit report``: one self-contained HTML page per run or per comparison, checked as HTML and in headless Chromium."""

from __future__ import annotations

import html.parser
import json
import shutil
from pathlib import Path

import pytest

from conftest import read_json, run_cli, tiny_set_flags


class _PageParts(html.parser.HTMLParser):
    """Every tag's attributes, and every URL the page would load or link to."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attributes):
        self.tags.append((tag, dict(attributes)))

    def urls(self) -> list[str]:
        return [value for _, attributes in self.tags for name, value in attributes.items()
                if name in ("src", "href", "srcset", "poster", "data", "action") and value]


def _parts(path: Path) -> tuple[str, _PageParts]:
    text = path.read_text(encoding="utf-8")
    parser = _PageParts()
    parser.feed(text)
    return text, parser


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, trained_run) -> Path:
    """The shared tiny DCGAN run, copied, then evaluated, explained and exported (ONNX) for real."""
    run_dir = tmp_path_factory.mktemp("report") / "dcgan-full"
    shutil.copytree(trained_run, run_dir)
    run_cli("evaluate", run_dir, "-n", 64)
    run_cli("explain", run_dir, "-n", 2, "--method", "discriminator-cam")
    run_cli("export", run_dir, "--format", "onnx")
    return run_dir


@pytest.fixture(scope="module")
def second_run(tmp_path_factory, tiny_npz) -> Path:
    """Another tiny DCGAN with a different latent size and three epochs, not evaluated."""
    run_dir = tmp_path_factory.mktemp("report") / "dcgan-latent4"
    run_cli("train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--epochs", 3, "--batch-size", 64, "--out", run_dir,
            "--quiet", *tiny_set_flags(["latent_dim=4", "train.num_sample_images=16"]))
    return run_dir


def test_one_run_is_one_self_contained_page(full_run):
    result = run_cli("report", full_run)
    page = full_run / "report.html"
    assert result.stdout.strip() == f"genkit: wrote {page}"
    text, parts = _parts(page)
    assert all(url.startswith(("data:", "#")) for url in parts.urls()), [u[:60] for u in parts.urls() if not u.startswith(("data:", "#"))]
    assert "http://" not in text.replace("http://www.w3.org/", "") and "https://" not in text
    # Curves: the losses, and the learning rates and throughput that history.json records.
    history = read_json(full_run / "history.json")
    assert {"images_per_second", "learning_rate/generator", "learning_rate/discriminator"} <= set(history[-1])
    charts = {attributes["data-metric"] for tag, attributes in parts.tags if attributes.get("class") == "curve"}
    assert {"d_loss", "g_loss", "images_per_second", "learning_rate/generator", "seconds"} <= charts
    assert text.count("<svg") == len(charts)
    # The per-epoch samples on a slider, each frame an inline image.
    frames = json.loads(text.split('<script type="application/json" class="frame-data">')[1].split("</script>")[0])
    assert frames["epochs"] == [1, 2] and all(frame.startswith("data:image/png;base64,") for frame in frames["frames"])
    # Metrics, exports and explanations, from the files genkit evaluate, export and explain wrote.
    metrics = read_json(full_run / "metrics.json")
    assert f"<td>fid</td><td>{metrics['fid']:.4g}</td>" in text
    assert "<td>onnx</td><td>serving_default</td>" in text and "passed: " in text
    assert "discriminator Grad-CAM on real images" in text
    assert text.count("data:image/png;base64,") >= 2 + 1 + 2  # frames, final grid, two explanations


def test_several_runs_are_compared_side_by_side(full_run, second_run, tmp_path):
    out = tmp_path / "compare.html"
    run_cli("report", full_run, second_run, "--out", out)
    text, parts = _parts(out)
    assert "genkit report: 2 runs compared" in text
    # Settings that differ: the latent size and the epochs, not what the runs share.
    settings = text.split('aria-label="settings"')[1].split("</table>")[0]
    assert "<td>latent_dim</td><td>8</td><td>4</td>" in settings and "<td>train.epochs</td><td>2</td><td>3</td>" in settings
    assert "<td>train.batch_size</td>" not in settings
    # One chart per metric, both runs' lines on it (the legend names both).
    d_loss = text.split('data-metric="d_loss"')[1].split("</figure>")[0]
    assert "dcgan-full" in d_loss and "dcgan-latent4" in d_loss
    assert "Not evaluated: dcgan-latent4." in text
    assert all(url.startswith(("data:", "#")) for url in parts.urls())


def test_a_run_still_training_is_reported_as_incomplete(full_run, tmp_path):
    run_dir = tmp_path / "running"
    shutil.copytree(full_run, run_dir)
    (run_dir / "genkit.json").unlink()  # what a run folder is until training ends
    run_cli("report", run_dir)
    text = (run_dir / "report.html").read_text()
    assert "incomplete: training, stopped or failed (no genkit.json)" in text and 'data-metric="g_loss"' in text


@pytest.mark.parametrize("arguments, message", [
    (["{missing}"], "no such run folder"),
    (["{plain}"], "not a genkit run folder"),
    (["{run}", "--out", "{missing}/report.html"], "does not exist"),
    (["{run}", "--out", "{plain}"], "is a folder"),
])
def test_bad_input_is_one_line_with_exit_status_2(full_run, tmp_path, arguments, message):
    plain = tmp_path / "plain"
    plain.mkdir()
    names = {"missing": tmp_path / "missing", "plain": plain, "run": full_run}
    result = run_cli("report", *[argument.format(**names) for argument in arguments], check=False)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_corrupt_file_is_one_line_and_the_earlier_report_stays(full_run, tmp_path):
    run_dir = tmp_path / "damaged"
    shutil.copytree(full_run, run_dir)
    run_cli("report", run_dir)
    before = (run_dir / "report.html").read_bytes()
    (run_dir / "metrics.json").write_text('{"fid": 1.0,')
    result = run_cli("report", run_dir, check=False)
    assert result.returncode == 2 and "metrics.json: corrupt JSON file" in result.stderr
    assert (run_dir / "report.html").read_bytes() == before


# -- in a real browser -------------------------------------------------------------------------------

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def browser():
    """Headless Chromium through chromedriver (Debian's chromium and chromium-driver; .ci/run installs them),
    with the console and network logged."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _requests(driver) -> list[str]:
    """The URLs of every request the page made since the last call (Chrome's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


@pytest.mark.slow
def test_the_report_in_headless_chromium(full_run, second_run, tmp_path, browser):
    from PIL import Image

    out = tmp_path / "report.html"
    run_cli("report", full_run, second_run, "--out", out)
    for width in (1280, 390):  # a desktop, then a phone
        browser.set_window_size(width, 900)
        browser.get(out.as_uri())
        console = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
        assert console == [], console
        requests = _requests(browser)
        assert requests[0] == out.as_uri(), "the performance log lists the page's own request"
        assert [url for url in requests[1:] if not url.startswith("data:")] == [], "a request for a file or the network"
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width, "wider than the window"
        for selector in ("#comparison figure.curve svg", "#run-0 figure.frames img.frame", "#run-0 table.metrics",
                         "#run-0 table.exports", "#run-0 figure.explanation img", "#run-1 figure.frames img.frame"):
            element = browser.find_element("css selector", selector)
            browser.execute_script("arguments[0].scrollIntoView()", element)
            assert element.is_displayed() and element.size["width"] > 50 and element.size["height"] > 50, selector
            loaded = browser.execute_script(
                "return arguments[0].tagName !== 'IMG' || (arguments[0].complete && arguments[0].naturalWidth > 0)", element)
            assert loaded, f"{selector}: the image did not decode"

    # The slider shows the first epoch's grid; the play button runs to the last.
    frames = browser.find_element("css selector", "#run-1 figure.frames")
    image, slider = frames.find_element("css selector", "img.frame"), frames.find_element("css selector", "input")
    last = image.get_attribute("src")
    browser.execute_script("arguments[0].value = 0; arguments[0].dispatchEvent(new Event('input'))", slider)
    assert frames.find_element("css selector", ".frame-label").text == "epoch 1" and image.get_attribute("src") != last
    frames.find_element("css selector", "button.play").click()
    browser.implicitly_wait(0)
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(lambda _: frames.find_element("css selector", ".frame-label").text == "epoch 3")
    assert image.get_attribute("src") == last

    browser.set_window_size(1280, 900)
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot = tmp_path / "report.png"
    assert browser.save_screenshot(str(screenshot))
    with Image.open(screenshot) as shot:
        colours = shot.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50, "a blank screenshot"
