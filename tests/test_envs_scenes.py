"""The envs as Gymnasium users expect them, on the tiny random model: a world scene per seed by default (the same
in every adapter, jittable in the functional env), tasks refusing a start without their ball, registration by
`import worldsim` alone with max_episode_steps on the spec, rgb_array rendering, the README's Gymnasium example,
and sampling settings refused by name."""

import re
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import jax
import numpy as np
import pytest
from simtools import leaves_equal, max_diff, tiny_model

import worldsim  # noqa: F401  (registers the env: no `import worldsim.envs` needed)
from worldsim.envs import (
    ENV_ID, FunctionalEnv, NoTask, WorldSimDmEnv, WorldSimEnv, WorldSimVectorEnv, adapter, env_params,
    functional, scenes,
)
from worldsim.worlds.config import PRESETS
from worldsim.worlds.render import render

README = Path(__file__).resolve().parent.parent / "README.md"
KEY = jax.random.key(0)


def test_scenes_differ_per_key_repeat_per_key_and_hold_the_tasks_ball():
    cfg = scenes.config("bouncing_balls", 32, 3, 2, 0)
    draw = jax.jit(jax.vmap(lambda k: scenes.draw(cfg, k, 3, 2, colour=0)))
    frames, actions = draw(jax.random.split(KEY, 16))
    again, _ = draw(jax.random.split(KEY, 16))
    assert frames.shape == (16, 3, 32, 32, 3) and frames.dtype == np.uint8 and actions.shape == (16, 2, 2)
    assert np.array_equal(frames, again) and len({np.asarray(f).tobytes() for f in frames}) == 16
    assert (np.asarray(actions) == 0).all()  # a passive world: no pushes between its frames
    # Conditioned on the task's red ball: every scene shows it (red pixels), though ~58% of free draws lack it.
    first = np.asarray(frames[:, 0]).astype(int)
    assert ((first[..., 0] > 200) & (first[..., 1] < 60) & (first[..., 2] < 60)).any(axis=(1, 2)).all()
    starts = jax.jit(jax.vmap(lambda k: render(scenes._start(cfg, jax.random.split(k)[0], 0), 32)))
    assert np.array_equal(starts(jax.random.split(KEY, 16)), frames[:, 0])  # frame 0: the world's own start
    free = jax.jit(jax.vmap(lambda k: scenes._start(cfg, k, None)))(jax.random.split(KEY, 64))
    assert not (np.asarray(free.present) & (np.asarray(free.colour) == 0)).any(axis=1).all()


def test_functional_env_starts_from_a_world_scene_under_jit_and_matches_the_adapters():
    env = FunctionalEnv(max_steps=3, decode=False)  # default world "push"; latents: no decoder to compile
    params = env_params(tiny_model())
    assert params.text is None and env.scene(params) is not None
    reset = jax.jit(env.reset)
    (obs, own), (other, _) = reset(KEY, params), reset(jax.random.key(1), params)
    assert not np.array_equal(obs, other)  # a scene per key (vmap over keys: test_scenes_differ...)
    # The stateful adapters draw the same scene from the same key.
    _, stateful = adapter.reset(env, params, KEY)
    assert max_diff(stateful, own) < 1e-4  # two compiled programs: rounding may differ
    # The key's scene, given as frames, is the same start as the env's own (one compiled program: exact).
    k_scene, k_init = jax.random.split(KEY)
    frames, actions = scenes.draw_keys(env.scene(params), k_scene, 3, 2, 0, 0)
    given = env_params(tiny_model(), frames=np.asarray(frames), frame_actions=np.asarray(actions))
    _, from_frames = adapter.reset(FunctionalEnv(max_steps=3, decode=False, task=NoTask()), given, k_init)
    assert leaves_equal(stateful, from_frames)


def test_every_adapter_starts_a_different_scene_per_seed_and_the_same_for_a_seed():
    env = gym.make(ENV_ID, model=tiny_model(), max_steps=5)  # no prompt: the world's scenes
    a, b, c = (env.reset(seed=s)[0] for s in (0, 0, 1))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    vec = WorldSimVectorEnv(3, model=tiny_model(), max_steps=5)
    obs, _ = vec.reset(seed=0)
    assert len({o.tobytes() for o in obs}) == 3 and np.array_equal(obs, vec.reset(seed=0)[0])
    dm = [WorldSimDmEnv(model=tiny_model(), max_steps=5, seed=s).reset().observation for s in (0, 0, 1)]
    assert np.array_equal(dm[0], dm[1]) and not np.array_equal(dm[0], dm[2])


def test_a_task_refuses_a_start_without_its_ball():
    # world=None and no prompt: an empty start, where the random model reads no ball (presence ~0.3).
    for make in (lambda **kw: WorldSimEnv(tiny_model(), max_steps=5, world=None, **kw).reset(seed=0),
                 lambda **kw: WorldSimDmEnv(tiny_model(), max_steps=5, world=None, **kw).reset(),
                 lambda **kw: WorldSimVectorEnv(2, tiny_model(), max_steps=5, world=None, **kw).reset(seed=0)):
        with pytest.raises(ValueError, match=r"reads the red ball .* starts without one .* world='push'"):
            make()
    WorldSimEnv(tiny_model(), max_steps=5, world=None, task=NoTask()).reset(seed=0)  # a task reading no ball runs
    env = FunctionalEnv(max_steps=5, decode=False, world=None)
    with pytest.raises(ValueError, match="starts without one"):
        env.reset(KEY, env_params(tiny_model(), prompt="a blue ball"))  # outside jit the pure env refuses too
    one_ball = PRESETS["push"][0].replace(num_balls=(1, 1))  # only the red agent: no blue ball, ever
    with pytest.raises(ValueError, match="never has a blue ball"):
        scenes.check_colour(one_ball, "push", 2)
    scenes.check_colour(one_ball, "push", 0)


def test_import_worldsim_registers_the_env_with_max_episode_steps():
    code = ("import gymnasium as gym, worldsim; s = gym.spec('worldsim/WorldSim-v0'); "
            "print(s.max_episode_steps, s.kwargs)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[0] == "100"


def test_gym_make_renders_rgb_array_and_truncates_at_max_episode_steps():
    env = gym.make(ENV_ID, model=tiny_model(), render_mode="rgb_array", max_episode_steps=3)
    assert env.spec.max_episode_steps == 3 and env.unwrapped.env.max_steps == adapter.UNLIMITED
    obs, _ = env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (32, 32, 3) and frame.dtype == np.uint8 and np.array_equal(frame, obs)
    ends = [env.step(env.action_space.sample())[3] for _ in range(3)]
    assert ends == [False, False, True]  # gym's TimeLimit truncates at the spec's max_episode_steps
    assert gym.make(ENV_ID, model=tiny_model()).spec.max_episode_steps == 100
    vec = gym.make_vec(ENV_ID, num_envs=2, model=tiny_model(), max_episode_steps=2)  # passed to the vector env
    assert isinstance(vec, WorldSimVectorEnv) and vec.env.max_steps == 2
    assert WorldSimVectorEnv(2, tiny_model()).env.max_steps == 100  # built directly: 100 unless told
    assert WorldSimVectorEnv(2, tiny_model(), max_episode_steps=7).env.max_steps == 7


def test_readme_gymnasium_example_runs(monkeypatch):
    """The README's example, exactly; only the shipped model is swapped for the tiny random one (the default takes
    ~40 s to compile here), by patching the loader gym.make's model="default" goes through."""
    section = README.read_text().split("## Agents and reinforcement learning", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) == 6 and 'gym.make("worldsim/WorldSim-v0"' in code
    monkeypatch.setattr(functional, "load", lambda name="default": tiny_model())
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert namespace["obs"].shape == (32, 32, 3) and np.isfinite(namespace["reward"])


@pytest.mark.parametrize("kw, match", [
    (dict(temperature="abc"), "temperature='abc': use None"),
    (dict(steps="x"), "steps='x': use None"),
    (dict(first_guidance="2"), "first_guidance='2'"),
    (dict(reproject="yes"), "reproject='yes': use True or False"),
    (dict(world="mars"), "world='mars': use one of bouncing_balls"),
    (dict(start_frames=0), "start_frames=0"),
])
def test_bad_env_settings_name_the_argument(kw, match):
    with pytest.raises(ValueError, match=match):
        FunctionalEnv(**kw)
    if "temperature" in kw or "steps" in kw:
        with pytest.raises(ValueError, match=match):
            WorldSimEnv(tiny_model(), **kw)
