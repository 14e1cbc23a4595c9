"""Conversion of mirrored files into the warehouse's Parquet datasets and parameter tables.

Readers and converters only: each takes a local file (already downloaded and verified) and
returns or writes rows shaped by ``schema``; deciding which files to convert is the sync's job.
"""
