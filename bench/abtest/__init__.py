"""The gate's measuring side: base and head trees timed and measured in one job (runner, worker, worktree)."""
