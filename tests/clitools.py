"""Running the `worldsim` command in-process, for the CLI tests."""

from worldsim.cli import main


def run(capsys, *argv):
    """(exit code, stdout, stderr) of `worldsim argv...`."""
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err
