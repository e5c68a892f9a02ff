"""Agents: CEM optimises a known objective; CEM on the true physics beats random in the real push world; the
learned scorer scores what the simulator predicts; the planning experiment script runs end to end."""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from simtools import frames, tiny_model

import worldsim as ws
from worldsim import agents
from worldsim.agents import scorers
from worldsim.envs import Goal
from worldsim.sim import compiled, core, export

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "experiments" / "planning"))


def test_cem_finds_the_best_action_sequence():
    target = jnp.array([[0.5, -0.3], [-0.8, 0.2], [0.1, 0.9]])
    cfg = agents.CEMConfig(horizon=3, candidates=64, elites=8, iterations=6)
    score = lambda acts: -jnp.sum((acts - target) ** 2, axis=(1, 2))  # noqa: E731
    first, mean = jax.jit(lambda k: agents.plan(score, k, cfg, 2))(jax.random.key(0))
    assert np.abs(mean - target).max() < 0.1 and np.allclose(first, mean[0])
    assert np.allclose(agents.shift(mean)[:2], mean[1:])


def test_cem_on_true_physics_beats_random_in_the_push_world():
    world = ws.worlds.make("push", resolution=32).config
    cem = agents.CEMConfig(horizon=8, candidates=32, elites=6, iterations=2)
    result = agents.evaluate({"random": agents.random_policy(2), "cem_true": agents.true_planner(world, cem)},
                             world, episodes=6, seed=0, trial=agents.Trial(max_steps=25))
    rate = {k: v["success_rate"] for k, v in result["policies"].items()}
    assert rate["cem_true"] > rate["random"] and rate["cem_true"] >= 0.5, rate
    won = [r for r in result["policies"]["cem_true"]["runs"] if r["success"]]
    assert all(r["final_distance"] < 0.1 < r["start_distance"] for r in won)


def test_learned_scores_are_the_simulators_predicted_returns():
    model = tiny_model()
    state = compiled.init(model, jax.random.key(0), None, frames(3), jnp.zeros((2, 2)))
    goal = Goal(jnp.array([0.7, 0.3]), jnp.float32(0.1), 0)
    acts = jax.random.uniform(jax.random.key(1), (3, 8, 2), minval=-1, maxval=1)
    key = jax.random.key(2)
    scores = jax.jit(lambda a: scorers.learned(model, state, goal, key)(a))(acts)
    kids = core.fork(state, 3)
    for i in range(3):
        kid = jax.tree.map(lambda x: x[i], kids)
        _, outs = compiled.rollout(model, kid, acts[i], key, 0.0, decode=False)
        assert np.isclose(scores[i], jnp.sum(-goal.distance(outs.readout.pos)), atol=1e-4)
    assert len(set(np.round(np.asarray(scores), 4).tolist())) == 3  # actions change the predicted return


def test_planning_script_runs_end_to_end(tmp_path):
    import run  # experiments/planning/run.py

    export(tiny_model(), tmp_path / "model")
    out = tmp_path / "results.json"
    run.main(["--model", str(tmp_path / "model"), "--episodes", "1", "--max-steps", "2", "--policies",
              "random,cem_learned", "--horizon", "2", "--candidates", "4", "--elites", "2", "--iterations", "1",
              "--flow-steps", "1", "--out", str(out)])
    result = json.loads(out.read_text())
    assert set(result["policies"]) == {"random", "cem_learned"} and result["episodes"] == 1
    run_ = result["policies"]["cem_learned"]["runs"][0]
    assert run_["steps"] <= 2 and np.isfinite(run_["final_distance"])
