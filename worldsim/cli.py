"""The `worldsim` command line: parses arguments and dispatches to library functions, nothing more.

    worldsim worlds list
    worldsim worlds sample --world gravity --seed 0 --out clip.mp4
    worldsim demo --out worldsim_demo
    worldsim play --port 8765
    worldsim eval --model copy_last --suite quick --out eval
"""

from __future__ import annotations

import argparse
import shlex
import sys
from importlib.resources import files
from pathlib import Path

import worldsim as ws

EXAMPLES = """examples:
  worldsim worlds list
  worldsim worlds sample --world gravity --seed 0 --out clip.mp4
  worldsim worlds sample --world push --batch 8 --out clips/push.gif   # push_000.gif ... push_007.gif
  worldsim demo --out worldsim_demo
  worldsim play                      # then open http://127.0.0.1:8765/
  worldsim train tokenizer --preset small --workdir runs/tokenizer
  worldsim train dynamics --preset small --workdir runs/dynamics --tokenizer runs/tokenizer/model
  worldsim eval --model copy_last --suite quick --out eval/copy_last
  worldsim bench --quick
"""

def _seed(text: str) -> int:
    """Seeds are 32-bit: jax.random.key(2**32) is the same key as key(0)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"seed {value} is out of range: use 0 <= seed < 2**32")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _describe(config) -> str:
    """One line from the world's config, so it never drifts from what the world does."""
    lo, hi = config.num_balls
    parts = [f"{lo}-{hi} balls" if lo != hi else f"{lo} balls"]
    parts.append(f"gravity {config.gravity:g}" if config.gravity else "no gravity")
    if config.controllable:
        parts.append("2-D actions push ball 0")
    if config.damping:
        parts.append(f"friction {config.damping:g}/s")
    parts.append("elastic" if config.restitution == 1 else f"restitution {config.restitution:g}")
    return ", ".join(parts)


def cmd_worlds_list(args) -> None:
    names = ws.worlds.names()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {_describe(ws.worlds.make(name).config)}")
        print(f"{'':<{width}}  splits: {', '.join(ws.worlds.splits(name))}")


def cmd_worlds_sample(args) -> None:
    from worldsim.export import write_samples

    extra = {"occluder": True} if args.occluder else {}  # absent flag: keep the preset's own setting
    world = ws.worlds.make(args.world, split=args.split, resolution=args.resolution, num_frames=args.frames, **extra)
    for path, caption in write_samples(world, args.seed, args.batch, args.out, fps=args.fps):
        print(f"{path}: {caption}")


def cmd_demo(args) -> None:
    from worldsim.demo import run_demo

    run_demo(args.out, seed=args.seed)


def _with_batch(cfg, n: int):
    """cfg with `n` clips per optimizer step. The tokenizer draws len(worlds) x clips_per_world world clips plus
    video_clips from a video folder, so n must fit that shape."""
    import dataclasses

    if n < 1:
        raise ValueError(f"--batch-size {n}: use a positive number of clips")
    if hasattr(cfg, "batch_size"):
        return dataclasses.replace(cfg, batch_size=n)
    if not cfg.worlds:
        return dataclasses.replace(cfg, video_clips=n)
    videos = cfg.video_clips if cfg.video_folder else 0
    per_world, rest = divmod(n - videos, len(cfg.worlds))
    if rest or per_world < 1:
        raise ValueError(f"--batch-size {n}: the tokenizer's batch is {len(cfg.worlds)} worlds x clips per world"
                         + (f" + {videos} video clips" if videos else "")
                         + f"; use {videos + len(cfg.worlds)}, {videos + 2 * len(cfg.worlds)}, ...")
    return dataclasses.replace(cfg, clips_per_world=per_world)


# Flags that are shorthands for --set keys: giving both for one key is refused (which one should win?).
_FLAG_KEYS = {"steps": "steps", "video_folder": "video_folder", "tokenizer": "tokenizer", "init": "init",
              "self_rollout": "self_rollout", "clips": "video_clips"}
_FOLLOWS_TOKENIZER = ("cannot be set: the dynamics model's latent grid (model.grid, model.latent_dim) comes from "
                      "--tokenizer, and its frames are at the tokenizer's resolution. For another resolution, train "
                      "a tokenizer with `worldsim train tokenizer --set model.resolution=N` and pass --tokenizer "
                      "WORKDIR/model")


def _with_settings(cfg, args):
    """cfg with the --set KEY=VALUE overrides (all at once, so settings that must agree can change together)."""
    from worldsim.train.overrides import apply

    settings = args.settings or []
    given = {item.partition("=")[0].strip() for item in settings}
    for flag, key in _FLAG_KEYS.items():
        if key in given and getattr(args, flag, None) is not None:
            raise ValueError(f"--{flag.replace('_', '-')} and --set {key}=... both set {key}: give one")
    if args.batch_size is not None and given & {"batch_size", "clips_per_world"}:
        raise ValueError("--batch-size and --set batch_size/clips_per_world both set the batch: give one")
    refused = {}
    if args.component == "dynamics":
        refused = {k: _FOLLOWS_TOKENIZER for k in ("model.grid", "model.latent_dim", "model.resolution", "resolution")}
    hint = f"(`worldsim train {args.component} --show-config` lists every key with its value)"
    return apply(cfg, settings, refused=refused, hint=hint)


def _say_settings(cfg, preset, name: str) -> None:
    """One stderr line naming the settings that differ from the preset, so a run says what it was told."""
    from worldsim.train import hosts
    from worldsim.train.overrides import flatten, format_value

    base = flatten(preset)
    changed = [f"{k}={format_value(v)}" for k, v in flatten(cfg).items() if base.get(k) != v]
    if changed and hosts.is_main():
        print(f"settings beside the {name} preset: {' '.join(changed)}", file=sys.stderr)


def cmd_train(args) -> None:
    import dataclasses

    from worldsim.train import hosts

    # Before anything touches a device: jax.distributed must start before the backends do.
    hosts.initialize(args.coordinator, args.num_processes, args.process_id, auto=args.distributed)
    if args.component == "dynamics":
        from worldsim.train.dynamics import DynamicsTrainConfig as Config, fit_to_tokenizer, train
    else:
        from worldsim.train.tokenizer import TokenizerTrainConfig as Config, train

        if args.tokenizer is not None:
            raise ValueError("--tokenizer is for `worldsim train dynamics` (the frozen tokenizer it trains over)")
        if args.init is not None or args.self_rollout is not None or args.clips is not None:
            raise ValueError("--init, --self-rollout and --clips are for `worldsim train dynamics`")
    if args.videos_only and not args.video_folder:
        raise ValueError("--videos-only needs --video-folder DIR")
    if args.clips is not None and (not args.video_folder or args.clips < 1):
        raise ValueError(f"--clips {args.clips}: use a positive number of windows, with --video-folder DIR")
    if args.workdir is None and not args.show_config:
        raise ValueError("--workdir DIR: give the folder for checkpoints and logs")
    cfg = _with_settings(getattr(Config, args.preset)(), args)
    if args.steps is not None:
        if args.steps < 1:
            raise ValueError(f"--steps {args.steps}: use a positive number of steps")
        cfg = dataclasses.replace(cfg, steps=args.steps)
    if args.video_folder:
        cfg = dataclasses.replace(cfg, video_folder=args.video_folder, worlds=() if args.videos_only else cfg.worlds)
    if args.batch_size is not None:
        cfg = _with_batch(cfg, args.batch_size)
    if args.component == "dynamics":
        if args.tokenizer is not None:
            cfg = dataclasses.replace(cfg, tokenizer=args.tokenizer)
        if args.init is not None:
            cfg = dataclasses.replace(cfg, init=args.init)
        if args.self_rollout is not None:
            cfg = dataclasses.replace(cfg, self_rollout=args.self_rollout)
        if args.clips is not None:
            cfg = dataclasses.replace(cfg, video_clips=args.clips)
        cfg = fit_to_tokenizer(cfg)  # the model's latent grid follows the tokenizer's
    if args.show_config:
        from worldsim.train.overrides import format_config

        print(format_config(cfg))
        return
    _say_settings(cfg, getattr(Config, args.preset)(), args.preset)
    train(cfg, args.workdir, mesh=args.mesh)
    if hosts.is_main():
        work = Path(args.workdir)
        logs = ", ".join(name for name in ("metrics.jsonl", "tb/", "videos/") if (work / name.rstrip("/")).exists())
        print(f"trained {args.component} exported to {work / 'model'}" + (f" (logs in {work}: {logs})" if logs else ""))


def cmd_eval(args) -> None:
    import jax

    from worldsim.data import HELD_OUT_SEED
    from worldsim.probes.predictor import resolve
    from worldsim.probes.suite import get_suite

    suite = get_suite(args.suite)
    predictor = resolve(args.model, resolution=suite.resolution if args.resolution is None else args.resolution)
    if args.resolution is not None and args.resolution != predictor.resolution:  # a model has one resolution
        raise ValueError(f"--resolution {args.resolution}: the model {args.model} works at {predictor.resolution}x"
                         f"{predictor.resolution} only; leave --resolution out to evaluate it at its own resolution")
    suite = suite.replace(resolution=predictor.resolution)  # the worlds render at any resolution
    print(f"evaluating {predictor.name} at {predictor.resolution}x{predictor.resolution}, suite {suite.name}")
    key = jax.random.key(HELD_OUT_SEED + args.seed)  # evaluation clips come from held-out seeds only
    report = ws.probes.evaluate(predictor, suite, key=key, progress=True)
    for path in report.save(args.out):
        print(f"wrote {path}")
    for warning in report.data["warnings"]:
        print(f"warning: {warning}")


def cmd_bench(args) -> None:
    from worldsim.bench import run_bench

    if args.quick and args.startup:
        raise ValueError("--quick skips the start-up probes that --startup runs: pass one of them")
    run_bench(args.model, out=args.out, quick=args.quick, startup_only=args.startup)


def cmd_play(args) -> None:
    from worldsim import play

    cfg = play.PlayConfig(host=args.host, port=args.port, max_sessions=args.max_sessions,
                          idle_timeout_s=args.idle_timeout, max_fps=args.max_fps)
    if cfg.exposed:
        print(f"warning: listening on {cfg.host}, not only on this machine: anyone who can reach port {cfg.port} can "
              "use this server (there is no login) and its CPU. Use the default --host 127.0.0.1 to keep it "
              "local.", file=sys.stderr)
    from worldsim.io.progress import phase

    with phase(f"loading the model ({args.model})"):
        model = ws.WorldModel.random() if args.model == "random" else ws.load(args.model)
    engine = play.Engine(model, cfg)
    if not args.no_warmup:
        engine.warm_up()
    play.serve(engine)


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="worldsim", formatter_class=fmt, epilog=EXAMPLES,
        description="worldsim: a JAX world simulator. Sample the ground-truth physics worlds, run the shipped model\n"
                    "(demo, play), train your own on the worlds or your videos, and measure a model (eval, bench).\n"
                    "`worldsim COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"worldsim {ws.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    worlds = commands.add_parser("worlds", help="list the physics worlds or sample clips from one",
                                 description="The ground-truth ball worlds that models are trained and probed on.")
    worlds_cmds = worlds.add_subparsers(dest="worlds_command", required=True, metavar="ACTION")
    listing = worlds_cmds.add_parser("list", help="names, splits and a one-line description of every world",
                                     description="Print every registered world with its out-of-distribution splits.")
    listing.set_defaults(run=cmd_worlds_list)

    sample = worlds_cmds.add_parser(
        "sample", formatter_class=fmt, help="render random clips of a world to .mp4 or .gif",
        description="Render random clips of a world to video files and print their captions.\n"
                    "With --batch N > 1, --out clip.mp4 becomes clip_000.mp4 ... clip_{N-1}.mp4.",
        epilog="example:\n  worldsim worlds sample --world gravity --seed 0 --batch 4 --out out/gravity.mp4",
    )
    sample.add_argument("--world", required=True, choices=ws.worlds.names(), metavar="NAME",
                        help=f"which world: {', '.join(ws.worlds.names())}")
    sample.add_argument("--out", required=True, help="output file, .mp4 or .gif (folders are created)")
    sample.add_argument("--seed", type=_seed, default=0, help="random seed; same seed, same clips (default 0)")
    sample.add_argument("--split", default="id",
                        help="'id' (default) or an out-of-distribution split (see `worldsim worlds list`)")
    sample.add_argument("--batch", type=int, default=1, help="number of clips (default 1)")
    sample.add_argument("--resolution", type=int, default=64, help="frame height and width in pixels (default 64)")
    sample.add_argument("--frames", type=int, default=32, help="frames per clip (default 32)")
    sample.add_argument("--occluder", action="store_true", help="add the grey bar the balls pass behind")
    sample.add_argument("--fps", type=_positive_float, default=10, help="playback frames per second (default 10)")
    sample.set_defaults(run=cmd_worlds_sample)

    demo = commands.add_parser(
        "demo", help="run the shipped model: sample clips and a short physics report",
        description="Run the shipped model: clips generated from text prompts, ground-truth starts continued beside\n"
                    "the truth, and scripted pushes in the push world, each as .mp4, .gif and a PNG contact sheet\n"
                    "with tracked trajectories; then a short physics report (velocity error beside baselines).\n"
                    "45 s on 2 CPU cores the first time (mostly compiling), 22 s on later runs, which load the\n"
                    "compiled programs from the cache (median of 3, `worldsim bench --startup`).",
        formatter_class=fmt,
    )
    demo.add_argument("--out", default="worldsim_demo", help="output folder (default ./worldsim_demo)")
    demo.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    demo.set_defaults(run=cmd_demo)

    train = commands.add_parser(
        "train", formatter_class=fmt, help="train a tokenizer or dynamics model (resumes from --workdir)",
        description="Train a model component on world clips (and/or your own videos). Checkpoints, metrics.jsonl,\n"
                    "TensorBoard logs and sample videos go under --workdir; rerunning the same command resumes.\n"
                    "tokenizer: the video autoencoder. dynamics: the latent transformer, over clips encoded once by\n"
                    "a frozen tokenizer (cached under WORKDIR/latents).",
        epilog="examples:\n  worldsim train tokenizer --preset small --workdir runs/tokenizer\n"
               "  worldsim train dynamics --preset small --workdir runs/dynamics --tokenizer runs/tokenizer/model\n"
               "  worldsim train dynamics --workdir runs/mine --tokenizer runs/tokenizer/model "
               "--video-folder my_videos --videos-only\n"
               "  worldsim train tokenizer --workdir runs/tokenizer --batch-size 8 --mesh data=4,fsdp=2   # 8 devices\n"
               "  worldsim train dynamics --workdir runs/dynamics --batch-size 32 --mesh data=16 "
               "--coordinator host0:1234 --num-processes 2 --process-id 0   # host1: --process-id 1\n"
               "\nsettings: --set KEY=VALUE sets any field of the preset's training config (repeatable, applied "
               "together;\nflags such as --steps are shorthands for some). Nested keys take a dot; tuples are "
               "comma-separated;\nnone clears an optional field. `--show-config` prints every key with its "
               "resolved value.\n"
               "  worldsim train tokenizer --workdir runs/tok32 --set model.resolution=32 --set clip_frames=8 "
               "--set lr=3e-4 --set log_every=10\n"
               "  worldsim train dynamics --workdir runs/dyn --tokenizer runs/tok32/model --set clip_frames=24 "
               "--set worlds=gravity,push\n"
               "  worldsim train dynamics --show-config --set model.d_model=192   # the resolved config, no training\n"
               "The dynamics model's resolution and latent grid follow its --tokenizer (model.grid/latent_dim "
               "cannot be set).\n"
               "\nlogs: WORKDIR/metrics.jsonl; WORKDIR/tb (TensorBoard: train/, val/, perf/ scalars; sample "
               "frames as images);\nWORKDIR/videos/*.mp4. View them with: pip install tensorboard "
               "&& tensorboard --logdir WORKDIR/tb",
    )
    train.add_argument("component", choices=["tokenizer", "dynamics"], help="what to train: tokenizer or dynamics")
    train.add_argument("--preset", choices=["tiny", "small"], default="small",
                       help="tiny: seconds, for tests; small: the shipped default (default)")
    train.add_argument("--workdir", default=None, help="folder for checkpoints and logs (required to train)")
    train.add_argument("--set", dest="settings", action="append", default=None, metavar="KEY=VALUE",
                       help="set any field of the training config (repeatable; dotted keys reach the model's config, "
                            "e.g. model.resolution=32); --show-config lists every key")
    train.add_argument("--show-config", action="store_true",
                       help="print the resolved config as KEY=VALUE lines (preset, flags and --set applied) and exit")
    train.add_argument("--steps", type=int, default=None, help="override the preset's number of steps")
    train.add_argument("--video-folder", default=None,
                       help="also train on your own .mp4/.gif clips (sidecars: NAME.txt caption, NAME.actions.npy)")
    train.add_argument("--batch-size", type=int, default=None, metavar="N",
                       help="clips per optimizer step (the global batch, split over all devices); default: the "
                            "preset's")
    train.add_argument("--videos-only", action="store_true", help="with --video-folder: leave the worlds out")
    train.add_argument("--tokenizer", default=None, metavar="PATH",
                       help="dynamics only: an exported tokenizer (e.g. WORKDIR/model of a tokenizer run); "
                            "default: the shipped one")
    train.add_argument("--init", default=None, metavar="MODEL",
                       help="dynamics only: start from an exported dynamics model's weights (\"default\" = the "
                            "shipped one; every weight whose name and shape match is copied): fine-tuning")
    train.add_argument("--self-rollout", type=int, default=None, metavar="K",
                       help="dynamics only: train half the clips on K passes of the model's own samples as context "
                            "(true frames stay the targets; against rollout drift); default: the preset's (0 = off)")
    train.add_argument("--clips", type=int, default=None, metavar="N",
                       help="dynamics only, with --video-folder: windows of the clip length drawn from the videos and "
                            "encoded for training (default: the preset's, 512 small, 8 tiny; the run prints how many "
                            "videos they cover)")
    scale = train.add_argument_group("several devices or hosts (README: Multi-device and multi-host training)")
    scale.add_argument("--mesh", default=None, metavar="data=N,fsdp=M",
                       help="devices as a data x fsdp grid (product = all devices, of every process): batches split "
                            "over both, parameters and optimizer state sharded over fsdp; default: one device")
    scale.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                       help="multi-process: process 0's address (every process gives the same)")
    scale.add_argument("--num-processes", type=int, default=None, metavar="N", help="multi-process: how many")
    scale.add_argument("--process-id", type=int, default=None, metavar="I", help="multi-process: this one, 0..N-1")
    scale.add_argument("--distributed", action="store_true",
                       help="multi-process with the settings jax detects (Slurm, Open MPI, Cloud TPU)")
    train.set_defaults(run=cmd_train)

    eval_doc = files("worldsim") / "docs" / "eval.md"  # package data: there in an installed worldsim too
    evaluate = commands.add_parser(
        "eval", formatter_class=fmt, help="physics report of a model or baseline (worldsim/docs/eval.md)",
        description="Run the physics-fidelity protocol of worldsim/docs/eval.md on a model or a baseline, beside the\n"
                    "baselines and the tracker floor, and write OUT/report.json, OUT/report.md and OUT/plots/*.png.\n"
                    "The worlds are rendered at the model's own resolution (any size from 16 to 512 pixels).\n"
                    "quick: one world, a few clips (default model, 2 CPU cores: 54 s the first time, 18 s on later\n"
                    "runs with the compiled programs cached; median of 3, `time worldsim eval --suite quick`);\n"
                    "standard: every world and OOD split (650 s; experiments/physics_eval/results.md).\n"
                    f"The protocol, its measures and formulas: {eval_doc}",
        epilog="examples:\n  worldsim eval --model copy_last --suite quick --out eval/copy_last\n"
               "  worldsim eval --model constant_velocity --suite standard --out eval/cv\n"
               "  worldsim eval --model default --out eval/default",
    )
    evaluate.add_argument("--model", default="default", metavar="MODEL",
                          help="copy_last, constant_velocity, default (the shipped model) or a checkpoint PATH "
                               "(default: default)")
    evaluate.add_argument("--suite", choices=["standard", "quick"], default="standard",
                          help="standard (default) or quick")
    evaluate.add_argument("--out", required=True, help="output folder (created)")
    evaluate.add_argument("--resolution", type=int, default=None, metavar="N",
                          help="frame size of the clips: a model is evaluated at its own resolution (the default), "
                               "a baseline at N (default 64)")
    evaluate.add_argument("--seed", type=_seed, default=0,
                          help="which held-out clips: seed N draws from the evaluation seeds (default 0)")
    evaluate.set_defaults(run=cmd_eval)

    bench = commands.add_parser(
        "bench", formatter_class=fmt, help="performance: cached step, batching, FLOP/s, start-up times",
        description="Measure the simulator's performance figures, each a ratio taken in one run (the machine may be\n"
                    "shared): P1 cached step vs whole-context recompute at context 32, P2 step time at t=512 vs t=16,\n"
                    "P3/P4 rollout and training FLOP/s vs a large f32 matmul, world generation vs pymunk, and the\n"
                    "start-up times (first Simulator frame, `worldsim play` answering, `worldsim demo`), each in a\n"
                    "fresh process with a cold and a warm compilation cache. Prints a table against the goals and\n"
                    "writes JSON.",
        epilog="examples:\n  worldsim bench --out experiments/bench/bench.json\n  worldsim bench --quick\n"
               "  worldsim bench --startup --out experiments/bench/startup.json",
    )
    bench.add_argument("--model", default="default", metavar="MODEL", help="default (shipped) or a model PATH")
    bench.add_argument("--out", default=None, help="JSON file to write (default: print only)")
    bench.add_argument("--quick", action="store_true", help="small sizes, no start-up probes (a smoke run)")
    bench.add_argument("--startup", action="store_true", help="only the start-up times")
    bench.set_defaults(run=cmd_bench)

    play = commands.add_parser(
        "play", formatter_class=fmt, help="play a model in the browser: prompt it, push it, branch futures",
        description="Start a local web server and print its URL. The page: a prompt box, example scenes and an\n"
                    "upload for initial frames; start / pause / step / reset; frames streamed at the model's own\n"
                    "speed with an fps counter; arrow keys (or the buttons) push the agent ball in the push world;\n"
                    "branch shows four futures of the current state side by side; tracked trajectories over the\n"
                    "frames and a live kinetic-energy / momentum plot; download the session as mp4 or gif.\n"
                    "Sessions are per browser tab and bounded (count, idle time, upload size, clip length).\n"
                    "It compiles the simulator before serving: the page answers 32 s after start the first time,\n"
                    "8.0 s on later starts (median of 3, `worldsim bench --startup`, 2 CPU cores).",
        epilog="examples:\n  worldsim play                      # then open http://127.0.0.1:8765/\n"
               "  worldsim play --port 9000 --max-sessions 2\n"
               "  worldsim play --model runs/dynamics/model\n"
               "  worldsim play --host 0.0.0.0       # reachable from other machines (no login: take care)",
    )
    play.add_argument("--model", default="default", metavar="MODEL",
                      help="default (shipped), a model PATH, or random (untrained tiny model, for trying the page)")
    play.add_argument("--host", default="127.0.0.1",
                      help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 exposes it)")
    play.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free port)")
    play.add_argument("--max-sessions", type=int, default=20, metavar="N",
                      help="live browser tabs (default 20; they share the CPU)")
    play.add_argument("--idle-timeout", type=_positive_float, default=600.0, metavar="S",
                      help="close a session whose page sent nothing for S seconds (default 600)")
    play.add_argument("--max-fps", type=float, default=0.0, metavar="F",
                      help="cap each session's frame rate (default 0: the model's own speed)")
    play.add_argument("--no-warmup", action="store_true",
                      help="start serving before compiling (the first clicks then wait for XLA)")
    play.set_defaults(run=cmd_play)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `worldsim` console script; returns 0, or exits with 2 on a usage or input error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (ValueError, OSError) as e:  # bad input or path: one line, no traceback (bugs still show theirs)
        message = " ".join(str(e).split())
        parser.exit(2, f"worldsim: error: {message}\n")
    except KeyboardInterrupt as e:  # Ctrl+C: 130, the shell's code for it; a trainer's says where it stopped
        from worldsim.train.interrupt import Interrupted

        if not isinstance(e, Interrupted):
            parser.exit(130, "worldsim: interrupted\n")
        command = shlex.join(["worldsim", *(sys.argv[1:] if argv is None else argv)])
        parser.exit(130, f"worldsim: {e}: {command}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
