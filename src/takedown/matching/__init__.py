"""Matching fingerprints against lists: the match rule, list files and indexes."""
