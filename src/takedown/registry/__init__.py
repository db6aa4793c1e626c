"""The registry's use cases: cases and media, the feed, platforms, feedback and quarantine.

`service.Registry` is the one entry point; `settings.Settings` configures it.
"""
