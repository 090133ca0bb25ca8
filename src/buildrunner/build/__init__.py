"""One task's way through a build: the session loop, dispatch, outcomes, checks, ladder, cache, isolation."""
