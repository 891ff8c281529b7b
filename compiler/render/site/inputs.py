"""What the site shows beyond the IR, gathered by `compiler.gitops.site` and handed to the renderer.

The renderer sees only the IR and this value (import-linter keeps `render` off specs, git and
the store), so a site is a pure function of the two: the same inputs give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SiteInputs:
    """The intermediate state between a repository (its lock, git history and store) and the site.

    Every field holds plain JSON data, by model name where it is per model:
    - `lock`: the working tree's `charter.lock` entry (version, metrics, slices, windows);
    - `history`: the promoted versions, oldest first, each `{version, commit, date, subject,
      metrics, business}` (`commit` None for a promotion not committed yet);
    - `gates`: the promoted metrics judged by the current gates, `{passed, gates: [...]}`;
    - `maturity`: `charter maturity`'s document of the model;
    - `runs`: the store's `runs/<model>/latest.json` (the last whole run), when present;
    - `monitors`: the store's `monitor/<model>/latest.json` (the latest monitor report), when present;
    - `commit`: the HEAD commit the history was read up to; `store`: the store read (None: none);
    - `notes`: what could not be read, said on the index page.
    """

    lock: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    gates: dict = field(default_factory=dict)
    maturity: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)
    monitors: dict = field(default_factory=dict)
    commit: str | None = None
    store: str | None = None
    notes: tuple[str, ...] = ()
