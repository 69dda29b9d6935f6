"""The `ganzoo` command line: `main` (running a command, errors, exit statuses) and `parser`
(the commands and their options)."""
