"""The platform agent: sync the list, match uploads and stored content, review, feedback, backfill.

Never imports `takedown.api`: the agent talks to the registry over HTTP only.
"""
