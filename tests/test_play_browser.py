"""`worldsim play` end to end in a real headless Chromium (Debian's package, driven by Playwright), with the
shipped default model: type a prompt and watch frames change, push the agent ball with the arrow keys and find it
moved the right way on screenshots, find that a typed prompt is what Start runs, branch into four panes, upload initial frames, download a clip that decodes.

Needs a Chromium binary: WORLDSIM_CHROMIUM, else chromium / chromium-browser on PATH. Without one the tests skip,
unless WORLDSIM_REQUIRE_BROWSER=1 (set by .ci/run, which installs it), where that is a failure.
WORLDSIM_UPDATE_SCREENSHOT=1 also writes the README's screenshot, docs/play.png.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest

import worldsim as ws
from worldsim import play, probes, worlds

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PUSH_SEED = 3  # a push scene whose agent (a medium red ball) starts at the left, room to move both ways


def chromium() -> str | None:
    for c in (os.environ.get("WORLDSIM_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if c and os.path.exists(c):
            return c
    return None


@pytest.fixture(scope="module")
def page():
    exe = chromium()
    if exe is None:
        if os.environ.get("WORLDSIM_REQUIRE_BROWSER") == "1":
            pytest.fail("no Chromium found but WORLDSIM_REQUIRE_BROWSER=1: install Debian's chromium package")
        pytest.skip("no Chromium: `apt-get install chromium` (or set WORLDSIM_CHROMIUM) to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api")
    engine = play.Engine(ws.load("default"), play.PlayConfig(port=0, seed=0))
    engine.warm_up(quiet=True)
    with play.start(engine) as srv, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=FLAGS)
        pg = browser.new_page(viewport={"width": 1120, "height": 1000}, accept_downloads=True)
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(srv.url)
        pg.wait_for_function("window.worldsimPlay.framesReceived >= 1", timeout=120_000)
        pg.errors = errors
        yield pg
        browser.close()
    assert errors == [], errors  # no JavaScript error on the page, in any test


def frames_received(pg) -> int:
    return pg.evaluate("window.worldsimPlay.framesReceived")


def wait_frames(pg, n: int, timeout_ms: int = 60_000) -> None:
    pg.wait_for_function(f"window.worldsimPlay.framesReceived >= {n}", timeout=timeout_ms)


def screen(pg) -> np.ndarray:
    """The frame canvas as the user sees it, read off a screenshot and sampled back to the model's pixels."""
    from PIL import Image

    png = pg.locator("#frame").screenshot()
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    res = pg.evaluate("window.worldsimPlay.resolution")
    s = img.shape[0] / res
    idx = ((np.arange(res) + 0.5) * s).astype(int)  # pixel centres of the upscaled, pixelated canvas
    return img[idx][:, idx]


def agent_x(pg, colour: str) -> float:
    tr = probes.track(screen(pg)[None])
    c = worlds.COLOUR_NAMES.index(colour)
    assert bool(tr.present[0, c]), f"the {colour} agent ball is not on screen"
    return float(tr.pos[0, c, 0])


def reset_example(pg, world: str, seed: int) -> None:
    pg.select_option("#world", world)
    pg.fill("#seed", str(seed))
    pg.click("#example")
    pg.wait_for_function(f"document.querySelector('#prompt').value.length > 0 && "
                         f"document.querySelector('#status').textContent.includes('{world} example')")
    n = frames_received(pg)
    pg.select_option("#source", "example")
    pg.click("#reset")
    wait_frames(pg, n + 1)


def step(pg, key: str | None = None) -> None:
    """One step from the Step button (after a key press, when given), waiting for its frame."""
    n = frames_received(pg)
    if key:
        pg.keyboard.press(key)  # focus is on a button or checkbox the test clicked, as a player's would be
    pg.click("#step")
    wait_frames(pg, n + 1)


def canvas_pixels(pg) -> np.ndarray:
    """The frame canvas's own pixels (H, W, 3), read with getImageData."""
    res = pg.evaluate("window.worldsimPlay.resolution")
    data = pg.evaluate("Array.from(document.querySelector('#frame').getContext('2d')"
                       f".getImageData(0, 0, {res}, {res}).data)")
    return np.asarray(data, np.uint8).reshape(res, res, 4)[..., :3]


def test_typed_prompt_is_what_start_runs(page):
    """The page opens on a loaded push example; typing a prompt and pressing Start runs the prompt, not the example."""
    assert page.input_value("#source") == "example"
    assert "start: example push seed 3" in page.text_content("#start-line")
    page.click("#prompt")
    page.keyboard.press("Control+A")
    page.keyboard.type("Two bouncing balls: a large green ball at the top left, a large blue ball at the bottom "
                       "right.")
    assert page.input_value("#source") == "none"  # typing a prompt turned the example's frames off
    line = page.text_content("#start-line")
    assert line.startswith("start: your prompt") and "not begun yet" in line, line
    n = frames_received(page)
    page.click("#start")
    wait_frames(page, n + 1)
    page.wait_for_timeout(1000)  # let it run ~1 s
    frame = canvas_pixels(page)
    line = page.text_content("#start-line")
    page.click("#pause")
    page.wait_for_function("!window.worldsimPlay.running")
    assert line == "start: your prompt", line
    assert frames_received(page) > n + 3
    tr = probes.track(frame[None])
    for colour in ("green", "blue"):
        assert bool(tr.present[0, worlds.COLOUR_NAMES.index(colour)]), f"no {colour} ball on the canvas"
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    green = int(((g > 150) & (r < 120) & (b < 150)).sum())
    blue = int(((b > 150) & (r < 120) & (g < 170)).sum())
    assert green >= 5 and blue >= 5, (green, blue)


def test_prompt_start_and_frames_change(page):
    page.fill("#prompt", "Two bouncing balls: a large red ball at the left moving right quickly, a large blue ball "
                         "at the right moving left quickly.")
    page.select_option("#source", "none")
    page.click("#reset")
    page.wait_for_function("document.querySelector('#recorded').textContent === '1'")
    before = screen(page)
    n = frames_received(page)
    page.click("#start")
    wait_frames(page, n + 20)
    fps = page.evaluate("window.worldsimPlay.fps")
    shown = page.text_content("#fps")
    after = screen(page)
    page.click("#pause")
    page.wait_for_function("!window.worldsimPlay.running")
    assert not np.array_equal(before, after)  # the frames changed on screen
    assert fps > 0 and shown.endswith("fps") and float(shown.split()[0]) > 0
    print(f"\nbrowser fps while running (default model, this machine): {fps}")


def test_arrow_keys_push_the_agent_the_right_way(page):
    page.uncheck("#show-tracks")  # the screenshot shows the frame alone
    moved = {}
    for key in ("ArrowRight", "ArrowLeft"):
        reset_example(page, "push", PUSH_SEED)
        agent = page.evaluate("window.worldsimPlay.agent")
        x0 = agent_x(page, agent)
        for _ in range(8):
            step(page, key)
        x1 = agent_x(page, agent)
        tracked = float(page.get_attribute("#agent-pos", "data-x"))
        assert abs(tracked - x1) < 1.5  # the page's tracker readout agrees with the screenshot
        # The cross the page draws is where the model's state head reads the ball from its latents: near it.
        latent = page.evaluate(f"window.worldsimPlay.latent[{worlds.COLOUR_NAMES.index(agent)}]")
        assert latent is not None and abs(latent[0] - x1) < 3.0, (latent, x1)
        moved[key] = x1 - x0
    page.check("#show-tracks")
    print(f"\nagent ball x shift on screen over 8 pushes (pixels): {moved}")
    assert moved["ArrowRight"] > 3.0, moved  # pixels, over 8 frames
    assert moved["ArrowLeft"] < moved["ArrowRight"] - 6.0, moved


def test_branch_shows_four_panes_and_one_can_be_continued(page):
    reset_example(page, "push", PUSH_SEED)
    for key in ["ArrowRight"] * 6 + ["ArrowUp"] * 4 + [None] * 6:  # a curved trajectory for the screenshot
        step(page, key)
    page.click("#branch")
    page.wait_for_selector("#branches:not([hidden])", timeout=120_000)
    panes = page.locator("#panes canvas")
    assert panes.count() == 4 and all(panes.nth(i).is_visible() for i in range(4))
    shot = ROOT / "docs" / "play.png"
    if os.environ.get("WORLDSIM_UPDATE_SCREENSHOT") == "1":
        shot.parent.mkdir(exist_ok=True)
        page.evaluate("window.worldsimPlay.holdBranches(1)")  # a still: each future's 2nd frame (labelled)
        page.screenshot(path=str(shot), full_page=True)
    recorded = int(page.text_content("#recorded"))
    page.locator(".pane button").nth(1).click()
    page.wait_for_selector("#branches", state="hidden")
    page.wait_for_function(f"Number(document.querySelector('#recorded').textContent) > {recorded}")


def test_upload_then_download_a_clip_that_decodes(page, tmp_path):
    clip = np.asarray(worlds.make("gravity", resolution=64, num_frames=4).sample(jax.random.key(5), 1).frames[0])
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(play.PlayConfig().max_upload_bytes))
    page.set_input_files("#upload", str(big))  # over the limit: refused by the page, which says why
    page.wait_for_function("document.querySelector('#status').textContent.includes('uploads are limited to')")
    gif = tmp_path / "start.gif"
    ws.io.write_video(gif, clip, fps=10)
    page.fill("#prompt", "")  # before the upload: typing afterwards would make the prompt alone the start
    page.set_input_files("#upload", str(gif))
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('uploaded 4 frames')")
    page.wait_for_function("document.querySelector('#start-line').textContent.startsWith("
                           "'start: uploaded start.gif (4 frames)')")
    assert page.input_value("#source") == "upload"
    n = frames_received(page)
    page.click("#reset")
    wait_frames(page, n + 1)
    first = screen(page)
    assert np.abs(first.astype(int) - clip[-1].astype(int)).mean() < 20  # starts from the uploaded frames
    for _ in range(4):
        step(page)
    recorded = int(page.text_content("#recorded"))
    for link in ("#download-mp4", "#download-gif"):
        with page.expect_download() as d:
            page.click(link)
        path = tmp_path / d.value.suggested_filename
        d.value.save_as(path)
        video = ws.io.read_video(path)
        assert video.shape[0] == recorded and video.shape[1:] == (256, 256, 3)
