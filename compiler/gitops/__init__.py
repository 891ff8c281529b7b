"""GitOps: the specs judged against git history (plan, diff, history, changelog, rollback, status).

Reads revisions straight from git objects; never checks out or changes the tree.
"""
