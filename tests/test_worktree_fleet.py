"""Worktree sessions end to end: real git repositories in tmp_path, a real private tmux server.

Every test that removes anything ends by proving nothing was lost: each commit is still reachable
(or restorable with the command printed), each file still exists.
"""

from __future__ import annotations

import json
from pathlib import Path

import libtmux
import pytest

from orchestrator.cli.main import main
from orchestrator.errors import LayoutError
from orchestrator.fleet import up as fleet
from orchestrator.fleet import worktrees as session_worktrees
from orchestrator.layout import load as layout
from orchestrator.tmux.client import Tmux
from orchestrator.tmux.panes import list_sessions
from tests.gitrepo import branches, commit, git, reachable
from tests.waiting import wait_for

pytestmark = pytest.mark.usefixtures("git_identity")


WRITES = 'echo "work of $ORCHESTRATOR_SESSION" > "$ORCHESTRATOR_SESSION.txt"; exec sleep 3600'


@pytest.fixture
def repo(repo: Path) -> Path:
    """The shared repository (``tests/conftest.py``) with a tracked subfolder, ``src``."""
    commit(repo, "src/code.py", "x = 1\n", "code")
    return repo


def write_layout(
    tmp_path: Path,
    root: Path,
    sessions: dict[str, str],
    *,
    shared: bool = False,
    table: str = "",
    name: str = "wt",
) -> Path:
    """A shell layout: one worktree session per entry (name -> sh -c script), outside the repo."""
    text = f'name = "{name}"\nroot = {json.dumps(str(root))}\n{table}\n'
    text += '[defaults]\nagent = "shell"\nworktree = true\n'
    for session, script in sessions.items():
        text += f'[[sessions]]\nname = "{session}"\ncommand = ["sh", "-c", {json.dumps(script)}]\n'
    if shared:
        text += '[[sessions]]\nname = "shared"\ncommand = ["sleep", "3600"]\nworktree = false\n'
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def cli(server: libtmux.Server, *args: str) -> int:
    return main(["-L", str(server.socket_name), *args])


def status_rows(
    server: libtmux.Server, capsys: pytest.CaptureFixture[str]
) -> dict[str, dict[str, object]]:
    capsys.readouterr()
    assert cli(server, "status", "--json") == 0
    rows = json.loads(capsys.readouterr().out)["sessions"]
    return {row["name"]: row for row in rows}


def pane_paths(server: libtmux.Server, fleet_name: str) -> dict[str, Path]:
    """Each agent pane's folder as tmux sees it (the running process's, not our tag)."""
    tmux = Tmux.from_server(server)
    session = server.sessions.get(session_name=fleet_name)
    assert session is not None
    ids = {pane.pane_id: pane.name for pane in list_sessions(tmux, fleet_name)}
    return {
        ids[str(pane.pane_id)]: Path(str(pane.pane_current_path)).resolve()
        for window in session.windows
        for pane in window.panes
        if pane.pane_id in ids
    }


# ---------------------------------------------------------------------------------------------
# up, status, diff, merge


def test_up_gives_each_session_its_own_worktree_and_their_work_meets_in_merges(
    server: libtmux.Server, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_layout(tmp_path, repo, {"dev-1": WRITES, "test-2": WRITES}, shared=True)
    assert cli(server, "up", str(path), "-d") == 0
    folder = (repo.parent / ".app-worktrees").resolve()
    trees = {name: folder / name for name in ("dev-1", "test-2")}
    assert pane_paths(server, "wt") == {**trees, "shared": repo.resolve()}
    for name, tree in trees.items():
        assert git(tree, "branch", "--show-current") == f"orc/{name}"
    assert git(repo, "branch", "--show-current") == "main"

    # Each agent wrote in its own worktree; neither sees the other's file, the checkout neither.
    wait_for(lambda: all((tree / f"{name}.txt").exists() for name, tree in trees.items()))
    assert not (trees["dev-1"] / "test-2.txt").exists()
    assert not (trees["test-2"] / "dev-1.txt").exists()
    assert not list(repo.glob("*.txt"))

    rows = status_rows(server, capsys)
    assert rows["dev-1"]["branch"] == "orc/dev-1"
    assert rows["dev-1"]["base"] == "main"
    assert (rows["dev-1"]["ahead"], rows["dev-1"]["behind"], rows["dev-1"]["changed"]) == (0, 0, 1)
    assert rows["dev-1"]["cwd"] == str(trees["dev-1"])
    assert {rows["shared"][key] for key in ("branch", "ahead", "behind", "changed")} == {None}

    git(trees["dev-1"], "add", "dev-1.txt")
    git(trees["dev-1"], "commit", "-q", "-m", "dev-1's work")
    commit(trees["dev-1"], "more.txt", "more\n")
    row = status_rows(server, capsys)["dev-1"]
    assert (row["ahead"], row["behind"], row["changed"]) == (2, 0, 2)
    assert cli(server, "status") == 0
    assert "orc/dev-1 +2/-0 2 changed" in capsys.readouterr().out

    capsys.readouterr()
    assert cli(server, "diff", "test-2") == 0
    patch = capsys.readouterr().out
    assert "b/test-2.txt" in patch
    assert "+work of test-2" in patch

    # Merging refuses uncommitted work, then brings each branch in: fast-forward, merge commit.
    assert cli(server, "merge", "test-2") == 2
    assert "uncommitted work" in capsys.readouterr().err
    assert cli(server, "merge", "dev-1") == 0
    assert "merged 2 commit(s) of orc/dev-1 into main (fast-forward)" in capsys.readouterr().out
    git(trees["test-2"], "add", "test-2.txt")
    git(trees["test-2"], "commit", "-q", "-m", "test-2's work")
    assert cli(server, "merge", "test-2") == 2
    assert "diverged" in capsys.readouterr().err
    assert cli(server, "merge", "test-2", "--mode", "merge-commit") == 0
    assert (repo / "dev-1.txt").read_text() == "work of dev-1\n"
    assert (repo / "test-2.txt").read_text() == "work of test-2\n"
    rows = status_rows(server, capsys)
    assert (rows["dev-1"]["ahead"], rows["dev-1"]["behind"]) == (0, 2)  # test-2 and the merge
    assert (rows["test-2"]["ahead"], rows["test-2"]["behind"]) == (0, 3)


def test_up_again_and_after_down_reuses_worktrees_and_keeps_work(
    server: libtmux.Server, repo: Path, tmp_path: Path
) -> None:
    path = write_layout(tmp_path, repo, {"dev-1": "exec sleep 3600"})
    tmux = Tmux.from_server(server)
    fleet.up(layout.load_fleet(str(path)), tmux)
    tree = repo.parent / ".app-worktrees" / "dev-1"
    sha = commit(tree, "kept.txt", "kept\n")
    (tree / "draft.txt").write_text("not committed\n")

    report = fleet.up(layout.load_fleet(str(path)), tmux)
    assert report.running == ["dev-1"]
    assert cli(server, "down", "wt") == 0
    assert not tmux.has_session("wt")
    report = fleet.up(layout.load_fleet(str(path)), tmux)
    assert report.created
    assert pane_paths(server, "wt") == {"dev-1": tree.resolve()}
    assert git(tree, "rev-parse", "HEAD") == sha
    assert (tree / "draft.txt").read_text() == "not committed\n"
    assert git(repo, "worktree", "list").count("\n") == 1  # the checkout and dev-1's, no more


def test_layout_settings_prefix_base_folder_and_a_subfolder_cwd(
    server: libtmux.Server, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "branch", "develop")
    table = '[worktrees]\nprefix = "agents/"\nbase = "develop"\nfolder = "../trees"\n'
    path = write_layout(tmp_path, repo, {"dev-1": "exec sleep 3600"}, table=table)
    text = path.read_text().replace("worktree = true\n", 'worktree = true\ncwd = "src"\n')
    path.write_text(text)
    plan = layout.load_fleet(str(path))
    assert plan.worktrees.prefix == "agents/"
    assert plan.worktrees.folder == (repo.parent / "trees").resolve()
    assert cli(server, "up", str(path), "-d") == 0
    tree = (repo.parent / "trees" / "dev-1").resolve()
    assert pane_paths(server, "wt") == {"dev-1": tree / "src"}
    assert git(tree, "branch", "--show-current") == "agents/dev-1"
    row = status_rows(server, capsys)["dev-1"]
    assert (row["branch"], row["base"]) == ("agents/dev-1", "develop")
    pane = list_sessions(Tmux.from_server(server), "wt")[0]
    found = session_worktrees.summary(pane)
    assert found is not None
    assert found.text == "agents/dev-1: 0 ahead, 0 behind develop, 0 changed"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[worktrees]\nprefix = ""\n', "worktrees.prefix"),
        ('[worktrees]\nprefix = "-x"\n', "worktrees.prefix"),
        ('[worktrees]\nbranch = "x"\n', "line 4, worktrees.branch: unknown key"),
    ],
)
def test_worktrees_table_is_validated(tmp_path: Path, table: str, message: str) -> None:
    path = write_layout(tmp_path, tmp_path, {"dev-1": "true"}, table=table)
    with pytest.raises(LayoutError, match=message):
        layout.load_fleet(str(path))


# ---------------------------------------------------------------------------------------------
# Refusals leave nothing half made


def refused_up(server: libtmux.Server, capsys: pytest.CaptureFixture[str], path: Path) -> str:
    """Run ``up`` on a layout it must refuse; return what it said on stderr."""
    assert cli(server, "up", str(path), "-d") == 2
    return capsys.readouterr().err


def nothing_made(server: libtmux.Server, repo: Path, before: list[str]) -> None:
    assert not Tmux.from_server(server).has_session("wt")
    assert branches(repo) == before
    assert not (repo.parent / ".app-worktrees").exists()


def test_not_a_repository_is_refused(
    server: libtmux.Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    path = write_layout(tmp_path, plain, {"dev-1": "exec sleep 3600"})
    err = refused_up(server, capsys, path)
    assert "session dev-1" in err
    assert "is not inside a git repository" in err
    assert "worktree = false" in err
    assert not Tmux.from_server(server).has_session("wt")
    assert not list(tmp_path.glob(".*-worktrees"))


def test_dirty_base_is_refused(
    server: libtmux.Server, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "README.md").write_text("changed, not committed\n")
    path = write_layout(tmp_path, repo, {"dev-1": "exec sleep 3600"})
    err = refused_up(server, capsys, path)
    assert "session dev-1" in err
    assert "uncommitted changes (README.md)" in err
    assert "commit or stash them first" in err
    nothing_made(server, repo, ["main"])
    assert (repo / "README.md").read_text() == "changed, not committed\n"


def test_dirty_base_is_refused_when_the_worktrees_already_exist(
    server: libtmux.Server, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_layout(tmp_path, repo, {"dev-1": WRITES, "test-2": "exec sleep 3600"})
    assert cli(server, "up", str(path), "-d") == 0
    tree = repo.parent / ".app-worktrees" / "dev-1"
    wait_for(lambda: (tree / "dev-1.txt").exists())

    # While every session runs, a dirty base stops nothing: `up` has nothing to start.
    (repo / "README.md").write_text("changed, not committed\n")
    capsys.readouterr()
    assert cli(server, "up", str(path), "-d") == 0
    assert "running: dev-1, test-2" in capsys.readouterr().out

    # After `down`, the worktrees exist but the sessions would start without the change.
    assert cli(server, "down", "wt") == 0
    err = refused_up(server, capsys, path)
    assert "session dev-1: the base branch main checked out at" in err
    assert f"uncommitted changes (README.md); session dev-1's worktree ({tree}) would not" in err
    assert "commit or stash them first" in err
    assert not Tmux.from_server(server).has_session("wt")
    assert (tree / "dev-1.txt").read_text() == "work of dev-1\n"
    assert (repo / "README.md").read_text() == "changed, not committed\n"

    git(repo, "stash")
    assert cli(server, "up", str(path), "-d") == 0


def test_branch_checked_out_elsewhere_is_refused_and_earlier_sessions_undone(
    server: libtmux.Server, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    git(repo, "worktree", "add", "-q", "-b", "orc/test-2", str(elsewhere))
    sha = commit(elsewhere, "theirs.txt", "theirs\n")
    path = write_layout(tmp_path, repo, {"dev-1": "exec sleep 3600", "test-2": "exec sleep 3600"})
    err = refused_up(server, capsys, path)
    assert "session test-2" in err
    assert f"branch orc/test-2 is already checked out at {elsewhere}" in err
    assert "nothing was left behind" in err
    # dev-1's branch and worktree, made by this `up`, are gone; what existed before is untouched.
    nothing_made(server, repo, ["main", "orc/test-2"])
    assert git(elsewhere, "rev-parse", "HEAD") == sha
    assert (elsewhere / "theirs.txt").exists()


def test_failure_in_tmux_takes_back_the_new_worktrees(
    server: libtmux.Server, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.new_session(session_name="wt")  # someone else's tmux session of the same name
    path = write_layout(tmp_path, repo, {"dev-1": "exec sleep 3600"})
    assert "is not an orchestrator fleet" in refused_up(server, capsys, path)
    assert branches(repo) == ["main"]
    assert not (repo.parent / ".app-worktrees").exists()


# ---------------------------------------------------------------------------------------------
# down and clean never lose work

CLEAN_SESSIONS = ("done", "dirty", "untracked", "unpushed", "squashed")


@pytest.fixture
def cleanup_repo(server: libtmux.Server, repo: Path, tmp_path: Path) -> dict[str, object]:
    """A fleet with one worktree session per cleanup case, each holding its kind of work."""
    path = write_layout(tmp_path, repo, dict.fromkeys(CLEAN_SESSIONS, "exec sleep 3600"))
    assert cli(server, "up", str(path), "-d") == 0
    trees = {name: repo.parent / ".app-worktrees" / name for name in CLEAN_SESSIONS}
    (trees["dirty"] / "README.md").write_text("edited, not committed\n")
    (trees["untracked"] / "new.txt").write_text("never added\n")
    unpushed = commit(trees["unpushed"], "feature.txt", "feature\n")
    commit(trees["squashed"], "a.txt", "a\n")
    squashed_tip = commit(trees["squashed"], "b.txt", "b\n")
    git(repo, "merge", "--squash", "-q", "orc/squashed")
    git(repo, "commit", "-q", "-m", "squash of orc/squashed")
    return {"trees": trees, "unpushed": unpushed, "squashed_tip": squashed_tip, "layout": path}


def assert_work_kept(repo: Path, case: dict[str, object], *, unpushed: bool = True) -> None:
    trees = case["trees"]
    assert isinstance(trees, dict)
    assert (trees["dirty"] / "README.md").read_text() == "edited, not committed\n"
    assert (trees["untracked"] / "new.txt").read_text() == "never added\n"
    if unpushed:
        assert reachable(repo, str(case["unpushed"]))
        assert (trees["unpushed"] / "feature.txt").exists()
    assert (repo / "a.txt").exists()
    assert (repo / "b.txt").exists()


def test_down_keeps_every_worktree_and_branch(
    server: libtmux.Server, repo: Path, cleanup_repo: dict[str, object]
) -> None:
    before = branches(repo)
    assert cli(server, "down", "wt") == 0
    assert not Tmux.from_server(server).has_session("wt")
    assert branches(repo) == before
    trees = cleanup_repo["trees"]
    assert isinstance(trees, dict)
    assert all(tree.is_dir() for tree in trees.values())
    assert_work_kept(repo, cleanup_repo)


def test_clean_spares_running_sessions_and_after_a_crash_removes_only_what_is_safe(
    server: libtmux.Server,
    repo: Path,
    cleanup_repo: dict[str, object],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # While the fleet runs, nothing is removed, forced or not.
    monkeypatch.chdir(repo)
    before = branches(repo)
    capsys.readouterr()
    assert cli(server, "clean", "--force", "done", "unpushed") == 0
    out = capsys.readouterr().out
    assert "session done is running; end it first" in out
    assert "removed" not in out
    assert "no running session" not in out
    assert branches(repo) == before
    assert_work_kept(repo, cleanup_repo)

    # A crash: the tmux session vanishes without any command of ours running.
    Tmux.from_server(server).run(["kill-session", "-t", "=wt"])
    monkeypatch.chdir(repo / "src")  # clean finds the repository from a subfolder too
    trees = cleanup_repo["trees"]
    assert isinstance(trees, dict)

    capsys.readouterr()
    assert cli(server, "clean", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "no running session (left by a crash or an ended fleet): " in out
    for name in CLEAN_SESSIONS:
        assert f"  {name}" in out
    assert "would remove: orc/done" in out
    assert "would keep: orc/dirty" in out
    assert "--squash-merged squashed" in out
    assert all(tree.is_dir() for tree in trees.values())

    assert cli(server, "clean") == 0
    out = capsys.readouterr().out
    assert "removed: orc/done" in out
    assert "1 uncommitted change(s)" in out
    assert "1 untracked file(s)" in out
    assert "1 commit(s) on orc/unpushed not merged into main" in out
    assert "to remove it anyway: --force unpushed" in out
    assert branches(repo) == sorted(["main", *(f"orc/{n}" for n in CLEAN_SESSIONS[1:])])
    assert not trees["done"].exists()
    assert_work_kept(repo, cleanup_repo)

    assert cli(server, "clean", "--squash-merged", "squashed") == 0
    out = capsys.readouterr().out
    assert "removed: orc/squashed" in out
    assert "orc/squashed" not in branches(repo)
    assert_work_kept(repo, cleanup_repo)

    assert cli(server, "clean", "--force", "nosuch") == 2
    assert "no worktree or branch named nosuch" in capsys.readouterr().err

    assert cli(server, "clean", "--force", "unpushed") == 0
    out = capsys.readouterr().out
    sha = str(cleanup_repo["unpushed"])
    assert f"restore the branch with: git branch orc/unpushed {sha}" in out
    assert "orc/unpushed" not in branches(repo)
    git(repo, "branch", "orc/unpushed", sha)
    assert_work_kept(repo, cleanup_repo, unpushed=False)
    assert reachable(repo, sha)
    assert git(repo, "show", f"{sha}:feature.txt") == "feature"
    assert trees["dirty"].is_dir()
    assert trees["untracked"].is_dir()


def test_diff_and_merge_find_a_session_after_its_fleet_ended(
    server: libtmux.Server,
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write_layout(tmp_path, repo, {"dev-1": "exec sleep 3600"}, shared=True)
    assert cli(server, "up", str(path), "-d") == 0
    capsys.readouterr()
    assert cli(server, "diff", "shared") == 2
    assert "not in a worktree of its own" in capsys.readouterr().err
    tree = repo.parent / ".app-worktrees" / "dev-1"
    commit(tree, "late.txt", "late\n")
    assert cli(server, "down", "wt") == 0
    monkeypatch.chdir(tmp_path)
    assert cli(server, "diff", "dev-1") == 2
    assert "no running session named 'dev-1'" in capsys.readouterr().err
    assert cli(server, "diff", "dev-1", "--repo", str(repo)) == 0
    assert "+late" in capsys.readouterr().out
    assert cli(server, "merge", "dev-1", "--layout", str(path)) == 0
    assert "merged 1 commit(s) of orc/dev-1 into main" in capsys.readouterr().out
    assert (repo / "late.txt").read_text() == "late\n"


def test_clean_finds_custom_prefixes_and_folders_from_anywhere_without_the_layout(
    server: libtmux.Server,
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = '[worktrees]\nprefix = "team/"\nfolder = "../trees"\n'
    path = write_layout(tmp_path, repo, {"done": WRITES, "kept": WRITES}, table=table)
    assert cli(server, "up", str(path), "-d") == 0
    trees = repo.parent / "trees"
    wait_for(lambda: (trees / "kept" / "kept.txt").exists())
    git(trees / "done", "clean", "-fq")  # its only work was its scratch file
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not a repository: the running fleet is found from tmux

    capsys.readouterr()
    assert cli(server, "clean", "--dry-run") == 0
    out = capsys.readouterr().out
    assert f"{repo}: branches team/*, worktrees in {trees}" in out
    assert "would keep: team/done" in out and "session done is running; end it first" in out

    # The watcher wrote the fleet's layout to the history; then tmux dies (a crash).
    from orchestrator.store.db import Store

    def recorded() -> bool:
        with Store() as store:
            return store.fleet("wt") is not None

    wait_for(recorded, what="the watcher recorded the fleet")
    Tmux.from_server(server).run(["kill-session", "-t", "=wt"])

    # In the repository (or with --repo) the branches' recorded sessions give the prefix and
    # their worktrees the folder; from elsewhere, the history does.
    for where, more in ((repo, []), (elsewhere, ["--repo", str(repo)]), (elsewhere, [])):
        monkeypatch.chdir(where)
        assert cli(server, "clean", "--dry-run", *more) == 0
        out = capsys.readouterr().out
        assert "would remove: team/done" in out, out
        assert "would keep: team/kept" in out
        assert "no running session (left by a crash or an ended fleet): done, kept" in out

    # A name two branches share is refused; their branch names tell them apart.
    git(repo, "branch", "orc/kept")
    assert cli(server, "clean", "--dry-run", "--force", "kept") == 2
    assert "kept names several branches (orc/kept in" in capsys.readouterr().err
    assert cli(server, "clean", "--dry-run", "--force", "team/kept") == 0
    out = capsys.readouterr().out
    assert "would remove: team/kept" in out and "would remove: orc/kept" in out
    git(repo, "branch", "-D", "orc/kept")

    assert cli(server, "clean") == 0
    out = capsys.readouterr().out
    assert "removed: team/done" in out
    assert "kept: team/kept" in out
    assert branches(repo) == ["main", "team/kept"]
    assert (trees / "kept" / "kept.txt").read_text() == "work of kept\n"


def test_clean_outside_any_repository_with_nothing_known_says_where_it_looked(
    server: libtmux.Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli(server, "clean", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "no session worktrees or branches found" in out
    assert "git init" not in out
    assert "give --repo PATH or --layout FILE" in out
