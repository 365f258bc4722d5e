"""Cleanup of session worktrees and branches that never loses work.

:func:`plan_clean` finds every worktree and branch of ours in a repository and judges each
(:func:`assess`); :func:`clean` and :func:`remove_worktree` remove what that verdict allows.

Decisions worth knowing:

- A removal is only ever ``git worktree remove`` (which itself refuses a dirty worktree),
  ``git branch -d`` told to check against the base (which itself refuses unmerged commits) and
  ``git worktree prune``: git re-checks what :func:`assess` decided. ``--force`` and ``-D`` are
  used only for an item the caller forces, or a squash-merged branch the caller consented to.
- Squash-merged means: every commit's patch is already in the base (``git cherry``) or merging the
  branch would not change the base's tree (``git merge-tree``). Detection alone never makes a
  branch removable; the caller must also pass ``assume_squash_merged``.
- Ignored files do not block removal: they are declared disposable by the project, and counting
  them would make every worktree with a ``.venv`` or ``node_modules`` unremovable.
- A running session's worktree is never removed, forced or not; a folder in our worktree folder
  that git does not know as a worktree is never removed either (it is reported for the user).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from orchestrator.git.repo import (
    ListedWorktree,
    branch_ref,
    commit_of,
    find_repo,
    first_few,
    git_output,
    list_worktrees,
    local_changes,
    run_git,
    same_path,
    stderr_line,
)
from orchestrator.git.worktree import (
    WorktreeSettings,
    WorktreeSpec,
    check_prefix,
    delete_branch,
    recorded_base,
    worktree_folder,
    worktree_of,
)


@dataclass(frozen=True)
class Safety:
    """Whether removing a session's worktree and branch could lose work, and why."""

    safe: bool
    """True if removal loses nothing (or the caller consented to what it would drop)."""
    reasons: tuple[str, ...]
    """Why removal is not safe; empty when safe."""
    forceable: bool
    """False if not even ``force`` may remove it (a running session, a folder git does not know)."""
    unmerged: int
    """Commits on the branch (or a detached worktree HEAD) not reachable from the base."""
    squash_merged: bool
    """The unmerged commits' changes are already in the base (squash merge or cherry-pick)."""
    tip: str | None
    """The branch's commit, to restore it with ``git branch NAME TIP`` after a forced removal."""

    @property
    def verdict(self) -> str:
        """One line for people: ``safe to remove`` or the reasons it is not."""
        return "safe to remove" if self.safe else "; ".join(self.reasons)


@dataclass(frozen=True)
class CleanItem:
    """A worktree and/or branch of ours found in the repository, with a verdict."""

    spec: WorktreeSpec
    """Session name, branch, base and worktree folder (expected, if no worktree is registered)."""
    has_branch: bool
    """The branch exists."""
    worktree: Path | None
    """The registered worktree folder holding the branch, if any."""
    live: bool
    """A running session owns it."""
    safety: Safety
    """Whether it may be removed."""

    @property
    def orphaned(self) -> bool:
        """No running session owns it (left by a crash or an ended session)."""
        return not self.live


@dataclass(frozen=True)
class CleanOutcome:
    """What removal did to one item."""

    item: CleanItem
    """The item as assessed just before removal."""
    removed: bool
    """True if the worktree and branch are gone."""
    detail: str
    """What was done, or why nothing (or only part) was done."""
    restore: str | None = None
    """A command that brings the branch back, after a forced or squash-consented delete."""


def _content_in_base(repo: Path, base: str, tip: str) -> bool:
    """True if the branch's changes are already in the base though its commits are not."""
    cherry = git_output(repo, "cherry", base, tip).splitlines()
    if cherry and all(line.startswith("-") for line in cherry):
        return True
    # A squash of several commits matches no single patch; ask instead whether merging the branch
    # would change the base's tree. (Needs git 2.38; older git just answers "no".)
    proc = run_git(repo, "merge-tree", "--write-tree", base, tip, check=False)
    if proc.returncode != 0:
        return False
    merged_tree = proc.stdout.split("\n", 1)[0].strip()
    return merged_tree == git_output(repo, "rev-parse", f"{base}^{{tree}}")


def _assess(
    spec: WorktreeSpec,
    tree: ListedWorktree | None,
    *,
    live: bool,
    stray: bool,
    assume_squash_merged: bool,
) -> Safety:
    reasons: list[str] = []
    forceable = True
    if live:
        reasons.append(f"session {spec.session} is running; end it first")
        forceable = False
    if stray:
        reasons.append(
            f"{spec.path} is not a worktree git knows about; look inside and remove it by hand"
        )
        forceable = False
    if tree is not None and same_path(tree.path, spec.repo):
        reasons.append(f"branch {spec.branch} is checked out in the main work tree {spec.repo}")
        forceable = False
    base = commit_of(spec.repo, branch_ref(spec.base))
    tip = commit_of(spec.repo, branch_ref(spec.branch))
    if base is None:
        reasons.append(f"base branch {spec.base} is gone, so nothing can be known to be merged")
    unmerged = 0
    squash = False
    if tip is not None and base is not None:
        unmerged = int(git_output(spec.repo, "rev-list", "--count", f"{base}..{tip}"))
        if unmerged:
            squash = _content_in_base(spec.repo, base, tip)
            if not squash:
                reasons.append(f"{unmerged} commit(s) on {spec.branch} not merged into {spec.base}")
            elif not assume_squash_merged:
                reasons.append(
                    f"{unmerged} commit(s) on {spec.branch} not in {spec.base}, though their "
                    "changes are (squash-merged?); needs consent (assume squash-merged)"
                )
    if tree is not None and not tree.prunable and not same_path(tree.path, spec.repo):
        if tree.locked:
            reasons.append(f"worktree {tree.path} is locked (`git worktree unlock` to allow)")
        tracked, untracked = local_changes(tree.path)
        if tracked:
            reasons.append(
                f"{len(tracked)} uncommitted change(s) in {tree.path}: "
                f"{first_few([f.path for f in tracked])}"
            )
        if untracked:
            reasons.append(
                f"{len(untracked)} untracked file(s) in {tree.path}: {first_few(untracked)}"
            )
        if tree.branch is None and tree.head and base is not None:
            # Commits made on a detached HEAD are on no branch; removing the worktree drops them.
            known = [base] if tip is None else [base, tip]
            loose = int(git_output(spec.repo, "rev-list", "--count", tree.head, "--not", *known))
            if loose:
                unmerged += loose
                reasons.append(f"{loose} commit(s) on the detached HEAD of {tree.path}")
    return Safety(
        safe=not reasons,
        reasons=tuple(reasons),
        forceable=forceable,
        unmerged=unmerged,
        squash_merged=squash,
        tip=tip,
    )


def assess(spec: WorktreeSpec, *, live: bool = False, assume_squash_merged: bool = False) -> Safety:
    """Whether removing the session's worktree and branch would lose anything."""
    tree, stray = _registered(spec)
    return _assess(spec, tree, live=live, stray=stray, assume_squash_merged=assume_squash_merged)


def _registered(spec: WorktreeSpec) -> tuple[ListedWorktree | None, bool]:
    """The worktree git has registered for the session (by branch, else by folder), if any.

    Also whether the session's folder is a stray: there, but not a worktree git knows.
    """
    tree = worktree_of(spec)
    if tree is None:
        tree = next((t for t in list_worktrees(spec.repo) if same_path(t.path, spec.path)), None)
    return tree, tree is None and spec.path.exists()


def plan_clean(
    repo: Path,
    settings: WorktreeSettings,
    live_sessions: Collection[str],
    *,
    assume_squash_merged: Collection[str] = (),
) -> tuple[CleanItem, ...]:
    """Every worktree and branch of ours, with a verdict each; removes nothing.

    Ours means: a branch named with our prefix, or a folder in our worktree folder. Items whose
    session is not in ``live_sessions`` are orphans (left by a crash or an ended session).
    """
    repo = find_repo(repo)
    check_prefix(settings)
    folder = worktree_folder(repo, settings).resolve()
    trees = list_worktrees(repo)
    heads = git_output(repo, "for-each-ref", "--format=%(refname)", "refs/heads/").splitlines()
    # session -> (our branch, the worktree holding it or in our folder, a stray folder)
    found: dict[str, tuple[str | None, ListedWorktree | None, Path | None]] = {}
    claimed: set[Path] = set()
    for ref in heads:
        branch = ref.removeprefix("refs/heads/")
        if branch.startswith(settings.prefix):
            tree = next((t for t in trees if t.branch == branch), None)
            found[branch[len(settings.prefix) :]] = (branch, tree, None)
            if tree is not None:
                claimed.add(tree.path.resolve())
    for tree in trees[1:]:
        # A worktree in our folder on a detached HEAD or on someone else's branch: its folder is
        # ours to judge, the branch is not ours to delete.
        if tree.path.resolve() not in claimed and tree.path.resolve().parent == folder:
            key = tree.path.name if tree.path.name not in found else str(tree.path)
            found[key] = (None, tree, None)
            claimed.add(tree.path.resolve())
    if folder.is_dir():
        registered = {t.path.resolve() for t in trees}
        for child in sorted(folder.iterdir()):
            if child.resolve() not in registered:
                key = child.name if child.name not in found else str(child)
                found[key] = (None, None, child)

    items: list[CleanItem] = []
    for session, (ours, tree, stray) in sorted(found.items()):
        name = ours or f"{settings.prefix}{session}"
        base = recorded_base(repo, name) or settings.base or _fallback_base(repo)
        path = tree.path if tree is not None else (stray or folder / session)
        spec = WorktreeSpec(session=session, repo=repo, branch=name, base=base, path=path)
        live = session in live_sessions
        safety = _assess(
            spec,
            tree,
            live=live,
            stray=stray is not None,
            assume_squash_merged=session in assume_squash_merged,
        )
        items.append(CleanItem(spec, ours is not None, tree.path if tree else None, live, safety))
    return tuple(items)


def _fallback_base(repo: Path) -> str:
    proc = run_git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return proc.stdout.strip() or "HEAD"


def find_orphans(
    repo: Path, settings: WorktreeSettings, live_sessions: Collection[str]
) -> tuple[CleanItem, ...]:
    """Worktrees and branches of ours that no running session owns."""
    return tuple(item for item in plan_clean(repo, settings, live_sessions) if item.orphaned)


def clean(
    repo: Path,
    settings: WorktreeSettings,
    live_sessions: Collection[str],
    *,
    force: Collection[str] = (),
    assume_squash_merged: Collection[str] = (),
) -> tuple[CleanOutcome, ...]:
    """Remove every safe item; an unsafe one only if its session is in ``force``.

    Items are assessed right before removal, and git re-checks as it removes (``worktree remove``
    without ``--force``, ``branch -d``), so nothing changed since a listing can be lost.
    """
    items = plan_clean(repo, settings, live_sessions, assume_squash_merged=assume_squash_merged)
    return tuple(_remove(item, force=item.spec.session in force) for item in items)


def remove_worktree(
    spec: WorktreeSpec, *, force: bool = False, assume_squash_merged: bool = False
) -> CleanOutcome:
    """Remove one ended session's worktree and branch if that loses nothing (or if forced).

    For session end and ``down``: an unsafe worktree is kept, and the outcome says why.
    """
    tree, stray = _registered(spec)
    safety = _assess(spec, tree, live=False, stray=stray, assume_squash_merged=assume_squash_merged)
    has_branch = commit_of(spec.repo, branch_ref(spec.branch)) is not None
    item = CleanItem(spec, has_branch, tree.path if tree else None, False, safety)
    return _remove(item, force=force)


def _remove(item: CleanItem, *, force: bool) -> CleanOutcome:
    spec, safety = item.spec, item.safety
    if not safety.safe and not (force and safety.forceable):
        return CleanOutcome(item, removed=False, detail=f"kept: {safety.verdict}")
    forced = not safety.safe
    done: list[str] = []
    if item.worktree is not None:
        if item.worktree.exists():
            args = ["worktree", "remove"]
            if forced:
                args += ["--force", "--force"]  # twice: also a locked worktree
            proc = run_git(spec.repo, *args, str(item.worktree), check=False)
            if proc.returncode != 0:
                return CleanOutcome(
                    item,
                    removed=False,
                    detail=f"kept: git refused to remove {item.worktree}: {stderr_line(proc)}",
                )
        done.append(f"removed worktree {item.worktree}")
    run_git(spec.repo, "worktree", "prune")
    restore = None
    if item.has_branch:
        # -D only when forced, or for a squash-merged branch the caller consented to drop: then
        # git's own merged check would refuse although the changes are in the base.
        hard = forced or safety.squash_merged
        proc = delete_branch(spec, force=hard)
        if proc.returncode != 0:
            done.append(f"kept branch {spec.branch}: {stderr_line(proc)}")
            return CleanOutcome(item, removed=False, detail="; ".join(done))
        done.append(f"deleted branch {spec.branch}")
        if hard and safety.tip:
            restore = f"git branch {spec.branch} {safety.tip}"
    return CleanOutcome(
        item, removed=True, detail="; ".join(done) or "nothing to remove", restore=restore
    )
