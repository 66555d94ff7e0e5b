"""The static files storage of production: WhiteNoise's compressed, hashed names."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


# WhiteNoise ships no type hints: its class is Any to mypy.
class StaticStorage(CompressedManifestStaticFilesStorage):  # type: ignore[misc]
    """Hashed, gzipped static files; JavaScript source-map comments are left as they are.

    Django rewrites `//# sourceMappingURL=` in JavaScript to the map's hashed name and fails
    `collectstatic` when the map is absent. The vendored Chart.js (static/herald/vendor/) names
    a map its npm package ships but Herald does not vendor; editing the file would be undone by
    the next upgrade, so JavaScript is hashed whole and not rewritten (a browser's developer
    tools then find no map, which is all the comment was for). CSS is rewritten as usual.
    """

    patterns = tuple(
        (glob, rules)
        for glob, rules in CompressedManifestStaticFilesStorage.patterns
        if glob != "*.js"
    )
