"""The Allen RMA API answered from a record source: the replica\x27s snapshots, a synced mirror."""
