"""`hightide serve`: the Streamlit command line it execs (bound to localhost, nothing served from disk,
no telemetry), and the dashboard script shipped with the package."""

from __future__ import annotations

from hightide.report import serve


def _options(argv: list[str]) -> dict[str, str]:
    flags = argv[argv.index(str(serve.DASHBOARD)) + 1:]
    return dict(zip(flags[::2], flags[1::2]))


def test_default_command_binds_localhost_and_serves_no_files():
    argv = serve.command()
    assert argv[1:4] == ["-m", "streamlit", "run"]
    opts = _options(argv)
    assert opts["--server.address"] == "127.0.0.1"
    assert opts["--server.port"] == str(serve.DEFAULT_PORT)
    assert opts["--server.enableStaticServing"] == "false"
    assert opts["--browser.gatherUsageStats"] == "false"
    assert opts["--server.headless"] == "true"
    assert opts["--server.fileWatcherType"] == "none"


def test_host_and_port_are_passed_on():
    opts = _options(serve.command(host="0.0.0.0", port=9000))
    assert opts["--server.address"] == "0.0.0.0" and opts["--server.port"] == "9000"


def test_the_dashboard_script_ships_and_does_nothing_on_import():
    assert serve.DASHBOARD.is_file()
    from hightide.report import dashboard  # Streamlit runs it as __main__; importing it draws nothing

    assert callable(dashboard.main)
