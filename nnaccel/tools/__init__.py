"""Tools over the API, one command or integration each: tune, sweep, serve, export, predict, scikit-learn, bench, selftest; and the flags the commands share."""
