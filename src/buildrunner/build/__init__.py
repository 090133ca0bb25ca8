"""The build layer: what happens to one task on its way through a build (isolation, review, ...)."""
