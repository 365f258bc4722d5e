"""tmux behind one small seam: the client, command chains, pane listings and tags, control mode."""
